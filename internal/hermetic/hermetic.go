// Package hermetic runs a package's tests in an IPC and a mount namespace
// of their own, so that another program's queues and objects can neither
// disturb a test nor be touched by one, and what is left at the end is the
// tests' own: a TestMain calls Main. As root that takes nothing more; as
// an ordinary user, a user namespace that maps the caller to root, as
// invoke_ns -U makes one. It is for tests alone, and knows nothing of
// invoke_ns but where IPC objects show.
package hermetic

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Env marks the test binary run again in namespaces of its own; its
// value is "root" when the tests have real root there, "userns" when
// their privilege comes from a user namespace.
const Env = "_INVOKE_NS_TEST_HERMETIC"

// QueuesDir is an mqueue filesystem of the tests' IPC namespace, which
// lists every POSIX queue the tests made; "" outside.
var QueuesDir string

// Main is TestMain's: it runs the test binary again in namespaces of its
// own, where setUp (if not nil) readies what the package's tests need
// and returns what undoes it; runs the tests there, and fails them if
// they left an IPC object; and returns the exit status.
func Main(m *testing.M, setUp func() (undo func(), err error)) int {
	if !On() {
		if code, ok := rerun(); ok {
			return code
		}
		fmt.Fprintln(os.Stderr, "note: the tests run in the host's namespaces: "+
			"those that need root or a user namespace skip")
	}
	undoMounts, err := mount()
	if err != nil {
		fmt.Fprintf(os.Stderr, "setting up the tests' own namespaces: %v\n", err)
		return 1
	}
	defer undoMounts()
	if setUp != nil {
		undo, err := setUp()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer undo()
	}
	code := m.Run()
	if left := Leftovers(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: the tests left behind: %v\n", left)
		code = 1
	}
	return code
}

// On says whether the tests run in namespaces of their own.
func On() bool { return os.Getenv(Env) != "" }

// RealRoot says whether the tests run as root of the host, and not as
// root of a user namespace of their own.
func RealRoot() bool { return os.Geteuid() == 0 && os.Getenv(Env) != "userns" }

// rerun runs this test binary again, as it was run, in an IPC and a mount
// namespace of its own: as root plainly, and otherwise inside a user
// namespace that maps the caller to root. ok is false when no such
// namespaces can be made.
func rerun() (code int, ok bool) {
	runtime.LockOSThread() // Pdeathsig is the thread's
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWIPC | unix.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	mode := "root"
	if os.Geteuid() != 0 {
		mode = "userns"
		cmd.SysProcAttr.Cloneflags |= unix.CLONE_NEWUSER
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
	}
	// The tests' temporary files go in a folder of this process's, which
	// it removes however they end: a test that panics skips its cleanup.
	tmp, err := os.MkdirTemp("", "invoke_ns-tests-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1, true
	}
	defer os.RemoveAll(tmp)
	os.Chmod(tmp, 0o755) // for the tests' second, unprivileged uid
	cmd.Env = append(os.Environ(), Env+"="+mode, "TMPDIR="+tmp)
	if err := cmd.Start(); err != nil {
		return 0, false
	}
	err = cmd.Wait()
	// However the tests ended (a panic, or the race detector, skips their
	// cleanups): what they started is ended, and what they made outside
	// their folder removed.
	if left := endStrays(tmp); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "the tests left running, and were ended: %s\n", strings.Join(left, "; "))
	}
	removeNoted(tmp)
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), true
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
		return 1, true
	}
	return 0, true
}

// noted is the file, in the tests' folder, of what RemoveAfter noted.
const noted = ".remove-after"

