// target.go: namespaces that already exist (--target): the IPC namespace
// of a running process, or a namespace file, which the child joins with
// setns(2) instead of making one of its own.
//
// A process cannot change its user namespace once it has threads, but one
// thread can change its IPC namespace, and a child forked from that thread
// is born in it. So the thread that starts the child joins the target
// first, holds itself locked to the goroutine for the child's life, and is
// never handed back: a locked goroutine that ends takes its thread with it
// (Go issue 20676), so no other goroutine ever runs in the wrong
// namespace. The main thread is never the one: if the runtime put that
// goroutine there, it hands the work to a thread of its own.

package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// nsGetNstype is NS_GET_NSTYPE, ioctl_ns(2): the type of a namespace file.
const nsGetNstype = 0xb703

// nsGetUserns is NS_GET_USERNS: the user namespace that owns it.
const nsGetUserns = 0xb701

// existing is a namespace that already exists, open.
type existing struct {
	pid  int      // the process it was found through, 0 for a file
	comm string   // that process's name, as it was when opened
	path string   // the namespace file, /proc/PID/ns/ipc or as given
	file *os.File // open, for setns(2)
	id   string   // "ipc:[4026532179]"
	same bool     // it is the caller's own: nothing to join
}

// openTarget opens the IPC namespace of process PID, or the namespace file
// PATH, and checks that it is one.
func openTarget(spec string) (*existing, error) {
	e := &existing{path: spec}
	if pid, err := strconv.Atoi(spec); err == nil && pid > 0 {
		e.pid, e.path = pid, fmt.Sprintf("/proc/%d/ns/ipc", pid)
	}
	f, err := os.Open(e.path)
	switch {
	case errors.Is(err, os.ErrNotExist) && e.pid > 0:
		return nil, fmt.Errorf("--target %d: no such process — check the PID (ps -p %d)", e.pid, e.pid)
	case errors.Is(err, os.ErrPermission):
		return nil, hint(fmt.Errorf("--target %s: %w", spec, err),
			"reading another user's namespaces needs root or CAP_SYS_PTRACE: run as root")
	case err != nil:
		return nil, fmt.Errorf("--target %s: %w", spec, err)
	}
	var kind int
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { kind, err = unix.IoctlRetInt(int(fd), nsGetNstype) })
	}
	if err != nil || kind != unix.CLONE_NEWIPC {
		f.Close()
		return nil, fmt.Errorf("--target %s: not an IPC namespace file — give a PID, "+
			"or a file such as /proc/PID/ns/ipc", spec)
	}
	e.file = f
	e.id = nsIdentity(f)
	if e.pid > 0 {
		e.comm = commOf(e.pid)
	}
	if own, err := os.Stat("/proc/self/ns/ipc"); err == nil {
		if fi, err := f.Stat(); err == nil {
			e.same = os.SameFile(own, fi)
		}
	}
	return e, nil
}

// nsIdentity is a namespace file's identity as /proc/PID/ns shows it.
func nsIdentity(f *os.File) string {
	fi, err := f.Stat()
	if err != nil {
		return "unknown"
	}
	return fmt.Sprintf("ipc:[%d]", fi.Sys().(*syscall.Stat_t).Ino)
}

// ownerID is the identity of the user namespace that owns the namespace f.
func ownerID(f *os.File) string {
	var fd int
	var err error
	if rc, cerr := f.SyscallConn(); cerr == nil {
		rc.Control(func(nsfd uintptr) { fd, err = unix.IoctlRetInt(int(nsfd), nsGetUserns) })
	}
	if err != nil {
		return "unknown"
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return "unknown"
	}
	return fmt.Sprintf("user:[%d]", st.Ino)
}

// about names the target in a sentence: "process 4242 (nginx)", or the
// namespace file.
func (e *existing) about() string {
	if e.pid == 0 {
		return e.path
	}
	return fmt.Sprintf("process %d (%s)", e.pid, e.comm)
}

