// object.go: the kinds of IPC object an exchange can go through (-k), in
// one table: the POSIX message queue of the article, and the System V
// message queue, semaphore set and shared memory segment. Everything that
// differs between kinds is an entry's field; the parent and the child deal
// with every kind through the same two small interfaces.

package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// object is the parent's side of one: it waits on it, then removes it.
type object interface {
	// Receive waits for the child's message until the deadline; a
	// deadline that passes is ETIMEDOUT.
	Receive(buf []byte, deadline time.Time) (int, error)
	// Interrupt makes a waiting Receive, and every later one, return at
	// once: with the child's message if the object holds it by then, and
	// ETIMEDOUT if not. So once the child says it sent, an interrupted
	// Receive tells at once whether the message is there or was taken.
	Interrupt()
	// Reset makes the object as it was made, for another exchange: no
	// Interrupt in force, nothing left in it.
	Reset()
	// Close lets go of the parent's handle; Remove deletes the object.
	Close() error
	Remove() error
	// identity is what the kernel says the object is, for the child to
	// hold what it finds against.
	identity() (identity, error)
}

// identity is what the kernel says an object is, which no other process
// can make an object of its own show: a POSIX queue's or a /dev/shm file's
// device and inode, a System V object's id, key, creation time and
// creator (sysvIdentity). A name or key alone proves nothing: another IPC
// or mount namespace may have an object of the same name, and the child
// must never write into that one.
type identity struct {
	Dev   uint64 `json:"dev,omitempty"`
	Ino   uint64 `json:"ino,omitempty"`
	ID    int    `json:"id,omitempty"`
	Key   int32  `json:"key,omitempty"`
	Ctime int64  `json:"ctime,omitempty"`
	Mine  bool   `json:"mine,omitempty"` // made by the caller's uid (System V)
	By    int    `json:"by,omitempty"`   // the parent's PID, as the kernel records it (System V)
}

// errNotOurs is an object found by name or key that is not the one the
// parent made.
var errNotOurs = errors.New("another object of that name or key, not the one invoke_ns made")

// check says whether got, what the kernel says of an object found, is
// want; a want that is not set (a lookup of the parent's own) takes any.
func (want identity) check(got identity, err error) error {
	if want == (identity{}) {
		return nil
	}
	if err != nil {
		return err
	}
	// The child sees the parent's PID as its parent's, or as 0 from a
	// PID namespace of its own (-p), where the parent is not.
	if want.By != 0 && os.Getppid() == 0 {
		want.By = 0
	}
	if got != want {
		return errNotOurs
	}
	return nil
}

// endpoint is the child's side: what it found by name or key.
type endpoint interface {
	Send(msg []byte) error
	Close() error
}

// kind is one entry of the table.
type kind struct {
	name   string // as -k names it
	noun   string // how the transcript names one
	byName bool   // found by a name (-q), not by a System V key
	lookup string // the child's call that finds it, as perror names it
	send   string // the child's call that sends through it
	wait   string // the parent's call that waits on it
	// carriesText is false for a semaphore: its signal arrives, no text.
	carriesText bool
	created     string // the parent's verbose line once it exists
	closeLine   bool   // the parent says "closing" before "Removing"
	limit       string // where the kernel's limit on their number is
	owner       string // the command that names an object's owner
	// isolation is the namespace that keeps one from the child: "ipc" for
	// what the IPC namespace isolates, "mnt" for a file in /dev/shm.
	isolation string

	create func(t target) (object, error) // refuses one that exists
	// open looks one up, in the caller's namespace (and for a file, in
	// root's /dev/shm where root is not nil), refusing one that is not
	// t.ID, where that is set (errNotOurs).
	open  func(t target, root *os.File) (endpoint, error)
	find  func(t target) (found, error)                     // who has one that exists
	hints func(err error, k *kind, t target) (string, bool) // what to do when create fails
	// removal is the command that removes a leftover.
	removal func(t target) string
}

