// Package reexec is how the parent starts the child, which is this same
// binary run again, and how the two talk: the child's setup, its report on
// each object, and the steps between them. It knows the IPC objects and
// namespaces it passes on, and nothing of verdicts or of what invoke_ns
// prints.
//
// The child is this binary run again through /proc/self/exe, with the
// hidden variable _INVOKE_NS_CHILD naming two pipes it inherits, by
// descriptor and inode, and with --target and pshm a third descriptor,
// the target's root directory, in which it looks up /dev/shm. It unsets
// the variable at once, so neither its lines nor its command see it. The
// descriptors come above every one the caller gave invoke_ns, which the
// command gets at their own numbers.
//
// The steps, one JSON object per line, in this order:
//
//	parent                                    child
//	starts the child first, so that its       starts the Go runtime,
//	runtime starts meanwhile                  blocks reading its pipe
//	creates the objects, prints its lines
//	StepSetup: its setup              ----->  reads it
//	StepGo: the checkpoint            ----->  prints its lines; mounts and
//	                                          hostname; tries an object
//	                                  <-----  StepReport: what happened (-i only)
//	prints the verdict
//	StepAck                           ----->  (report and ack again for each
//	                                          further object, with -k)
//	                                          then its command
//	                                          its pipes are close-on-exec: exec
//	                                          or exit is EOF for the parent
//
// After its last report, a child with nothing more to do (no command)
// exits without waiting for the ack, and the parent sends none
// (AcksWanted).
//
// The checkpoint is the one of the reference articles: the child reads until
// the parent has said its own lines, so the two never interleave. EOF in
// either direction means the other side is gone.
package reexec

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"invoke_ns/internal/ipc"
	"invoke_ns/internal/ns"

	"golang.org/x/sys/unix"
)

// ChildEnv names the child's descriptors, for the child alone (and the
// tests of its refusal).
const ChildEnv = "_INVOKE_NS_CHILD"

// maxProcsEnv is the variable by which the child's runtime runs on one P.
// Its name after the descriptors in ChildEnv says that the parent set it,
// for the child's runtime alone (childEnviron).
const maxProcsEnv = "GOMAXPROCS"

// The steps of the handshake, by name.
const (
	StepSetup  = "setup"
	StepGo     = "go"
	StepReport = "report"
	StepAck    = "ack"
)

// Step is one line of the handshake.
type Step struct {
	Name   string  `json:"step"`
	Setup  *Setup  `json:"setup,omitempty"`
	Report *Report `json:"report,omitempty"`
}

// Setup is what the child is given and keeps: the options it acts on
// (what it prints, its mounts, hostname and command), and its run. The
// rest stays with the parent, and a small type is quick to encode the
// first time (BENCHMARKS.md).
type Setup struct {
	New      ns.Set   `json:"new,omitempty"` // the namespaces it is made in (clone flags)
	Verbose  int      `json:"verbose,omitempty"`
	Hostname string   `json:"uts,omitempty"`
	Command  []string `json:"command,omitempty"`

	IPC       bool         `json:"ipc"`                  // do the exchange
	Objects   []ipc.Object `json:"objects"`              // what the child tries, in order
	Message   *string      `json:"message,omitempty"`    // read by the parent: no prompt
	TryCreate bool         `json:"try_create,omitempty"` // the child also makes its own
	Quiet     bool         `json:"quiet,omitempty"`      // no transcript, no perror
	Limits    bool         `json:"limits,omitempty"`     // read its IPC namespace's limits, for its first report
}

// Shown are the namespaces worth showing for the run: ipc for the
// exchange, and each new one, in the order of ns.Types.
func (s *Setup) Shown() []string {
	shown := s.New
	if s.IPC {
		shown |= unix.CLONE_NEWIPC
	}
	return shown.Names()
}

