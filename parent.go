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
	"runtime"
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
	// Pdeathsig fires when the thread that started the child ends; the
	// main thread, locked, ends only with the process (Go issue 27505).
	runtime.LockOSThread()
	p := &parent{cfg: cfg, out: os.Stdout, sigs: make(chan os.Signal, 4), kinds: nsKinds(cfg), rec: newRecord(cfg)}
	if cfg.JSON {
		p.out = os.Stderr
	}
	signal.Notify(p.sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	defer signal.Stop(p.sigs)
	// A reader that goes away (invoke_ns | head) must not kill invoke_ns
	// before it removes the queue: caught, SIGPIPE turns into EPIPE on
	// write, and execve(2) gives the child's command the default back.
	signal.Notify(make(chan os.Signal, 1), unix.SIGPIPE)

	p.verbosef("Parent: PID of parent is %d\n", os.Getpid())
	p.rec.ParentNS = nsIDs("self", p.kinds)
	if len(p.kinds) > 0 {
		p.verbosef("Parent: namespaces %s\n", nsLine(p.rec.ParentNS, p.kinds))
	}
	err := p.withQueue()
	p.verbosef("Parent: %s - Finishing up\n", cfg.Prog)
	if cfg.JSON {
		p.rec.finish(os.Stdout, cfg.IPC, err)
	}
	return err
}

// withQueue creates the queue if the exchange is asked for, runs the
// child, and removes the queue again.
func (p *parent) withQueue() error {
	if !p.cfg.IPC {
		return p.run(nil)
	}
	q, err := p.createQueue()
	if err != nil {
		return err
	}
	p.verbosef("Parent: opening message queue %s\n", p.cfg.Queue)
	err = p.run(q)
	if rerr := p.removeQueue(q); err == nil {
		err = rerr
	}
	return err
}

// run starts the child, does the exchange if asked, and waits for the child.
func (p *parent) run(q *Queue) error {
	c, err := startChild(p.cfg, p.out)
	if err != nil {
		return err
	}
	defer c.link.close()
	p.verbosef("Parent: PID of child is %d\n", c.cmd.Process.Pid)
	// The child is in its namespaces already, held at the checkpoint.
	p.rec.ChildNS = nsIDs(strconv.Itoa(c.cmd.Process.Pid), p.kinds)
	if err := c.link.send(message{Step: stepGo}); err != nil {
		c.kill()
		return err
	}
	var verdict error
	if q != nil {
		verdict = p.exchange(q, c)
		p.rec.verdictNow()
	}
	status := p.waitChild(c)
	if verdict != nil {
		return verdict
	}
	return status
}

// createQueue makes the queue, refusing one that exists unless -f.
func (p *parent) createQueue() (*Queue, error) {
	name := p.cfg.Queue
	if p.cfg.Force {
		err := UnlinkQueue(name)
		switch {
		case err == nil:
			p.verbosef("Parent: removed message queue %s left by an earlier run\n", name)
		case !errors.Is(err, unix.ENOENT):
			return nil, err
		}
	}
	q, err := CreateQueue(name, 0o644, queueMsgMax, messageMax+1)
	if err != nil {
		return nil, queueLimitError(err, name)
	}
	return q, nil
}

// removeQueue closes and unlinks the queue, saying so with -v.
func (p *parent) removeQueue(q *Queue) error {
	p.verbosef("Parent: closing message queue %s\n", q.Name())
	cerr := q.Close()
	p.verbosef("Parent: Removing message queue %s\n", q.Name())
	if err := UnlinkQueue(q.Name()); err != nil {
		return hint(err, "another process removed it (invoke_ns -f?)")
	}
	return cerr
}

type received struct {
	msg []byte
	err error
}

