// single.go: one run. It starts the child, makes the objects, runs the
// exchange through each, waits for the child, and removes the objects
// again, on every path.

package run

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"invoke_ns/internal/ipc"
	"invoke_ns/internal/ns"
	"invoke_ns/internal/reexec"

	"golang.org/x/sys/unix"
)

// parent is the parent's side of a run, or of the runs of Compare.
type parent struct {
	plan *Plan
	obs  Observer
	sigs *Signals
	// targetGone is closed when the target's process ends.
	targetGone <-chan struct{}
}

// Single is a run with the plan as it is, ended by sigs (Catch).
func Single(plan *Plan, obs Observer, sigs *Signals) *Result {
	// Signals are caught beside the child's start; runOnce waits for
	// that before it makes anything.
	p := &parent{plan: plan, obs: obs, sigs: sigs}
	return p.single()
}

func (p *parent) single() *Result {
	start := time.Now()
	p.obs.Began()
	where := &Where{NewIPC: p.plan.NewIPC, NewMount: p.plan.New.Has(unix.CLONE_NEWNS), NewUser: p.plan.New.Has(unix.CLONE_NEWUSER),
		Target: p.plan.Target, From: p.plan.From}
	p.plan.identify(where)
	if p.plan.From != nil {
		p.obs.Opened("from", p.plan.From)
	}
	if p.plan.Target != nil {
		var stop func()
		p.targetGone, stop = ns.Watch(p.plan.Target.PID)
		defer stop()
		p.obs.Opened("target", p.plan.Target)
	}
	r := p.runOnce(where, start)
	if r.ChildLimits != nil {
		p.obs.Limits(r.ParentLimits, r.ChildLimits)
	}
	if r.Signal == 0 {
		if byIPC, shm := r.Shares(false), r.Shares(true); byIPC != nil && shm != nil {
			p.obs.Summed(where, byIPC, shm)
		}
	}
	p.obs.Finished()
	return r
}

// runOnce is one run: it starts the child, which waits at the checkpoint
// meanwhile, makes the objects, runs the exchange through each, waits for
// the child, and removes the objects again, on every path.
func (p *parent) runOnce(where *Where, start time.Time) *Result {
	r := &Result{Where: where, Exchange: p.plan.Exchange}
	// The child starts first: its runtime starts while the parent gets
	// ready, and it waits at the checkpoint until the objects exist. The
	// child joins the target, or with --from and -i no the namespace of
	// --from, where the parent's objects are.
	join := p.plan.join(where)
	c, err := p.plan.start(where, p.plan.Stdout, join)
	p.sigs.Ready()
	names := p.plan.shown()
	if p.plan.IDs {
		r.ParentNS = ns.IDs("self", names)
		if len(names) > 0 {
			p.obs.Namespaces(names, r.ParentNS)
		}
		if p.plan.Exchange {
			r.ParentLimits = p.plan.parentLimits()
		}
	}
	if err != nil {
		r.Err = err
		return r
	}
	defer c.Close()
	var objs []ipc.Receiver
	if p.plan.Exchange {
		made, objects, err := p.makeInFrom()
		if err != nil {
			c.Kill()
			r.Objects, r.Err = p.plan.Objects, err
			return r
		}
		objs, r.Objects = made, objects
		p.noteLeftovers(r.Objects)
	}
	if where.NewIPC && ipc.HasSysV(r.Objects) {
		p.obs.SysVCounts(ipc.SysVCounts())
	}
	p.drive(c, r, p.plan.setup(where, join, r.Objects, nil, false, false), objs, names, start)
	if err := p.removeAll(r.Objects, objs); err != nil && r.Err == nil {
		r.Err = removeFailed(err, r.Verdict())
	}
	if r.Elapsed == 0 {
		r.Elapsed = time.Since(start)
	}
	return r
}

// makeInFrom makes the objects of the plan, in the IPC namespace of --from
// if it is given: from a thread that joined it, each of whose system
// calls on them is made there too.
func (p *parent) makeInFrom() (objs []ipc.Receiver, objects []ipc.Object, err error) {
	if ferr := p.plan.From.Inside(func() { objs, objects, err = p.makeAll(p.plan.Objects) }); ferr != nil {
		err = ferr
	}
	if p.plan.From != nil {
		for i, o := range objs {
			if !objects[i].Kind.PerUser { // the user's, in no namespace
				objs[i] = inside{o, p.plan.From}
			}
		}
	}
	return objs, objects, err
}