// What the child reports of its try at an object.
const (
	Sent       = "sent"        // the message is in the object
	OpenFailed = "open-failed" // the lookup failed: Errno says why
	NoMessage  = "no-message"  // end of input before a message
	TooLong    = "too-long"    // the message did not fit: Size says how big
	SendFailed = "send-failed" // the send failed: Errno says why
	NotOurs    = "not-ours"    // what has the name or key is not the parent's
	ReadOnly   = "read-only"   // it could only read the object: Read is what it read of the parent's
	// Released follows the ack of a kind whose queue the child holds
	// until the verdict (ipc.Kind.PerUser): it has let go of it.
	Released = "released"
)

// Report is what the child tells the parent of its try at an object.
type Report struct {
	Kind    string     `json:"kind"`
	Tried   string     `json:"tried"` // Sent, OpenFailed, ...
	Errno   unix.Errno `json:"errno,omitempty"`
	Size    int        `json:"size,omitempty"`
	Endless bool       `json:"endless,omitempty"` // too long, with no end in sight
	// ShmDir says that the failed lookup was of the target's /dev/shm
	// itself, not of the file in it.
	ShmDir bool `json:"shm_dir,omitempty"`
	// Read is, with ReadOnly, the parent's token as the child read it.
	Read []byte `json:"read,omitempty"`
	// With TryCreate: whether the child could make an object of the
	// same name or key itself (CreateErrno 0), and if not, why.
	CreateTried bool       `json:"create_tried,omitempty"`
	CreateErrno unix.Errno `json:"create_errno,omitempty"`
	// Limits are, in the first report where the setup asked, the
	// limits of the child's IPC namespace, as it read them there.
	Limits ipc.Limits `json:"limits,omitempty"`
}

// Missed says that the lookup found nothing of the parent's where it
// looked: no object of the name or key (ENOENT), another under it
// (NotOurs), or for a file in another process's /dev/shm, no /dev/shm
// there to look in (it leads nowhere within its root, loops, or is no
// directory). Any other failure says nothing of where the child is.
func (r Report) Missed() bool {
	switch {
	case r.Tried == NotOurs:
		return true
	case r.Tried != OpenFailed:
		return false
	case r.ShmDir:
		return r.Errno == unix.ENOENT || r.Errno == unix.ELOOP || r.Errno == unix.ENOTDIR
	}
	return r.Errno == unix.ENOENT
}

// Unreached is the report on a lookup that failed: what has the name or
// key is not the parent's (ipc.ErrNotOurs), or why nothing could be had.
func Unreached(err error) Report {
	if errors.Is(err, ipc.ErrNotOurs) {
		return Report{Tried: NotOurs}
	}
	return Report{Tried: OpenFailed, Errno: ipc.ErrnoOf(err), ShmDir: errors.As(err, new(*ipc.ShmDirError))}
}

// Sending is the report on a send through what was found: sent, read
// where the object may only be read, or why not.
func Sending(err error) Report {
	var ro *ipc.ReadOnlyError
	if errors.As(err, &ro) {
		return Report{Tried: ReadOnly, Read: ro.Read}
	}
	if err != nil {
		return Report{Tried: SendFailed, Errno: ipc.ErrnoOf(err)}
	}
	return Report{Tried: Sent}
}

// AcksWanted is how many acks the child reads when it reports on objs:
// one after each report, so that what it says next comes after the
// parent's verdict, but none after the last if it has nothing more to
// do (no command, which prints a line and runs) and holds nothing until
// the verdict (ipc.Kind.PerUser). Both sides count with it, so that the
// parent never writes an ack into a pipe whose reader may be gone.
func AcksWanted(command bool, objs []ipc.Object) int {
	n := len(objs)
	if n > 0 && !command && !objs[n-1].Kind.PerUser {
		return n - 1
	}
	return n
}

// reportsDue is how many reports the child sends on objs: one for each,
// and one more for each it holds until the verdict (Released).
func reportsDue(objs []ipc.Object) int {
	n := len(objs)
	for _, o := range objs {
		if o.Kind.PerUser {
			n++
		}
	}
	return n
}

