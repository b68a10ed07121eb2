// child.go: the child's side. It runs in the namespaces the parent asked
// clone(2) for, tries to reach the parent's queue by name, tells the parent
// what happened, sets up its mounts and hostname, and runs the command.

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"invoke_ns/internal/ipc"
	"invoke_ns/internal/ns"
	"invoke_ns/internal/reexec"
	"invoke_ns/internal/term"

	"golang.org/x/sys/unix"
)

// child is the child's side of a run.
type child struct {
	setup *reexec.Setup
	out   io.Writer        // the transcript: stdout, or stderr with --json
	lines *term.Transcript // under out, to tell a write that failed

	root *os.File // the target's root, where its /dev/shm is looked up

	msg    []byte // the message, once read
	msgErr error  // or why there is none
	asked  bool   // whether it has been read (or tried)
}

// runChild is the child's side, on the pipes of l.
func runChild(l *reexec.Link) error {
	m, err := l.Next(reexec.StepSetup)
	if err != nil {
		return parentGone(err)
	}
	if m.Setup == nil {
		return errors.New("handshake: the setup step carries no setup")
	}
	// What the kernel records of the parent, the child sees as its
	// parent's PID.
	ipc.ParentPID = os.Getppid
	c := &child{setup: m.Setup, root: l.Root, lines: &term.Transcript{W: os.Stdout}}
	c.out = c.lines
	if c.setup.Quiet {
		c.out = io.Discard
	}
	// Ctrl-C or a hang-up at the prompt reaches the parent too, which ends
	// this child and removes the queue; a closed stdout must not end the
	// handshake either. Ignored here, and caught again just before the
	// command is executed (see exec).
	signal.Ignore(childSignals...)
	if _, err := l.Next(reexec.StepGo); err != nil {
		return parentGone(err)
	}
	c.verbosef(" Child: PID of child is %d\n", os.Getpid())
	if names := c.setup.Shown(); len(names) > 0 && c.setup.Verbose >= 2 {
		c.moref(" Child: namespaces %s\n", ns.Line(ns.IDs("self", names), names))
	}
	if c.setup.Verbose >= 2 && c.setup.New.Has(unix.CLONE_NEWIPC) && ipc.HasSysV(c.setup.Objects) {
		c.moref(" Child: /proc/sysvipc: %s\n", ipc.SysVCounts())
	}
	// The mounts come first: a /dev/shm of the child's own is what stops
	// POSIX shared memory, which the IPC namespace lets through.
	if err := c.setUp(); err != nil {
		return err
	}
	// For each object: try it, report, and wait for the verdict's ack
	// unless none follows (AcksWanted).
	// Its namespace's own limits, which only a reader in it sees.
	var limits ipc.Limits
	if c.setup.Limits {
		limits = ipc.ReadLimits()
	}
	acks := reexec.AcksWanted(len(c.setup.Command) > 0, c.setup.Objects)
	for i, t := range c.setup.Objects {
		rep, held := c.try(t)
		if i == 0 {
			rep.Limits = limits
		}
		if err := l.Send(reexec.Step{Name: reexec.StepReport, Report: &rep}); err != nil {
			return err
		}
		if i < acks {
			if _, err := l.Next(reexec.StepAck); err != nil {
				return parentGone(err)
			}
		}
		if held != nil {
			// Held through the parent's try: now it may go.
			c.verbosef(" Child: closing its queue, which gives its share of the budget back\n")
			held.Close()
			rep := reexec.Report{Kind: t.Kind.Name, Tried: reexec.Released}
			if err := l.Send(reexec.Step{Name: reexec.StepReport, Report: &rep}); err != nil {
				return err
			}
		}
	}
	if len(c.setup.Command) == 0 {
		return nil
	}
	return c.exec()
}

// promptText is the article's prompt, to the byte.
const promptText = "\n     Child: enter a message to send to the parent process (MAX 80 chars)\n     >> "

// childSignals are the signals the child ignores until its command.
var childSignals = []os.Signal{unix.SIGINT, unix.SIGHUP, unix.SIGPIPE, unix.SIGTERM}

func parentGone(err error) error {
	if errors.Is(err, io.EOF) {
		return errors.New("the parent has gone away: nothing left to do")
	}
	return err
}

