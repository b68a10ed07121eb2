// limits.go: the headroom a run needs under the caller's resource limits,
// checked before anything is made. The Go runtime cannot recover from a
// thread it fails to start (RLIMIT_NPROC) or a poller it cannot open
// (RLIMIT_NOFILE): it dies with a stack trace and status 2, whatever it
// had made left behind. A run is refused at once instead, with what to
// raise; a scan runs as many probes at once as the limits leave room for,
// and the runtime as many threads (GOMAXPROCS).

package reexec

import (
	"fmt"
	"os"
	"strconv"

	"invoke_ns/internal/ns"
	"invoke_ns/internal/procfs"

	"golang.org/x/sys/unix"
)

// What a run takes at most, measured with -k all and a command: the
// parent's threads and the child's, the command, and the descriptors the
// parent holds at once (the child, with the same limit, holds fewer); and
// what each worker of a scan adds: its thread, the thread of a P to run
// it, and one more where a probe held up is given up and another started;
// its objects and their locks, the target's namespace, root and pidfd,
// and the lookups under way.
const (
	tasksNeeded = 16
	filesNeeded = 20
	workerTasks = 3
	workerFiles = 24
)

// The most Ps (GOMAXPROCS) the runtime gets: a run does one thing after
// another, and on a machine of many CPUs a runtime with one P per CPU
// starts a thread for each P its collector wakes; a scan gains nothing
// past a few dozen workers, and the limits may leave room for fewer.
const (
	RunProcs  = 4
	ScanProcs = 64
)

// CheckLimits refuses a run that the limits would cut short, open being
// the number of descriptors open. With workers above 0 (a scan), it gives
// how many workers the limits leave room for, at most workers, and
// refuses where not even one fits.
func CheckLimits(open, workers int) (int, error) {
	least := min(workers, 1) // a scan needs one worker at least
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil && rl.Cur != unix.RLIM_INFINITY {
		need := filesNeeded + workerFiles*least
		if uint64(open+need) > rl.Cur {
			return 0, fmt.Errorf("too few file descriptors: RLIMIT_NOFILE (ulimit -n) is %d, %d are open, "+
				"and a run needs %d more — raise it (ulimit -n %d)", rl.Cur, open, need, max(1024, open+need))
		}
		workers = min(workers, int(rl.Cur-uint64(open+filesNeeded))/workerFiles)
	}
	if unix.Getrlimit(unix.RLIMIT_NPROC, &rl) != nil || rl.Cur == unix.RLIM_INFINITY || nprocExempt() ||
		systemTasks()+uint64(tasksNeeded+workerTasks*workers) <= rl.Cur {
		return workers, nil // not even every task on the system would reach it
	}
	need := tasksNeeded + workerTasks*least
	n := userTasks(os.Getuid())
	if uint64(n+need) > rl.Cur {
		return 0, fmt.Errorf("too few processes: RLIMIT_NPROC (ulimit -u) is %d, your user runs %d processes "+
			"and threads, and a run needs %d more — raise it, or end some of them", rl.Cur, n, need)
	}
	return min(workers, int(rl.Cur-uint64(n+tasksNeeded))/workerTasks), nil
}

// nprocExempt says whether RLIMIT_NPROC binds this process at all: the
// kernel does not hold root of the initial user namespace to it (fork.c).
func nprocExempt() bool { return os.Getuid() == 0 && ns.InitialUserNS() }

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
	n := 0
	for _, name := range procfs.Names("/proc") {
		if _, err := strconv.Atoi(name); err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Stat("/proc/"+name, &st) == nil && int(st.Uid) == uid {
			n += max(entries("/proc/"+name+"/task"), 0)
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
