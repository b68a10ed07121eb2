// probe.go: --scan --probe, the proof of many IPC namespaces that exist.
// No child is started for a probe: starting a process costs more than
// all the rest of a probe together (BENCHMARKS.md). Each worker makes its
// objects once, in the namespace of From, and proves namespace after
// namespace with them from a thread of its own: it joins each namespace,
// looks the objects up there by name and key, proves them its own and
// sends through them, as the child of --target does, then goes back to
// the namespace of From and sees whether the message arrived. The thread
// is locked to the worker from its start and thrown away at its end, so
// no other goroutine ever runs in a namespace it joined; and nothing is
// handed between threads on the way, which in a probe of a few system
// calls would cost more than the probe.
//
// What the kernel said of each namespace when it was scanned outranks
// the message: a namespace the kernel says is From's, where the message
// did not cross, was interfered with (someone removed the objects, or
// took the message), never blocked; and a verdict counts only while the
// objects are still the worker's own. A worker whose objects were taken
// from it makes them again before its next target. Each target is
// opened pinned to the task it was scanned through: one that has gone
// since, or whose PID names another task now, is Gone, not proved.
//
// A worker can be held up where nothing bounds the wait: a /dev/shm, or a
// root, on a filesystem that does not answer (FUSE, NFS). Whoever called
// ProbeAll watches: a worker whose probe takes longer than -t is given
// up, its objects removed at once, and another takes its place.

package run

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"invoke_ns/internal/ipc"
	"invoke_ns/internal/ns"
	"invoke_ns/internal/reexec"

	"golang.org/x/sys/unix"
)

// Target is a namespace to prove: Open opens it when its turn comes
// (pinned to the task it was found through, with its root where a kind
// of the plan is in /dev/shm), so that no more are open at once than
// probes run; SameIPC and SameShm are what the kernel said of it when it
// was found (Where).
type Target struct {
	Open             func() (*ns.Handle, error)
	SameIPC, SameShm *bool
}

// ProbeAll proves the IPC namespace of each target with the objects of
// the plans, one worker per plan at once (each plan naming objects of its
// own), each result at its target's place; the plans' From, which must
// be given, is where the objects are made. A signal lets no more start
// and ends the probes under way: it is returned, and the results of the
// targets it left are nil. Each result's Where.Target is closed by then,
// and only names the namespace.
func ProbeAll(plans []*Plan, targets []Target, sigs *Signals) ([]*Result, unix.Signal) {
	if len(targets) == 0 || len(plans) == 0 {
		return nil, 0
	}
	// Every worker ever started says once that it has ended, to a
	// ProbeAll that may have returned.
	ps := &probes{targets: targets, results: make([]*Result, len(targets)),
		msg:   fmt.Appendf(nil, "a probe from invoke_ns %d, %x\x00", os.Getpid(), rand.Uint64()),
		ended: make(chan *prober, len(plans)+len(targets))}
	failed := errors.New("no probe could be made")
	running := map[*prober]bool{}
	start := func(plan *Plan) {
		w, err := ps.start(plan, sigs)
		if err != nil {
			failed = err
			return
		}
		running[w] = true
	}
	for _, plan := range plans[:min(len(plans), len(targets))] {
		start(plan)
	}
	// A held-up probe is seen within a second of its timeout, or a
	// quarter of it, well inside Grace.
	tick := time.NewTicker(max(min(plans[0].Timeout/4, time.Second), time.Millisecond))
	defer tick.Stop()
	var sig unix.Signal
	for len(running) > 0 {
		select {
		case w := <-ps.ended:
			delete(running, w)
			w.giveUp()
			if w.failed != nil {
				failed = w.failed
			}
		case s := <-sigs.C:
			sig = s.(unix.Signal)
			ps.stop.Store(true)
			for w := range running {
				w.giveUp()
			}
			running = nil
		case <-tick.C:
			for w := range running {
				if w.giveUpLate() {
					delete(running, w)
					start(w.plan)
				}
			}
		}
	}
	if sig == 0 {
		// Any left when no worker could be made.
		for i, r := range ps.results {
			if r == nil {
				ps.results[i] = &Result{Where: &Where{From: plans[0].From}, Exchange: true, Err: failed}
			}
		}
	}
	return ps.results, sig
}

// probes is one ProbeAll: the targets, and what their probes came to.
type probes struct {
	targets []Target
	// msg is what each probe sends, NUL ended: what arrives is held
	// against it, and no other process knows its number.
	msg     []byte
	results []*Result
	next    atomic.Int64 // the next target to take
	stop    atomic.Bool  // a signal came: no more are taken
	ended   chan *prober // a worker that has taken its last
}

