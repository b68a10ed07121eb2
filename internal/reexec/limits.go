// limits.go: the headroom a run needs under the caller's resource limits,
// checked before anything is made. The Go runtime cannot recover from a
// thread it fails to start (RLIMIT_NPROC) or a poller it cannot open
// (RLIMIT_NOFILE): it dies with a stack trace, whatever it had made left
// behind. A run is refused at once instead, with what to raise.

package reexec

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// What a run takes at most, measured with -k all and a command: the
// parent's threads and the child's, the command, and the descriptors the
// parent holds at once (the child, with the same limit, holds fewer).
const (
	tasksNeeded = 16
	filesNeeded = 20
)

// CheckLimits refuses a run that the limits would cut short, open being
// the number of descriptors open.
func CheckLimits(open int) error {
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil {
		if uint64(open+filesNeeded) > rl.Cur {
			return fmt.Errorf("too few file descriptors: RLIMIT_NOFILE (ulimit -n) is %d, %d are open, "+
				"and a run needs %d more — raise it (ulimit -n %d)", rl.Cur, open, filesNeeded, max(1024, open+filesNeeded))
		}
	}
	if unix.Getrlimit(unix.RLIMIT_NPROC, &rl) != nil || rl.Cur == unix.RLIM_INFINITY {
		return nil
	}
	if systemTasks()+tasksNeeded <= rl.Cur || nprocExempt() {
		return nil // not even every task on the system would reach it
	}
	if n := userTasks(os.Getuid()); uint64(n+tasksNeeded) > rl.Cur {
		return fmt.Errorf("too few processes: RLIMIT_NPROC (ulimit -u) is %d, your user runs %d processes "+
			"and threads, and a run needs %d more — raise it, or end some of them", rl.Cur, n, tasksNeeded)
	}
	return nil
}

// nprocExempt says whether RLIMIT_NPROC binds this process at all: the
// kernel does not hold root of the initial user namespace to it (fork.c).
func nprocExempt() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	return err == nil && os.Getuid() == 0 && strings.Join(strings.Fields(string(b)), " ") == "0 0 4294967295"
}

// systemTasks is the number of tasks on the system, threads included, as
// sysinfo(2) counts them.
func systemTasks() uint64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return ^uint64(0) >> 1
	}
	return uint64(si.Procs)
}

// userTasks counts the threads of the processes that uid owns.
func userTasks(uid int) int {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	n := 0
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Stat("/proc/"+p.Name(), &st) == nil && int(st.Uid) == uid {
			n += max(entries("/proc/"+p.Name()+"/task"), 0)
		}
	}
	return n
}

// entries is the number of entries of a directory, or -1.
func entries(dir string) int {
	f, err := os.Open(dir)
	if err != nil {
		return -1
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return -1
	}
	return len(names)
}
