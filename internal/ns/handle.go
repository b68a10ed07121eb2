// handle.go: IPC namespaces that already exist (--target, --from, the
// probes of --scan): that of a running process or thread, or a namespace
// file, which a thread joins with setns(2) instead of making one of its
// own.
//
// A process cannot change its user namespace once it has threads, but one
// thread can change its IPC namespace, and a child forked from that thread
// is born in it. So the thread that joins holds itself locked to its
// goroutine and is never handed back: a locked goroutine that ends takes
// its thread with it (Go issue 20676), so no other goroutine ever runs in
// the wrong namespace. The main thread is never the one: if the runtime
// put that goroutine there, it hands the work to a thread of its own.

package ns

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"invoke_ns/internal/procfs"
	"invoke_ns/internal/term"

	"golang.org/x/sys/unix"
)

// ioctl_ns(2).
const (
	nsGetUserns = 0xb701 // NS_GET_USERNS: the user namespace that owns it
	nsGetNstype = 0xb703 // NS_GET_NSTYPE: the type of a namespace file
)

// Handle is an IPC namespace that already exists, open.
type Handle struct {
	PID  int    // the process or thread it was found through, 0 for a file
	TGID int    // the process PID is a thread of (PID itself for a process)
	Comm string // that process's name, as it was when opened
	Path string // the namespace file, /proc/PID/ns/ipc or as given
	ID   string // "ipc:[4026532179]"
	Same bool   // it is the caller's own: nothing to join
	// Root is the root directory of process PID, opened (OpenRoot) where
	// a child looks into its /dev/shm.
	Root *os.File

	file *os.File // open, for setns(2)
}

// Open opens the IPC namespace of process or thread PID, or the
// namespace file PATH, as option opt (--target or --from) gives it, and
// checks that it is one. Nothing here can block: the path is opened
// O_PATH first (a FIFO opened for reading would wait for a writer), and
// opened for real only once it is known to be a namespace file.
func Open(opt, spec string) (*Handle, error) {
	h := &Handle{Path: spec}
	if pid, err := strconv.Atoi(spec); err == nil && pid > 0 {
		h.PID, h.TGID, h.Path = pid, Tgid(pid), fmt.Sprintf("/proc/%d/ns/ipc", pid)
		h.Comm = Comm(h.TGID)
	}
	// spec is for the words alone, escaped: a path is anybody's text.
	return h.open(opt, term.Escape(spec))
}

// OpenPinned opens the IPC namespace of task t, as --scan found it in
// the namespace id, and with root its root directory too; an error
// wrapping ErrGone where t is not there any more as it was found (it
// ended, its number names another task now, or it is in another
// namespace). So a probe proves the namespace that was scanned, or
// none: a PID is a name too. /proc/PID/ns/ipc is the kernel's, and an
// IPC namespace, so it is opened at once, without Open's checks.
func OpenPinned(opt string, t Task, id string, root bool) (*Handle, error) {
	pidfd, err := pin(t)
	if err != nil {
		return nil, err
	}
	defer unix.Close(pidfd)
	h := &Handle{PID: t.ID(), TGID: t.PID, Comm: t.Comm, Path: t.Dir() + "/ns/ipc"}
	spec := strconv.Itoa(h.PID)
	fd, err := unix.Open(h.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, h.openError(opt, spec, err)
	}
	h.file = os.NewFile(uintptr(fd), h.Path)
	if h, err = h.identify(opt, spec); err != nil {
		return nil, err
	}
	if root {
		if err := h.OpenRoot(opt); err != nil {
			h.Close()
			return nil, err
		}
	}
	// Still not ended: what was opened is the task's.
	if h.ID != id || exited(pidfd) {
		h.Close()
		return nil, fmt.Errorf("%s: %w", t, ErrGone)
	}
	return h, nil
}

// identify gives the handle, open, its identity, and says whether it is
// invoke_ns's own.
func (h *Handle) identify(opt, spec string) (*Handle, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(h.file.Fd()), &st); err != nil {
		h.file.Close()
		return nil, fmt.Errorf("%s %s: %w", opt, spec, err)
	}
	h.ID = fmt.Sprintf("ipc:[%d]", st.Ino)
	own := ownIPC()
	h.Same = own != nil && own.Dev == st.Dev && own.Ino == st.Ino
	return h, nil
}

// ownIPC is what stat(2) says of invoke_ns's own IPC namespace, read once.
var ownIPC = sync.OnceValue(func() *unix.Stat_t {
	var st unix.Stat_t
	if unix.Stat("/proc/self/ns/ipc", &st) != nil {
		return nil
	}
	return &st
})

