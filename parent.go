// parent.go: the parent's side. It creates the queue, starts the child,
// waits for the message or for the child's word that none can come, then
// waits for the child and removes the queue, on every path.
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
	kinds []string       // the namespaces to show
	rec   *record        // the verdict, for --json
}

func runParent(cfg *config) error {
	if cfg.Key == 0 {
		cfg.Key = defaultKey(os.Getpid())
	}
	out := io.Writer(os.Stdout)
	if cfg.JSON {
		out = os.Stderr
	}
	if cfg.Compare {
		return runCompare(cfg, out)
	}
	// The child starts first: its runtime starts while the parent gets
	// ready, and it waits at the checkpoint until the objects exist.
	// Catching signals takes the runtime a thread and a round trip to it
	// per signal, so that goes on beside the fork; it is done before
	// anything is created.
	sigs := make(chan os.Signal, 4)
	caught := make(chan struct{})
	go func() { catchSignals(sigs); close(caught) }()
	c, err := startChild(cfg, out)
	<-caught
	p := newParent(cfg, out, sigs)
	p.verbosef("Parent: PID of parent is %d\n", os.Getpid())
	p.showNamespaces()
	if err == nil {
		err = p.withObjects(c)
	}
	p.verbosef("Parent: %s - Finishing up\n", cfg.Prog)
	if cfg.JSON {
		p.rec.finish(cfg, err)
		err = writeVerdict(p.rec, err)
	}
	return err
}

// catchSignals turns SIGINT, SIGTERM and SIGHUP into values on sigs, so
// that the parent can end the child and remove what it made. They stay
// caught until invoke_ns exits: a signal after the work changes nothing
// then, and letting them go again would cost a round trip to the
// runtime's signal thread for each.
func catchSignals(sigs chan os.Signal) {
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	// A reader that goes away (invoke_ns | head) must not kill invoke_ns
	// before it removes the queue: ignored, SIGPIPE turns into EPIPE on
	// write. Ignored rather than caught, which would cost another round
	// trip: the child inherits it ignored, and catches it again before it
	// executes its command, which so gets the default back (see exec).
	signal.Ignore(unix.SIGPIPE)
}

func newParent(cfg *config, out io.Writer, sigs chan os.Signal) *parent {
	return &parent{cfg: cfg, out: out, sigs: sigs, kinds: nsKinds(cfg), rec: newRecord(cfg)}
}

// showNamespaces notes the parent's namespaces, and shows them with -v.
func (p *parent) showNamespaces() {
	if !p.wantNS() {
		return
	}
	p.rec.ParentNS = nsIDs("self", p.kinds)
	if len(p.kinds) > 0 {
		p.verbosef("Parent: namespaces %s\n", nsLine(p.rec.ParentNS, p.kinds))
	}
}

// wantNS says whether the namespace identities are shown or recorded:
// reading them costs a few system calls per process for nothing otherwise.
func (p *parent) wantNS() bool {
	return p.cfg.Verbose || p.cfg.JSON || p.cfg.Compare
}

// withObjects creates the objects if the exchange is asked for, runs the
// started child, and removes them again, on every path. The child is
// ended if they cannot all be made.
func (p *parent) withObjects(c *child) error {
	defer c.link.close()
	if !p.cfg.IPC {
		return p.run(c, nil, nil)
	}
	ts := targets(p.cfg)
	if p.cfg.hasSysV() {
		p.printf("Parent: System V key: %d (0x%08x in ipcs)\n", p.cfg.Key, uint32(p.cfg.Key))
	}
	var objs []object
	var err error
	for _, t := range ts {
		var o object
		if o, err = p.create(t); err != nil {
			break
		}
		objs = append(objs, o)
	}
	if err == nil {
		if p.cfg.Verbose && p.cfg.NewIPC && p.cfg.hasSysV() {
			p.verbosef("Parent: /proc/sysvipc: %s\n", sysvCounts())
		}
		err = p.run(c, ts, objs)
	} else {
		c.kill()
	}
	for i, o := range objs {
		if rerr := p.remove(ts[i], o); err == nil {
			err = rerr
		}
	}
	return err
}

// run hands the child its config and lets it go, does the exchanges if
// asked, and waits for the child.
func (p *parent) run(c *child, ts []target, objs []object) error {
	p.verbosef("Parent: PID of child is %d\n", c.pid)
	if p.wantNS() {
		// The child is in its namespaces already, held at the checkpoint.
		p.rec.ChildNS = nsIDs(strconv.Itoa(c.pid), p.kinds)
	}
	if err := c.link.send(message{Step: stepConfig, Config: p.cfg}); err != nil {
		c.kill()
		return err
	}
	if err := c.link.send(message{Step: stepGo}); err != nil {
		c.kill()
		return err
	}
	c.acks = acksWanted(p.cfg, len(ts))
	var verdict error
	if len(objs) > 0 {
		verdict = p.exchanges(c, ts, objs)
		p.rec.verdictNow()
	}
	status := p.waitChild(c)
	if verdict != nil {
		return verdict
	}
	return status
}

// exchanges goes through the objects in turn, one verdict each. The first
// verdict other than delivery decides the exit status; a failure that is
// not a verdict, or a child cut short, ends the round.
func (p *parent) exchanges(c *child, ts []target, objs []object) error {
	reports := c.reports()
	var first error
	for i, t := range ts {
		rec := p.rec.object(t)
		err := p.exchange(t, objs[i], c, reports, rec)
		rec.settle(err)
		if first == nil {
			first = err
		}
		var st *statusError
		if err != nil && (!errors.As(err, &st) || st.err != nil || c.cutShort()) {
			break
		}
	}
	return first
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
		return nil, createError(err, t)
	}
	if t.kind == kindMQ {
		p.verbosef("Parent: opening %s\n", t)
	} else {
		p.verbosef("Parent: created %s\n", t)
	}
	return o, nil
}