// drive hands the child its setup and lets it go, does the exchange
// through each object, and waits for the child.
func (p *parent) drive(c *reexec.Child, r *Result, s *reexec.Setup, objs []ipc.Receiver, names []string, start time.Time) {
	if p.converse(c, r, s, objs, names, start) {
		p.awaitChild(c, r, start)
	}
}

// converse is drive up to the wait for the child, and says whether that
// wait is due: it is not when the child could not be let go.
func (p *parent) converse(c *reexec.Child, r *Result, s *reexec.Setup, objs []ipc.Receiver, names []string, start time.Time) bool {
	p.obs.ChildStarted(c.PID)
	if p.plan.IDs && r.ChildNS == nil {
		// The child is in its namespaces already, held at the checkpoint.
		r.ChildNS = ns.IDs(strconv.Itoa(c.PID), names)
	}
	if err := p.arm(objs, 0); err != nil {
		c.Kill()
		r.Err = err
		return false
	}
	if err := c.Release(s); err != nil {
		r.Err = err
		return false
	}
	if len(objs) > 0 {
		p.exchanges(c, r, s.Message == nil, objs)
		r.Elapsed = time.Since(start)
	}
	return true
}

// awaitChild waits for the child to end after its exchanges, or, after a
// signal or a failure, for it to be reaped, and notes how it ended.
func (p *parent) awaitChild(c *reexec.Child, r *Result, start time.Time) {
	if r.Signal == 0 && r.Err == nil {
		p.waitChild(c, r)
	}
	status, _ := c.Wait()
	r.Child = &status
	if r.Elapsed == 0 { // no exchange: the verdict is the child's end
		r.Elapsed = time.Since(start)
	}
}

// exchanges goes through the objects in turn, one verdict each. A failure
// that is not a verdict, a signal, or a child cut short ends the round.
// prompts says whether the child reads the message itself: it prompts at
// the first object it can send text through.
func (p *parent) exchanges(c *reexec.Child, r *Result, prompts bool, objs []ipc.Receiver) {
	for i, t := range r.Objects {
		x, w := p.exchange(t, objs[i], c, r.Where, prompts && t.Kind.CarriesText)
		prompts = prompts && !w.read
		if w.signal != 0 {
			// Reached, and cut short: it has no verdict.
			x.Verdict = Failed
			r.Exchanges = append(r.Exchanges, x)
			c.Kill()
			r.Signal = w.signal
			return
		}
		if w.err == nil {
			x.owned(objs[i])
		}
		if x.Report != nil && x.Report.Limits != nil {
			r.ChildLimits = x.Report.Limits
		}
		r.Exchanges = append(r.Exchanges, x)
		p.obs.Exchanged(x)
		if w.reported && w.err == nil {
			// The child goes on to the next object with the ack: not
			// where that could not be readied.
			w.err = p.arm(objs, i+1)
			w.reported = w.err == nil
		}
		if w.reported {
			c.Ack()
		}
		if w.reported && w.err == nil && t.Kind.PerUser {
			w.err = p.letGo(c)
		}
		if w.err != nil {
			c.Kill()
			r.Err = w.err
			return
		}
		if x.Verdict != Delivered && c.CutShort() {
			return
		}
	}
}