// try looks the object up by name or key and sends the message through
// it; with TryCreate it then tries to make one of its own. For the
// per-user budget it makes a queue of its own, and gives it back held.
func (c *child) try(t ipc.Object) (reexec.Report, io.Closer) {
	if t.Kind.PerUser {
		rep, held := c.take(t)
		rep.Kind = t.Kind.Name
		return rep, held
	}
	rep := c.reach(t)
	rep.Kind = t.Kind.Name
	if c.setup.TryCreate {
		err := t.CreateOwn()
		rep.CreateTried, rep.CreateErrno = true, ipc.ErrnoOf(err)
		if err == nil {
			c.verbosef(" Child: created a %s of its own, and removed it\n", t)
		} else {
			if c.setup.Verbose >= 1 {
				term.Sentence(c.out, " Child: ", fmt.Sprintf("could not create a %s of its own: %s", t, ipc.Strerror(err)))
			}
		}
	}
	return rep, nil
}

// take makes the child's queue of the per-user budget, in its own IPC
// namespace, and holds it (nil where it could not be made).
func (c *child) take(t ipc.Object) (reexec.Report, io.Closer) {
	c.verbosef(" Child: creating a queue of its own, which its user pays for\n")
	e, err := t.Open(nil)
	if err == nil {
		err = e.Send(nil)
	}
	if err != nil {
		c.perror(t.Kind.SendOp, err)
		return reexec.Sending(err), nil
	}
	return reexec.Sending(nil), e
}

func (c *child) reach(t ipc.Object) reexec.Report {
	c.verbosef(" Child: opening %s\n", t)
	var root *os.File
	if t.InRoot {
		root = c.root
	}
	e, err := t.Open(root)
	if err != nil {
		if errors.Is(err, ipc.ErrNotOurs) {
			// Not a byte is written into it, nor read.
			err = ipc.ErrNotOurs
		}
		c.perror(t.Kind.Lookup, err)
		return reexec.Unreached(err)
	}
	defer func() {
		c.verbosef(" Child: closing %s\n", t)
		e.Close()
	}()
	var msg []byte
	if ro, ok := e.(interface{ ReadOnly() bool }); ok && ro.ReadOnly() {
		// It can only be read: no message is asked for, that could not
		// be written.
	} else if t.Kind.CarriesText {
		var rep *reexec.Report
		if msg, rep = c.message(); rep != nil {
			return *rep
		}
		c.verbosef(" Child: sending message to parent\n")
		// The text and one NUL, as C strings go, and not a byte more.
		msg = append(msg, 0)
	} else {
		c.verbosef(" Child: posting the semaphore for the parent\n")
	}
	err = e.Send(msg)
	var ro *ipc.ReadOnlyError
	switch {
	case errors.As(err, &ro):
		c.verbosef(" Child: %s is read-only here: reading back what the parent wrote\n", ipc.ShmDir)
	case err != nil:
		c.perror(t.Kind.SendOp, err)
	}
	return reexec.Sending(err)
}

// message reads the message the first time it is needed, or takes the one
// the parent read (--compare); without one, the report says why.
func (c *child) message() ([]byte, *reexec.Report) {
	if !c.asked {
		c.asked = true
		if c.setup.Message != nil {
			c.msg = []byte(*c.setup.Message)
		} else {
			c.msg, c.msgErr = term.Prompt(os.Stdin, c.out, promptText, ipc.MessageMax)
		}
	}
	var tl *term.TooLongError
	switch err := c.msgErr; {
	case errors.Is(err, term.ErrNoMessage):
		term.Sentence(c.out, " Child: ", err.Error()+": sending nothing")
		return nil, &reexec.Report{Tried: reexec.NoMessage}
	case errors.As(err, &tl):
		term.Sentence(c.out, " Child: ", err.Error()+": sending nothing")
		return nil, &reexec.Report{Tried: reexec.TooLong, Size: tl.Size, Endless: tl.Endless}
	case err != nil:
		c.perror("read", err)
		return nil, &reexec.Report{Tried: reexec.NoMessage}
	}
	return bytes.Clone(c.msg), nil
}

// setUp does what the other namespaces are for, before the IPC step.
func (c *child) setUp() error {
	if c.setup.New.Has(unix.CLONE_NEWNS) {
		// CLONE_NEWNS copies the mount tree with its propagation: where /
		// is shared (the systemd default) a mount made here would show up
		// on the host. Making the whole tree private first stops that
		// (mount_namespaces(7); Go issue 19661).
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			return fmt.Errorf("making / private in the new mount namespace: %w", err)
		}
		if c.setup.New.Has(unix.CLONE_NEWPID) {
			// A proc of the new PID namespace: ps in the child sees only it.
			flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
			if err := unix.Mount("proc", "/proc", "proc", flags, ""); err != nil {
				return fmt.Errorf("mounting proc on /proc: %w", err)
			}
		}
		if c.setup.New.Has(unix.CLONE_NEWIPC) {
			if err := c.mountMqueue(); err != nil {
				return err
			}
		}
		if err := c.mountShm(); err != nil {
			return err
		}
	}
	if h := c.setup.Hostname; h != "" {
		if err := unix.Sethostname([]byte(h)); err != nil {
			return fmt.Errorf("sethostname %q: %w", h, err)
		}
	}
	return nil
}

