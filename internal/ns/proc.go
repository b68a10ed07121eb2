// proc.go: what /proc tells of a process: its command and start time,
// the process a thread belongs to, whether it has ended, and when it does.

package ns

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"invoke_ns/internal/procfs"
	"invoke_ns/internal/term"

	"golang.org/x/sys/unix"
)

// Task is a process, or one thread of it, as it was found: what tells it
// from any later task that takes over its number (Ident), and its
// command, once read.
type Task struct {
	PID int // the process
	TID int // the thread, where it is one (not the process itself); else 0
	// Ident tells the task from any other ever given its number: the
	// inode of a pidfd of it, which pidfs (Linux 6.9) gives no other
	// task, or before pidfs its start time (proc(5), starttime).
	Ident uint64
	Comm  string
}

// ID is the task's own number: the thread's, or the process's.
func (t Task) ID() int {
	if t.TID != 0 {
		return t.TID
	}
	return t.PID
}

// Dir is the task's folder in /proc.
func (t Task) Dir() string {
	if t.TID != 0 {
		return fmt.Sprintf("/proc/%d/task/%d", t.PID, t.TID)
	}
	return fmt.Sprintf("/proc/%d", t.PID)
}

// Identify finds the task pid, or its thread tid, as it is now: what
// tells it from any later task that takes over its number, and not its
// command (ReadComm). A pidfd and its inode cost a fraction of a read of
// /proc/PID/stat, which a scan would make for every process of a node.
func Identify(pid, tid int) (Task, error) {
	t := Task{PID: pid, TID: tid}
	if !pidfsInodes() {
		var err error
		t.Ident, err = startTime(t)
		return t, err
	}
	fd, err := pidfd(t)
	if err != nil {
		return t, err
	}
	defer unix.Close(fd)
	t.Ident, err = pidfdIdent(fd)
	return t, err
}

// ReadComm reads the task's command: the kernel's copy of its name,
// which its process may set to anything (prctl(2) PR_SET_NAME), and
// which is shown only escaped.
func (t *Task) ReadComm() {
	b, err := procfs.ReadMade(t.Dir() + "/comm")
	if err != nil {
		t.Comm = "?"
		return
	}
	t.Comm = strings.TrimSuffix(string(b), "\n")
}

// pidfd opens a pidfd of the task: of its thread with PIDFD_THREAD.
func pidfd(t Task) (int, error) {
	flags := 0
	if t.TID != 0 {
		flags = unix.PIDFD_THREAD
	}
	return unix.PidfdOpen(t.ID(), flags)
}

// pidfdIdent is what tells the task of a pidfd from every other: the
// pidfd's inode, where pidfs gives each task one of its own; else the
// task's start time.
func pidfdIdent(fd int) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// pidfsMagic is the filesystem of pidfds since Linux 6.9 (PID_FS_MAGIC).
const pidfsMagic = 0x50494446

// pidfsInodes says whether pidfds are on pidfs, whose inodes tell each
// task apart; before it, every pidfd was the one anonymous inode.
var pidfsInodes = sync.OnceValue(func() bool {
	fd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var fs unix.Statfs_t
	return unix.Fstatfs(fd, &fs) == nil && fs.Type == pidfsMagic
})

// startTime is the task's start time, in clock ticks after boot, as its
// stat file gives it: what tells tasks apart before pidfs.
func startTime(t Task) (uint64, error) {
	b, err := procfs.ReadMade(t.Dir() + "/stat")
	if err != nil {
		return 0, err
	}
	// "pid (comm) S ...": the name may hold anything, ")" too; after it,
	// the state, fields 4 to 21, then starttime.
	j := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[j+1:]))
	if j < 0 || len(f) < 20 {
		return 0, fmt.Errorf("%s/stat: not as proc(5) says", t.Dir())
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// threads says how many threads the process pid has: the links of its
// task folder, two and one a thread (proc_task_getattr), read in one
// system call.
func threads(pid int) int {
	var st unix.Statx_t
	if unix.Statx(unix.AT_FDCWD, fmt.Sprintf("/proc/%d/task", pid), 0, unix.STATX_NLINK, &st) != nil {
		return -1
	}
	return int(st.Nlink) - 2
}

// Comm is a process's command name, or "?".
func Comm(pid int) string {
	b, err := procfs.ReadMade(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return "?"
	}
	return strings.TrimSuffix(string(b), "\n")
}

// Tgid is the process that task pid is a thread of, pid itself for a
// process (or where that cannot be read).
func Tgid(pid int) int {
	b, err := procfs.Read(fmt.Sprintf("/proc/%d/status", pid))
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

// Ended says whether process pid has ended but is not yet reaped: a
// zombie, whose namespaces are gone.
func Ended(pid int) bool {
	b, err := procfs.Read(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// "pid (comm) S ...": the state follows the last ")".
	i := strings.LastIndexByte(string(b), ')')
	return i >= 0 && strings.HasPrefix(string(b[i+1:]), " Z")
}

// Watch gives a channel closed when process pid ends (never, for pid 0
// or a process that cannot be watched), and stop, which ends the watch.
func Watch(pid int) (gone <-chan struct{}, stop func()) {
	g := make(chan struct{})
	if pid == 0 {
		return g, func() {}
	}
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return g, func() {}
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return g, func() {}
	}
	go func() {
		// A pidfd is readable once its process has ended; closed, it
		// ends the read with an error.
		err := rc.Read(func(fd uintptr) bool { return exited(int(fd)) })
		if err == nil {
			f.Close()
			close(g)
		}
	}()
	return g, func() { f.Close() }
}

// exited says whether the process of a pidfd has ended: the pidfd is
// readable then.
func exited(pidfd int) bool {
	for {
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}, 0)
		if err != unix.EINTR {
			return n > 0
		}
	}
}

