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
	// Tasks are the processes with a thread in it, in order of PID: the
	// process itself where it is in it, else the first thread that is.
	Tasks []Task
	Own   bool // the caller's own
}

// First names the namespace: its first process that is in it, or where
// only threads are, the first thread.
func (f *Found) First() Task {
	if i := slices.IndexFunc(f.Tasks, func(t Task) bool { return t.TID == 0 }); i >= 0 {
		return f.Tasks[i]
	}
	return f.Tasks[0]
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

// Scan reads every process's and thread's IPC namespace, and what each
// is (Task): the caller's own namespace first, then the others by their
// first process; and lists the processes whose namespaces it could not
// read. The processes are read one worker per CPU at once. It fails only
// where /proc lists no process at all.
func Scan() ([]*Found, []Hidden, error) {
	own, _ := os.Readlink("/proc/self/ns/ipc")
	var pids []int
	for _, name := range procfs.Names("/proc") {
		if pid, err := strconv.Atoi(name); err == nil {
			pids = append(pids, pid)
		}
	}
	// In order, so that each namespace's tasks are found in order too.
	slices.Sort(pids)
	if len(pids) == 0 {
		return nil, nil, fmt.Errorf("/proc lists no process: is proc mounted there? — " +
			"mount it (mount -t proc proc /proc), or run where it is")
	}
	why := newHiddenWhy()
	each := make([]task, len(pids))
	fanout.Each(len(pids), runtime.GOMAXPROCS(0), func(_, i int) { each[i] = readTask(pids[i], why) })

	byID := map[string]*Found{}
	var all []*Found
	var hidden []Hidden
	for _, t := range each {
		if t.hidden != nil {
			hidden = append(hidden, *t.hidden)
		}
		for _, in := range t.in {
			f := byID[in.id]
			if f == nil {
				f = &Found{ID: in.id, Own: in.id == own}
				byID[in.id] = f
				all = append(all, f)
			}
			f.Tasks = append(f.Tasks, in.task)
		}
	}
	fanout.Each(len(all), runtime.GOMAXPROCS(0), func(_, i int) {
		fd, err := unix.Open(all[i].First().Dir()+"/ns/ipc", unix.O_RDONLY|unix.O_CLOEXEC, 0)
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
		return a.First().PID - b.First().PID
	})
	return all, hidden, nil
}

// task is what Scan read of one process: the IPC namespaces it has a
// thread in, each with the task it was found through (the process, or
// the first thread of it in that namespace); or why they could not be
// read.
type task struct {
	in     []taskIn
	hidden *Hidden
}

// taskIn is an IPC namespace a process has a thread in.
type taskIn struct {
	id   string
	task Task
}

// hiddenWhy is what tells why a process's namespaces could not be read,
// the same for each: the caller's rights.
type hiddenWhy struct{ root, ptrace bool }

func newHiddenWhy() hiddenWhy { return hiddenWhy{hostRoot(), HasCap(unix.CAP_SYS_PTRACE)} }

// readTask reads the IPC namespaces of process pid and its threads, and
// what tells each task found in one from any later. The namespace is
// read before the task is identified: a PID taken over in between gives
// a task that a probe, which checks both, finds gone.
func readTask(pid int, why hiddenWhy) task {
	var t task
	add := func(id string, tid int) {
		for _, in := range t.in {
			if in.id == id {
				return
			}
		}
		task, err := Identify(pid, tid)
		if err != nil {
			return // ended meanwhile
		}
		task.ReadComm()
		t.in = append(t.in, taskIn{id, task})
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
	if threads(pid) == 1 {
		return t // no other thread to be elsewhere
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
