// node.go: --scan, a node's IPC namespaces and containers: collected from
// /proc, named as their engines name them, held against the host's IPC
// namespace and /dev/shm (those of PID 2, the kernel's threads, whatever
// invoke_ns's own are), proved with --probe, and shown; with --every,
// again and again until a signal.

package main

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"time"

	"invoke_ns/internal/engine"
	"invoke_ns/internal/fanout"
	"invoke_ns/internal/ipc"
	"invoke_ns/internal/ns"
	"invoke_ns/internal/run"
	"invoke_ns/internal/show"

	"golang.org/x/sys/unix"
)

// scanNode runs --scan: once, or with --every each period until a
// signal, each report a JSON line with --json.
func (p *plan) scanNode(out io.Writer) (int, string) {
	sigs := run.Catch()
	sigs.Ready()
	for report := 0; ; report++ {
		node, sig, err := p.collect(sigs)
		if err != nil {
			return errStatus(err), err.Error()
		}
		status, msg := 0, ""
		if sig != 0 {
			status, msg = 128+int(sig), probesEnded(sig)
		}
		switch {
		case p.json != nil && p.every > 0:
			if status, msg = p.writeJSONLine(node.Record(status, msg), status, msg); msg != "" {
				return status, msg
			}
		case p.json != nil:
			return p.writeJSON(node.Record(status, msg), status, msg)
		default:
			// One write for the report: a line at a time would cost a
			// system call for each row of a node's hundreds.
			var b bytes.Buffer
			if report > 0 {
				fmt.Fprintf(&b, "\n%s\n", time.Now().Format(time.RFC3339))
			}
			show.Scan(&b, node, p.probe)
			out.Write(b.Bytes())
		}
		if sig != 0 || p.every == 0 {
			return status, msg
		}
		// A signal between reports is how --every is meant to end: its
		// status says so, and there is nothing to add.
		select {
		case s := <-sigs.C:
			return 128 + int(s.(unix.Signal)), ""
		case <-time.After(p.every):
		}
	}
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
func (p *plan) hostOf() (host, error) {
	var h host
	task := ns.Host()
	if task != 0 {
		if root, err := ns.RootOf(task); err == nil {
			h.root = root
		}
	}
	if from := p.run.From; from != nil {
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
func (h host) close(p *plan) {
	if h.ns != nil && h.ns != p.run.From {
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
	place, err := ipc.ShmDirIn(root)
	if errors.Is(err, unix.ENOENT) {
		return &ipc.Place{}
	}
	if err != nil {
		return nil
	}
	return &place
}

// collect reads the node, and with --probe proves each of its IPC
// namespaces and /dev/shm against the host's; a signal during the probes
// cuts them short.
func (p *plan) collect(sigs *run.Signals) (*show.Node, unix.Signal, error) {
	h, err := p.hostOf()
	defer h.close(p)
	if err != nil {
		return nil, 0, err
	}
	// The engines are asked for their names while /proc is read.
	namers := make(chan *engine.Namer, 1)
	go func() { namers <- engine.NewNamer(h.root) }()
	found, hidden := ns.Scan()
	name, _ := os.Hostname()
	node := &show.Node{Name: cmp.Or(os.Getenv("NODE_NAME"), name), HostSeen: h.seen, HostUnread: h.unread,
		From: p.run.From, Hidden: hidden}
	// What is read of each process, one worker per CPU at once: first the
	// container of each, which makes the rows, then of each row's process
	// and each namespace's its command, its container's name and its
	// /dev/shm.
	workers := runtime.GOMAXPROCS(0)
	containerOf := containersOf(found, workers)
	node.Namespaces, node.Rows = rowsOf(found, containerOf, h.ipc)
	readOf := readAll(node, containerOf, <-namers, workers)
	onHost := func(dir *ipc.Place) *bool {
		if dir == nil || h.shm == nil {
			return nil
		}
		same := *dir == *h.shm
		return &same
	}
	for _, r := range node.Rows {
		got := readOf[r.PID]
		r.Command, r.Container.Name, r.HostShm = got.comm, got.name, onHost(got.dir)
	}
	for _, n := range node.Namespaces {
		got := readOf[n.PID]
		c := containerOf[n.PID]
		c.Name = got.name
		n.Command, n.Container = got.comm, c.String()
	}
	shmOf := func(pid int) *ipc.Place { return readOf[pid].dir }
	// The host's namespace first, then by namespace, each's containers by
	// name, those of no container last.
	slices.SortStableFunc(node.Rows, func(a, b *show.Row) int {
		return cmp.Or(-cmpBool(a.HostIPC, b.HostIPC), cmp.Compare(a.Namespace.IPC, b.Namespace.IPC),
			-cmpBool(a.Container.Engine != "", b.Container.Engine != ""), cmp.Compare(a.Container.String(), b.Container.String()))
	})
	if !p.probe {
		return node, 0, nil
	}
	return node, p.prove(node, h, shmOf, sigs), nil
}

// containersOf is the container each process of the namespaces found
// belongs to, read by workers at once.
func containersOf(found []*ns.Found, workers int) map[int]engine.Container {
	var pids []int
	for _, f := range found {
		pids = append(pids, f.PIDs...)
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
func rowsOf(found []*ns.Found, containerOf map[int]engine.Container, hostIPC string) ([]*show.Namespace, []*show.Row) {
	var namespaces []*show.Namespace
	var rows []*show.Row
	seen := map[engine.Container]bool{}
	for _, f := range found {
		n := &show.Namespace{IPC: f.ID, UserNS: f.Owner, Processes: len(f.PIDs), PID: f.PID, TID: f.TID,
			Own: f.Own, Host: f.ID == hostIPC}
		namespaces = append(namespaces, n)
		loose := false // a process of no container is in it
		for _, pid := range f.PIDs {
			c := containerOf[pid]
			if c.Engine == "" {
				loose = true
			} else if !seen[c] {
				seen[c] = true
				rows = append(rows, &show.Row{Container: c, Namespace: n, PID: pid, HostIPC: n.Host})
			}
		}
		if loose {
			rows = append(rows, &show.Row{Namespace: n, PID: f.PID, TID: f.TID, HostIPC: n.Host})
		}
	}
	return namespaces, rows
}

// procRead is what is read of one process of a row or a namespace.
type procRead struct {
	pid  int
	shm  bool // its /dev/shm is wanted (a row's)
	comm string
	name string     // its container's, as the engine names it
	dir  *ipc.Place // its /dev/shm
}

// readAll reads, by workers at once, the command and container's name of
// each process of the node's rows and namespaces, and the /dev/shm of
// each row's.
func readAll(node *show.Node, containerOf map[int]engine.Container, namer *engine.Namer, workers int) map[int]*procRead {
	var reads []*procRead
	readOf := map[int]*procRead{}
	want := func(pid int, shm bool) {
		if readOf[pid] == nil {
			readOf[pid] = &procRead{pid: pid}
			reads = append(reads, readOf[pid])
		}
		readOf[pid].shm = readOf[pid].shm || shm
	}
	for _, r := range node.Rows {
		want(r.PID, true)
	}
	for _, n := range node.Namespaces {
		want(n.PID, false)
	}
	fanout.Each(len(reads), workers, func(_, i int) {
		r := reads[i]
		r.comm = ns.Comm(r.pid)
		if c := containerOf[r.pid]; c.Engine != "" {
			r.name = namer.Name(c, r.pid)
		}
		if r.shm {
			r.dir = shmDir(r.pid)
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
// to one probe per CPU invoke_ns may use: one after another where -q or
// --key gives the one name or key they would all want.
func (p *plan) prove(node *show.Node, h host, shmOf func(int) *ipc.Place, sigs *run.Signals) unix.Signal {
	base := *p.run
	base.From = h.ns
	byIPC := slices.ContainsFunc(base.Objects, func(o ipc.Object) bool { return !o.Kind.InDevShm })
	byShm := slices.ContainsFunc(base.Objects, func(o ipc.Object) bool { return o.Kind.InDevShm })
	// runPlan has put --from's root in the objects already.
	if h.ns != nil && p.run.From == nil && byShm && h.ns.OpenRoot("--scan") == nil {
		base.Objects = slices.Clone(base.Objects)
		for i := range base.Objects {
			if base.Objects[i].Kind.InDevShm {
				base.Objects[i].Root = h.ns.Root
			}
		}
	}
	// One probe for each place the kinds tried can tell apart, at its
	// index.
	type place struct {
		ipc     string
		shm     ipc.Place
		unknown int
	}
	index := map[place]int{}
	var targets []run.Target
	probeOf := make([]int, len(node.Rows))
	for i, r := range node.Rows {
		task := cmp.Or(r.TID, r.PID)
		var pl place
		if byIPC {
			pl.ipc = r.Namespace.IPC
		}
		if byShm {
			if d := shmOf(r.PID); d != nil && *d != (ipc.Place{}) {
				pl.shm = *d
			} else {
				pl.unknown = task // none, or not read: no other's
			}
		}
		j, ok := index[pl]
		if !ok {
			j = len(targets)
			index[pl] = j
			targets = append(targets, func() (*ns.Handle, error) { return probeTarget(r, byShm) })
		}
		probeOf[i] = j
	}
	var plans []*run.Plan
	for w := range p.workers() {
		plans = append(plans, p.ownNames(&base, w))
	}
	began := time.Now()
	results, sig := run.ProbeAll(plans, targets, sigs)
	phaseTook("the probes", began)
	for i, r := range node.Rows {
		r.Probe = results[probeOf[i]]
	}
	for _, n := range node.Namespaces {
		for _, r := range node.Rows {
			if r.Namespace == n && r.Probe != nil {
				n.Proved(r.Probe)
				break
			}
		}
	}
	return sig
}

// ownNames is base with names of its own for worker w's objects, where
// workers run at once: the default would be taken by one, and each other
// ask who has it.
func (p *plan) ownNames(base *run.Plan, w int) *run.Plan {
	pp := *base
	if p.fixedName {
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

// probeTarget opens the IPC namespace of the row's process (or thread),
// where --scan --probe proves it, and with shm its root, where its
// /dev/shm is looked up.
func probeTarget(r *show.Row, shm bool) (*ns.Handle, error) {
	h, err := ns.OpenTask("--probe", r.PID, r.TID, r.Command)
	if err == nil && shm {
		if err = h.OpenRoot("--probe"); err != nil {
			h.Close()
		}
	}
	if err != nil {
		return nil, err
	}
	return h, nil
}

// workers is how many probes run at once: one per CPU invoke_ns may use,
// as GOMAXPROCS counts them (its affinity, and a cgroup's CPU limit: a
// DaemonSet's); or one where -q or --key names the one object they would
// all want.
func (p *plan) workers() int {
	if p.fixedName {
		return 1
	}
	return runtime.GOMAXPROCS(0)
}
