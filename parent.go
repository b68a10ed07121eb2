// parent.go: the parent's side. It creates the objects, starts the child,
// waits for each message or for the child's word that none can come, then
// waits for the child and removes the objects, on every path. One run of
// this is runOnce; --compare (compare.go) calls it twice.

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

type parent struct {
	cfg   *config
	out   io.Writer      // the transcript: stdout, or stderr with --json
	sigs  chan os.Signal // SIGINT, SIGTERM and SIGHUP to invoke_ns
	quiet bool           // no perror: --compare's table says it instead
	spec  *runSpec       // the run under way
	// caught is closed once sigs receives the signals.
	caught <-chan struct{}
}

func runParent(cfg *config) *outcome {
	out := io.Writer(os.Stdout)
	if cfg.JSON {
		out = os.Stderr
	}
	if cfg.Compare {
		return runCompare(cfg, out)
	}
	// Catching signals takes the runtime a thread and a round trip to it
	// per signal, so that goes on beside the child's start; runOnce waits
	// for it before it creates anything, so that a signal always finds the
	// parent ready to remove what it made.
	sigs := make(chan os.Signal, 4)
	caught := make(chan struct{})
	go func() { catchSignals(sigs); close(caught) }()
	p := &parent{cfg: cfg, out: out, sigs: sigs, caught: caught}
	p.verbosef("Parent: PID of parent is %d\n", os.Getpid())
	rec := newRecord(cfg)
	spec := &runSpec{IPC: cfg.IPC, NewIPC: cfg.NewIPC}
	if cfg.IPC {
		spec.Objects = targets(cfg)
	}
	o := p.runOnce(spec, rec)
	p.verbosef("Parent: %s - Finishing up\n", cfg.Prog)
	if cfg.JSON {
		rec.finish(cfg, o)
		writeRecord(rec, o)
	}
	return o
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
	return p.cfg.Verbose || p.cfg.JSON || p.cfg.Compare
}

// runOnce is one run: it starts the child, which waits at the checkpoint
// meanwhile, creates the objects of spec, runs the exchange through each,
// waits for the child, and removes the objects again, on every path.
func (p *parent) runOnce(spec *runSpec, rec *record) *outcome {
	p.spec = spec
	// The child starts first: its runtime starts while the parent gets
	// ready, and it waits at the checkpoint until the objects exist.
	c, err := startChild(p.cfg, spec, p.out)
	<-p.caught
	namespaces := shownNamespaces(p.cfg, spec.IPC)
	if p.wantNS() {
		rec.ParentNS = nsIDs("self", namespaces)
		if len(namespaces) > 0 {
			p.verbosef("Parent: namespaces %s\n", nsLine(rec.ParentNS, namespaces))
		}
	}
	if err != nil {
		return &outcome{err: err}
	}
	defer c.link.close()
	if hasSysV(spec.Objects) {
		p.printf("Parent: System V key: %d (0x%08x in ipcs)\n", p.cfg.Key, uint32(p.cfg.Key))
	}
	var objs []object
	for _, t := range spec.Objects {
		o, err := p.create(t)
		if err != nil {
			c.kill()
			p.removeAll(spec.Objects, objs)
			return &outcome{err: err}
		}
		objs = append(objs, o)
	}
	if p.cfg.Verbose && spec.NewIPC && hasSysV(spec.Objects) {
		p.verbosef("Parent: /proc/sysvipc: %s\n", sysvCounts())
	}
	o := p.drive(c, spec, objs, rec, namespaces)
	if err := p.removeAll(spec.Objects, objs); err != nil && o.err == nil {
		o.err = err
	}
	return o
}