// prober is one worker: objects of its own, and a thread of its own that
// goes from namespace to namespace.
type prober struct {
	parent
	probes  *probes
	objs    []ipc.Receiver // from any thread (through From)
	home    []ipc.Receiver // the same, from a thread in From
	objects []ipc.Object   // as made: names, keys, identities
	// mu is held while the worker uses its objects, and to give it up;
	// gone says it was given up, and touches nothing more.
	mu   sync.Mutex
	gone atomic.Bool
	// at is the index+1 of the target under way, 0 between; since, when
	// it began (UnixNano); h, its namespace, once open. reports are the
	// sender's on its objects, of which tried have been tried.
	at, since atomic.Int64
	h         atomic.Pointer[ns.Handle]
	reports   []reexec.Report
	tried     atomic.Int64
	// failed is why it ended before the targets did, if it did.
	failed error
	// disowned says that another process removed or replaced one of
	// its objects: it makes them again before its next target.
	disowned bool
}

// start makes a worker's objects, in the namespace of From, and starts
// it on targets.
func (ps *probes) start(plan *Plan, sigs *Signals) (*prober, error) {
	w := &prober{parent: parent{plan: plan, obs: Silent{}, sigs: sigs}, probes: ps}
	objs, objects, err := w.makeInFrom()
	if err != nil {
		return nil, err
	}
	w.adopt(objs, objects)
	go w.run()
	return w, nil
}

// adopt takes objs, made in the namespace of From, as the worker's.
func (w *prober) adopt(objs []ipc.Receiver, objects []ipc.Object) {
	w.objs, w.objects, w.home = objs, objects, nil
	for _, o := range objs {
		if in, ok := o.(inside); ok {
			o = in.Receiver
		}
		w.home = append(w.home, o)
	}
}

// remake makes the worker's objects again, from its thread, which is in
// the namespace of From, where another process removed or replaced one:
// what is left of them goes first. It says whether it could.
func (w *prober) remake() bool {
	ok := w.use(func() {
		w.removeAll(w.objects, w.home)
		objs, objects, err := w.makeAll(w.plan.Objects)
		if err != nil {
			w.failed, w.objs, w.objects, w.home = err, nil, nil, nil
			w.gone.Store(true)
			return
		}
		for i, o := range objs {
			objs[i] = inside{o, w.plan.From}
		}
		w.adopt(objs, objects)
		w.disowned = false
	})
	return ok && w.failed == nil
}

// giveUp removes the worker's objects, once, unless it is using them;
// and says whether it did, which makes the worker touch nothing more.
func (w *prober) giveUp() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.gone.Swap(true) {
		return false
	}
	w.removeAll(w.objects, w.objs)
	return true
}

// giveUpLate gives the worker up if it has been on its target longer
// than the timeout: the target's result is what its objects came to as
// far as the sender got, the one it was held up on timed out, as a
// child's that never reports; and says whether it did.
func (w *prober) giveUpLate() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	// The worker sets since and h before at, and at back to 0 under mu
	// once the result is in.
	at, since := w.at.Load(), w.since.Load()
	if at == 0 || time.Since(time.Unix(0, since)) <= w.plan.Timeout || w.gone.Swap(true) {
		return false
	}
	t := w.probes.targets[at-1]
	r := &Result{Where: &Where{Target: w.h.Load(), From: w.plan.From, SameIPC: t.SameIPC, SameShm: t.SameShm},
		Exchange: true, Objects: w.objects, Elapsed: time.Since(time.Unix(0, since))}
	tried := int(w.tried.Load())
	w.verdicts(r, w.reports[:tried], w.objs)
	if r.Err == nil && tried < len(w.objects) {
		r.Exchanges = append(r.Exchanges, &Exchange{Object: w.objects[tried], Where: r.Where,
			Verdict: TimedOut, WaitErr: unix.ETIMEDOUT})
	}
	w.probes.results[at-1] = r
	w.removeAll(w.objects, w.objs)
	return true
}

