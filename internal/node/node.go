// Package node is --scan: a node's IPC namespaces and containers,
// collected from /proc, named as their engines name them, held against
// the host's IPC namespace and /dev/shm (those of PID 2, the kernel's
// threads, whatever invoke_ns's own are), and with --probe proved by a
// message, each row pinned to the task it was found through. It decides
// and collects; internal/show words what it found.
package node

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"invoke_ns/internal/engine"
	"invoke_ns/internal/fanout"
	"invoke_ns/internal/ipc"
	"invoke_ns/internal/ns"
	"invoke_ns/internal/procfs"
	"invoke_ns/internal/run"

	"golang.org/x/sys/unix"
)

// Plan is what a scan is to do, settled once from the options.
type Plan struct {
	// Probe is, with --probe, the run each probe's objects come from: its
	// objects, -t, -q and --key; nil without.
	Probe *run.Plan
	// FixedName says that -q or --key names the one object of every
	// probe: they go one after another.
	FixedName bool
	From      *ns.Handle // --from: held against its namespaces
	Workers   int        // probes, and readers of /proc, at once
}

// Node is what a scan found on a node.
type Node struct {
	Name       string        // $NODE_NAME, else the hostname
	Time       time.Time     // when the scan began
	Took       time.Duration // how long it took
	HostSeen   bool          // the host's namespaces were seen (PID 2, a kernel thread)
	HostUnread string        // why PID 2's could not be read, where it is a kernel thread
	From       *ns.Handle    // with --from: held against its namespaces instead
	Namespaces []*Namespace  // every IPC namespace a process is in
	Rows       []*Row        // the containers, and the namespaces no container owns
	Hidden     []ns.Hidden   // the processes whose namespaces could not be read
	Leftovers  []run.Note    // objects of earlier runs and probes, which nothing holds
	// HostLimits are, with --probe, the limits of the IPC namespace the
	// containers are held against, read there.
	HostLimits ipc.Limits
}

// Row is a container, or a namespace that no container owns.
type Row struct {
	Container engine.Container // none for a namespace of its own
	Kube      *engine.Kube     // a Kubernetes container's pod, where its runtime says
	Namespace *Namespace       // the IPC namespace it is in
	Task      ns.Task          // its first process (or thread) found
	Processes int              // its processes in that namespace (of no container, for a namespace's own)
	HostIPC   bool             // its IPC namespace is the host's
	HostShm   *bool            // its /dev/shm is the host's; nil: not known
	// ShmReadOnly says that its /dev/shm is mounted read-only (a pod's
	// sandbox has the host's so).
	ShmReadOnly bool
	Probe       *run.Result // with --probe
	// Limits are, with --probe of a kind the IPC namespace isolates, the
	// limits of its IPC namespace, read there by its probe.
	Limits ipc.Limits
}

// Namespace is one IPC namespace found.
type Namespace struct {
	IPC       string  // "ipc:[4026532179]"
	UserNS    string  // the user namespace that owns it
	Processes int     // how many processes have a thread in it
	Task      ns.Task // the first of them, or where only threads are, the first thread
	Container string  // the container of Task, as a row names it
	Own       bool    // invoke_ns's own
	Host      bool    // the one held against
	Row       *Row    // its first row: its answers and its probe
}

// Held says whether the containers were held against the host's
// namespaces, or --from's: not where the host could not be seen, and
// invoke_ns's own stood in, which tell nothing of the host's.
func (n *Node) Held() bool { return n.HostSeen || n.From != nil }

// Sharing is how many containers share the host's IPC namespace, or with
// inDevShm its /dev/shm; 0 where they were not held against the host's.
func (n *Node) Sharing(inDevShm bool) int {
	count := 0
	for _, r := range n.Rows {
		if a, _ := r.Shares(inDevShm); r.Container.Engine != "" && a != nil && *a && n.Held() {
			count++
		}
	}
	return count
}

// Shares says whether the row shares the host's IPC namespace, or with
// inDevShm its /dev/shm: the kernel's answer, read when it was scanned,
// which a message that fails to arrive cannot turn (run.Result.Shares);
// proved says that a message agreed with it.
func (r *Row) Shares(inDevShm bool) (answer *bool, proved bool) {
	if r.Probe != nil && r.Probe.Err == nil {
		if a := r.Probe.Shares(inDevShm); a != nil {
			return a, r.Probe.Proved(inDevShm)
		}
	}
	if inDevShm {
		return r.HostShm, false
	}
	return &r.HostIPC, false
}