// drive hands the child its options and lets it go, does the exchange
// through each object, and waits for the child.
func (p *parent) drive(c *childProc, spec *runSpec, objs []object, rec *record, namespaces []string) *outcome {
	p.verbosef("Parent: PID of child is %d\n", c.pid)
	if p.wantNS() {
		// The child is in its namespaces already, held at the checkpoint.
		rec.ChildNS = nsIDs(strconv.Itoa(c.pid), namespaces)
	}
	o := &outcome{}
	for _, m := range []message{{Step: stepConfig, Config: p.cfg, Run: spec}, {Step: stepGo}} {
		if err := c.link.send(m); err != nil {
			c.kill()
			o.err = err
			return o
		}
	}
	c.acks = acksWanted(p.cfg, len(objs))
	if len(objs) > 0 {
		p.exchanges(c, spec, objs, rec, o)
		rec.verdictNow()
	}
	if o.signal == 0 && o.err == nil {
		p.waitChild(c, o)
	}
	status, _ := c.wait()
	o.child = &status
	return o
}

// exchanges goes through the objects in turn, one verdict each. A failure
// that is not a verdict, a signal, or a child cut short ends the round.
func (p *parent) exchanges(c *childProc, spec *runSpec, objs []object, rec *record, o *outcome) {
	reports := c.reports()
	for i, t := range spec.Objects {
		orec := rec.object(t)
		x := p.exchange(t, objs[i], c, reports, orec)
		if x.signal != 0 {
			c.kill()
			o.signal = x.signal
			return
		}
		orec.Verdict = x.verdict
		o.verdicts = append(o.verdicts, x.verdict)
		if x.reported {
			c.ack()
		}
		if x.err != nil {
			c.kill()
			o.err = x.err
			return
		}
		if x.verdict != delivered && c.cutShort() {
			return
		}
	}
}

// create makes one object, first removing a leftover with -f.
func (p *parent) create(t target) (object, error) {
	if p.cfg.Force {
		removed, err := t.removeStale()
		if err != nil {
			return nil, err
		}
		if removed {
			p.verbosef("Parent: removed %s left by an earlier run\n", t)
		}
	}
	o, err := t.create()
	if err != nil {
		return nil, err
	}
	p.verbosef("Parent: %s %s\n", t.kind().created, t)
	return o, nil
}

// removeAll closes and removes the objects made, saying so with -v.
func (p *parent) removeAll(ts []target, objs []object) error {
	var first error
	for i, o := range objs {
		t := ts[i]
		if t.kind().closeLine {
			p.verbosef("Parent: closing %s\n", t)
		}
		cerr := o.Close()
		p.verbosef("Parent: Removing %s\n", t)
		if err := o.Remove(); err != nil {
			cerr = hint(err, "another process removed it (invoke_ns -f?)")
		}
		if first == nil {
			first = cerr
		}
	}
	return first
}

