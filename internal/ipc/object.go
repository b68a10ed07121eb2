// Package ipc is the IPC objects a message goes through: what kinds of
// object there are, as entries of one table whose fields hold all that
// differs between them (the System V message queue, semaphore set and
// shared memory segment, and POSIX shared memory in /dev/shm here; the
// article's POSIX queue is registered from above); how one is made,
// looked up, proved to be the one made (Identity), and told from another
// run's, an earlier run's or another user's (the locks); and the errno
// words of the kernel's refusals. It knows nothing of namespaces, of the
// child, or of what invoke_ns prints besides an error's words.
package ipc

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"
)

// MessageMax is the bytes of text a message may have, as the article's
// prompt says; every kind holds that and its NUL.
const MessageMax = 80

// Receiver is the parent's side of an object: it waits on it, then
// removes it.
type Receiver interface {
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
	// Identity is what the kernel says the object is, for the child to
	// hold what it finds against.
	Identity() (Identity, error)
	// Owned says whether its name or key still names it, in the
	// caller's IPC namespace (or /dev/shm): not removed, nor replaced
	// by another process's. A verdict is taken only while it does.
	Owned() bool
	// Token is what the parent wrote into it for a sender that may only
	// read it (ReadOnlyError); nil for a kind no sender reads.
	Token() []byte
}

// Sender is the child's side: what it found by name or key.
type Sender interface {
	Send(msg []byte) error
	Close() error
}

// Locker is a Receiver found by name, which the parent locks as its own
// and removes only while the name is still its own.
type Locker interface {
	Receiver
	Lock() error
	IsNamed(name string) bool
}

// Identity is what the kernel says an object is, which no other process
// can make an object of its own show: a POSIX queue's or a /dev/shm file's
// device and inode; a System V object's id, key, creation time, creator,
// and the PID the kernel records for it (SysVIdentity). A name or key
// alone proves nothing: another IPC or mount namespace may have an object
// of the same name, and the child must never write into that one.
type Identity struct {
	Dev   uint64 `json:"dev,omitempty"`
	Ino   uint64 `json:"ino,omitempty"`
	ID    int    `json:"id,omitempty"`
	Key   int32  `json:"key,omitempty"`
	Ctime int64  `json:"ctime,omitempty"`
	Mine  bool   `json:"mine,omitempty"` // made by the caller's uid (System V)
	By    int    `json:"by,omitempty"`   // the parent's PID, as the kernel records it (System V)
}

// ParentPID is, in the child of a run, its parent's PID as the child's
// PID namespace sees it (getppid(2): 0 where the parent is outside it);
// nil in the parent, and in its threads that probe, which see the
// parent's PID as it was recorded.
var ParentPID func() int

// ErrNotOurs is an object found by name or key that is not the one the
// parent made.
var ErrNotOurs = errors.New("another object of that name or key, not the one invoke_ns made")

// Check says whether got, what the kernel says of an object found, is
// want; a want that is not set (a lookup of the parent's own) takes any.
func (want Identity) Check(got Identity, err error) error {
	if want == (Identity{}) {
		return nil
	}
	if err != nil {
		return err
	}
	// The kernel gives the PID it records as the reader's PID
	// namespace sees it: the child sees the parent's as its parent's, 0
	// from a PID namespace of its own (-p), where the parent is not; the
	// parent and its threads (a probe), as it was recorded.
	if want.By != 0 && ParentPID != nil {
		want.By = ParentPID()
	}
	if got != want {
		return ErrNotOurs
	}
	return nil
}

// Kind is one entry of the table of kinds.
type Kind struct {
	Name   string // as -k names it
	Noun   string // how the transcript names one
	ByName bool   // found by a name (-q), not by a System V key
	Lookup string // the child's call that finds it, as perror names it
	SendOp string // the child's call that sends through it
	WaitOp string // the parent's call that waits on it
	// CarriesText is false for a semaphore: its signal arrives, no text.
	CarriesText bool
	Created     string // the parent's verbose line once it exists
	CloseLine   bool   // the parent says "closing" before "Removing"
	Limit       string // where the kernel's limit on their number is
	Owner       string // the command that names an object's owner
	// InDevShm is true for a file in /dev/shm, which the IPC namespace
	// does not isolate and a mount namespace with its own /dev/shm does.
	InDevShm bool
	// PerUser is true for the per-user queue budget (budget.go), which
	// no namespace of a user's isolates: it is no object of any
	// namespace, and the kernel has no identity to say where it is.
	// The child holds its queue from its report until the verdict's
	// ack, then lets go and says so (reexec.Released); the parent
	// measures the budget right before the child is let go to it.
	PerUser bool

	// New makes one, refusing one that exists.
	New func(o Object) (Receiver, error)
	// Look looks one up in the caller's IPC namespace (and for a file,
	// in root's /dev/shm where root is not nil), refusing one that is not
	// o.ID, where that is set (ErrNotOurs).
	Look func(o Object, root *os.File) (Sender, error)
	// Find says who has one that exists (lock.go).
	Find func(o Object) (Claim, error)
	// Hints says what to do when New fails.
	Hints func(err error, o Object) (string, bool)
	// Removal is the command that removes a leftover.
	Removal func(o Object) string
	// Strays lists, where o's kind lives (the calling thread's IPC
	// namespace, and the /dev/shm or /dev/mqueue of o.Root), the names
	// that a run or a probe takes beside o's (o.Name, a dot, then more:
	// /ipc_namespace.PID, /ipc_namespace.PID.W), to name what they
	// left; nil for a kind found by key. With mount, it may mount what
	// it lists on the calling thread, which is thrown away after.
	Strays func(o Object, mount bool) []string
}

