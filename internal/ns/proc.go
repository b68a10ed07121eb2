// proc.go: what /proc tells of a process: its command, the process a
// thread belongs to, whether it has ended, and when it does.

package ns

import (
	"fmt"
	"invoke_ns/internal/procfs"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Comm is a process's command name, or "?".
func Comm(pid int) string {
	b, err := procfs.Read(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
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
		err := rc.Read(func(fd uintptr) bool {
			n, _ := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
			return n > 0
		})
		if err == nil {
			f.Close()
			close(g)
		}
	}()
	return g, func() { f.Close() }
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
