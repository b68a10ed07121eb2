// compare.go: --compare, the classroom's one command. The parent reads the
// message once, starts a child in its own IPC namespace and one in a new
// one (and with --target one in the target's) at once, lets each go
// through the same objects in turn, and decides whether the runs showed
// what each namespace isolates.

package run

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"invoke_ns/internal/ipc"
	"invoke_ns/internal/ns"
	"invoke_ns/internal/reexec"

	"golang.org/x/sys/unix"
)

// Ask is how Compare gets its message: Read prompts for it and reads it,
// and Cut ends the prompt's line when a signal comes first.
type Ask struct {
	Read func() ([]byte, error)
	Cut  func()
}

// ErrNoMessage wraps why Compare had no message to send.
type ErrNoMessage struct{ Err error }

func (e *ErrNoMessage) Error() string { return "reading the message: " + e.Err.Error() }
func (e *ErrNoMessage) Unwrap() error { return e.Err }

// Compare runs the children side by side: "shared" (as -i no), "new" (as
// -i yes), and with a target "target". quiet is a run whose children
// print nothing, whose results only a table shows.
func Compare(plan *Plan, obs Observer, ask Ask, quiet bool, sigs *Signals) *Compared {
	start := time.Now()
	c := compare(plan, obs, ask, quiet, sigs)
	c.Elapsed = time.Since(start)
	return c
}

func compare(plan *Plan, obs Observer, ask Ask, quiet bool, sigs *Signals) *Compared {
	p := &parent{plan: plan, obs: obs, sigs: sigs}
	obs.Began()
	c := &Compared{Target: plan.Target, Kinds: plan.Objects}
	mnt, user := plan.New.Has(unix.CLONE_NEWNS), plan.New.Has(unix.CLONE_NEWUSER)
	wheres := []*Where{
		{Run: "shared", NewMount: mnt, NewUser: user, From: plan.From},
		{Run: "new", NewIPC: true, NewMount: mnt, NewUser: user, From: plan.From},
	}
	if plan.Target != nil {
		wheres = append(wheres, &Where{Run: "target", Target: plan.Target, NewMount: mnt, NewUser: user, From: plan.From})
	}
	for _, w := range wheres {
		plan.identify(w)
	}
	stdout := plan.Stdout
	if quiet {
		stdout = nil
	}
	// The children start at once, each from a thread of its own, before
	// the message is read and the objects exist: each waits at its
	// checkpoint while its runtime comes up, and with all of them alive
	// together, each of their namespaces is its own, even where the kernel
	// would reuse a number. The runtime lets forks overlap, and a thread
	// that forked may wait for a CPU behind the very child it started, for
	// as long as a time slice: one fork does not wait for the other.
	type started struct {
		c   *reexec.Child
		err error
	}
	starts := make([]chan started, len(wheres))
	for i, w := range wheres {
		starts[i] = make(chan started, 1)
		go func() {
			child, err := plan.start(w, stdout, plan.join(w))
			starts[i] <- started{child, err}
		}()
	}
	var children []*reexec.Child
	defer func() {
		for _, child := range children {
			child.Kill()
			child.Close()
		}
	}()
	for _, ch := range starts {
		st := <-ch
		if st.err != nil {
			c.Err = cmp.Or(c.Err, st.err)
			continue
		}
		children = append(children, st.c)
	}
	if c.Err != nil {
		return c
	}
	p.sigs.Ready()
	msg, sig, err := p.read(ask)
	switch {
	case sig != 0:
		c.Signal = sig
		return c
	case err != nil:
		c.Err = &ErrNoMessage{err}
		return c
	}
	text := string(msg)
	c.Message = &text

	names := plan.shown()
	parentNS, parentLimits := ns.IDs("self", names), plan.parentLimits()
	obs.Namespaces(names, parentNS)
	// One set of objects for all: the child in a new namespace cannot
	// reach them, and one that could would show it in the table.
	objs, objects, err := p.makeInFrom()
	if err != nil {
		c.Err = err
		return c
	}
	c.Kinds = objects
	p.noteLeftovers(objects)
	setups := make([]*reexec.Setup, len(wheres))
	for i, w := range wheres {
		setups[i] = plan.setup(w, plan.join(w), objects, &text, true, quiet)
	}
	// Each child's namespaces, read while all of them wait at their
	// checkpoints: none has gone, so none's can be another's number.
	results := make([]*Result, len(children))
	for i, child := range children {
		results[i] = &Result{Where: wheres[i], Exchange: true, Objects: objects, ParentNS: parentNS,
			ChildNS: ns.IDs(strconv.Itoa(child.PID), names), ParentLimits: parentLimits}
	}
	// Quietly, the child in a new namespace can be let go at once: it can
	// reach none of the objects, and what it does meanwhile shows nowhere.
	// Not with POSIX shared memory it could reach (no -m), nor the target.
	if quiet && !slices.ContainsFunc(objects, func(t ipc.Object) bool { return t.Kind.PerUser }) &&
		(plan.New.Has(unix.CLONE_NEWNS) || !slices.ContainsFunc(objects, func(t ipc.Object) bool { return t.Kind.InDevShm })) {
		if err := children[1].Release(setups[1]); err != nil {
			p.removeAll(objects, objs)
			c.Err = err
			return c
		}
	}
	c.Runs = p.runs(setups, children, objs, results, names)
	last := c.Runs[len(c.Runs)-1]
	if err := p.removeAll(objects, objs); err != nil && last.Err == nil {
		last.Err = removeFailed(err, last.Verdict())
	}
	c.Signal, c.Err = last.Signal, last.Err
	if c.Err == nil && c.Signal == 0 {
		c.Isolated = isolated(plan, c.Runs[:2])
	}
	return c
}

