// status.go: the one place where what a run came to becomes invoke_ns's
// exit status, and the errors that carry a status of their own.

package main

import (
	"errors"
	"fmt"
	"syscall"

	"invoke_ns/internal/node"
	"invoke_ns/internal/run"

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
	exitExposed   = 6 // --compare: the runs did not show isolation
	exitTaken     = 7 // the child sent, and another process took the message
	// exitInterfered: where the kernel says the child's namespace (or
	// /dev/shm) is the parent's, the message did not cross, or the
	// objects were not the run's own any more: another process
	// interfered, and there is no verdict.
	exitInterfered = 8
)

// exitStatus is what a run came to, as a status. A signal that ended the
// run comes before everything, then a failure, then the run's verdict,
// then the child's (its command's) own status, as unshare(1) gives it.
func exitStatus(r *run.Result) int {
	switch {
	case r.Signal != 0:
		return 128 + int(r.Signal)
	case r.Err != nil:
		return errStatus(r.Err)
	}
	switch r.Verdict() {
	case run.Delivered, run.None, run.Unlimited:
		if r.Child != nil {
			return waitStatus(*r.Child)
		}
		return exitOK
	case run.Blocked:
		return exitBlocked
	case run.TimedOut:
		return exitTimeout
	case run.NoMessage:
		return exitNoMessage
	case run.Taken:
		return exitTaken
	case run.Interfered:
		return exitInterfered
	case run.ChildGone:
		for _, x := range r.Exchanges {
			if x.Child != nil && x.Child.Signaled() {
				return 128 + int(x.Child.Signal())
			}
		}
	}
	return exitFailure
}

// comparedStatus is what --compare came to, as a status: a signal, a
// failure, or whether the runs showed what each namespace isolates.
func comparedStatus(c *run.Compared) int {
	switch {
	case c.Signal != 0:
		return 128 + int(c.Signal)
	case c.Err != nil:
		return errStatus(c.Err)
	case !c.Isolated:
		return exitExposed
	}
	return exitOK
}

// scanStatus is what a scan came to, as a status: a signal that cut it
// short, else with --exit-code N, N where a container shares the host's
// IPC namespace or /dev/shm (the kernel's answer, which a message proves
// and no failed message turns), and 0 otherwise, whatever it found.
func scanStatus(n *node.Node, sig unix.Signal, code int) int {
	switch {
	case sig != 0:
		return 128 + int(sig)
	case code != 0 && n.Sharing(false)+n.Sharing(true) > 0:
		return code
	}
	return exitOK
}

// failure is the error a run ended with, as invoke_ns prints it: the
// signal that interrupted it, or its error; "" for none, and for a
// reader of the output that has gone (SIGPIPE), which ends a command in
// a pipeline quietly.
func failure(sig unix.Signal, err error) string {
	switch {
	case sig == unix.SIGPIPE:
		return ""
	case sig != 0:
		return fmt.Sprintf("interrupted by %s: what invoke_ns started was ended, and what it created removed", unix.SignalName(sig))
	case err != nil:
		return err.Error()
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
	case errors.As(err, new(*run.ErrNoMessage)):
		return exitNoMessage
	case errors.Is(err, run.ErrInterfered):
		return exitInterfered
	}
	return exitFailure
}

// hint appends what to do to an error: "what failed: why — what to do".
func hint(err error, todo string) error {
	return fmt.Errorf("%w — %s", err, todo)
}