// mountMqueue shows the new IPC namespace's queues at /dev/mqueue. An
// mqueue filesystem shows the queues of the namespace of whoever mounts it
// (mq_overview(7)), so without this /dev/mqueue would still list the
// host's. Only where the directory exists: creating it would change the
// host's /dev, which this mount namespace shares.
func (c *child) mountMqueue() error {
	const dir = "/dev/mqueue"
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		c.moref(" Child: no %s here: nothing mounted\n", dir)
		return nil
	}
	flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	if err := unix.Mount("mqueue", dir, "mqueue", flags, ""); err != nil {
		return fmt.Errorf("mounting mqueue on %s: %w", dir, err)
	}
	c.moref(" Child: mounted this IPC namespace's queues on %s\n", dir)
	return nil
}

// mountShm gives the child a /dev/shm of its own, as container runtimes
// give each container: a fresh tmpfs, where no POSIX shared memory object
// of anyone else's is. Only where the directory exists, as for mqueue.
func (c *child) mountShm() error {
	if fi, err := os.Stat(ipc.ShmDir); err != nil || !fi.IsDir() {
		c.moref(" Child: no %s here: nothing mounted\n", ipc.ShmDir)
		return nil
	}
	flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV)
	if err := unix.Mount("tmpfs", ipc.ShmDir, "tmpfs", flags, "mode=1777"); err != nil {
		return fmt.Errorf("mounting a tmpfs on %s: %w", ipc.ShmDir, err)
	}
	c.moref(" Child: mounted a %s of its own\n", ipc.ShmDir)
	return nil
}

// exec replaces the child with its command, found on PATH as a shell
// would, with the statuses a shell gives: 127 not found, 126 not runnable.
func (c *child) exec() error {
	argv := c.setup.Command
	path, err := exec.LookPath(argv[0])
	if errors.Is(err, exec.ErrDot) {
		err = nil
	}
	if err != nil {
		code := 127
		if errors.Is(err, fs.ErrPermission) {
			code = 126
		}
		return &codeError{code: code, err: hint(err, "check the command's name and PATH")}
	}
	// execve(2) keeps an ignored signal ignored, but resets a caught one
	// to its default: caught, the command gets the defaults back. Only
	// here, because catching costs a thread and a few context switches.
	// One that comes once the line below is out, which is when a reader
	// may act on it, is the command's to take: the child ends by it.
	sigs := make(chan os.Signal, len(childSignals))
	signal.Notify(sigs, childSignals...)
	fmt.Fprintf(c.out, " Child: Executing command %s ...\n", argv[0])
	// Lines of the child's that could not be written: where the parent
	// writes none of its own, it has nothing to tell, so the child does,
	// and runs no command behind a transcript that was lost.
	if err := c.lines.Err; err != nil && c.setup.Verbose == 0 && !c.setup.IPC {
		return hint(fmt.Errorf("writing the transcript: %w", err), "check where it goes")
	}
	for len(sigs) > 0 {
		if sig := (<-sigs).(unix.Signal); sig != unix.SIGPIPE {
			return &codeError{code: 128 + int(sig)} // as if the command had it
		}
	}
	err = syscall.Exec(path, argv, os.Environ())
	code := 1
	if errors.Is(err, unix.EACCES) || errors.Is(err, unix.ENOEXEC) {
		code = 126
	}
	return &codeError{code: code, err: fmt.Errorf("exec %s: %w", path, err)}
}

// verbosef prints a line of -v, the article's.
func (c *child) verbosef(format string, args ...any) {
	if c.setup.Verbose >= 1 {
		fmt.Fprintf(c.out, format, args...)
	}
}

// moref prints a line of -vv, which explains more than the article does.
func (c *child) moref(format string, args ...any) {
	if c.setup.Verbose >= 2 {
		fmt.Fprintf(c.out, format, args...)
	}
}

// perror prints as perror(3) does in the original: " Child: mq_open: No
// such file or directory". The transcript shows it, so it stays in its
// layout, on stderr.
func (c *child) perror(op string, err error) {
	if c.setup.Quiet {
		return
	}
	fmt.Fprintf(os.Stderr, " Child: %s: %s\n", op, ipc.Strerror(err))
}
