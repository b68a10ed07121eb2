// verdict.go: what a run came to, as values, and the one place where that
// becomes invoke_ns's exit status.

package main

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// Exit statuses. They are listed in --help, the README and the man page.
const (
	exitOK        = 0 // delivered, or nothing to deliver
	exitFailure   = 1 // anything else that went wrong
	exitUsage     = 2 // bad options
	exitBlocked   = 3 // the child could not open the queue
	exitTimeout   = 4 // no message arrived in time
	exitNoMessage = 5 // the child had no message to send
	exitExposed   = 6 // --compare: the run did not show isolation
	exitTaken     = 7 // the child sent, and another process took the message
)

// verdict is what the exchange through one object came to.
type verdict int

const (
	verdictNone verdict = iota // not tried
	delivered                  // the message (or a semaphore's signal) arrived
	blocked                    // the child could not open the object
	timedOut                   // nothing arrived before the timeout
	noMessage                  // the child had no message to send
	sendFailed                 // the child opened the object but could not send
	childGone                  // the child ended before it reported
	taken                      // the child sent, and someone else took it first
	targetEnded                // the --target process ended during the exchange

	lastVerdict = targetEnded
)

// String is the verdict's name in --json (docs/json.md).
func (v verdict) String() string {
	switch v {
	case delivered:
		return "delivered"
	case blocked:
		return "blocked"
	case timedOut:
		return "timeout"
	case noMessage:
		return "no-message"
	case sendFailed, childGone:
		return "failed"
	case taken:
		return "taken"
	case targetEnded:
		return "target-ended"
	}
	return "none"
}

// kindVerdict is the verdict of one object, with the namespace that
// isolates its kind: "ipc", or "mnt" for POSIX shared memory.
type kindVerdict struct {
	isolation string
	v         verdict
}

// judge is what the verdicts of a run come to, in one verdict: the first
// that is not delivered. With kinds on both sides of the line, what the
// IPC namespace isolates and what it does not (-k all), the run asked
// whether anything gets through: a verdict where the exchange itself went
// wrong (a timeout, a message taken) still decides first, then delivered
// if a message crossed either side, and blocked only if none did.
func judge(vs []kindVerdict) verdict {
	sides, crossed := map[string]bool{}, false
	for _, kv := range vs {
		sides[kv.isolation], crossed = true, crossed || kv.v == delivered
	}
	for _, kv := range vs {
		if kv.v != delivered && (len(sides) < 2 || kv.v != blocked) {
			return kv.v
		}
	}
	switch {
	case len(vs) == 0:
		return verdictNone
	case !crossed:
		return blocked
	}
	return delivered
}

// shares answers, for the kinds of one side of the line, whether they
// crossed: true if a message did, false if every one was blocked, nil
// where no kind of that side was tried or the exchange went wrong.
func shares(vs []kindVerdict, isolation string) *bool {
	var answer *bool
	for _, kv := range vs {
		if kv.isolation != isolation {
			continue
		}
		switch {
		case kv.v != delivered && kv.v != blocked:
			return nil
		case answer == nil || kv.v == delivered:
			answer = new(bool)
			*answer = kv.v == delivered
		}
	}
	return answer
}

// outcome is how one run of the exchange ended: the verdict of each object
// it reached, how its child ended, a signal that cut it short, or a
// failure that is not a verdict.
type outcome struct {
	verdicts []kindVerdict
	child    *syscall.WaitStatus // once the child is reaped
	signal   unix.Signal         // a signal to invoke_ns that ended the run
	err      error
	exposed  bool // --compare: the runs did not show isolation
}

// exitStatus is the one place where an outcome becomes a status. A signal
// that ended the run comes before everything, then a failure, then the
// first verdict that is not a delivery, then the child's (its command's)
// own status, as unshare(1) gives it.
func (o *outcome) exitStatus() int {
	switch {
	case o.signal != 0:
		return 128 + int(o.signal)
	case o.err != nil:
		return errStatus(o.err)
	case o.exposed:
		return exitExposed
	}
	switch judge(o.verdicts) {
	case delivered, verdictNone:
		if o.child != nil {
			return waitStatus(*o.child)
		}
		return exitOK
	case blocked:
		return exitBlocked
	case timedOut:
		return exitTimeout
	case noMessage:
		return exitNoMessage
	case taken:
		return exitTaken
	case childGone:
		if o.child != nil && o.child.Signaled() {
			return 128 + int(o.child.Signal())
		}
	}
	return exitFailure
}

// errText is what to print on standard error, if anything.
func (o *outcome) errText() string {
	switch {
	case o.signal != 0:
		return fmt.Sprintf("interrupted by %s: the child was ended, and what invoke_ns created removed", unix.SignalName(o.signal))
	case o.err != nil:
		return o.err.Error()
	}
	return ""
}

// waitStatus is a process's end as a shell gives it: its exit status, or
// 128+N for signal N.
func waitStatus(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// usageError is a mistake on the command line: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// codeError is a failure with a status of its own: the child's command
// not found (127) or not executable (126), the child ended by a signal
// before its command (128+N), or --compare without a message.
type codeError struct {
	code int
	err  error
}

// Error is empty for a bare status, which has nothing to say.
func (e *codeError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}
func (e *codeError) Unwrap() error { return e.err }

// errStatus is the exit status for a failure.
func errStatus(err error) int {
	var ce *codeError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ce):
		return ce.code
	case errors.As(err, new(*usageError)):
		return exitUsage
	}
	return exitFailure
}

// hint appends what to do to an error: "what failed: why — what to do".
func hint(err error, todo string) error {
	return fmt.Errorf("%w — %s", err, todo)
}
