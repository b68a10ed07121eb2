// proc.go: what /proc tells of a process: its command, the process a
// thread belongs to, whether it has ended, and when it does.

package ns

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Comm is a process's command name, or "?".
func Comm(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// Tgid is the process that task pid is a thread of, pid itself for a
// process (or where that cannot be read).
func Tgid(pid int) int {
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

// Ended says whether process pid has ended but is not yet reaped: a
// zombie, whose namespaces are gone.
func Ended(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// "pid (comm) S ...": the state follows the last ")".
	i := strings.LastIndexByte(string(b), ')')
	return i >= 0 && strings.HasPrefix(string(b[i+1:]), " Z")
}

// Watch is closed when process pid ends; never, for pid 0 or a process
// that cannot be watched.
func Watch(pid int) <-chan struct{} {
	gone := make(chan struct{})
	if pid == 0 {
		return gone
	}
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return gone
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return gone
	}
	go func() {
		// A pidfd is readable once its process has ended.
		rc.Read(func(fd uintptr) bool {
			n, _ := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
			return n > 0
		})
		f.Close()
		close(gone)
	}()
	return gone
}
