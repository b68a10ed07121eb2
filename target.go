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
	pid  int      // the process or thread it was found through, 0 for a file
	tgid int      // the process pid is a thread of (pid itself for a process)
	comm string   // that process's name, as it was when opened
	path string   // the namespace file, /proc/PID/ns/ipc or as given
	file *os.File // open, for setns(2)
	id   string   // "ipc:[4026532179]"
	same bool     // it is the caller's own: nothing to join
	// root is the root directory of process pid, opened (openRoot) where
	// the child looks into its /dev/shm.
	root *os.File
}

// openTarget opens the IPC namespace of process or thread PID, or the
// namespace file PATH, as option opt (--target or --from) gives it, and
// checks that it is one. Nothing here can block: the path is opened
// O_PATH first (a FIFO opened for reading would wait for a writer), and
// opened for real only once it is known to be a namespace file.
func openTarget(opt, spec string) (*existing, error) {
	e := &existing{path: spec}
	if pid, err := strconv.Atoi(spec); err == nil && pid > 0 {
		e.pid, e.tgid, e.path = pid, tgidOf(pid), fmt.Sprintf("/proc/%d/ns/ipc", pid)
		e.comm = commOf(e.tgid)
	}
	fd, err := unix.Open(e.path, unix.O_PATH|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, unix.ENOENT) && e.pid > 0 && ended(e.pid):
		return nil, fmt.Errorf("%s %d: %s has ended, and its parent has not yet reaped it — "+
			"give a process that runs", opt, e.pid, e.about())
	case errors.Is(err, unix.ENOENT) && e.pid > 0:
		return nil, fmt.Errorf("%s %d: no such process — check the PID (ps -p %d)", opt, e.pid, e.pid)
	case (errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM)) && e.pid > 0 && os.Geteuid() == 0:
		return nil, fmt.Errorf("%s %d: %s refuses even root: it is not dumpable, so its namespaces cannot be "+
			"read — give another process in the same IPC namespace", opt, e.pid, e.about())
	case errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM):
		return nil, hint(fmt.Errorf("%s %s: %w", opt, spec, err),
			"reading another user's namespaces needs root or CAP_SYS_PTRACE: run as root")
	case err != nil:
		return nil, fmt.Errorf("%s %s: %w", opt, spec, err)
	}
	var fs unix.Statfs_t
	ferr := unix.Fstatfs(fd, &fs)
	if ferr == nil && fs.Type == unix.NSFS_MAGIC {
		e.file, ferr = os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", fd), os.O_RDONLY, 0)
	}
	unix.Close(fd)
	var kind int
	if ferr == nil && e.file != nil {
		if rc, err := e.file.SyscallConn(); err == nil {
			rc.Control(func(fd uintptr) { kind, ferr = unix.IoctlRetInt(int(fd), nsGetNstype) })
		}
	}
	if ferr != nil || e.file == nil || kind != unix.CLONE_NEWIPC {
		if e.file != nil {
			e.file.Close()
		}
		return nil, fmt.Errorf("%s %s: not an IPC namespace file — give a PID, "+
			"or a file such as /proc/PID/ns/ipc", opt, spec)
	}
	e.id = nsIdentity(e.file)
	if own, err := os.Stat("/proc/self/ns/ipc"); err == nil {
		if fi, err := e.file.Stat(); err == nil {
			e.same = os.SameFile(own, fi)
		}
	}
	return e, nil
}

// openRoot opens the root directory of the target's process, as the
// place its /dev/shm is looked up in (pshm.go: within it, never out).
func (e *existing) openRoot(opt string) error {
	if e.pid == 0 {
		return fmt.Errorf("%s %s: a namespace file leads to no /dev/shm — "+
			"give %s PID for pshm, or leave it out of -k", opt, e.path, opt)
	}
	name := fmt.Sprintf("/proc/%d/root", e.pid)
	fd, err := unix.Open(name, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("%s %d: the root of %s, for its %s: %w", opt, e.pid, e.about(), shmDir, err)
	}
	e.root = os.NewFile(uintptr(fd), name)
	return nil
}

// tgidOf is the process that task pid is a thread of, pid itself for a
// process (or where that cannot be read).
func tgidOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return pid
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Tgid:"); ok {
			if tgid, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
				return tgid
			}
		}
	}
	return pid
}

// ended says whether process pid has ended but is not yet reaped: a
// zombie, whose namespaces are gone.
func ended(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// "pid (comm) S ...": the state follows the last ")".
	i := strings.LastIndexByte(string(b), ')')
	return i >= 0 && strings.HasPrefix(string(b[i+1:]), " Z")
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

// about names the target in a sentence: "process 4242 (nginx)", "thread
// 4250 of process 4242 (nginx)", or the namespace file.
func (e *existing) about() string {
	switch {
	case e.pid == 0:
		return e.path
	case e.tgid != e.pid:
		return fmt.Sprintf("thread %d of process %d (%s)", e.pid, e.tgid, e.comm)
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
