// start.go: how the parent starts the child. A Go program cannot clone(2)
// and go on running Go code in the new process, so the child is this binary
// re-executed with SysProcAttr.Cloneflags, which is clone(2) with those
// flags followed by execve(2). The parent's handle on it is a Child.

package reexec

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"invoke_ns/internal/ns"

	"golang.org/x/sys/unix"
)

// childName is argv[0] of the re-executed child, so that ps shows what it is.
const childName = "invoke_ns: child"

// pipeEnd is one end of a handshake pipe, or the target's root: its
// descriptor in the parent, and its inode, by which the child knows it is
// the parent's.
type pipeEnd struct {
	fd  uintptr
	ino uint64
}

// BuildCmd describes the child without starting it: the program, its
// argv, and how to start it; flags are the namespaces it is made in. stdio are the child's descriptors 0, 1 and 2;
// each of inherited, the caller's own descriptors above 2, keeps its
// number, so that the command gets them as unshare(1) passes them on;
// ends, the child's ends of the handshake pipes and perhaps the target's
// root, take numbers the caller left free.
// pidfd receives a pidfd of the child (CLONE_PIDFD), through which it is
// signalled without the risk of a reused PID.
//
// syscall.ForkExec rather than os/exec: os/exec forks a throwaway process
// on its first start, to find out whether pidfds work.
func BuildCmd(flags uintptr, stdio [3]uintptr, inherited []int, ends []pipeEnd, pidfd *int, uid, gid int) (string, []string, *syscall.ProcAttr) {
	sys := &syscall.SysProcAttr{
		Cloneflags: flags,
		// Ends the child if the parent is killed outright. It is tied to
		// the thread that starts the child: startAndWait locks it.
		Pdeathsig: syscall.SIGKILL,
		PidFD:     pidfd,
	}
	if flags&unix.CLONE_NEWUSER != 0 {
		// As unshare --map-root-user: root inside is the caller outside.
		sys.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}}
		sys.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 1}}
		sys.GidMappingsEnableSetgroups = false
	}
	// The pipes go in the lowest numbers the caller left free; the
	// caller's own below them are listed as themselves, and those above
	// stay where they are, being open across execve(2) already.
	files := []uintptr{stdio[0], stdio[1], stdio[2]}
	var marker []string
	for _, end := range ends {
		for slices.Contains(inherited, len(files)) {
			files = append(files, uintptr(len(files)))
		}
		marker = append(marker, fmt.Sprintf("%d:%d", len(files), end.ino))
		files = append(files, end.fd)
	}
	return "/proc/self/exe", []string{childName}, &syscall.ProcAttr{
		Env:   childEnviron(strings.Join(marker, " ")),
		Files: files,
		Sys:   sys,
	}
}

// childEnviron is the child's environment: the parent's, the handshake's
// marker, and GOMAXPROCS=1 unless the user set GOMAXPROCS. The child
// does one thing after another, and a runtime with one P per CPU starts
// threads and takes fresh memory for the idle one (BENCHMARKS.md). A
// GOMAXPROCS the parent adds is marked in ChildEnv, and the child removes
// it again before its command can see it.
func childEnviron(marker string) []string {
	if _, set := os.LookupEnv(maxProcsEnv); set {
		return append(os.Environ(), ChildEnv+"="+marker)
	}
	return append(os.Environ(), ChildEnv+"="+marker+" "+maxProcsEnv, maxProcsEnv+"=1")
}

// OpenFDs lists the descriptors above 2 that invoke_ns was given, read
// from /proc/self/fd with plain system calls: open across execve(2), so
// not close-on-exec, where every descriptor Go opens is. It says how many
// are open in all too.
func OpenFDs() (inherited []int, open int) {
	dir, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, 0
	}
	defer unix.Close(dir)
	var buf [2048]byte
	for {
		n, err := unix.ReadDirent(dir, buf[:])
		if err != nil || n <= 0 {
			return inherited, open
		}
		_, _, names := unix.ParseDirent(buf[:n], -1, nil)
		for _, name := range names {
			fd, err := strconv.Atoi(name)
			if err != nil || fd == dir {
				continue
			}
			open++
			if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); fd > 2 && err == nil && flags&unix.FD_CLOEXEC == 0 {
				inherited = append(inherited, fd)
			}
		}
	}
}