// exchanged is what the exchange through one object came to.
type exchanged struct {
	verdict  verdict
	reported bool        // the child reported, and may wait for an ack
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
func (p *parent) exchange(t target, o object, c *childProc, reports <-chan report, rec *objectRecord) exchanged {
	msgs := make(chan received, 1)
	go func() {
		buf := make([]byte, messageMax+1)
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

	var rep *report
	var got *received
	childDone := false
	for {
		// The message is printed once the child has said its own lines.
		if got != nil && (rep != nil || childDone) {
			return p.delivery(t, *got, rep, c, rec)
		}
		select {
		case m := <-msgs:
			receiving, msgs = false, nil
			if m.err != nil {
				return p.delivery(t, m, rep, c, rec)
			}
			got = &m
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
			if r.Outcome != outcomeSent {
				return exchanged{verdict: p.undelivered(t, r), reported: true}
			}
		case sig := <-p.sigs:
			return exchanged{signal: sig.(unix.Signal)}
		}
	}
}

// delivery handles the end of the wait on the object: a message, or the
// timeout.
func (p *parent) delivery(t target, m received, rep *report, c *childProc, rec *objectRecord) exchanged {
	reported := rep != nil
	if m.err != nil {
		if !errors.Is(m.err, unix.ETIMEDOUT) {
			return exchanged{reported: reported, err: m.err}
		}
		if !reported {
			// Still at its prompt: end the prompt's line, and the child,
			// since nobody will take its answer now.
			io.WriteString(p.out, "\n")
			c.kill()
		}
		p.perror(t.kind().wait, m.err)
		return exchanged{verdict: timedOut, reported: reported}
	}
	msg := bytes.TrimSuffix(m.msg, []byte{0})
	switch {
	case !t.kind().carriesText:
		p.verbosef("Parent: received the child's signal\n")
		rec.arrived(nil)
		p.printf("\n    Parent: the child's signal arrived through the %s\n     (a semaphore carries no text)\n\n", t)
	case t.kind().byName:
		p.verbosef("Parent: received message from child\n")
		rec.arrived(msg)
		p.printf("\n    Parent: the following message was received from the child\n     >> %s\n\n", msg)
	default:
		p.verbosef("Parent: received message from child\n")
		rec.arrived(msg)
		p.printf("\n    Parent: the following message was received from the child through the %s\n     >> %s\n\n", t, msg)
	}
	return exchanged{verdict: delivered, reported: reported}
}

// undelivered says, in one sentence, why no message can arrive.
func (p *parent) undelivered(t target, r report) verdict {
	what := "message"
	if !t.kind().carriesText {
		what = "signal"
	}
	switch r.Outcome {
	case outcomeOpenFailed:
		if r.Errno == unix.ENOENT && p.spec.NewIPC {
			p.printf("Parent: no %s can arrive: the child is in a new IPC namespace, where %s does not exist\n", what, t.shortName())
		} else {
			p.printf("Parent: no %s can arrive: the child could not open %s (%s)\n", what, t.shortName(), strerror(r.Errno))
		}
		return blocked
	case outcomeNoMessage:
		p.printf("Parent: no message will arrive: the child was given none\n")
		return noMessage
	case outcomeTooLong:
		p.printf("Parent: no message will arrive: the child's was %d bytes, more than the %d that fit\n", r.Size, messageMax)
		return noMessage
	}
	p.printf("Parent: no %s will arrive: the child could not send it (%s)\n", what, strerror(r.Errno))
	return sendFailed
}

// childGone reports a child that ended before it said anything. One that
// broke the handshake but lives is ended first.
func (p *parent) childGone(c *childProc) exchanged {
	c.signal(unix.SIGKILL)
	status, _ := c.wait()
	if status.Signaled() {
		p.printf("Parent: the child was killed by %s before it sent a message\n", unix.SignalName(status.Signal()))
	} else {
		p.printf("Parent: the child exited with status %d before it sent a message\n", status.ExitStatus())
	}
	return exchanged{verdict: childGone}
}

// waitChild waits for the child, and for its command, to end. Ctrl-C at
// the terminal reaches the child's command directly, as with unshare
// --fork, so invoke_ns lets it be; SIGTERM and SIGHUP are passed on.
func (p *parent) waitChild(c *childProc, o *outcome) {
	for {
		select {
		case <-c.exited:
			if _, err := c.wait(); err != nil {
				o.err = fmt.Errorf("waiting for the child: %w", err)
			}
			return
		case sig := <-p.sigs:
			if sig != unix.SIGINT {
				c.signal(sig.(unix.Signal))
			}
		}
	}
}

func (p *parent) verbosef(format string, args ...any) {
	if p.cfg.Verbose {
		fmt.Fprintf(p.out, format, args...)
	}
}

// printf prints a line of the transcript.
func (p *parent) printf(format string, args ...any) {
	fmt.Fprintf(p.out, format, args...)
}

// perror prints as perror(3) does in the original, on stderr; not in a
// quiet run, whose table says it instead.
func (p *parent) perror(op string, err error) {
	if !p.quiet {
		fmt.Fprintf(os.Stderr, "Parent: %s: %s\n", op, strerror(err))
	}
}