// exchange waits for the message, for the child's report, or for a signal,
// whichever comes first: a child that cannot reach the queue says so at
// once, so that the parent never sits out the timeout for nothing.
func (p *parent) exchange(q *Queue, c *child) error {
	reports := make(chan report, 1)
	go func() {
		// Closed at EOF: the child has ended, or its end of the pipe has.
		defer close(reports)
		for {
			m, err := c.link.next(stepReport)
			if err != nil || m.Report == nil {
				return
			}
			reports <- *m.Report
		}
	}()
	msgs := make(chan received, 1)
	go func() {
		buf := make([]byte, messageMax+1)
		n, err := q.Receive(buf, time.Now().Add(p.cfg.Timeout))
		msgs <- received{buf[:n], err}
	}()
	// The receiving goroutine ends before the queue is closed.
	receiving := true
	defer func() {
		if receiving {
			q.Interrupt()
			<-msgs
		}
	}()

	var rep *report
	var got *received
	childDone := false
	for {
		// The message is printed once the child has said its own lines.
		if got != nil && (rep != nil || childDone) {
			return p.delivery(*got, rep, c)
		}
		select {
		case m := <-msgs:
			receiving, msgs = false, nil
			if m.err != nil {
				return p.delivery(m, rep, c)
			}
			got = &m
		case r, ok := <-reports:
			if !ok {
				if got == nil {
					return p.childGone(c)
				}
				reports, childDone = nil, true
				continue
			}
			rep = &r
			p.rec.childOpened(r)
			if r.Outcome != outcomeSent {
				err := p.undelivered(r)
				c.link.send(message{Step: stepAck})
				return err
			}
		case sig := <-p.sigs:
			c.kill()
			return interrupted(sig, p.cfg.Queue)
		}
	}
}

// delivery handles the end of the wait on the queue: a message, or the
// timeout.
func (p *parent) delivery(m received, rep *report, c *child) error {
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
		fmt.Fprintf(os.Stderr, "Parent: mq_timedreceive: %s\n", strerror(m.err))
		if rep != nil {
			c.link.send(message{Step: stepAck})
		}
		return &statusError{code: exitTimeout}
	}
	p.verbosef("Parent: received message from child\n")
	msg := bytes.TrimSuffix(m.msg, []byte{0})
	p.rec.delivered(string(msg))
	fmt.Fprintf(p.out, "\n    Parent: the following message was received from the child\n     >> %s\n\n", msg)
	c.link.send(message{Step: stepAck})
	return nil
}

// undelivered says, in one sentence, why no message can arrive.
func (p *parent) undelivered(r report) error {
	name := p.cfg.Queue
	switch r.Outcome {
	case outcomeOpenFailed:
		if r.Errno == unix.ENOENT && p.cfg.NewIPC {
			fmt.Fprintf(p.out, "Parent: no message can arrive: the child is in a new IPC namespace, where %s does not exist\n", name)
		} else {
			fmt.Fprintf(p.out, "Parent: no message can arrive: the child could not open %s (%s)\n", name, strerror(r.Errno))
		}
		return &statusError{code: exitBlocked}
	case outcomeNoMessage:
		fmt.Fprintf(p.out, "Parent: no message will arrive: the child was given none\n")
		return &statusError{code: exitNoMessage}
	case outcomeTooLong:
		fmt.Fprintf(p.out, "Parent: no message will arrive: the child's was %d bytes, more than the %d that fit\n", r.Size, messageMax)
		return &statusError{code: exitNoMessage}
	}
	fmt.Fprintf(p.out, "Parent: no message will arrive: the child could not send it (%s)\n", strerror(r.Errno))
	return &statusError{code: exitFailure}
}

// childGone reports a child that ended before it said anything. One that
// broke the handshake but lives is ended first.
func (p *parent) childGone(c *child) error {
	c.cmd.Process.Kill()
	status, _ := waitStatus(c.wait())
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
				c.cmd.Process.Signal(sig)
			}
		}
	}
}

func (p *parent) verbosef(format string, args ...any) {
	if p.cfg.Verbose {
		fmt.Fprintf(p.out, format, args...)
	}
}

// interrupted is the error for a signal that ended the wait: exit 128+N.
func interrupted(sig os.Signal, queue string) error {
	s := sig.(unix.Signal)
	return &statusError{code: 128 + int(s), err: fmt.Errorf("interrupted by %s: the child was ended and %s removed", unix.SignalName(s), queue)}
}