// RemoveAfter notes path, which does not exist yet, for the process that
// ran the tests to remove after them, however they end: for what a
// program the tests start makes outside the tests' folder (a daemon's
// state). The tests remove it themselves when they end as they should.
func RemoveAfter(path string) error {
	if !On() {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(os.TempDir(), noted), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintln(f, path)
	return err
}

// removeNoted removes what RemoveAfter noted, where it is still there.
func removeNoted(tmp string) {
	b, err := os.ReadFile(filepath.Join(tmp, noted))
	if err != nil {
		return
	}
	for _, p := range strings.Fields(string(b)) {
		unix.Unmount(p, unix.MNT_DETACH)
		os.RemoveAll(p)
	}
}

// endStrays kills what still runs from the tests' folder, once they have
// ended: a process whose command line names it, or whose root or working
// folder is in it (a container's); again until none is left, since a
// killed daemon's children are not ended with it. It says what it ended.
func endStrays(tmp string) []string {
	var ended []string
	for range 20 {
		var pidfds []int
		procs, _ := os.ReadDir("/proc")
		for _, p := range procs {
			pid, err := strconv.Atoi(p.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			root, _ := os.Readlink(fmt.Sprintf("/proc/%d/root", pid))
			cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
			if !strings.Contains(string(cmdline), tmp) && !strings.HasPrefix(root, tmp) && !strings.HasPrefix(cwd, tmp) {
				continue
			}
			fd, err := unix.PidfdOpen(pid, 0)
			if err != nil {
				continue
			}
			if unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0) == nil {
				ended = append(ended, strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " ")))
			}
			pidfds = append(pidfds, fd)
		}
		if len(pidfds) == 0 {
			break
		}
		for _, fd := range pidfds {
			unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 5000)
			unix.Close(fd)
		}
	}
	return ended
}

// mount cuts the tests' mount tree off from the host's, then makes it
// shared again within, as systemd makes a host's, so that a child's mount
// that leaked would show here and never on the host. It gives the tests a
// /dev/shm of their own, and an mqueue filesystem that lists the queues of
// their IPC namespace.
func mount() (undo func(), err error) {
	undo = func() {}
	if !On() {
		return undo, nil
	}
	for _, flags := range []uintptr{unix.MS_REC | unix.MS_PRIVATE, unix.MS_REC | unix.MS_SHARED} {
		if err := unix.Mount("", "/", "", flags, ""); err != nil {
			return undo, fmt.Errorf("mount propagation of /: %w", err)
		}
	}
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if err := unix.Mount("tmpfs", "/dev/shm", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"); err != nil {
			return undo, fmt.Errorf("a /dev/shm of the tests' own: %w", err)
		}
	}
	dir, err := os.MkdirTemp("", "invoke_ns-mqueue-")
	if err != nil {
		return undo, err
	}
	if err := unix.Mount("mqueue", dir, "mqueue", 0, ""); err != nil {
		os.Remove(dir)
		return undo, fmt.Errorf("mounting mqueue: %w", err)
	}
	QueuesDir = dir
	return func() {
		unix.Unmount(dir, unix.MNT_DETACH)
		os.Remove(dir)
		QueuesDir = ""
	}, nil
}

// SysVObjects lists the System V objects of the caller's IPC namespace,
// as "msg ID".
func SysVObjects() []string {
	var objs []string
	for _, k := range []string{"msg", "sem", "shm"} {
		b, err := os.ReadFile("/proc/sysvipc/" + k)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		for _, l := range lines[1:] {
			if f := strings.Fields(l); len(f) > 1 {
				objs = append(objs, k+" "+f[1])
			}
		}
	}
	return objs
}

// Leftovers lists what the tests made and did not remove: in namespaces
// of their own, every queue, System V object and file in /dev/shm there
// is theirs.
func Leftovers() []string {
	if !On() {
		return nil
	}
	var left []string
	if queues, err := os.ReadDir(QueuesDir); err == nil {
		for _, q := range queues {
			left = append(left, "queue /"+q.Name())
		}
	}
	left = append(left, SysVObjects()...)
	if files, err := os.ReadDir("/dev/shm"); err == nil {
		for _, f := range files {
			left = append(left, filepath.Join("/dev/shm", f.Name()))
		}
	}
	return left
}