// open opens h.Path, as option opt gives it in spec.
func (h *Handle) open(opt, spec string) (*Handle, error) {
	fd, err := unix.Open(h.Path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, h.openError(opt, spec, err)
	}
	return h.check(opt, spec, fd)
}

// openError says why the namespace file could not be opened, and what to
// do.
func (h *Handle) openError(opt, spec string, err error) error {
	switch {
	case errors.Is(err, unix.ENOENT) && h.PID > 0 && Ended(h.PID):
		return fmt.Errorf("%s %d: %s has ended, and its parent has not yet reaped it — "+
			"give a process that runs", opt, h.PID, h.About())
	case errors.Is(err, unix.ENOENT) && h.PID > 0:
		return fmt.Errorf("%s %d: no such process — check the PID (ps -p %d)", opt, h.PID, h.PID)
	case (errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM)) && h.PID > 0 && hostRoot() && !HasCap(unix.CAP_SYS_PTRACE):
		return fmt.Errorf("%s %d: %s: %w — root without CAP_SYS_PTRACE (in a container, say) cannot read "+
			"another process's namespaces: give it CAP_SYS_PTRACE", opt, h.PID, h.About(), err)
	case (errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM)) && h.PID > 0 && hostRoot():
		return fmt.Errorf("%s %d: %s refuses even root, with CAP_SYS_PTRACE (a security module's rule), so its "+
			"namespaces cannot be read — give another process in the same IPC namespace", opt, h.PID, h.About())
	case errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM):
		return fmt.Errorf("%s %s: %w — reading another user's namespaces needs root or CAP_SYS_PTRACE: "+
			"run as root", opt, spec, err)
	}
	return fmt.Errorf("%s %s: %w", opt, spec, err)
}

// check makes a handle of fd, opened O_PATH, if it is a namespace file of
// an IPC namespace.
func (h *Handle) check(opt, spec string, fd int) (*Handle, error) {
	var fs unix.Statfs_t
	ferr := unix.Fstatfs(fd, &fs)
	if ferr == nil && fs.Type == unix.NSFS_MAGIC {
		h.file, ferr = os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", fd), os.O_RDONLY, 0)
	}
	unix.Close(fd)
	var kind int
	if ferr == nil && h.file != nil {
		if rc, err := h.file.SyscallConn(); err == nil {
			rc.Control(func(fd uintptr) { kind, ferr = unix.IoctlRetInt(int(fd), nsGetNstype) })
		}
	}
	if ferr != nil || h.file == nil || kind != unix.CLONE_NEWIPC {
		if h.file != nil {
			h.file.Close()
		}
		return nil, fmt.Errorf("%s %s: not an IPC namespace file — give a PID, "+
			"or a file such as /proc/PID/ns/ipc", opt, spec)
	}
	return h.identify(opt, spec)
}

// OpenRoot opens the root directory of the handle's process, as the
// place its /dev/shm is looked up in (within it, never out).
func (h *Handle) OpenRoot(opt string) error {
	if h.Root != nil {
		return nil
	}
	if h.PID == 0 {
		return fmt.Errorf("%s %s: a namespace file leads to no /dev/shm — "+
			"give %s PID for pshm, or leave it out of -k", opt, h.Path, opt)
	}
	name := fmt.Sprintf("/proc/%d/root", h.PID)
	fd, err := unix.Open(name, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("%s %d: the root of %s, for its /dev/shm: %w", opt, h.PID, h.About(), err)
	}
	h.Root = os.NewFile(uintptr(fd), name)
	return nil
}

// Close lets go of the namespace and the root.
func (h *Handle) Close() {
	h.file.Close()
	if h.Root != nil {
		h.Root.Close()
	}
}

// Owner is the identity of the user namespace that owns the namespace.
func (h *Handle) Owner() string {
	owner := "unknown"
	if rc, err := h.file.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { owner = ownerOf(int(fd)) })
	}
	return owner
}

// ownerOf is the identity of the user namespace that owns the namespace
// open at fd, "unknown" where the kernel does not say.
func ownerOf(fd int) string {
	user, err := unix.IoctlRetInt(fd, nsGetUserns)
	if err != nil {
		return "unknown"
	}
	defer unix.Close(user)
	var st unix.Stat_t
	if unix.Fstat(user, &st) != nil {
		return "unknown"
	}
	return fmt.Sprintf("user:[%d]", st.Ino)
}

// About names the handle in a sentence: "process 4242 (nginx)", "thread
// 4250 of process 4242 (nginx)", or the namespace file.
func (h *Handle) About() string {
	switch {
	case h.PID == 0:
		return term.Escape(h.Path)
	case h.TGID != h.PID:
		return fmt.Sprintf("thread %d of process %d (%s)", h.PID, h.TGID, term.Escape(h.Comm))
	}
	return fmt.Sprintf("process %d (%s)", h.PID, term.Escape(h.Comm))
}