// pipeEndOf is f as buildCmd wants it.
func pipeEndOf(f *os.File) (pipeEnd, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return pipeEnd{}, fmt.Errorf("fstat of %s: %w", f.Name(), err)
	}
	return pipeEnd{f.Fd(), st.Ino}, nil
}

// Child is a started child and the parent's end of the handshake.
type Child struct {
	PID     int
	pidfd   *os.File // polled for the child's end, and signals go through it
	link    *Link
	exited  chan struct{}      // closed once the child is reaped
	status  syscall.WaitStatus // how it ended, once exited is closed
	waitErr error              // or why it could not be waited for
	acks    int                // acks it still reads (AcksWanted)
	// Reports are its reports, closed at EOF; Silent is closed at EOF,
	// once it has executed its command or ended (from Release on).
	Reports chan Report
	Silent  chan struct{}
	// released says it has been sent its setup and let go (Release).
	released bool
}

// Spawn is how to start a child.
type Spawn struct {
	Flags  uintptr  // the namespaces it is made in
	Stdout *os.File // its standard output, or /dev/null when nil
	// Inherited are the caller's own descriptors, which it gets too
	// (OpenFDs).
	Inherited []int
	// Join is the IPC namespace it is born in, if not its parent's or a
	// new one; and the root it is given, where Join has one open.
	Join *ns.Handle
	// ThreadsEnd says that a thread of this run may end: one that joins
	// another namespace (--target, --from) is thrown away with its
	// goroutine.
	ThreadsEnd bool
}

// Start starts the child, which waits for its setup.
func (sp Spawn) Start() (*Child, error) {
	stdout, inherited, join := sp.Stdout, sp.Inherited, sp.Join
	toChildR, toChildW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("pipe: %w", err)
	}
	fromChildR, fromChildW, err := os.Pipe()
	if err != nil {
		toChildR.Close()
		toChildW.Close()
		return nil, fmt.Errorf("pipe: %w", err)
	}
	out := stdout
	if out == nil {
		if out, err = os.Open(os.DevNull); err != nil {
			return nil, err
		}
		defer out.Close()
	}
	in, err := pipeEndOf(toChildR)
	if err != nil {
		return nil, err
	}
	outEnd, err := pipeEndOf(fromChildW)
	if err != nil {
		return nil, err
	}
	ends := []pipeEnd{in, outEnd}
	if join != nil && join.Root != nil {
		root, err := pipeEndOf(join.Root)
		if err != nil {
			return nil, err
		}
		ends = append(ends, root)
	}
	pidfd := -1
	path, argv, attr := BuildCmd(sp.Flags, [3]uintptr{os.Stdin.Fd(), out.Fd(), os.Stderr.Fd()},
		inherited, ends, &pidfd, os.Getuid(), os.Getgid())
	c := &Child{exited: make(chan struct{})}
	started := make(chan error)
	go c.startAndWait(path, argv, attr, started, join, sp.ThreadsEnd)
	err = <-started
	// The child has its copies now; holding ours would hide its EOF.
	toChildR.Close()
	fromChildW.Close()
	if err != nil {
		toChildW.Close()
		fromChildR.Close()
		if errors.As(err, new(*ns.JoinError)) {
			return nil, err
		}
		return nil, cloneError(sp.Flags, err)
	}
	c.link = newLink(fromChildR, toChildW)
	return c, nil
}