// Link is one side's end of the two handshake pipes, and on the child's
// side the target's root, where it was given one.
type Link struct {
	r    *os.File
	w    *os.File
	buf  *bufio.Reader
	Root *os.File
}

func newLink(r, w *os.File) *Link {
	return &Link{r: r, w: w, buf: bufio.NewReader(r)}
}

// ChildLink picks up the pipes the parent announced in ChildEnv, if it is
// set, and makes them close-on-exec so that the child's command inherits
// neither; without ChildEnv it returns nil. The marker names each pipe's
// descriptor and inode: a variable set by someone else, by mistake, is
// refused at once instead of waiting on descriptors invoke_ns never made.
// The command's environment is the user's: ChildEnv goes, and GOMAXPROCS
// too if the parent added it (the runtime has read it already).
func ChildLink() (*Link, error) {
	val, ok := os.LookupEnv(ChildEnv)
	if !ok {
		return nil, nil
	}
	os.Unsetenv(ChildEnv)
	notOurs := fmt.Errorf("%s=%q is set, but invoke_ns did not start this process "+
		"— unset it (unset %s), since it is for invoke_ns's own use", ChildEnv, val, ChildEnv)
	f := strings.Fields(val)
	if len(f) > 0 && f[len(f)-1] == maxProcsEnv {
		os.Unsetenv(maxProcsEnv)
		f = f[:len(f)-1]
	}
	if len(f) != 2 && len(f) != 3 {
		return nil, notOurs
	}
	var fds []int
	for i, s := range f {
		fdText, inoText, _ := strings.Cut(s, ":")
		fd, err := strconv.Atoi(fdText)
		ino, ierr := strconv.ParseUint(inoText, 10, 64)
		want := uint32(unix.S_IFIFO)
		if i == 2 {
			want = unix.S_IFDIR // the target's root
		}
		var st unix.Stat_t
		if err != nil || ierr != nil || fd < 3 || unix.Fstat(fd, &st) != nil ||
			st.Mode&unix.S_IFMT != want || st.Ino != ino {
			return nil, notOurs
		}
		unix.CloseOnExec(fd)
		fds = append(fds, fd)
	}
	l := newLink(os.NewFile(uintptr(fds[0]), "handshake-in"), os.NewFile(uintptr(fds[1]), "handshake-out"))
	if len(fds) == 3 {
		l.Root = os.NewFile(uintptr(fds[2]), "the target's root")
	}
	return l, nil
}

// encodeStep is m as one line, newline included.
func encodeStep(m Step) ([]byte, error) {
	b, err := json.Marshal(m)
	return append(b, '\n'), err
}

// decodeStep reads one line written by encodeStep, newline removed. A
// field it does not know is an error: both sides are one binary.
func decodeStep(line []byte) (Step, error) {
	var m Step
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Step{}, err
	}
	if dec.More() {
		return Step{}, errors.New("more than one object on a line")
	}
	return m, nil
}

// Send writes one step.
func (l *Link) Send(m Step) error {
	b, err := encodeStep(m)
	if err == nil {
		_, err = l.w.Write(b)
	}
	if err != nil {
		return fmt.Errorf("handshake: sending %q: %w", m.Name, err)
	}
	return nil
}

// Next reads the next step and checks that it is the one expected.
// io.EOF means the other side has gone.
func (l *Link) Next(want string) (Step, error) {
	line, err := l.buf.ReadBytes('\n')
	if errors.Is(err, io.EOF) {
		// A line cut short is the other side gone too.
		return Step{}, io.EOF
	}
	if err != nil {
		return Step{}, fmt.Errorf("handshake: reading %q: %w", want, err)
	}
	m, err := decodeStep(line)
	if err != nil {
		return m, fmt.Errorf("handshake: reading %q: %w", want, err)
	}
	if m.Name != want {
		return m, fmt.Errorf("handshake: got %q, expected %q", m.Name, want)
	}
	return m, nil
}

// Close closes both ends.
func (l *Link) Close() {
	if l.r != nil {
		l.r.Close()
	}
	if l.w != nil {
		l.w.Close()
	}
}