// host is the namespaces a node's containers are held against.
type host struct {
	seen   bool       // PID 2 is a kernel thread, and read: these are the host's
	unread string     // why PID 2's namespaces could not be read
	ipc    string     // its IPC namespace's identity
	shm    *ipc.Place // its /dev/shm
	ns     *ns.Handle // its IPC namespace, open, for --probe
	root   *os.File   // the host's root, where the engines keep their state
}

// hostOf finds what the containers are held against: --from's namespaces
// where it is given, else the host's, those of PID 2, a kernel thread,
// where this PID namespace shows one and they can be read; invoke_ns's own
// otherwise.
func (p *Plan) hostOf() (host, error) {
	var h host
	task := ns.Host()
	if task != 0 {
		if root, err := ns.RootOf(task); err == nil {
			h.root = root
		}
	}
	if from := p.From; from != nil {
		h.ipc, h.ns = from.ID, from
		if from.PID != 0 {
			h.shm = shmDir(from.PID)
		}
		return h, nil
	}
	if task != 0 {
		handle, err := ns.Open("--scan", strconv.Itoa(task))
		if err == nil {
			h.seen, h.ns, h.ipc, h.shm = true, handle, handle.ID, shmDir(task)
			return h, nil
		}
		// An ordinary user's, or root's without CAP_SYS_PTRACE.
		h.unread = err.Error()
	}
	handle, err := ns.Open("--scan", "/proc/self/ns/ipc")
	if err != nil {
		return h, err
	}
	h.ns, h.ipc, h.shm = handle, handle.ID, shmDir(os.Getpid())
	return h, nil
}

// close closes what hostOf opened.
func (h host) close(p *Plan) {
	if h.ns != nil && h.ns != p.From {
		h.ns.Close()
	}
	if h.root != nil {
		h.root.Close()
	}
}

// shmDir is the /dev/shm of process pid, as its root resolves it: the
// zero Place where it has none (no one else's, then); nil where it cannot
// be read.
func shmDir(pid int) *ipc.Place {
	root, err := ns.RootOf(pid)
	if err != nil {
		return nil
	}
	defer root.Close()
	place, _ := placeIn(root)
	return place
}

// readOnlyMounts says which mounts are read-only, by their IDs, as
// /proc/PID/mountinfo gives them: read once for each mount a scan meets,
// since its ID is the kernel's, one mount's the while it exists.
type readOnlyMounts struct {
	mu sync.Mutex
	ro map[uint64]bool
}

// of says whether mount id, on which task's /dev/shm is, is read-only:
// read from the kernel's tables, never from the filesystem, which may
// not answer.
func (m *readOnlyMounts) of(id uint64, task ns.Task) bool {
	m.mu.Lock()
	ro, ok := m.ro[id]
	m.mu.Unlock()
	if ok || id == 0 {
		return ro
	}
	b, err := procfs.Read(task.Dir() + "/mountinfo")
	if err != nil {
		return false
	}
	ro = ns.MountReadOnly(b, id)
	m.mu.Lock()
	m.ro[id] = ro
	m.mu.Unlock()
	return ro
}

// placeIn is the /dev/shm of root, as shmDir gives it, and the ID of the
// mount it is on (0 where it is none, or cannot be read).
func placeIn(root *os.File) (*ipc.Place, uint64) {
	place, mount, err := ipc.ShmDirMount(root)
	if ipc.Nowhere(err) {
		return &ipc.Place{}, 0
	}
	if err != nil {
		return nil, 0
	}
	return &place, mount
}