// run takes target after target, on a thread of its own in the
// namespace of From, until none is left, a signal came, or it was given
// up; it never gives the thread back.
func (w *prober) run() {
	ns.OnOwnThread(func() bool {
		ps := w.probes
		// A new thread is in invoke_ns's own namespace, which may be the
		// one of From; an ordinary user may join no other, not even
		// that one again.
		if err := w.plan.From.Join(); err != nil {
			w.failed = err
			ps.ended <- w
			return false
		}
		for !ps.stop.Load() && !w.gone.Load() {
			if w.disowned && !w.remake() {
				break
			}
			i := int(ps.next.Add(1) - 1)
			if i >= len(ps.targets) {
				break
			}
			// All that giveUpLate reads is set before at.
			w.reports = make([]reexec.Report, len(w.objects))
			w.h.Store(nil)
			w.tried.Store(0)
			w.since.Store(time.Now().UnixNano())
			w.at.Store(int64(i + 1))
			r, home := w.prove(ps.targets[i])
			w.mu.Lock()
			if !w.gone.Load() {
				ps.results[i] = r
			}
			w.at.Store(0)
			w.mu.Unlock()
			if !home {
				w.failed = r.Err
				break
			}
		}
		ps.ended <- w
		return false
	})
}

// prove proves the namespace of one target, and says whether the thread
// is back in the namespace of From (else it is good for nothing more).
func (w *prober) prove(target Target) (r *Result, home bool) {
	start := time.Now()
	r = &Result{Where: &Where{From: w.plan.From, SameIPC: target.SameIPC, SameShm: target.SameShm},
		Exchange: true, Objects: w.objects}
	h, err := target.Open()
	if errors.Is(err, ns.ErrGone) {
		for _, t := range w.objects {
			r.Exchanges = append(r.Exchanges, &Exchange{Object: t, Where: r.Where, Verdict: Gone})
		}
		return r, true
	}
	if err != nil {
		r.Err = err
		return r, true
	}
	defer h.Close()
	r.Where.Target = h
	w.h.Store(h)
	if !w.use(func() {
		for _, o := range w.home {
			o.Reset()
		}
	}) {
		return r, true
	}
	// The thread goes only where it is not already: From's own namespace
	// is proved from where it is.
	away := h.ID != w.plan.From.ID
	if away {
		if err := h.Enter(); err != nil {
			// setns(2) failed: the thread is where it was.
			r.Err = err
			return r, true
		}
	}
	r.ChildLimits = ipc.ReadLimits()
	// What the sender has tried is there for giveUpLate to see.
	for i, t := range w.objects {
		if w.gone.Load() {
			break
		}
		w.reports[i] = reach(t, h.Root, w.probes.msg)
		w.tried.Store(int64(i + 1))
	}
	if away {
		if err := w.plan.From.Enter(); err != nil {
			r.Err = fmt.Errorf("going back from the IPC namespace of %s: %w", h.About(), err)
			return r, false
		}
	}
	w.use(func() { w.verdicts(r, w.reports, w.home) })
	r.Elapsed = time.Since(start)
	return r, true
}

// use runs fn with the objects, unless the worker has been given up; and
// says whether it ran.
func (w *prober) use(fn func()) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.gone.Load() {
		return false
	}
	fn()
	return true
}

// verdicts decides the exchange of each object the sender reported on,
// from its report, what arrived, and what the kernel says of the target,
// through objs (the objects as used from the calling thread): a message
// sent is in the object by now, or was taken, and an interrupted receive
// tells which, at once. A message that is not the probe's, or an object
// that is not the worker's any more, is interference.
func (w *prober) verdicts(r *Result, reports []reexec.Report, objs []ipc.Receiver) {
	buf := make([]byte, ipc.MessageMax+1)
	for i, t := range w.objects[:len(reports)] {
		x := &Exchange{Object: t, Where: r.Where, Report: &reports[i]}
		r.Exchanges = append(r.Exchanges, x)
		if reports[i].Tried != reexec.Sent {
			x.judged(reports[i], objs[i])
		} else {
			objs[i].Interrupt()
			n, err := objs[i].Receive(buf, time.Now())
			switch {
			case errors.Is(err, unix.ETIMEDOUT):
				x.Verdict = Taken
			case ipc.Removed(err):
				x.Verdict, x.Disowned = Interfered, true
			case err != nil:
				r.Exchanges = r.Exchanges[:i]
				r.Err = err
				return
			default:
				x.arrived(buf[:n])
				if t.Kind.CarriesText && !bytes.Equal(buf[:n], w.probes.msg) {
					x.Verdict = Interfered
				}
			}
		}
		x.owned(objs[i])
		w.disowned = w.disowned || x.Disowned
	}
}

// reach looks t up and sends msg through it if it is the worker's own (a
// semaphore's signal carries none).
func reach(t ipc.Object, root *os.File, msg []byte) reexec.Report {
	e, err := t.Open(root)
	if err != nil {
		return reexec.Unreached(err)
	}
	defer e.Close()
	if !t.Kind.CarriesText {
		msg = nil
	}
	return reexec.Sending(e.Send(msg))
}