// startAndWait starts the child, says on started whether it could, and
// reaps it. Pdeathsig is tied to the thread that starts the child (Go
// issue 27505), which must outlive it. The runtime ends a thread only when
// a goroutine locked to it ends, as one that joined another namespace does
// (ns.Handle): where a run joins one (threadsEnd), this goroutine holds
// its thread, locked, until the child is reaped; elsewhere no thread ever
// ends, and locking would cost a thread start per child, for a thread to
// take over the P while the locked one waits. With join, the thread joins an
// existing IPC namespace first, so that the child is born in it, and is
// then never handed back. One waiter only, for this PID only: a second
// would steal the status (rootlesskit #129).
func (c *Child) startAndWait(path string, argv []string, attr *syscall.ProcAttr, started chan<- error, join *ns.Handle, threadsEnd bool) {
	run := func(fn func() bool) { fn() }
	switch {
	case join != nil && !join.Same:
		run = ns.OnOwnThread
	case threadsEnd:
		// Nothing to join: any thread will do, the main thread too, and
		// handing over to another would cost a thread start.
		run = func(fn func() bool) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			fn()
		}
	}
	run(func() (keep bool) {
		if join != nil {
			if err := join.Join(); err != nil {
				started <- err
				return false
			}
		}
		pid, err := syscall.ForkExec(path, argv, attr)
		if err == nil {
			// Non-blocking, so that os.NewFile hands it to the poller.
			unix.SetNonblock(*attr.Sys.PidFD, true)
			c.PID, c.pidfd = pid, os.NewFile(uintptr(*attr.Sys.PidFD), "pidfd")
		}
		started <- err
		if err == nil {
			c.reap()
			close(c.exited)
		}
		return join == nil || join.Same
	})
}

// reap waits until the child has ended and reaps it. The wait is in the
// poller, on the pidfd, which becomes readable when the child ends, so
// that no thread sits in wait4 meanwhile holding on to a P: the parent's
// other goroutines then run at once, not when the runtime takes the P
// back.
func (c *Child) reap() {
	rc, err := c.pidfd.SyscallConn()
	if err == nil {
		err = rc.Read(func(uintptr) bool { return c.tryReap(syscall.WNOHANG) })
	}
	if err != nil {
		// Not pollable after all: wait in the kernel.
		for !c.tryReap(0) {
		}
	}
}

// tryReap reaps the child if it has ended, and says whether it has; without
// WNOHANG, it waits for that.
func (c *Child) tryReap(options int) bool {
	pid, err := syscall.Wait4(c.PID, &c.status, options, nil)
	if err == syscall.EINTR {
		return false
	}
	c.waitErr = err
	return pid != 0 || err != nil
}

// cloneError says why the kernel refused the child, and what to do.
func cloneError(flags uintptr, err error) error {
	what := "starting the child in new namespaces"
	if flags == 0 {
		what = "starting the child"
	}
	err = fmt.Errorf("%s: %w", what, err)
	denied := errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES)
	var fs unix.Statfs_t
	switch {
	case errors.Is(err, unix.EACCES) && unix.Statfs("/proc/self/exe", &fs) == nil && fs.Flags&unix.ST_NOEXEC != 0:
		exe, _ := os.Executable()
		return hintf(err, "invoke_ns runs itself again as the child, and "+exe+" is on a filesystem "+
			"mounted noexec: copy it to one that is not (findmnt -T "+exe+" shows the mount)")
	case errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE):
		var rl unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_NOFILE, &rl)
		return hintf(err, fmt.Sprintf("the limit on open files is reached (RLIMIT_NOFILE, ulimit -n: %d): raise it", rl.Cur))
	case errors.Is(err, unix.ENOENT) && !procMounted():
		return hintf(err, "invoke_ns runs itself again as the child, through /proc/self/exe, and /proc is not "+
			"mounted here: mount it (mount -t proc proc /proc)")
	case flags == 0:
		return err
	case flags&unix.CLONE_NEWUSER != 0 && (denied || errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EUSERS)):
		return hintf(err, userNSRefused(err))
	case denied && os.Geteuid() == 0 && ns.HasCap(unix.CAP_SYS_ADMIN):
		return hintf(err, "even root with CAP_SYS_ADMIN is refused here: "+ns.Confinement())
	case denied:
		return hintf(err, "creating namespaces needs root or CAP_SYS_ADMIN: run with sudo, or add -U to run without root")
	}
	return err
}

// procMounted says whether /proc is a proc filesystem.
func procMounted() bool {
	var fs unix.Statfs_t
	return unix.Statfs("/proc", &fs) == nil && fs.Type == unix.PROC_SUPER_MAGIC
}

