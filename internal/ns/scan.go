// scan.go: every IPC namespace on the host that a process is in, found
// through /proc/*/ns/ipc and /proc/*/task/*/ns/ipc (a thread can be in
// another than its process). A namespace that only a bind mount keeps
// alive has no process, and is not found.

package ns

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"

	"invoke_ns/internal/fanout"
	"invoke_ns/internal/procfs"

	"golang.org/x/sys/unix"
)

// Found is one IPC namespace that processes are in.
type Found struct {
	ID    string // "ipc:[4026531839]"
	Owner string // the user namespace that owns it, "user:[4026531837]"
	PIDs  []int  // the processes with a thread in it, in order
	// PID names it: the first process that is in it, or where only
	// threads are, the first process with a thread in it, and TID that
	// thread.
	PID, TID int
	Own      bool // the caller's own
}

// Task is the process, or the thread of it, that is in the namespace.
func (f *Found) Task() int {
	if f.TID != 0 {
		return f.TID
	}
	return f.PID
}

// Hidden is a process whose namespaces could not be read.
type Hidden struct {
	PID  int
	Comm string
	// RefusesRoot: it refused root with CAP_SYS_PTRACE, which the
	// kernel's own rules (ptrace_may_access, proc(5)) let read any
	// process's namespaces: a security module forbids it.
	RefusesRoot bool
	// NoPtrace: root lacks CAP_SYS_PTRACE (in a container, say), without
	// which it may read no namespaces but those of processes with no
	// capability it lacks.
	NoPtrace bool
}

// Scan reads every process's and thread's IPC namespace: the caller's
// own first, then the others by their first process; and lists the
// processes whose namespaces it could not read. The processes are read
// one worker per CPU at once.
func Scan() ([]*Found, []Hidden) {
	own, _ := os.Readlink("/proc/self/ns/ipc")
	var pids []int
	for _, name := range procfs.Names("/proc") {
		if pid, err := strconv.Atoi(name); err == nil {
			pids = append(pids, pid)
		}
	}
	why := newHiddenWhy()
	each := make([]task, len(pids))
	fanout.Each(len(pids), runtime.GOMAXPROCS(0), func(_, i int) { each[i] = readTask(pids[i], why) })

	byID := map[string]*Found{}
	tids := map[*Found]map[int]int{} // by PID, the thread it was found through; 0 for the process
	var all []*Found
	var hidden []Hidden
	for i, t := range each {
		if t.hidden != nil {
			hidden = append(hidden, *t.hidden)
		}
		for _, in := range t.in {
			f := byID[in.id]
			if f == nil {
				f = &Found{ID: in.id, Own: in.id == own}
				byID[in.id], tids[f] = f, map[int]int{}
				all = append(all, f)
			}
			f.PIDs = append(f.PIDs, pids[i])
			tids[f][pids[i]] = in.tid
		}
	}
	for _, f := range all {
		slices.Sort(f.PIDs)
		first := slices.IndexFunc(f.PIDs, func(pid int) bool { return tids[f][pid] == 0 })
		f.PID = f.PIDs[max(first, 0)]
		f.TID = tids[f][f.PID]
	}
	fanout.Each(len(all), runtime.GOMAXPROCS(0), func(_, i int) {
		fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/ipc", all[i].Task()), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			all[i].Owner = ownerOf(fd)
			unix.Close(fd)
		}
	})
	slices.SortStableFunc(all, func(a, b *Found) int {
		if a.Own != b.Own {
			if a.Own {
				return -1
			}
			return 1
		}
		return a.PID - b.PID
	})
	return all, hidden
}

// task is what Scan read of one process: the IPC namespaces it has a
// thread in, each with the thread it was found through (0 for the
// process itself); or why they could not be read.
type task struct {
	in     []taskIn
	hidden *Hidden
}

// taskIn is an IPC namespace a process has a thread in: tid, or 0 for the
// process itself.
type taskIn struct {
	id  string
	tid int
}

// hiddenWhy is what tells why a process's namespaces could not be read,
// the same for each: the caller's rights.
type hiddenWhy struct{ root, ptrace bool }

func newHiddenWhy() hiddenWhy { return hiddenWhy{hostRoot(), hasCap(unix.CAP_SYS_PTRACE)} }

// readTask reads the IPC namespaces of process pid and its threads.
func readTask(pid int, why hiddenWhy) task {
	var t task
	add := func(id string, tid int) {
		for _, in := range t.in {
			if in.id == id {
				return
			}
		}
		t.in = append(t.in, taskIn{id, tid})
	}
	id, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/ipc", pid))
	switch {
	case err == nil:
		add(id, 0)
	case !os.IsNotExist(err):
		var st unix.Stat_t
		asRoot := why.root && why.ptrace && unix.Stat(fmt.Sprintf("/proc/%d", pid), &st) == nil && st.Uid == 0
		t.hidden = &Hidden{PID: pid, Comm: Comm(pid), RefusesRoot: asRoot, NoPtrace: why.root && !why.ptrace}
		return t
	}
	for _, name := range procfs.Names(fmt.Sprintf("/proc/%d/task", pid)) {
		tid, _ := strconv.Atoi(name)
		if tid == pid {
			continue // the process's own, read above
		}
		if id, err := os.Readlink(fmt.Sprintf("/proc/%d/task/%d/ns/ipc", pid, tid)); err == nil {
			add(id, tid)
		}
	}
	return t
}