// kinds are all of them, in the order -k all goes through them.
var kinds = []*kind{
	{
		name: "mq", noun: "message queue", byName: true,
		lookup: "mq_open", send: "mq_send", wait: "mq_timedreceive", carriesText: true,
		created: "opening", closeLine: true, owner: "ls -l /dev/mqueue",
		create: func(t target) (object, error) {
			q, err := CreateQueue(t.Name, 0o600, queueMsgMax, messageMax+1)
			if err != nil {
				return nil, err
			}
			return posixQueue{q}, nil
		},
		open:      func(t target, _ *os.File) (endpoint, error) { return OpenQueue(t.Name, unix.O_WRONLY, t.ID) },
		find:      func(t target) (found, error) { return findQueue(t.Name) },
		hints:     queueHints,
		removal:   func(t target) string { return "invoke_ns -f" + queueOption(t.Name) + " -i no" },
		isolation: "ipc",
	},
	{
		name: "msg", noun: "System V message queue",
		lookup: "msgget", send: "msgsnd", wait: "msgrcv", carriesText: true,
		created: "created", limit: "/proc/sys/kernel/msgmni", owner: "ipcs -q -c",
		create: func(t target) (object, error) { return MsgGet(t.Key, createFlags, identity{}) },
		open:   func(t target, _ *os.File) (endpoint, error) { return MsgGet(t.Key, 0, t.ID) },
		find: func(t target) (found, error) {
			return findSysV(t, func(want identity) (object, error) { return MsgGet(t.Key, 0, want) })
		},
		hints:     sysvHints,
		removal:   func(t target) string { return fmt.Sprintf("ipcrm -Q 0x%08x", uint32(t.Key)) },
		isolation: "ipc",
	},
	{
		name: "sem", noun: "System V semaphore set",
		lookup: "semget", send: "semop", wait: "semtimedop", carriesText: false,
		created: "created", limit: "the 4th field of /proc/sys/kernel/sem", owner: "ipcs -s -c",
		create: func(t target) (object, error) { return SemGet(t.Key, createFlags, identity{}) },
		open:   func(t target, _ *os.File) (endpoint, error) { return SemGet(t.Key, 0, t.ID) },
		find: func(t target) (found, error) {
			return findSysV(t, func(want identity) (object, error) { return SemGet(t.Key, 0, want) })
		},
		hints:     sysvHints,
		removal:   func(t target) string { return fmt.Sprintf("ipcrm -S 0x%08x", uint32(t.Key)) },
		isolation: "ipc",
	},
	{
		name: "shm", noun: "System V shared memory segment",
		lookup: "shmget", send: "shm write", wait: "futex", carriesText: true,
		created: "created", limit: "/proc/sys/kernel/shmmni", owner: "ipcs -m -c",
		create: func(t target) (object, error) { return ShmGet(t.Key, createFlags, identity{}) },
		open:   func(t target, _ *os.File) (endpoint, error) { return ShmGet(t.Key, 0, t.ID) },
		find: func(t target) (found, error) {
			return findSysV(t, func(want identity) (object, error) { return ShmGet(t.Key, 0, want) })
		},
		hints:     sysvHints,
		removal:   func(t target) string { return fmt.Sprintf("ipcrm -M 0x%08x", uint32(t.Key)) },
		isolation: "ipc",
	},
	{
		name: "pshm", noun: "POSIX shared memory object", byName: true,
		lookup: "shm_open", send: "shm write", wait: "futex", carriesText: true,
		created: "created", owner: "ls -l /dev/shm", isolation: "mnt",
		create:  func(t target) (object, error) { return CreateShm(shmDir, t.Name) },
		open:    func(t target, root *os.File) (endpoint, error) { return OpenShm(root, t.Name, t.ID) },
		find:    func(t target) (found, error) { return findShm(t.Name) },
		hints:   shmHints,
		removal: func(t target) string { return "rm " + shmPath(shmDir, t.Name) },
	},
}

// queueOption is -q NAME, or nothing for the default name.
func queueOption(name string) string {
	if name == defaultQueue {
		return ""
	}
	return " -q " + name
}

// what is what goes through one: a message, or a semaphore's signal.
func (k *kind) what() string {
	if k.carriesText {
		return "message"
	}
	return "signal"
}

// kindNames are the names of every kind, in order.
func kindNames() []string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.name
	}
	return names
}

// kindNamed is the entry for name, or nil.
func kindNamed(name string) *kind {
	for _, k := range kinds {
		if k.name == name {
			return k
		}
	}
	return nil
}

