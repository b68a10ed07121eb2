// result.go: what a run comes to, as values: the verdict of each object
// and why, and the run's.

package run

import (
	"bytes"
	"errors"
	"fmt"
	"syscall"
	"time"

	"invoke_ns/internal/ipc"
	"invoke_ns/internal/ns"
	"invoke_ns/internal/reexec"

	"golang.org/x/sys/unix"
)

// Verdict is what the exchange through one object came to.
type Verdict int

const (
	None         Verdict = iota // not tried
	Delivered                   // the message (or a semaphore's signal) arrived
	Blocked                     // another namespace, where the lookup found nothing of the parent's
	TimedOut                    // nothing arrived before the timeout
	NoMessage                   // the child had no message to send
	SendFailed                  // the child opened the object but could not send
	ChildGone                   // the child ended before it reported
	Taken                       // the child sent, and someone else took it first
	TargetEnded                 // the --target process ended during the exchange
	Failed                      // the run failed before an object's verdict, or was cut short
	LookupFailed                // the lookup failed, other than by finding nothing: Report.Errno says why
	Interfered                  // where the kernel says the namespace is shared, the message did not cross
	Gone                        // a probe's process ended, or its PID names another, before it was proved
	Unlimited                   // the per-user budget does not limit the parent: no verdict, and nothing wrong
)

// String is the verdict's name in --json (docs/json.md).
func (v Verdict) String() string {
	switch v {
	case Delivered:
		return "delivered"
	case Blocked:
		return "blocked"
	case TimedOut:
		return "timeout"
	case NoMessage:
		return "no-message"
	case SendFailed, ChildGone, Failed, LookupFailed:
		return "failed"
	case Taken:
		return "taken"
	case TargetEnded:
		return "target-ended"
	case Interfered:
		return "interfered"
	case Gone:
		return "gone"
	case Unlimited:
		return "unlimited"
	}
	return "none"
}

// MarshalText names a verdict in JSON by its String.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// Exchange is what the exchange through one object came to, and why.
type Exchange struct {
	Object  ipc.Object
	Where   *Where
	Verdict Verdict
	// Report is the child's word on its try, if it gave one before the
	// verdict.
	Report *reexec.Report
	// Arrived says that the message arrived, Message is its text (none
	// for a semaphore's signal).
	Arrived bool
	Message []byte
	// WaitErr is why the parent's wait ended without it (a timeout).
	WaitErr error
	// Child is how the child ended, where it ended before it reported.
	Child *syscall.WaitStatus
	// AtPrompt says that the child was at its prompt when the verdict
	// came: its line is still to be ended.
	AtPrompt bool
	// Disowned says that when the verdict was due, the object's name or
	// key no longer named the parent's object: another process removed
	// or replaced it (Interfered).
	Disowned bool
	// ReadOnly says that the child could only read the object (its
	// /dev/shm is read-only), and read back what the parent wrote.
	ReadOnly bool
	// Budget is, for the per-user queue budget, what the parent
	// measured of it before the child's try.
	Budget *ipc.Measure
}

// judge is the verdict of a report that the child did not send, given
// what the kernel says of the place it looked in (same: whether it is
// where the parent's object is; nil where that is not known). Blocked
// needs both a place of its own and a lookup that found nothing of the
// parent's there; where the place is the parent's, finding nothing is
// someone's doing; any other failure of the lookup is no verdict. A
// child that could only read the object, and read back the token the
// parent wrote there (token), reached it: delivered, read-only.
func judge(r reexec.Report, same *bool, token []byte) Verdict {
	switch r.Tried {
	case reexec.NoMessage, reexec.TooLong:
		return NoMessage
	case reexec.SendFailed:
		return SendFailed
	case reexec.Sent:
		return Delivered
	case reexec.ReadOnly:
		if len(token) > 0 && bytes.Equal(r.Read, token) {
			return Delivered
		}
		return Interfered
	}
	switch {
	case !r.Missed():
		return LookupFailed
	case same != nil && *same:
		return Interfered
	case same != nil:
		return Blocked
	}
	return LookupFailed
}

// judged decides x, which the child reported on without sending, through
// the parent's object o.
func (x *Exchange) judged(r reexec.Report, o ipc.Receiver) {
	x.Verdict = judge(r, x.Where.Same(x.Object.Kind.InDevShm), o.Token())
	if r.Tried == reexec.ReadOnly && x.Verdict == Delivered {
		x.Arrived, x.ReadOnly = true, true
	}
}

// owned turns a verdict into Interfered where the object is not the
// parent's any more: a verdict on it counts only while it is.
func (x *Exchange) owned(o ipc.Receiver) {
	if (x.Verdict == Delivered || x.Verdict == Blocked) && !o.Owned() {
		x.Verdict, x.Disowned = Interfered, true
	}
}

// arrived marks the exchange delivered, with the text that came (the C
// string's NUL taken off; a semaphore's signal carries none).
func (x *Exchange) arrived(msg []byte) {
	x.Verdict, x.Arrived = Delivered, true
	if x.Object.Kind.CarriesText {
		x.Message = bytes.TrimSuffix(msg, []byte{0})
	}
}

