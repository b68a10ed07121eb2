// scan.go: every IPC namespace on the host that a process is in, found
// through /proc/*/ns/ipc and /proc/*/task/*/ns/ipc (a thread can be in
// another than its process). A namespace that only a bind mount keeps
// alive has no process, and is not found.

package ns

import (
	"fmt"
	"os"
	"slices"
	"strconv"

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
// processes whose namespaces it could not read.
func Scan() ([]*Found, []Hidden) {
	own, _ := os.Readlink("/proc/self/ns/ipc")
	byID := map[string]*Found{}
	tids := map[*Found]map[int]int{} // by PID, the thread it was found through; 0 for the process
	var hidden []Hidden
	ptrace := hasCap(unix.CAP_SYS_PTRACE)
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		ids := map[string]int{}
		if id, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/ipc", pid)); err == nil {
			ids[id] = 0
		} else if !os.IsNotExist(err) {
			var st unix.Stat_t
			root := hostRoot()
			asRoot := root && ptrace && unix.Stat(fmt.Sprintf("/proc/%d", pid), &st) == nil && st.Uid == 0
			hidden = append(hidden, Hidden{PID: pid, Comm: Comm(pid), RefusesRoot: asRoot, NoPtrace: root && !ptrace})
			continue
		}
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		for _, task := range tasks {
			tid, _ := strconv.Atoi(task.Name())
			id, err := os.Readlink(fmt.Sprintf("/proc/%d/task/%d/ns/ipc", pid, tid))
			if _, seen := ids[id]; err == nil && !seen {
				ids[id] = tid
			}
		}
		for id, tid := range ids {
			f := byID[id]
			if f == nil {
				f = &Found{ID: id, Own: id == own}
				byID[id], tids[f] = f, map[int]int{}
			}
			f.PIDs = append(f.PIDs, pid)
			tids[f][pid] = tid
		}
	}
	var all []*Found
	for _, f := range byID {
		slices.Sort(f.PIDs)
		first := slices.IndexFunc(f.PIDs, func(pid int) bool { return tids[f][pid] == 0 })
		f.PID = f.PIDs[max(first, 0)]
		f.TID = tids[f][f.PID]
		if h, err := Open("--scan", strconv.Itoa(f.Task())); err == nil {
			f.Owner = h.Owner()
			h.Close()
		}
		all = append(all, f)
	}
	slices.SortFunc(all, func(a, b *Found) int {
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