// target names one object of a run: its kind, and its name or key. The
// child is given the parent's list of them.
type target struct {
	Kind string `json:"kind"`
	Name string `json:"name,omitempty"` // for a kind found by name
	Key  int32  `json:"key,omitempty"`  // for a System V kind
	// InRoot says that the child looks for a file in /dev/shm (pshm) in
	// the root the parent passed it (the target's), not its own.
	InRoot bool `json:"in_root,omitempty"`
	// ID is what the kernel says the parent's object is: the child sends
	// through what it finds only if it is that.
	ID identity `json:"id"`
}

func (t target) kind() *kind { return kindNamed(t.Kind) }

// targets are the objects of a run with cfg's options.
func targets(cfg *config) []target {
	ts := make([]target, len(cfg.Kinds))
	for i, k := range cfg.Kinds {
		ts[i] = target{Kind: k}
		if kindNamed(k).byName {
			ts[i].Name = cfg.Queue
		} else {
			ts[i].Key = cfg.Key
		}
	}
	return ts
}

// String is how the transcript names the object.
func (t target) String() string {
	if k := t.kind(); !k.byName {
		return fmt.Sprintf("%s with key %d", k.noun, t.Key)
	}
	return t.kind().noun + " " + t.Name
}

// label is the short name of a table row: "mq /ipc_namespace", "msg key 1".
func (t target) label() string {
	if t.kind().byName {
		return t.Kind + " " + t.Name
	}
	return fmt.Sprintf("%s key %d", t.Kind, t.Key)
}

// shortName is the name alone for a queue, which the article's lines give
// bare, and the whole description otherwise.
func (t target) shortName() string {
	if t.kind().byName {
		return t.Name
	}
	return "the " + t.String()
}

// bare names the object without its kind's noun where a name is enough:
// "/ipc_namespace", "System V message queue with key 1".
func (t target) bare() string {
	if t.kind().byName {
		return t.Name
	}
	return t.String()
}

// create makes the object, refusing one that exists already, and explains
// a failure.
func (t target) create() (object, error) {
	k := t.kind()
	o, err := k.create(t)
	if err != nil {
		if todo, ok := k.hints(err, k, t); ok {
			err = hint(err, todo)
		}
		return nil, err
	}
	return o, nil
}

// open looks the object up by name or key in the caller's IPC namespace,
// or for a file in root's /dev/shm, and refuses one that is not t.ID. It
// never uses a descriptor of the object from the parent: descriptors
// cross namespace boundaries, so only a lookup shows what this IPC
// namespace can see.
func (t target) open(root *os.File) (endpoint, error) { return t.kind().open(t, root) }

// createOwn tries to make an object of the same name or key, and removes
// it again if that worked: EEXIST where the parent's is visible, success
// in a namespace of one's own, since names and keys are per namespace.
func (t target) createOwn() error {
	o, err := t.kind().create(t)
	if err != nil {
		return err
	}
	return errors.Join(o.Remove(), o.Close())
}

// removeSysV removes a System V object found by key: each System V type is
// both the parent's side and the child's.
func removeSysV[T object](o T, err error) error {
	if err != nil {
		return err
	}
	return errors.Join(o.Remove(), o.Close())
}

// namedObject is an object found by name, which the parent locks as its
// own (live.go) and removes only while the name is still its own.
type namedObject interface {
	object
	lock() error
	isNamed(name string) bool
}

// posixQueue is a Queue as the parent holds it, locked as this run's:
// removing it unlinks its name, if the name is still its own.
type posixQueue struct{ *Queue }

func (q posixQueue) lock() error { return lockQueue(q.Queue) }

func (q posixQueue) Remove() error {
	if !q.isNamed(q.Name()) {
		return errReplaced
	}
	return UnlinkQueue(q.Name())
}

// errReplaced is a name that no longer names this run's object.
var errReplaced = errors.New("another process removed it, and what has the name now is left alone")

// hasSysV says whether any of ts is a System V object, found by key.
func hasSysV(ts []target) bool {
	for _, t := range ts {
		if !t.kind().byName {
			return true
		}
	}
	return false
}