// elsewhere says that the target is another IPC namespace than this one,
// or than from's.
func (e *existing) elsewhere(from *existing) string {
	than := ""
	if from != nil {
		than = " than " + from.about()
	}
	if e.pid == 0 {
		return fmt.Sprintf("%s is another IPC namespace%s, %s", e.path, than, e.id)
	}
	return fmt.Sprintf("%s is in another IPC namespace%s, %s", e.about(), than, e.id)
}

// here says that the target is this IPC namespace, or from's.
func (e *existing) here(from *existing) string {
	if from != nil {
		return fmt.Sprintf("%s shares the IPC namespace of %s, %s", e.about(), from.about(), e.id)
	}
	if e.pid == 0 {
		return fmt.Sprintf("%s is this IPC namespace, %s", e.path, e.id)
	}
	return fmt.Sprintf("%s shares this IPC namespace, %s", e.about(), e.id)
}

// commOf is a process's command name, or "?".
func commOf(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// shmDirOf is where the child finds POSIX shared memory in the target's
// mount namespace: its /dev/shm as /proc/PID/root shows it.
func (e *existing) shmDirOf() string {
	return fmt.Sprintf("/proc/%d/root%s", e.pid, shmDir)
}

// join moves the calling thread into the namespace, which it must hold
// locked and never give back.
func (e *existing) join() error {
	if e.same {
		return nil
	}
	var err error
	rc, cerr := e.file.SyscallConn()
	if cerr != nil {
		return cerr
	}
	rc.Control(func(fd uintptr) { err = unix.Setns(int(fd), unix.CLONE_NEWIPC) })
	if err == nil {
		return nil
	}
	err = fmt.Errorf("joining the IPC namespace of %s: %w", e.about(), err)
	if errors.Is(err, unix.EPERM) {
		err = hint(err, "joining needs root, or CAP_SYS_ADMIN over the user namespace that owns it; "+
			"a rootless container's belongs to a user namespace that invoke_ns, once running, "+
			"cannot enter: run as root")
	}
	return &joinError{err}
}

// joinError is a failure to join the target, told apart from the clone's.
type joinError struct{ error }

func (e *joinError) Unwrap() error { return e.error }

// onOwnThread runs fn on a thread locked to it that is not the main
// thread, and says whether that thread may be handed back (keep is false
// when fn changed its namespace). The main thread is held meanwhile, so
// that fn cannot land there.
func onOwnThread(fn func() (keep bool)) {
	runtime.LockOSThread()
	if unix.Gettid() != unix.Getpid() {
		if fn() {
			runtime.UnlockOSThread()
		}
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		if fn() {
			runtime.UnlockOSThread()
		}
	}()
	<-done
	runtime.UnlockOSThread()
}

// inside runs fn on a thread of its own in the namespace (--from), and
// waits for it: the thread joins first, and is thrown away after, so that
// no other goroutine ever runs in it. Without a namespace, fn runs here.
func (e *existing) inside(fn func()) error {
	if e == nil || e.same {
		fn()
		return nil
	}
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		onOwnThread(func() bool {
			if err = e.join(); err == nil {
				fn()
			}
			return false
		})
	}()
	<-done
	return err
}

// nsObject is an object of the namespace of --from: each of its system
// calls is made from a thread in that namespace, where System V ids and
// queue names mean what they meant when it was made.
type nsObject struct {
	object
	ns *existing
}

func (o nsObject) Receive(buf []byte, deadline time.Time) (n int, err error) {
	o.ns.inside(func() { n, err = o.object.Receive(buf, deadline) })
	return n, err
}

func (o nsObject) Interrupt() { o.ns.inside(o.object.Interrupt) }
func (o nsObject) Reset()     { o.ns.inside(o.object.Reset) }

func (o nsObject) Close() (err error) {
	o.ns.inside(func() { err = o.object.Close() })
	return err
}

func (o nsObject) Remove() (err error) {
	o.ns.inside(func() { err = o.object.Remove() })
	return err
}