// Join moves the calling thread into the namespace: a thread that must be
// locked, and never given back.
func (h *Handle) Join() error {
	if h.Same {
		return nil
	}
	return h.Enter()
}

// Enter is Join for a thread that may be in another namespace than its
// process (one that goes from namespace to namespace): it enters the
// caller's own too.
func (h *Handle) Enter() error {
	var err error
	rc, cerr := h.file.SyscallConn()
	if cerr != nil {
		return cerr
	}
	rc.Control(func(fd uintptr) { err = unix.Setns(int(fd), unix.CLONE_NEWIPC) })
	if err == nil {
		return nil
	}
	err = fmt.Errorf("joining the IPC namespace of %s: %w", h.About(), err)
	if errors.Is(err, unix.EPERM) {
		err = fmt.Errorf("%w — %s", err, joinRefused())
	}
	return &JoinError{err}
}

// joinRefused says why setns(2) was refused, by what the caller has:
// root of the host, with CAP_SYS_ADMIN, is refused only by a confinement;
// one with CAP_SYS_ADMIN in a user namespace of its own, over the
// namespaces of its own alone; anyone else needs it.
func joinRefused() string {
	switch {
	case HasCap(unix.CAP_SYS_ADMIN) && hostRoot():
		return "even root with CAP_SYS_ADMIN is refused here: " + Confinement()
	case HasCap(unix.CAP_SYS_ADMIN):
		return "CAP_SYS_ADMIN in a user namespace of invoke_ns's own reaches only the namespaces that user " +
			"namespace owns, and this one it does not: run as root of the host"
	}
	return "joining needs root, or CAP_SYS_ADMIN over the user namespace that owns it; " +
		"a rootless container's belongs to a user namespace that invoke_ns, once running, " +
		"cannot enter: run as root"
}

// Confinement names what forbids root a system call that its
// capabilities allow, and what to do: a seccomp filter (a container's
// default profile), or else a security module.
func Confinement() string {
	b, _ := procfs.Read("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Seccomp:"); ok && strings.TrimSpace(v) == "2" {
			return "a seccomp filter forbids it (Seccomp: 2 in /proc/self/status), as a container's " +
				"default profile does: run invoke_ns without one (docker run --security-opt " +
				"seccomp=unconfined; in a pod, seccompProfile: {type: Unconfined})"
		}
	}
	return "a security module forbids it (AppArmor, SELinux: see the kernel's log, journalctl -k): " +
		"allow it there, or run invoke_ns unconfined"
}

// JoinError is a failure to join the namespace, told apart from others.
type JoinError struct{ error }

func (e *JoinError) Unwrap() error { return e.error }

// OnOwnThread runs fn on a thread locked to it that is not the main
// thread, and gives the thread back only if fn says keep (it is false
// when fn changed the thread's namespace). The main thread is held
// meanwhile, so that fn cannot land there.
func OnOwnThread(fn func() (keep bool)) {
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

// Inside runs fn on a thread of its own in the namespace, and waits for
// it: the thread joins first, and is thrown away after, so that no other
// goroutine ever runs in it. With no handle, or the caller's own
// namespace, fn runs here.
func (h *Handle) Inside(fn func()) error {
	if h == nil || h.Same {
		fn()
		return nil
	}
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		OnOwnThread(func() bool {
			if err = h.Join(); err == nil {
				fn()
			}
			return false
		})
	}()
	<-done
	return err
}

// Apart runs fn on a thread of its own, in the namespace (the caller's
// with no handle), that is thrown away after, and waits for it: fn may
// change what its thread alone has, such as its mount namespace, and
// nothing else runs there. A new thread is in invoke_ns's own namespace.
func (h *Handle) Apart(fn func()) error {
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		OnOwnThread(func() bool {
			if h != nil {
				err = h.Join()
			}
			if err == nil {
				fn()
			}
			return false
		})
	}()
	<-done
	return err
}

// hostRoot says whether the caller is root of the host: uid 0 in the
// initial user namespace, whose uid_map maps every uid to itself. Root of
// a user namespace of its own is another user to the host's processes.
func hostRoot() bool { return os.Geteuid() == 0 && InitialUserNS() }

// InitialUserNS says whether the caller is in the initial user
// namespace, whose uid_map maps every uid to itself: only there does a
// capability count for the whole host (capable(9)).
func InitialUserNS() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	f := strings.Fields(string(b))
	return err == nil && len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295"
}

// HasCap says whether the caller has capability c in effect.
func HasCap(c int) bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if unix.Capget(&hdr, &data[0]) != nil {
		return false
	}
	return data[c/32].Effective&(1<<(c%32)) != 0
}