// Collect reads the node, and with --probe proves each of its IPC
// namespaces and /dev/shm against the host's; a signal while the engines
// are asked or the probes run cuts the scan short, and is returned.
func Collect(p *Plan, sigs *run.Signals) (*Node, unix.Signal, error) {
	began := time.Now()
	h, err := p.hostOf()
	defer h.close(p)
	if err != nil {
		return nil, 0, err
	}
	found, hidden, err := ns.Scan()
	if err != nil {
		return nil, 0, err
	}
	// The engines are asked for their names while the rest is read.
	var dockerds []int
	for _, f := range found {
		for _, t := range f.Tasks {
			if t.TID == 0 && t.Comm == "dockerd" {
				dockerds = append(dockerds, t.PID)
			}
		}
	}
	namers := make(chan *engine.Namer, 1)
	go func() { namers <- engine.NewNamer(h.root, dockerds) }()
	name, _ := os.Hostname()
	node := &Node{Name: cmp.Or(os.Getenv("NODE_NAME"), name), Time: began, HostSeen: h.seen, HostUnread: h.unread,
		From: p.From, Hidden: hidden}
	// What is read of each process, by workers at once: first the
	// container of each, which makes the rows, then of each row's task
	// its container's name and its /dev/shm.
	containerOf := containersOf(found, p.Workers)
	hostIPC := h.ipc
	node.Namespaces, node.Rows = rowsOf(found, containerOf, hostIPC)
	var namer *engine.Namer
	select {
	case namer = <-namers:
	case s := <-sigs.C:
		return node, s.(unix.Signal), nil
	}
	readOf := readAll(node, containerOf, namer, p.Workers, h.shm)
	for _, r := range node.Rows {
		got := readOf[[2]int{r.Task.PID, r.Task.TID}]
		r.name(got.named)
		r.ShmReadOnly = got.readOnly
		if got.dir != nil && h.shm != nil {
			same := *got.dir == *h.shm
			r.HostShm = &same
		}
	}
	for _, n := range node.Namespaces {
		r := &Row{Container: containerOf[n.Task.PID]}
		r.name(readOf[[2]int{n.Task.PID, n.Task.TID}].named)
		n.Container = r.Container.String()
	}
	for _, r := range slices.Backward(node.Rows) {
		r.Namespace.Row = r
	}
	// The host's namespace first, then by namespace, each's containers by
	// name, those of no container last.
	slices.SortStableFunc(node.Rows, func(a, b *Row) int {
		return cmp.Or(-cmpBool(a.HostIPC, b.HostIPC), cmp.Compare(a.Namespace.IPC, b.Namespace.IPC),
			-cmpBool(a.Container.Engine != "", b.Container.Engine != ""), cmp.Compare(a.Container.String(), b.Container.String()))
	})
	var sig unix.Signal
	if p.Probe != nil {
		sig = p.prove(node, h, readOf, sigs)
	}
	node.Took = time.Since(began)
	return node, sig, nil
}

// containersOf is the container each process of the namespaces found
// belongs to, read by workers at once.
func containersOf(found []*ns.Found, workers int) map[int]engine.Container {
	var pids []int
	for _, f := range found {
		for _, t := range f.Tasks {
			pids = append(pids, t.PID)
		}
	}
	containers := make([]engine.Container, len(pids))
	fanout.Each(len(pids), workers, func(_, i int) { containers[i] = engine.Of(pids[i]) })
	of := map[int]engine.Container{}
	for i, pid := range pids {
		of[pid] = containers[i]
	}
	return of
}

// rowsOf is a namespace for each found, and a row for each container, in
// the first namespace it is found in, and for each namespace that a
// process of no container is in; hostIPC is the host's namespace.
func rowsOf(found []*ns.Found, containerOf map[int]engine.Container, hostIPC string) ([]*Namespace, []*Row) {
	var namespaces []*Namespace
	var rows []*Row
	seen := map[engine.Container]*Row{}
	for _, f := range found {
		n := &Namespace{IPC: f.ID, UserNS: f.Owner, Processes: len(f.Tasks), Task: f.First(),
			Own: f.Own, Host: f.ID == hostIPC}
		namespaces = append(namespaces, n)
		loose := &Row{Namespace: n, Task: n.Task, HostIPC: n.Host} // the processes of no container in it
		for _, t := range f.Tasks {
			c := containerOf[t.PID]
			switch {
			case c.Engine == "":
				if loose.Processes == 0 {
					loose.Task = t
				}
				loose.Processes++
			case seen[c] == nil:
				seen[c] = &Row{Container: c, Namespace: n, Task: t, HostIPC: n.Host, Processes: 1}
				rows = append(rows, seen[c])
			case seen[c].Namespace == n:
				seen[c].Processes++
			}
		}
		if loose.Processes > 0 {
			rows = append(rows, loose)
		}
	}
	return namespaces, rows
}

// name gives the row's container the name its engine gives it, and the
// engine where its cgroup path did not say.
func (r *Row) name(n engine.Named) {
	r.Container.Name, r.Kube = n.Name, n.Kube
	if r.Container.Engine == "kubernetes" && n.Engine != "" {
		r.Container.Engine = n.Engine
	}
}

// taskRead is what is read of one task of a row or a namespace.
type taskRead struct {
	task     ns.Task
	shm      bool         // its /dev/shm is wanted (a row's)
	named    engine.Named // its container, as the engine names it
	dir      *ipc.Place   // its /dev/shm
	readOnly bool         // mounted read-only
}