// userNSRefused says why the kernel refused a new user namespace: the
// setting that forbids one, where one does, and the limits it can reach;
// where every setting allows one, what else forbids it.
func userNSRefused(err error) string {
	read := func(name string) string {
		b, _ := os.ReadFile("/proc/sys/" + name)
		return strings.TrimSpace(string(b))
	}
	switch {
	case read("user/max_user_namespaces") == "0":
		return "user.max_user_namespaces is 0 here, which forbids them: raise it " +
			"(sysctl -w user.max_user_namespaces=15000), or run as root without -U"
	case errors.Is(err, unix.ENOSPC):
		return "the limit on user namespaces is reached (user.max_user_namespaces = " + read("user/max_user_namespaces") +
			", counted in each user namespace up the chain): end some, or raise it"
	case errors.Is(err, unix.EUSERS):
		return "user namespaces nest 32 deep at most, and this one is as deep: run invoke_ns from fewer levels down"
	case read("kernel/unprivileged_userns_clone") == "0":
		return "kernel.unprivileged_userns_clone is 0 here, which forbids them to ordinary users: set it to 1 " +
			"(sysctl -w kernel.unprivileged_userns_clone=1), or run as root without -U"
	case read("kernel/apparmor_restrict_unprivileged_userns") == "1":
		return "kernel.apparmor_restrict_unprivileged_userns is 1 here: AppArmor allows them only to programs " +
			"whose profile says so; give invoke_ns one, set it to 0, or run as root without -U"
	}
	return "the settings that can forbid them allow them here (user.max_user_namespaces, " +
		"kernel.unprivileged_userns_clone, kernel.apparmor_restrict_unprivileged_userns): " + ns.Confinement()
}

// Signal sends sig to the child through its pidfd: once it is reaped, the
// signal goes nowhere rather than to a process that took over its PID.
func (c *Child) Signal(sig syscall.Signal) {
	if rc, err := c.pidfd.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { unix.PidfdSendSignal(int(fd), sig, nil, 0) })
	}
}

// Wait blocks until the child is reaped, and says how it ended.
func (c *Child) Wait() (syscall.WaitStatus, error) {
	<-c.exited
	c.pidfd.Close()
	return c.status, c.waitErr
}

// CutShort says whether the child has ended before it could report on
// every object: killed, or failed. A child with nothing to do after its
// last report exits 0 at once, and what it reported may not have been
// read yet: that child has not been cut short.
func (c *Child) CutShort() bool {
	select {
	case <-c.exited:
		return c.waitErr != nil || !c.status.Exited() || c.status.ExitStatus() != 0
	default:
		return false
	}
}

// Release hands the child its setup and lets it go, once, and listens
// for its reports.
func (c *Child) Release(s *Setup) error {
	if c.released {
		return nil
	}
	c.released = true
	for _, m := range []Step{{Name: StepSetup, Setup: s}, {Name: StepGo}} {
		if err := c.link.Send(m); err != nil {
			c.Kill()
			return err
		}
	}
	c.acks = AcksWanted(len(s.Command) > 0, s.Objects)
	c.listen(reportsDue(s.Objects))
	return nil
}

// listen reads the child's reports, at most n, onto c.Reports, and closes
// it and c.Silent once the child's end of the handshake has closed: it
// has executed its command, or ended. Started once, when the child is let
// go, and never held up by a report nobody reads.
func (c *Child) listen(n int) {
	c.Reports, c.Silent = make(chan Report, n), make(chan struct{})
	go func() {
		defer close(c.Silent)
		defer close(c.Reports)
		for range n {
			m, err := c.link.Next(StepReport)
			if err != nil || m.Report == nil {
				return
			}
			c.Reports <- *m.Report
		}
		// Nothing more is due: what follows is EOF.
		c.link.Next(StepReport)
	}()
}

// Exited is closed once the child is reaped.
func (c *Child) Exited() <-chan struct{} { return c.exited }

// Close lets go of the parent's ends of the handshake.
func (c *Child) Close() { c.link.Close() }

// Ack lets the child go on after a report, if it waits for that: the one
// place an ack is decided and sent.
func (c *Child) Ack() {
	if c.acks > 0 {
		c.acks--
		c.link.Send(Step{Name: StepAck})
	}
}

// Kill ends the child and reaps it.
func (c *Child) Kill() {
	c.Signal(syscall.SIGKILL)
	c.Wait()
}

// hintf appends what to do to an error: "what failed: why — what to do".
func hintf(err error, todo string) error { return fmt.Errorf("%w — %s", err, todo) }
