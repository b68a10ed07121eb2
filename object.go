// object.go: the kinds of IPC object an exchange can go through (-k): the
// POSIX message queue of the article, and the System V message queue,
// semaphore set and shared memory segment. The parent and the child deal
// with each through the same two small interfaces.
package main

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Kinds of object, in the order -k all goes through them.
const (
	kindMQ  = "mq"
	kindMsg = "msg"
	kindSem = "sem"
	kindShm = "shm"
)

var allKinds = []string{kindMQ, kindMsg, kindSem, kindShm}

// object is the parent's side of one: it waits on it, then removes it.
type object interface {
	// Receive waits for the child's message until the deadline; a
	// deadline that passes, and a receive after Interrupt, is ETIMEDOUT.
	Receive(buf []byte, deadline time.Time) (int, error)
	// Interrupt makes a waiting Receive, and every later one, return.
	Interrupt()
	// Close lets go of the parent's handle; Remove deletes the object.
	Close() error
	Remove() error
}

// endpoint is the child's side: what it found by name or key.
type endpoint interface {
	Send(msg []byte) error
	Close() error
}

// target names one object of a run: its kind, and its name or key.
type target struct {
	kind  string
	queue string // for mq
	key   int32  // for the System V kinds
}

func targets(cfg *config) []target {
	ts := make([]target, len(cfg.Kinds))
	for i, k := range cfg.Kinds {
		ts[i] = target{kind: k, queue: cfg.Queue, key: cfg.Key}
	}
	return ts
}

// String is how the transcript names the object.
func (t target) String() string {
	switch t.kind {
	case kindMsg:
		return fmt.Sprintf("System V message queue with key %d", t.key)
	case kindSem:
		return fmt.Sprintf("System V semaphore set with key %d", t.key)
	case kindShm:
		return fmt.Sprintf("System V shared memory segment with key %d", t.key)
	}
	return "message queue " + t.queue
}

// label is the short name of a table row: "mq /ipc_namespace", "msg key 1".
func (t target) label() string {
	if t.kind == kindMQ {
		return "mq " + t.queue
	}
	return fmt.Sprintf("%s key %d", t.kind, t.key)
}

// shortName is the name alone for a queue, which the article's lines
// give bare, and the whole description otherwise.
func (t target) shortName() string {
	if t.kind == kindMQ {
		return t.queue
	}
	return "the " + t.String()
}

// lookup is the call with which the child looks the object up, as perror
// names it.
func (t target) lookup() string {
	return map[string]string{kindMQ: "mq_open", kindMsg: "msgget", kindSem: "semget", kindShm: "shmget"}[t.kind]
}

// sendCall is the call with which the child sends, as perror names it.
func (t target) sendCall() string {
	return map[string]string{kindMQ: "mq_send", kindMsg: "msgsnd", kindSem: "semop", kindShm: "shm write"}[t.kind]
}

// carriesText is false for a semaphore: its signal arrives, but no text.
func (t target) carriesText() bool { return t.kind != kindSem }

// create makes the object, refusing one that exists already.
func (t target) create() (object, error) {
	switch t.kind {
	case kindMsg:
		return MsgGet(t.key, createFlags)
	case kindSem:
		return SemGet(t.key, createFlags)
	case kindShm:
		return ShmGet(t.key, createFlags)
	}
	q, err := CreateQueue(t.queue, 0o644, queueMsgMax, messageMax+1)
	if err != nil {
		return nil, err
	}
	return posixQueue{q}, nil
}

// open looks the object up by name or key in the caller's IPC namespace.
// It never uses a descriptor from the parent: descriptors cross namespace
// boundaries, so only a lookup shows what this IPC namespace can see.
func (t target) open() (endpoint, error) {
	switch t.kind {
	case kindMsg:
		return MsgGet(t.key, 0)
	case kindSem:
		return SemGet(t.key, 0)
	case kindShm:
		return ShmGet(t.key, 0)
	}
	return OpenQueue(t.queue, unix.O_WRONLY)
}

// createOwn tries to make an object of the same name or key, and removes
// it again if that worked: EEXIST where the parent's is visible, success
// in a namespace of one's own, since names and keys are per namespace.
func (t target) createOwn() error {
	o, err := t.create()
	if err != nil {
		return err
	}
	return errors.Join(o.Close(), o.Remove())
}

// removeStale removes an object of this name or key left by an earlier
// run (-f); one that is not there is no error.
func (t target) removeStale() (bool, error) {
	var err error
	switch t.kind {
	case kindMQ:
		err = UnlinkQueue(t.queue)
	default:
		// Each System V type is both the parent's and the child's side.
		var e endpoint
		if e, err = t.open(); err == nil {
			o := e.(object)
			err = errors.Join(o.Close(), o.Remove())
		}
	}
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	return err == nil, err
}

// posixQueue is a Queue as the parent holds it: removing it unlinks it.
type posixQueue struct{ *Queue }

func (q posixQueue) Remove() error { return UnlinkQueue(q.Name()) }