// remove closes and removes one object, saying so with -v.
func (p *parent) remove(t target, o object) error {
	if t.kind == kindMQ {
		p.verbosef("Parent: closing %s\n", t)
	}
	cerr := o.Close()
	p.verbosef("Parent: Removing %s\n", t)
	if err := o.Remove(); err != nil {
		return hint(err, "another process removed it (invoke_ns -f?)")
	}
	return cerr
}

type received struct {
	msg []byte
	err error
}

// exchange waits for the message, for the child's report, or for a signal,
// whichever comes first: a child that cannot reach the object says so at
// once, so that the parent never sits out the timeout for nothing.
func (p *parent) exchange(t target, o object, c *child, reports <-chan report, rec *objectRecord) error {
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
				err := p.undelivered(t, r)
				c.ack()
				return err
			}
		case sig := <-p.sigs:
			c.kill()
			return interrupted(sig)
		}
	}
}

// delivery handles the end of the wait on the object: a message, or the
// timeout.
func (p *parent) delivery(t target, m received, rep *report, c *child, rec *objectRecord) error {
	if m.err != nil {
		if !errors.Is(m.err, unix.ETIMEDOUT) {
			c.kill()
			return m.err
		}
		if rep == nil {
			// Still at its prompt: end the prompt's line, and the child,
			// since nobody will take its answer now.
			io.WriteString(p.out, "\n")
			c.kill()
		}
		p.perror(map[string]string{kindMQ: "mq_timedreceive", kindMsg: "msgrcv", kindSem: "semtimedop", kindShm: "futex"}[t.kind], m.err)
		if rep != nil {
			c.ack()
		}
		return &statusError{code: exitTimeout}
	}
	msg := bytes.TrimSuffix(m.msg, []byte{0})
	switch {
	case !t.carriesText():
		p.verbosef("Parent: received the child's signal\n")
		rec.delivered(nil)
		fmt.Fprintf(p.out, "\n    Parent: the child's signal arrived through the %s\n     (a semaphore carries no text)\n\n", t)
	case t.kind == kindMQ:
		p.verbosef("Parent: received message from child\n")
		rec.delivered(msg)
		fmt.Fprintf(p.out, "\n    Parent: the following message was received from the child\n     >> %s\n\n", msg)
	default:
		p.verbosef("Parent: received message from child\n")
		rec.delivered(msg)
		fmt.Fprintf(p.out, "\n    Parent: the following message was received from the child through the %s\n     >> %s\n\n", t, msg)
	}
	c.ack()
	return nil
}

// undelivered says, in one sentence, why no message can arrive.
func (p *parent) undelivered(t target, r report) error {
	what := "message"
	if !t.carriesText() {
		what = "signal"
	}
	switch r.Outcome {
	case outcomeOpenFailed:
		if r.Errno == unix.ENOENT && p.cfg.NewIPC {
			fmt.Fprintf(p.out, "Parent: no %s can arrive: the child is in a new IPC namespace, where %s does not exist\n", what, t.shortName())
		} else {
			fmt.Fprintf(p.out, "Parent: no %s can arrive: the child could not open %s (%s)\n", what, t.shortName(), strerror(r.Errno))
		}
		return &statusError{code: exitBlocked}
	case outcomeNoMessage:
		fmt.Fprintf(p.out, "Parent: no message will arrive: the child was given none\n")
		return &statusError{code: exitNoMessage}
	case outcomeTooLong:
		fmt.Fprintf(p.out, "Parent: no message will arrive: the child's was %d bytes, more than the %d that fit\n", r.Size, messageMax)
		return &statusError{code: exitNoMessage}
	}
	fmt.Fprintf(p.out, "Parent: no %s will arrive: the child could not send it (%s)\n", what, strerror(r.Errno))
	return &statusError{code: exitFailure}
}

// childGone reports a child that ended before it said anything. One that
// broke the handshake but lives is ended first.
func (p *parent) childGone(c *child) error {
	c.signal(unix.SIGKILL)
	status, _ := c.wait()
	if status.Signaled() {
		sig := status.Signal()
		fmt.Fprintf(p.out, "Parent: the child was killed by %s before it sent a message\n", unix.SignalName(sig))
		return &statusError{code: 128 + int(sig)}
	}
	fmt.Fprintf(p.out, "Parent: the child exited with status %d before it sent a message\n", status.ExitStatus())
	return &statusError{code: exitFailure}
}

// waitChild waits for the child, and for its command, to end. Ctrl-C at
// the terminal reaches the child's command directly, as with unshare
// --fork, so invoke_ns lets it be; SIGTERM and SIGHUP are passed on.
func (p *parent) waitChild(c *child) error {
	for {
		select {
		case <-c.exited:
			return childStatus(c.wait())
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
// quiet run (--compare without -v), whose table says it instead.
func (p *parent) perror(op string, err error) {
	if !p.cfg.Quiet {
		fmt.Fprintf(os.Stderr, "Parent: %s: %s\n", op, strerror(err))
	}
}

// interrupted is the error for a signal that ended the wait: exit 128+N.
func interrupted(sig os.Signal) error {
	s := sig.(unix.Signal)
	return &statusError{code: 128 + int(s), err: fmt.Errorf("interrupted by %s: the child was ended, and what invoke_ns created removed", unix.SignalName(s))}
}