// removeAll closes and removes the objects made.
func (p *parent) removeAll(ts []ipc.Object, objs []ipc.Receiver) error {
	var first error
	for i, o := range objs {
		t := ts[i]
		p.obs.Removing(t)
		err := o.Remove()
		if errors.Is(err, ipc.ErrReplaced) {
			err = fmt.Errorf("removing %s: %w", t, err)
		} else if err != nil {
			err = fmt.Errorf("%w — another process removed it", err)
		}
		if cerr := o.Close(); err == nil {
			err = cerr
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// removeFailed is what a removal that failed makes of a run that came to
// verdict v: an object another process removed or replaced before the
// run could is interference, which a verdict of Interfered said already.
func removeFailed(err error, v Verdict) error {
	switch {
	case !errors.Is(err, ipc.ErrReplaced) && !ipc.Removed(err):
		return err
	case v == Interfered:
		return nil
	}
	return fmt.Errorf("%w: %w — find what removes them (ipcs, ls /dev/mqueue /dev/shm), and run again", ErrInterfered, err)
}

// waited is how the wait through one object went, besides its verdict.
type waited struct {
	reported bool        // the child reported, and may wait for an ack
	read     bool        // the child has read its message (or tried)
	signal   unix.Signal // a signal ended the wait
	err      error       // a failure that is not a verdict
}

type received struct {
	msg []byte
	err error
}

// exchange waits for the message, for the child's report, or for a signal,
// whichever comes first: a child that cannot reach the object says so at
// once, so that the parent never sits out the timeout for nothing.
func (p *parent) exchange(t ipc.Object, o ipc.Receiver, c *reexec.Child, where *Where, prompts bool) (*Exchange, waited) {
	x := &Exchange{Object: t, Where: where}
	if b, ok := o.(*ipc.Budget); ok {
		m := b.Measured()
		x.Budget = &m
	}
	msgs := make(chan received, 1)
	go func() {
		buf := make([]byte, ipc.MessageMax+1)
		n, err := o.Receive(buf, time.Now().Add(p.plan.Timeout))
		msgs <- received{buf[:n], err}
	}()
	// The receiving goroutine ends before the object is closed.
	receiving := true
	defer func() {
		if receiving {
			o.Interrupt()
			<-msgs
		}
	}()

	reports := c.Reports
	var got *received
	childDone := false
	var late <-chan time.Time // the message is in, and the child's word on it is due
	for {
		// The message is shown once the child has said its own lines.
		if got != nil && (x.Report != nil || childDone) {
			return p.delivery(x, *got, c)
		}
		select {
		case m := <-msgs:
			receiving, msgs = false, nil
			if x.Report != nil && errors.Is(m.err, unix.ETIMEDOUT) {
				// The child said it sent, and the wait ended without
				// it, at the timeout or interrupted: one more look,
				// without waiting, tells whether it is there.
				o.Interrupt()
				buf := make([]byte, ipc.MessageMax+1)
				n, err := o.Receive(buf, time.Now())
				m = received{buf[:n], err}
			}
			if m.err != nil {
				return p.delivery(x, m, c)
			}
			got = &m
			if x.Report == nil {
				late = time.After(Grace)
			}
		case <-late:
			// A child stopped, or held by a debugger, right after it
			// sent: the message stands, and the run ends here.
			c.Kill()
			x, w := p.delivery(x, *got, c)
			w.err = errStuck
			return x, w
		case rep, ok := <-reports:
			if !ok {
				// Gone before its report, or gone after it with the
				// message on its way (the child does not wait for the
				// last ack when it has nothing more to do).
				if got == nil && x.Report == nil {
					return p.childGone(x, c), waited{}
				}
				reports, childDone = nil, true
				continue
			}
			x.Report = &rep
			if rep.Tried != reexec.Sent {
				x.judged(rep, o)
				return x, waited{reported: true, read: rep.Tried != reexec.OpenFailed && rep.Tried != reexec.NotOurs}
			}
			if got == nil && receiving {
				// The message is in the object by now, or someone took
				// it: the interrupted receive tells which, at once.
				o.Interrupt()
			}
		case <-p.targetGone:
			x.AtPrompt = x.Report == nil && prompts
			c.Kill()
			x.Verdict = TargetEnded
			return x, waited{}
		case sig := <-p.sigs.C:
			p.obs.Interrupted(x.Report == nil && prompts)
			return x, waited{signal: sig.(unix.Signal)}
		}
	}
}

// delivery decides at the end of the wait on the object: a message, the
// timeout, or a message taken.
func (p *parent) delivery(x *Exchange, m received, c *reexec.Child) (*Exchange, waited) {
	reported := x.Report != nil
	switch {
	case errors.Is(m.err, ipc.ErrApart):
		x.Verdict = Blocked
		return x, waited{reported: reported, read: reported}
	case errors.Is(m.err, ipc.ErrUnlimited):
		x.Verdict = Unlimited
		return x, waited{reported: reported, read: reported}
	}
	if ipc.Removed(m.err) {
		// Removed under the wait: no verdict.
		x.Verdict, x.Disowned = Interfered, true
		return x, waited{reported: reported, read: reported}
	}
	if m.err != nil {
		if !errors.Is(m.err, unix.ETIMEDOUT) {
			return x, waited{reported: reported, err: m.err}
		}
		if reported {
			// The child sent it, and it is not there: with the object
			// private to this user, another of this user's processes,
			// or root, took it.
			x.Verdict = Taken
			return x, waited{reported: true, read: true}
		}
		// Still at its prompt: its line is to be ended, and the child,
		// since nobody will take its answer now.
		x.AtPrompt = true
		c.Kill()
		x.Verdict, x.WaitErr = TimedOut, m.err
		return x, waited{}
	}
	x.arrived(m.msg)
	return x, waited{reported: reported, read: true}
}

// parentLimits are the limits of the IPC namespace the parent's objects
// are in: its own, or --from's, read from a thread there.
func (p *Plan) parentLimits() (ls ipc.Limits) {
	if err := p.From.Inside(func() { ls = ipc.ReadLimits() }); err != nil {
		return nil
	}
	return ls
}

// arm readies objs[i], if there is one, right before the child is let go
// to it: the per-user budget is measured then, so that nothing the
// user's other programs did while the child was at its prompt counts.
func (p *parent) arm(objs []ipc.Receiver, i int) error {
	if i >= len(objs) {
		return nil
	}
	if b, ok := objs[i].(*ipc.Budget); ok {
		// In a user namespace, CAP_SYS_RESOURCE raises no limit.
		_, err := b.Arm(ns.InitialUserNS() && ns.HasCap(unix.CAP_SYS_RESOURCE))
		return err
	}
	return nil
}

// letGo waits, after the verdict on a queue of the per-user budget and
// its ack, for the child to say it has let go of its queue (or to end),
// so that what comes next finds the budget as it was.
func (p *parent) letGo(c *reexec.Child) error {
	due := time.NewTimer(Grace)
	defer due.Stop()
	select {
	case <-c.Reports: // Released, or closed: gone, and its queue with it
		return nil
	case <-due.C:
		return errStuck
	}
}

// childGone decides for a child that ended before it said anything. One
// that broke the handshake but lives is ended first.
func (p *parent) childGone(x *Exchange, c *reexec.Child) *Exchange {
	c.Signal(unix.SIGKILL)
	status, _ := c.Wait()
	x.Verdict, x.Child = ChildGone, &status
	return x
}

// waitChild waits for the child, and for its command, to end. Until the
// child has gone on to its command (its end of the handshake closes), it
// has Grace to do so, or end, and a signal ends it and the run. Then
// Ctrl-C at the terminal reaches the command directly, as with unshare
// --fork, so invoke_ns lets it be; SIGTERM and SIGHUP are passed on, and
// the command is killed if it has not ended within Grace.
func (p *parent) waitChild(c *reexec.Child, r *Result) {
	due := time.NewTimer(Grace)
	defer due.Stop()
	silent := c.Silent
	var passed unix.Signal
	for {
		select {
		case <-c.Exited():
			if _, err := c.Wait(); err != nil {
				r.Err = fmt.Errorf("waiting for the child: %w", err)
			}
			return
		case <-silent:
			silent = nil
			if len(p.plan.Command) > 0 {
				due.Stop() // the command's time is its own
			}
		case sig := <-p.sigs.C:
			if silent != nil {
				c.Kill()
				r.Signal = sig.(unix.Signal)
				return
			}
			if sig == unix.SIGINT {
				continue
			}
			c.Signal(sig.(unix.Signal))
			if passed == 0 {
				passed = sig.(unix.Signal)
				due.Reset(Grace)
			}
		case <-due.C:
			c.Kill()
			if passed != 0 {
				r.Signal = passed
			} else {
				r.Err = errStuck
			}
			return
		}
	}
}

// inside is an object of the namespace of --from: each of its system
// calls is made from a thread in that namespace, where System V ids and
// queue names mean what they meant when it was made.
type inside struct {
	ipc.Receiver
	ns *ns.Handle
}

func (o inside) Receive(buf []byte, deadline time.Time) (n int, err error) {
	o.ns.Inside(func() { n, err = o.Receiver.Receive(buf, deadline) })
	return n, err
}

func (o inside) Interrupt() { o.ns.Inside(o.Receiver.Interrupt) }

func (o inside) Owned() (owned bool) {
	o.ns.Inside(func() { owned = o.Receiver.Owned() })
	return owned
}
func (o inside) Reset() { o.ns.Inside(o.Receiver.Reset) }

func (o inside) Close() (err error) {
	o.ns.Inside(func() { err = o.Receiver.Close() })
	return err
}

func (o inside) Remove() (err error) {
	o.ns.Inside(func() { err = o.Receiver.Remove() })
	return err
}

// Silent is an Observer that tells nobody: quiet runs.
type Silent struct{}

func (Silent) Began()                                 {}
func (Silent) Opened(string, *ns.Handle)              {}
func (Silent) Namespaces([]string, map[string]string) {}
func (Silent) Noted(Note)                             {}
func (Silent) Key(int32)                              {}
func (Silent) Made(ipc.Object)                        {}
func (Silent) SysVCounts(string)                      {}
func (Silent) ChildStarted(int)                       {}
func (Silent) Heading(*Where)                         {}
func (Silent) Interrupted(bool)                       {}
func (Silent) Exchanged(*Exchange)                    {}
func (Silent) Failed(string, error)                   {}
func (Silent) Removing(ipc.Object)                    {}
func (Silent) Summed(*Where, *bool, *bool)            {}
func (Silent) Limits(ipc.Limits, ipc.Limits)          {}
func (Silent) Finished()                              {}