// ErrGone is a task that is not there any more as it was found: it has
// ended, its number names another since, or it has moved to another IPC
// namespace.
var ErrGone = errors.New("gone since it was found")

// pin holds the task as it was found, through a pidfd: an error
// wrapping ErrGone where its number names another task now, or none.
// While the pidfd says it has not ended, its number is still its own,
// and every file of /proc opened under it is its.
func pin(t Task) (int, error) {
	fd, err := pidfd(t)
	if errors.Is(err, unix.ESRCH) {
		return -1, fmt.Errorf("%s: %w", t, ErrGone)
	}
	if err != nil {
		return -1, fmt.Errorf("pidfd_open %d: %w", t.ID(), err)
	}
	var ident uint64
	if pidfsInodes() {
		ident, err = pidfdIdent(fd)
	} else {
		ident, err = startTime(t)
	}
	if err != nil || ident != t.Ident {
		unix.Close(fd)
		return -1, fmt.Errorf("%s: %w", t, ErrGone)
	}
	return fd, nil
}

// String names the task in a sentence, its command escaped.
func (t Task) String() string {
	if t.TID != 0 {
		return fmt.Sprintf("thread %d of process %d (%s)", t.TID, t.PID, term.Escape(t.Comm))
	}
	return fmt.Sprintf("process %d (%s)", t.PID, term.Escape(t.Comm))
}

// pfKthread is PF_KTHREAD, the flag of a kernel thread in /proc/PID/stat.
const pfKthread = 0x00200000

// Host is a task that is in the host's namespaces: PID 2, kthreadd, the
// parent of the kernel's threads, which are in the initial namespaces
// whatever the caller's; 0 where this PID namespace shows no kernel
// thread there (a container without the host's PIDs).
func Host() int {
	b, err := procfs.Read("/proc/2/stat")
	if err != nil {
		return 0
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	// After "pid (comm)": state ppid pgrp session tty_nr tpgid flags.
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 7 {
		return 0
	}
	flags, err := strconv.ParseUint(f[6], 10, 64)
	if err != nil || flags&pfKthread == 0 {
		return 0
	}
	return 2
}

// RootOf opens the root directory of process pid (O_PATH), as the place
// paths of that process are resolved within.
func RootOf(pid int) (*os.File, error) {
	name := fmt.Sprintf("/proc/%d/root", pid)
	fd, err := unix.Open(name, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

// RootOfTask opens the root directory of task t (O_PATH) while it is
// pinned (pin): an error wrapping ErrGone where t is not the task it was
// found as.
func RootOfTask(t Task) (*os.File, error) {
	fd, err := pin(t)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	r, err := RootOf(t.ID())
	if err == nil && exited(fd) {
		r.Close()
		return nil, fmt.Errorf("%s: %w", t, ErrGone)
	}
	return r, err
}

// MountReadOnly says whether the mount numbered id is mounted read-only,
// as mountinfo, /proc/PID/mountinfo's text, gives its options
// (proc_pid_mountinfo(5): the ID first, the mount's options sixth).
func MountReadOnly(mountinfo []byte, id uint64) bool {
	for _, l := range strings.Split(string(mountinfo), "\n") {
		f := strings.Fields(l)
		if len(f) < 6 || f[0] != strconv.FormatUint(id, 10) {
			continue
		}
		for _, o := range strings.Split(f[5], ",") {
			if o == "ro" {
				return true
			}
		}
		return false
	}
	return false
}