// readAll reads, by workers at once, the container's name of each task
// of the node's rows and namespaces, and the /dev/shm of each row's, the
// task pinned the while; and where that /dev/shm is the host's (at
// hostShm), whether it is mounted read-only there. It gives what it read
// by task.
func readAll(node *Node, containerOf map[int]engine.Container, namer *engine.Namer, workers int, hostShm *ipc.Place) map[[2]int]*taskRead {
	var reads []*taskRead
	readOf := map[[2]int]*taskRead{}
	want := func(t ns.Task, shm bool) {
		k := [2]int{t.PID, t.TID}
		if readOf[k] == nil {
			readOf[k] = &taskRead{task: t}
			reads = append(reads, readOf[k])
		}
		readOf[k].shm = readOf[k].shm || shm
	}
	for _, r := range node.Rows {
		want(r.Task, true)
	}
	for _, n := range node.Namespaces {
		want(n.Task, false)
	}
	mounts := &readOnlyMounts{ro: map[uint64]bool{}}
	fanout.Each(len(reads), workers, func(_, i int) {
		r := reads[i]
		if c := containerOf[r.task.PID]; c.Engine != "" {
			r.named = namer.Name(c, r.task.PID)
		}
		if !r.shm {
			return
		}
		root, err := ns.RootOfTask(r.task)
		if err != nil {
			return
		}
		defer root.Close()
		var mount uint64
		r.dir, mount = placeIn(root)
		if r.dir != nil && hostShm != nil && *r.dir == *hostShm {
			r.readOnly = mounts.of(mount, r.task)
		}
	})
	return readOf
}

// cmpBool orders false before true.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// prove probes each distinct IPC namespace and /dev/shm of the node, with
// the parent's objects in the host's (--from its namespace and root), up
// to p.Workers at once, or one after another where -q or --key gives the
// one name or key they would all want.
func (p *Plan) prove(node *Node, h host, readOf map[[2]int]*taskRead, sigs *run.Signals) unix.Signal {
	base := *p.Probe
	base.From = h.ns
	byIPC := slices.ContainsFunc(base.Objects, func(o ipc.Object) bool { return !o.Kind.InDevShm })
	byShm := slices.ContainsFunc(base.Objects, func(o ipc.Object) bool { return o.Kind.InDevShm })
	// --from's root is in the objects already (the plan's).
	if h.ns != nil && p.From == nil && byShm && h.ns.OpenRoot("--scan") == nil {
		base.Objects = slices.Clone(base.Objects)
		for i := range base.Objects {
			if base.Objects[i].Kind.InDevShm {
				base.Objects[i].Root = h.ns.Root
			}
		}
	}
	// What earlier probes and runs left where these are made is named.
	node.Leftovers = run.Leftovers(base.Objects, h.ns, true)
	// One probe for each place the kinds tried can tell apart, at its
	// index.
	type place struct {
		ipc     string
		shm     ipc.Place
		unknown ns.Task
	}
	index := map[place]int{}
	var targets []run.Target
	probeOf := make([]int, len(node.Rows))
	for i, r := range node.Rows {
		var pl place
		if byIPC {
			pl.ipc = r.Namespace.IPC
		}
		if byShm {
			if d := readOf[[2]int{r.Task.PID, r.Task.TID}].dir; d != nil && *d != (ipc.Place{}) {
				pl.shm = *d
			} else {
				pl.unknown = r.Task // none, or not read: no other's
			}
		}
		j, ok := index[pl]
		if !ok {
			j = len(targets)
			index[pl] = j
			t := run.Target{SameIPC: &r.HostIPC, SameShm: r.HostShm,
				Open: func() (*ns.Handle, error) { return ns.OpenPinned("--probe", r.Task, r.Namespace.IPC, byShm) }}
			targets = append(targets, t)
		}
		probeOf[i] = j
	}
	workers := p.Workers
	if p.FixedName {
		workers = 1
	}
	var plans []*run.Plan
	for w := range workers {
		plans = append(plans, p.ownNames(&base, w))
	}
	began := time.Now()
	results, sig := run.ProbeAll(plans, targets, sigs)
	phaseTook("the probes", began)
	for i, r := range node.Rows {
		r.Probe = results[probeOf[i]]
		// A probe of /dev/shm alone may stand for several namespaces.
		if r.Probe != nil && byIPC {
			r.Limits = r.Probe.ChildLimits
		}
	}
	if byIPC {
		h.ns.Inside(func() { node.HostLimits = ipc.ReadLimits() })
	}
	return sig
}

// ownNames is base with names of its own for worker w's objects, where
// workers run at once: the default would be taken by one, and each other
// ask who has it.
func (p *Plan) ownNames(base *run.Plan, w int) *run.Plan {
	pp := *base
	if p.FixedName {
		return &pp
	}
	pp.Objects = slices.Clone(pp.Objects)
	for k := range pp.Objects {
		if pp.Objects[k].Kind.ByName {
			pp.Objects[k].Name = fmt.Sprintf("%s.%d.%d", pp.Objects[k].Name, os.Getpid(), w)
		}
	}
	return &pp
}