// Isolated says whether the IPC namespace isolates it: not a file in
// /dev/shm, nor the per-user budget.
func (k *Kind) Isolated() bool { return !k.InDevShm && !k.PerUser }

// SysV says whether it is a System V kind, found by key.
func (k *Kind) SysV() bool { return !k.ByName && !k.PerUser }

// What is what goes through one: a message, or a semaphore's signal.
func (k *Kind) What() string {
	if k.CarriesText {
		return "message"
	}
	return "signal"
}

// registry is every kind by name, for an Object read back from JSON.
var registry = map[string]*Kind{}

// Register adds kinds to those an Object's JSON can name.
func Register(kinds ...*Kind) {
	for _, k := range kinds {
		registry[k.Name] = k
	}
}

func init() { Register(Msg, Sem, Shm, Pshm) }

// Object names one object of a run: its kind, and its name or key. The
// child is given the parent's list of them.
type Object struct {
	Kind *Kind
	Name string // for a kind found by name
	Key  int32  // for a System V kind
	// InRoot says that the child looks for a file in /dev/shm (pshm) in
	// the root the parent passed it (the target's), not its own.
	InRoot bool
	// ID is what the kernel says the parent's object is: the child sends
	// through what it finds only if it is that.
	ID Identity
	// Root is the root in whose /dev/shm the parent makes a file of
	// POSIX shared memory (--from's), nil for its own; the child is not
	// told it.
	Root *os.File
}

// wireObject is an Object in JSON, its kind by name.
type wireObject struct {
	Kind   string   `json:"kind"`
	Name   string   `json:"name,omitempty"`
	Key    int32    `json:"key,omitempty"`
	InRoot bool     `json:"in_root,omitempty"`
	ID     Identity `json:"id"`
}

func (o Object) MarshalJSON() ([]byte, error) {
	return json.Marshal(wireObject{o.Kind.Name, o.Name, o.Key, o.InRoot, o.ID})
}

func (o *Object) UnmarshalJSON(b []byte) error {
	var w wireObject
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	k := registry[w.Kind]
	if k == nil {
		return fmt.Errorf("no kind of object %q", w.Kind)
	}
	*o = Object{Kind: k, Name: w.Name, Key: w.Key, InRoot: w.InRoot, ID: w.ID}
	return nil
}

// String is how the transcript names the object.
func (o Object) String() string {
	if o.Kind.PerUser {
		return o.Kind.Noun
	}
	if !o.Kind.ByName {
		return fmt.Sprintf("%s with key %d", o.Kind.Noun, o.Key)
	}
	return o.Kind.Noun + " " + o.Name
}

// Label is the short name of a table row: "mq /ipc_namespace", "msg key 1".
func (o Object) Label() string {
	if o.Kind.PerUser {
		return o.Kind.Name
	}
	if o.Kind.ByName {
		return o.Kind.Name + " " + o.Name
	}
	return fmt.Sprintf("%s key %d", o.Kind.Name, o.Key)
}

// ShortName is the name alone for a queue, which the article's lines give
// bare, and the whole description otherwise.
func (o Object) ShortName() string {
	if o.Kind.ByName {
		return o.Name
	}
	return "the " + o.String()
}

// Bare names the object without its kind's noun where a name is enough:
// "/ipc_namespace", "System V message queue with key 1".
func (o Object) Bare() string {
	if o.Kind.ByName {
		return o.Name
	}
	return o.String()
}

// Create makes the object, refusing one that exists already, and explains
// a failure.
func (o Object) Create() (Receiver, error) {
	r, err := o.Kind.New(o)
	if err != nil {
		if todo, ok := o.Kind.Hints(err, o); ok {
			err = fmt.Errorf("%w — %s", err, todo)
		}
		return nil, err
	}
	return r, nil
}

// Open looks the object up by name or key in the caller's IPC namespace,
// or for a file in root's /dev/shm, and refuses one that is not o.ID. It
// never uses a descriptor of the object from the parent: descriptors
// cross namespace boundaries, so only a lookup shows what this IPC
// namespace can see.
func (o Object) Open(root *os.File) (Sender, error) { return o.Kind.Look(o, root) }

// CreateOwn tries to make an object of the same name or key, and removes
// it again if that worked: EEXIST where the parent's is visible, success
// in a namespace of one's own, since names and keys are per namespace.
func (o Object) CreateOwn() error {
	r, err := o.Kind.New(o)
	if err != nil {
		return err
	}
	return errors.Join(r.Remove(), r.Close())
}

// Removal is the command that removes a leftover of this object.
func (o Object) Removal() string { return o.Kind.Removal(o) }

// ErrReplaced is a name that no longer names this run's object.
var ErrReplaced = errors.New("another process removed it, and what has the name now is left alone")

// HasSysV says whether any of objs is a System V object, found by key.
func HasSysV(objs []Object) bool {
	for _, o := range objs {
		if o.Kind.SysV() {
			return true
		}
	}
	return false
}