// read reads the message, or gives the signal that came first; the
// prompt's line is then ended, so that what follows starts on a line of
// its own.
func (p *parent) read(ask Ask) ([]byte, unix.Signal, error) {
	type line struct {
		msg []byte
		err error
	}
	read := make(chan line, 1)
	go func() {
		msg, err := ask.Read()
		read <- line{msg, err}
	}()
	select {
	case l := <-read:
		return l.msg, 0, l.err
	case sig := <-p.sigs.C:
		ask.Cut()
		return nil, sig.(unix.Signal), nil
	}
}

// runs drives each child through the objects in turn, the objects set
// back between them. The children are waited for once the runs are done:
// a child has nothing left to do after its last report, so its end
// overlaps the next one's exchange. It gives the runs that took place.
func (p *parent) runs(setups []*reexec.Setup, children []*reexec.Child, objs []ipc.Receiver, results []*Result, names []string) []*Result {
	var ran []*Result
	done := true // whether the last run's child was let go
	for i, r := range results {
		start := time.Now()
		p.obs.Heading(r.Where)
		if r.Where.Target != nil {
			var stop func()
			p.targetGone, stop = ns.Watch(r.Where.Target.PID)
			defer stop()
		}
		done = p.converse(children[i], r, setups[i], objs, names, start)
		if r.Elapsed == 0 {
			r.Elapsed = time.Since(start)
		}
		ran = append(ran, r)
		for _, obj := range objs {
			obj.Reset()
		}
		// A verdict is a result to show; a failure or a signal ends it
		// here, a signal that came after the run too.
		select {
		case sig := <-p.sigs.C:
			r.Signal = sig.(unix.Signal)
		default:
		}
		if r.Err != nil || r.Signal != 0 {
			break
		}
	}
	for i, r := range ran {
		if i < len(ran)-1 || done {
			p.awaitChild(children[i], r, time.Now())
		}
	}
	return ran
}

// expected is the verdict each of the first two runs should give for t:
// what the IPC namespace isolates is blocked in the new one alone; POSIX
// shared memory crosses it, and is blocked in both only by a /dev/shm of
// the child's own (-m); the per-user budget crosses every namespace.
func expected(plan *Plan, t ipc.Object) (shared, own Verdict) {
	if t.Kind.PerUser {
		return Delivered, Delivered
	}
	if t.Kind.InDevShm {
		if plan.New.Has(unix.CLONE_NEWNS) {
			return Blocked, Blocked
		}
		return Delivered, Delivered
	}
	return Delivered, Blocked
}

// isolated says whether every object gave the verdicts expected of it in
// both runs, each block for want of the name or key (ENOENT).
func isolated(plan *Plan, runs []*Result) bool {
	if len(runs) != 2 || len(runs[0].Exchanges) != len(plan.Objects) || len(runs[1].Exchanges) != len(plan.Objects) {
		return false
	}
	for i, t := range plan.Objects {
		wantShared, wantOwn := expected(plan, t)
		for r, want := range []Verdict{wantShared, wantOwn} {
			got := runs[r].Exchanges[i]
			if got.Verdict == Unlimited && runs[1-r].Exchanges[i].Verdict == Unlimited {
				continue // nothing to show, in either
			}
			if got.Verdict != want || want == Blocked && (got.Report == nil || got.Report.Tried != reexec.OpenFailed ||
				got.Report.Errno != unix.ENOENT) {
				return false
			}
		}
	}
	return true
}
