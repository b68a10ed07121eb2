// parent.go: the parent's side. It creates the objects, starts the child,
// waits for each message or for the child's word that none can come, then
// waits for the child and removes the objects, on every path. One run of
// this is runOnce; --compare (compare.go) calls it twice.

package main

import (
	"bytes"
	"errors"
	"fmt"
	"invoke_ns/internal/ipc"
	"invoke_ns/internal/ns"
	"invoke_ns/internal/reexec"
	"invoke_ns/internal/term"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

type parent struct {
	cfg      *config
	out      io.Writer // the transcript: stdout, or stderr with --json
	childOut *os.File  // the child's standard output: out's file, or nil for none
	// inherited are the caller's descriptors above 2, which the command
	// gets at their numbers.
	inherited []int
	sigs      chan os.Signal // SIGINT, SIGTERM and SIGHUP to invoke_ns
	quiet     bool           // no perror: --compare's table says it instead
	spec      *runSpec       // the run under way
	// caught is closed once sigs receives the signals.
	caught <-chan struct{}
	// target is the IPC namespace the child joins (--target), if any, and
	// targetGone is closed when its process ends.
	target     *ns.Handle
	targetGone <-chan struct{}
	// from is the IPC namespace where the parent makes its objects and
	// waits (--from), if not its own.
	from *ns.Handle
}

// runSpec is what one run is given besides the user's options: --compare
// makes two runs of one config with different specs.
type runSpec struct {
	IPC       bool         // do the exchange
	NewIPC    bool         // the child in a new IPC namespace
	Objects   []ipc.Object // what the child tries, in order
	Message   *string      // read by the parent: no prompt
	TryCreate bool         // the child also makes its own
	Quiet     bool         // no transcript, no perror
}

// setupFor is what the child of a run is given.
func setupFor(cfg *config, spec *runSpec) *reexec.Setup {
	return &reexec.Setup{New: ns.Set(cloneFlags(cfg, spec)), Verbose: cfg.Verbose, Hostname: cfg.Hostname, Command: cfg.Command,
		IPC: spec.IPC, Objects: spec.Objects, Message: spec.Message, TryCreate: spec.TryCreate, Quiet: spec.Quiet}
}

// asked are the namespaces other than IPC that the options ask for.
func asked(cfg *config) ns.Set {
	var s ns.Set
	for _, n := range []struct {
		on   bool
		flag uintptr
	}{
		{cfg.NewUser, unix.CLONE_NEWUSER},
		{cfg.NewPID, unix.CLONE_NEWPID},
		{cfg.NewMount, unix.CLONE_NEWNS},
		{cfg.Hostname != "", unix.CLONE_NEWUTS},
		{cfg.NewNet, unix.CLONE_NEWNET},
	} {
		if n.on {
			s |= ns.Set(n.flag)
		}
	}
	return s
}

// cloneFlags are the namespaces the options and the run ask for.
func cloneFlags(cfg *config, spec *runSpec) uintptr {
	s := asked(cfg)
	if spec.NewIPC {
		s |= unix.CLONE_NEWIPC
	}
	return uintptr(s)
}

// shownNamespaces are the namespaces worth showing for a run: ipc for the
// exchange, and each one the options ask for, in the order of ns.Types.
func shownNamespaces(cfg *config, ipc bool) []string {
	s := asked(cfg)
	if ipc {
		s |= unix.CLONE_NEWIPC
	}
	return s.Names()
}

// startChild starts the child of a run, in the namespaces it asks for,
// or born in join.
func startChild(cfg *config, spec *runSpec, stdout *os.File, inherited []int, join *ns.Handle) (*reexec.Child, error) {
	return reexec.Spawn{Flags: cloneFlags(cfg, spec), Stdout: stdout, Inherited: inherited, Join: join,
		ThreadsEnd: cfg.Target != "" || cfg.From != "" || cfg.Probe}.Start()
}

func runParent(cfg *config) *outcome {
	inherited, open := reexec.OpenFDs()
	if err := reexec.CheckLimits(open); err != nil {
		return &outcome{err: err}
	}
	file := os.Stdout
	if cfg.JSON {
		file = os.Stderr
	}
	out := &term.Transcript{W: file}
	var o *outcome
	if cfg.Scan {
		return runScan(cfg, out)
	}
	if cfg.Compare {
		o = runCompare(cfg, out, file, inherited)
	} else {
		o = runSingle(cfg, out, file, inherited)
	}
	if out.Err != nil && o.err == nil && o.signal == 0 {
		o.err = hint(fmt.Errorf("writing the transcript: %w", out.Err), "check where it goes")
	}
	return o
}

// runSingle is a run with the options as given.
func runSingle(cfg *config, out io.Writer, file *os.File, inherited []int) *outcome {
	// Catching signals takes the runtime a thread and a round trip to it
	// per signal, so that goes on beside the child's start; runOnce waits
	// for it before it creates anything, so that a signal always finds the
	// parent ready to remove what it made.
	sigs := make(chan os.Signal, 4)
	caught := make(chan struct{})
	go func() { catchSignals(sigs); close(caught) }()
	p := &parent{cfg: cfg, out: out, childOut: file, inherited: inherited, sigs: sigs, caught: caught}
	p.verbosef("Parent: PID of parent is %d\n", os.Getpid())
	rec := newRecord(cfg)
	spec := &runSpec{IPC: cfg.IPC, NewIPC: cfg.NewIPC}
	if cfg.IPC {
		spec.Objects = targets(cfg)
	}
	var o *outcome
	if err := p.aim(spec, rec); err != nil {
		o = &outcome{err: err}
	} else {
		o = p.runOnce(spec, rec)
		p.summarize(o)
	}
	p.verbosef("Parent: %s - Finishing up\n", cfg.Prog)
	if cfg.JSON {
		rec.finish(cfg, o)
		writeRecord(rec, o)
	}
	return o
}

// aim points the run at the IPC namespace of --target, if it is given:
// the child joins it, looks for POSIX shared memory in the target's own
// /dev/shm, and the run ends if the target's process does. With --from,
// the parent's objects are made in that namespace.
func (p *parent) aim(spec *runSpec, rec *record) error {
	if p.cfg.From != "" {
		e, err := ns.Open("--from", p.cfg.From)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(spec.Objects, func(t ipc.Object) bool { return t.Kind.InDevShm }) {
			return fmt.Errorf("--from %s: pshm is not in this version with --from: leave it out of -k", p.cfg.From)
		}
		p.from = e
		rec.From = newTargetRecord(e)
		p.moref("Parent: from: %s, %s\n", e.About(), e.ID)
	}
	if p.cfg.Target == "" {
		return nil
	}
	e, err := ns.Open("--target", p.cfg.Target)
	if err != nil {
		return err
	}
	if err := lookInRoot(e, spec.Objects); err != nil {
		return err
	}
	p.target, p.targetGone = e, ns.Watch(e.PID)
	rec.Target = newTargetRecord(e)
	p.moref("Parent: target: %s, %s, owned by %s\n", e.About(), e.ID, rec.Target.UserNS)
	return nil
}

// lookInRoot has the child look for POSIX shared memory in the /dev/shm
// of e's process, within its root, and opens that root for it.
func lookInRoot(e *ns.Handle, ts []ipc.Object) error {
	for i, t := range ts {
		if t.Kind.InDevShm {
			if e.Root == nil {
				if err := e.OpenRoot("--target"); err != nil {
					return err
				}
			}
			ts[i].InRoot = true
		}
	}
	return nil
}

// summarize answers, in one sentence, the two questions a run with kinds
// on both sides of the line asks: whether the child's IPC namespace is
// this one, and whether its /dev/shm is.
func (p *parent) summarize(o *outcome) {
	byIPC, shm := shares(o.verdicts, "ipc"), shares(o.verdicts, "mnt")
	if byIPC == nil || shm == nil || o.signal != 0 {
		return
	}
	who, here := "the child", "the parent's"
	if p.target != nil {
		who, here = p.target.About(), "this"
	}
	var s string
	switch {
	case *byIPC && *shm:
		s = fmt.Sprintf("%s shares %s IPC namespace and %s %s", who, here, here, ipc.ShmDir)
	case *shm:
		s = fmt.Sprintf("%s is in another IPC namespace, but shares %s %s", who, here, ipc.ShmDir)
	case *byIPC:
		s = fmt.Sprintf("%s shares %s IPC namespace, but has a %s of its own", who, here, ipc.ShmDir)
	default:
		s = fmt.Sprintf("%s is in another IPC namespace, and has a %s of its own", who, ipc.ShmDir)
	}
	p.say("Parent: ", "In sum: "+s+".")
}

// catchSignals turns SIGINT, SIGTERM and SIGHUP into values on sigs, so
// that the parent can end the child and remove what it made. They stay
// caught until invoke_ns exits: a signal after the work changes nothing.
func catchSignals(sigs chan os.Signal) {
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	// A reader that goes away (invoke_ns | head) must not kill invoke_ns
	// before it removes the queue: ignored, SIGPIPE turns into EPIPE on
	// write. The child inherits it ignored, and catches it again before it
	// executes its command, which so gets the default back (see exec).
	signal.Ignore(unix.SIGPIPE)
}

// wantNS says whether the namespace identities are shown or recorded:
// reading them costs a few system calls per process for nothing otherwise.
func (p *parent) wantNS() bool {
	return p.cfg.Verbose >= 2 || p.cfg.JSON || p.cfg.Compare
}

// runOnce is one run: it starts the child, which waits at the checkpoint
// meanwhile, creates the objects of spec, runs the exchange through each,
// waits for the child, and removes the objects again, on every path.
func (p *parent) runOnce(spec *runSpec, rec *record) *outcome {
	// The child starts first: its runtime starts while the parent gets
	// ready, and it waits at the checkpoint until the objects exist.
	// The child joins the target, or with --from and -i no the
	// namespace of --from, where the parent's objects are.
	join := p.target
	if join == nil && p.from != nil && !spec.NewIPC {
		join = p.from
	}
	c, err := startChild(p.cfg, spec, p.childOut, p.inherited, join)
	<-p.caught
	namespaces := shownNamespaces(p.cfg, spec.IPC)
	if p.wantNS() {
		rec.ParentNS = ns.IDs("self", namespaces)
		if len(namespaces) > 0 {
			p.moref("Parent: namespaces %s\n", ns.Line(rec.ParentNS, namespaces))
		}
	}
	if err != nil {
		return &outcome{err: err}
	}
	defer c.Close()
	var objs []ipc.Receiver
	if ferr := p.from.Inside(func() { objs, err = p.createAll(spec) }); ferr != nil {
		err = ferr
	}
	if p.from != nil {
		for i, o := range objs {
			objs[i] = nsObject{o, p.from}
		}
	}
	if err != nil {
		c.Kill()
		return &outcome{err: err}
	}
	if rec.Options != nil && ipc.HasSysV(spec.Objects) {
		key := spec.Objects[slices.IndexFunc(spec.Objects, func(t ipc.Object) bool { return !t.Kind.ByName })].Key
		rec.Options.Key = &key
	}
	if spec.NewIPC && ipc.HasSysV(spec.Objects) {
		p.moref("Parent: /proc/sysvipc: %s\n", ipc.SysVCounts())
	}
	o := p.drive(c, spec, objs, rec, namespaces)
	if err := p.removeAll(spec.Objects, objs); err != nil && o.err == nil {
		o.err = err
	}
	return o
}

// drive hands the child its options and lets it go, does the exchange
// through each object, and waits for the child.
func (p *parent) drive(c *reexec.Child, spec *runSpec, objs []ipc.Receiver, rec *record, namespaces []string) *outcome {
	o, done := p.converse(c, spec, objs, rec, namespaces)
	if done {
		p.awaitChild(c, o)
	}
	return o
}

// converse is drive up to the wait for the child, and says whether that
// wait is due: it is not when the child could not be let go.
func (p *parent) converse(c *reexec.Child, spec *runSpec, objs []ipc.Receiver, rec *record, namespaces []string) (*outcome, bool) {
	p.spec = spec
	p.verbosef("Parent: PID of child is %d\n", c.PID)
	if p.wantNS() && rec.ChildNS == nil {
		// The child is in its namespaces already, held at the checkpoint.
		rec.ChildNS = ns.IDs(strconv.Itoa(c.PID), namespaces)
	}
	o := &outcome{}
	if err := p.release(c, spec); err != nil {
		o.err = err
		return o, false
	}
	if len(objs) > 0 {
		p.exchanges(c, spec, objs, rec, o)
		rec.verdictNow()
	}
	return o, true
}

// awaitChild waits for the child to end after its exchanges, or, after a
// signal or a failure, for it to be reaped, and records how it ended.
func (p *parent) awaitChild(c *reexec.Child, o *outcome) {
	if o.signal == 0 && o.err == nil {
		p.waitChild(c, o)
	}
	status, _ := c.Wait()
	o.child = &status
}

// release hands the child its setup and lets it go, once.
func (p *parent) release(c *reexec.Child, spec *runSpec) error {
	return c.Release(setupFor(p.cfg, spec))
}

// exchanges goes through the objects in turn, one verdict each. A failure
// that is not a verdict, a signal, or a child cut short ends the round.
func (p *parent) exchanges(c *reexec.Child, spec *runSpec, objs []ipc.Receiver, rec *record, o *outcome) {
	reports := c.Reports
	// The child prompts for the message at the first object it can send
	// text through, unless it was given the message.
	prompts := spec.Message == nil
	for i, t := range spec.Objects {
		orec := rec.object(t)
		x := p.exchange(t, objs[i], c, reports, orec, prompts && t.Kind.CarriesText)
		prompts = prompts && !x.read
		if x.signal != 0 {
			c.Kill()
			o.signal = x.signal
			return
		}
		orec.Verdict = x.verdict
		o.verdicts = append(o.verdicts, kindVerdict{t.Kind.Isolation(), x.verdict})
		if x.reported {
			c.Ack()
		}
		if x.err != nil {
			c.Kill()
			o.err = x.err
			return
		}
		if x.verdict != delivered && c.CutShort() {
			return
		}
	}
}

// removeAll closes and removes the objects made, saying so with -v.
func (p *parent) removeAll(ts []ipc.Object, objs []ipc.Receiver) error {
	var first error
	for i, o := range objs {
		t := ts[i]
		if t.Kind.CloseLine {
			p.verbosef("Parent: closing %s\n", t)
		}
		p.verbosef("Parent: Removing %s\n", t)
		err := o.Remove()
		if errors.Is(err, ipc.ErrReplaced) {
			err = fmt.Errorf("removing %s: %w", t, err)
		} else if err != nil {
			err = hint(err, "another process removed it")
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

// exchanged is what the exchange through one object came to.
type exchanged struct {
	verdict  verdict
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
func (p *parent) exchange(t ipc.Object, o ipc.Receiver, c *reexec.Child, reports <-chan reexec.Report, rec *objectRecord, prompts bool) exchanged {
	msgs := make(chan received, 1)
	go func() {
		buf := make([]byte, ipc.MessageMax+1)
		n, err := o.Receive(buf, time.Now().Add(p.cfg.Timeout))
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

	var rep *reexec.Report
	var got *received
	childDone := false
	var late <-chan time.Time // the message is in, and the child's word on it is due
	for {
		// The message is printed once the child has said its own lines.
		if got != nil && (rep != nil || childDone) {
			return p.delivery(t, *got, rep, c, rec)
		}
		select {
		case m := <-msgs:
			receiving, msgs = false, nil
			if rep != nil && errors.Is(m.err, unix.ETIMEDOUT) {
				// The child said it sent, and the wait ended without
				// it, at the timeout or interrupted: one more look,
				// without waiting, tells whether it is there.
				o.Interrupt()
				buf := make([]byte, ipc.MessageMax+1)
				n, err := o.Receive(buf, time.Now())
				m = received{buf[:n], err}
			}
			if m.err != nil {
				return p.delivery(t, m, rep, c, rec)
			}
			got = &m
			if rep == nil {
				late = time.After(grace)
			}
		case <-late:
			// A child stopped, or held by a debugger, right after it
			// sent: the message stands, and the run ends here.
			c.Kill()
			x := p.delivery(t, *got, nil, c, rec)
			x.err = errStuck
			return x
		case r, ok := <-reports:
			if !ok {
				// Gone before its report, or gone after it with the
				// message on its way (the child does not wait for the
				// last ack when it has nothing more to do).
				if got == nil && rep == nil {
					return p.childGone(c)
				}
				reports, childDone = nil, true
				continue
			}
			rep = &r
			rec.childReport(r)
			if r.Tried != reexec.Sent {
				return exchanged{verdict: p.undelivered(t, r), reported: true, read: r.Tried != reexec.OpenFailed}
			}
			if got == nil && receiving {
				// The message is in the object by now, or someone took
				// it: the interrupted receive tells which, at once.
				o.Interrupt()
			}
		case <-p.targetGone:
			if rep == nil && prompts {
				io.WriteString(p.out, "\n")
			}
			c.Kill()
			p.say("Parent: ", fmt.Sprintf("no %s will arrive: the target, %s, ended", t.Kind.What(), p.target.About()))
			return exchanged{verdict: targetEnded}
		case sig := <-p.sigs:
			if rep == nil && prompts {
				// End the line the signal cut short at the prompt,
				// before anything else is said.
				io.WriteString(p.out, "\n")
			}
			return exchanged{signal: sig.(unix.Signal)}
		}
	}
}

// delivery handles the end of the wait on the object: a message, or the
// timeout.
func (p *parent) delivery(t ipc.Object, m received, rep *reexec.Report, c *reexec.Child, rec *objectRecord) exchanged {
	reported := rep != nil
	if m.err != nil {
		if !errors.Is(m.err, unix.ETIMEDOUT) {
			return exchanged{reported: reported, err: m.err}
		}
		if reported {
			// The child sent it, and it is not there: with the object
			// private to this user, another of this user's processes,
			// or root, took it.
			p.say("Parent: ", fmt.Sprintf("no %s arrived: the child sent it, but another process took it from %s first",
				t.Kind.What(), t.ShortName()))
			return exchanged{verdict: taken, reported: true, read: true}
		}
		if !reported {
			// Still at its prompt: end the prompt's line, and the child,
			// since nobody will take its answer now.
			io.WriteString(p.out, "\n")
			c.Kill()
		}
		p.perror(t.Kind.WaitOp, m.err)
		return exchanged{verdict: timedOut}
	}
	msg := bytes.TrimSuffix(m.msg, []byte{0})
	switch {
	case !t.Kind.CarriesText:
		p.verbosef("Parent: received the child's signal\n")
		rec.arrived(nil)
		p.printf("\n")
		p.say("    Parent: ", "the child's signal arrived through the "+t.String())
		p.printf("     (a semaphore carries no text)\n\n")
	case t.Kind.ByName:
		p.verbosef("Parent: received message from child\n")
		rec.arrived(msg)
		p.printf("\n    Parent: the following message was received from the child\n     >> %s\n\n", msg)
	default:
		p.verbosef("Parent: received message from child\n")
		rec.arrived(msg)
		p.printf("\n")
		p.say("    Parent: ", "the following message was received from the child through the "+t.String())
		p.printf("     >> %s\n\n", msg)
	}
	switch {
	case p.target != nil && t.Kind.InDevShm:
		p.say("Parent: ", fmt.Sprintf("%s shares this %s", p.target.About(), ipc.ShmDir))
	case p.target != nil:
		p.say("Parent: ", here(p.target, p.from))
	case t.Kind.InDevShm && p.spec.NewIPC:
		p.say("Parent: ", "it crossed the new IPC namespace: POSIX shared memory is a file in "+ipc.ShmDir+
			", which the IPC namespace does not isolate; a mount namespace with its own "+ipc.ShmDir+" does (-m)")
	}
	return exchanged{verdict: delivered, reported: reported, read: true}
}

// undelivered says, in one sentence, why no message can arrive.
func (p *parent) undelivered(t ipc.Object, r reexec.Report) verdict {
	what := t.Kind.What()
	switch r.Tried {
	case reexec.NotOurs:
		p.say("Parent: ", fmt.Sprintf("no %s can arrive: %s has its own %s, not %s", what, p.where(t), t.Bare(), p.thisOne()))
		return blocked
	case reexec.OpenFailed:
		isolation, missing := t.Kind.Isolation(), r.Errno == unix.ENOENT
		switch {
		case r.ShmDir && p.target != nil:
			p.say("Parent: ", fmt.Sprintf("no %s can arrive: the %s of %s %s", what, ipc.ShmDir, p.target.About(), shmDirFault(r.Errno)))
		case missing && isolation == "ipc" && p.target != nil:
			p.say("Parent: ", fmt.Sprintf("no %s can arrive: %s", what, elsewhere(p.target, p.from)))
		case missing && isolation == "mnt" && p.target != nil:
			p.say("Parent: ", fmt.Sprintf("no %s can arrive: the %s of %s has no %s", what, ipc.ShmDir, p.target.About(), t.Bare()))
		case missing && isolation == "ipc" && p.spec.NewIPC:
			p.say("Parent: ", fmt.Sprintf("no %s can arrive: the new IPC namespace has no %s", what, t.Bare()))
		case missing && isolation == "mnt" && p.cfg.NewMount && !p.spec.NewIPC:
			p.say("Parent: ", fmt.Sprintf("no %s can arrive: the child's new mount namespace has a %s of its own, "+
				"without %s: this time the mount namespace blocked it, not the IPC namespace", what, ipc.ShmDir, t.Bare()))
		case missing && isolation == "mnt" && p.cfg.NewMount:
			p.say("Parent: ", fmt.Sprintf("no %s can arrive: the child's new mount namespace has a %s of its own, "+
				"without %s", what, ipc.ShmDir, t.Bare()))
		default:
			p.say("Parent: ", fmt.Sprintf("no %s can arrive: the child could not open %s (%s)", what, t.ShortName(), ipc.Strerror(r.Errno)))
		}
		return blocked
	case reexec.NoMessage:
		p.printf("Parent: no message will arrive: the child was given none\n")
		return noMessage
	case reexec.TooLong:
		if r.Endless {
			p.printf("Parent: no message will arrive: the child's goes on past %d bytes\n", term.DiscardMax)
		} else {
			p.printf("Parent: no message will arrive: the child's was %d bytes, more than the %d that fit\n", r.Size, ipc.MessageMax)
		}
		return noMessage
	}
	p.say("Parent: ", fmt.Sprintf("no %s will arrive: the child could not send it (%s)", what, ipc.Strerror(r.Errno)))
	return sendFailed
}

// where names the place the child looked for t: the target, its
// /dev/shm, or the child's own namespaces.
func (p *parent) where(t ipc.Object) string {
	mnt := t.Kind.InDevShm
	switch {
	case p.target != nil && mnt:
		return "the " + ipc.ShmDir + " of " + p.target.About()
	case p.target != nil:
		return p.target.About()
	case mnt:
		return "the child's " + ipc.ShmDir
	case p.spec.NewIPC:
		return "the new IPC namespace"
	}
	return "the child's IPC namespace"
}

// thisOne names the parent's objects: this IPC namespace's, or with
// --from that one's.
func (p *parent) thisOne() string {
	if p.from != nil {
		return "the one in the IPC namespace of " + p.from.About()
	}
	return "this one"
}

// shmDirFault says why a target's /dev/shm could not be opened.
func shmDirFault(errno unix.Errno) string {
	switch errno {
	case unix.ELOOP:
		return "is a link that loops (ELOOP): it leads to no directory"
	case unix.ENOENT:
		return "leads nowhere within its root (ENOENT): it is missing, or a link to nothing there"
	case unix.ENOTDIR:
		return "is not a directory (ENOTDIR)"
	}
	return "cannot be opened (" + ipc.Strerror(errno) + ")"
}

// childGone reports a child that ended before it said anything. One that
// broke the handshake but lives is ended first.
func (p *parent) childGone(c *reexec.Child) exchanged {
	c.Signal(unix.SIGKILL)
	status, _ := c.Wait()
	if status.Signaled() {
		p.printf("Parent: the child was killed by %s before it sent a message\n", unix.SignalName(status.Signal()))
	} else {
		p.printf("Parent: the child exited with status %d before it sent a message\n", status.ExitStatus())
	}
	return exchanged{verdict: childGone}
}

// grace is how long the parent gives the child, beyond -t, to do what is
// due: its report once its message is in, its end or its command once
// its last report is in; and a command that is PID 1 of a new PID
// namespace (-p), or one that is passed SIGTERM or SIGHUP, to end. Such a
// process ignores every signal it has no handler for (pid_namespaces(7));
// a child stopped (SIGSTOP) or held by a debugger does nothing at all.
// Each is then killed, so that no wait of the parent's is unbounded.
const grace = 2 * time.Second

// errStuck is a child that stopped answering within grace.
var errStuck = fmt.Errorf("the child stopped answering for %v, and was ended — "+
	"did something stop it (SIGSTOP, a debugger)?", grace)

// waitChild waits for the child, and for its command, to end. Until the
// child has gone on to its command (its end of the handshake closes), it
// has grace to do so, or end, and a signal ends it and the run. Then
// Ctrl-C at the terminal reaches the command directly, as with unshare
// --fork, so invoke_ns lets it be; SIGTERM and SIGHUP are passed on, and
// the command is killed if it has not ended within grace.
func (p *parent) waitChild(c *reexec.Child, o *outcome) {
	due := time.NewTimer(grace)
	defer due.Stop()
	silent := c.Silent
	var passed unix.Signal
	for {
		select {
		case <-c.Exited():
			if _, err := c.Wait(); err != nil {
				o.err = fmt.Errorf("waiting for the child: %w", err)
			}
			return
		case <-silent:
			silent = nil
			if len(p.cfg.Command) > 0 {
				due.Stop() // the command's time is its own
			}
		case sig := <-p.sigs:
			if silent != nil {
				c.Kill()
				o.signal = sig.(unix.Signal)
				return
			}
			if sig == unix.SIGINT {
				continue
			}
			c.Signal(sig.(unix.Signal))
			if passed == 0 {
				passed = sig.(unix.Signal)
				due.Reset(grace)
			}
		case <-due.C:
			c.Kill()
			if passed != 0 {
				o.signal = passed
			} else {
				o.err = errStuck
			}
			return
		}
	}
}

// verbosef prints a line of -v, the article's.
func (p *parent) verbosef(format string, args ...any) {
	if p.cfg.Verbose >= 1 {
		fmt.Fprintf(p.out, format, args...)
	}
}

// moref prints a line of -vv, which explains more than the article does.
func (p *parent) moref(format string, args ...any) {
	if p.cfg.Verbose >= 2 {
		fmt.Fprintf(p.out, format, args...)
	}
}

// say prints a sentence of the transcript within 80 columns, after
// prefix.
func (p *parent) say(prefix, text string) { term.Sentence(p.out, prefix, text) }

// printf prints a line of the transcript.
func (p *parent) printf(format string, args ...any) {
	fmt.Fprintf(p.out, format, args...)
}

// perror prints as perror(3) does in the original, on stderr; not in a
// quiet run, whose table says it instead.
func (p *parent) perror(op string, err error) {
	if !p.quiet {
		fmt.Fprintf(os.Stderr, "Parent: %s: %s\n", op, ipc.Strerror(err))
	}
}