// Result is how one run ended: the objects as made (their names and keys
// settled), each exchange, the namespaces in play, how the child ended, a
// signal that cut the run short, or a failure that is not a verdict.
type Result struct {
	Where     *Where
	Exchange  bool         // the exchange was to take place
	Objects   []ipc.Object // as made; as planned, where they could not be
	Exchanges []*Exchange
	ParentNS  map[string]string
	ChildNS   map[string]string
	// ParentLimits and ChildLimits are the limits of the parent's IPC
	// namespace (or --from's) and the child's, each read there; nil
	// where they were not asked for (IDs), or could not be read.
	ParentLimits, ChildLimits ipc.Limits
	Child                     *syscall.WaitStatus // once the child is reaped
	Signal                    unix.Signal         // a signal to invoke_ns that ended the run
	Err                       error
	Elapsed                   time.Duration // from the start to the last verdict
}

// Verdict is the run's one verdict: the first that is not delivered. With
// kinds on both sides of the line, what the IPC namespace isolates and
// what it does not (-k all), the run asked whether anything gets through:
// a verdict where the exchange itself went wrong (a timeout, a message
// taken) still decides first, then delivered if a message crossed either
// side, and blocked only if none did.
//
// A budget that does not limit the parent (Unlimited) says nothing
// either way, and counts only where nothing else was tried.
func (r *Result) Verdict() Verdict {
	sides, crossed, tried := map[bool]bool{}, false, false
	for _, x := range r.Exchanges {
		if x.Verdict == Unlimited {
			continue
		}
		sides[x.Object.Kind.Isolated()], crossed, tried = true, crossed || x.Verdict == Delivered, true
	}
	for _, x := range r.Exchanges {
		if x.Verdict != Delivered && x.Verdict != Unlimited && (len(sides) < 2 || x.Verdict != Blocked) {
			return x.Verdict
		}
	}
	switch {
	case len(r.Exchanges) == 0:
		return None
	case !tried:
		return Unlimited
	case !crossed:
		return Blocked
	}
	return Delivered
}

// Outcome is the run's verdict as a record gives it: None where no
// exchange was to take place, Failed where it did not get as far as a
// verdict for each object that it would have delivered, else Verdict.
func (r *Result) Outcome() Verdict {
	v := r.Verdict()
	switch {
	case !r.Exchange:
		return None
	case errors.Is(r.Err, ErrInterfered):
		return Interfered
	case len(r.Exchanges) == 0 || v == None || v == Delivered && len(r.Exchanges) < len(r.Objects):
		return Failed
	}
	return v
}

// Shares answers, for the kinds of one side of the line (inDevShm: POSIX
// shared memory, else what the IPC namespace isolates), whether the
// child's place is the parent's: the kernel's answer first (its identity
// of the namespace, or the /dev/shm's device and inode), which no
// message that fails to arrive can turn; where the kernel does not say,
// yes if a message crossed. nil where no kind of that side was asked
// for, or nothing answers.
func (r *Result) Shares(inDevShm bool) *bool {
	asked, crossed := false, false
	for _, o := range r.Objects {
		asked = asked || o.Kind.InDevShm == inDevShm && !o.Kind.PerUser
	}
	for _, x := range r.Exchanges {
		crossed = crossed || x.Object.Kind.InDevShm == inDevShm && !x.Object.Kind.PerUser && x.Verdict == Delivered
	}
	if !asked {
		return nil
	}
	if same := r.Where.Same(inDevShm); same != nil {
		return yes(*same || crossed)
	}
	if crossed {
		return yes(true)
	}
	return nil
}

// Proved says whether the messages of one side agree with the kernel's
// answer: one delivered where the place is the parent's, or every one
// blocked where it is not.
func (r *Result) Proved(inDevShm bool) bool {
	shares := r.Shares(inDevShm)
	if shares == nil {
		return false
	}
	delivered, blocked := false, true
	for _, x := range r.Exchanges {
		if x.Object.Kind.InDevShm == inDevShm && !x.Object.Kind.PerUser {
			delivered = delivered || x.Verdict == Delivered
			blocked = blocked && x.Verdict == Blocked
		}
	}
	if *shares {
		return delivered
	}
	return blocked
}

// yes is a *bool of b.
func yes(b bool) *bool { return &b }

// Compared is what Compare came to: each run's result, in order, and
// whether together they showed what each namespace isolates.
type Compared struct {
	Message  *string // read once by the parent
	Runs     []*Result
	Isolated bool
	Target   *ns.Handle // with a third run, in its namespace
	Kinds    []ipc.Object
	Elapsed  time.Duration
	Signal   unix.Signal
	Err      error
}

// errStuck is a child that stopped answering within Grace.
var errStuck = fmt.Errorf("the child stopped answering for %v, and was ended — "+
	"did something stop it (SIGSTOP, a debugger)?", Grace)

// Grace is how long the parent gives the child, beyond -t, to do what is
// due: its report once its message is in, its end or its command once
// its last report is in; and a command that is PID 1 of a new PID
// namespace (-p), or one that is passed SIGTERM or SIGHUP, to end. Such a
// process ignores every signal it has no handler for (pid_namespaces(7));
// a child stopped (SIGSTOP) or held by a debugger does nothing at all.
// Each is then killed, so that no wait of the parent's is unbounded.
const Grace = 2 * time.Second
