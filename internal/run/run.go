// Package run is the parent's side of invoke_ns: one run of the exchange
// (Single), two or three side by side (Compare), and the proof of many
// namespaces that exist (ProbeAll), whose sender is a thread of
// invoke_ns's own, not a child. A run starts the child, makes the
// objects, decides what the exchange through each came to, as a value
// (Exchange), waits for the child and removes the objects, on every path.
// It words nothing: what it does and decides, as it happens, it tells an
// Observer (the transcript is one), and what it came to is its Result.
// It knows nothing of options, of the transcript's words, or of JSON.
package run

import (
	"os"
	"os/signal"
	"slices"
	"time"

	"invoke_ns/internal/ipc"
	"invoke_ns/internal/ns"
	"invoke_ns/internal/reexec"

	"golang.org/x/sys/unix"
)

// Plan is a run, settled once from the options: nothing changes it
// afterwards. What is settled while the objects are made (a name taken
// instead of the default, a key drawn) is in the Result.
type Plan struct {
	Prog     string   // argv[0] as typed, for "Finishing up"
	Verbose  int      // -v: the article's lines; -vv: more
	New      ns.Set   // the namespaces the child is made in, besides IPC
	Hostname string   // -u
	Command  []string // what the child runs at the end
	Exchange bool     // the exchange is done (-i, --target, -c, --probe)
	NewIPC   bool     // -i yes: the child in a new IPC namespace
	// Objects are the objects of the exchange, by kind, with the name
	// and key asked for; a key of 0 is drawn at random.
	Objects []ipc.Object
	OwnName bool // the default name: while it is taken, the run takes one of its own
	Force   bool // -f
	Timeout time.Duration
	IDs     bool       // read the namespaces' identities and limits (-vv, --json, -c)
	Target  *ns.Handle // the IPC namespace the child joins (--target)
	From    *ns.Handle // the IPC namespace the parent's objects are made in (--from)
	// Stdout is the child's standard output, nil for none; Inherited
	// are the caller's descriptors above 2, which the command gets.
	Stdout    *os.File
	Inherited []int
}

// Where is where a run's child is, beside its parent: what the words of
// a verdict depend on.
type Where struct {
	Run      string     // with Compare: "shared", "new" or "target"
	NewIPC   bool       // the child is in a new IPC namespace
	NewMount bool       // with a /dev/shm of its own (-m)
	NewUser  bool       // in a user namespace of its own (-U)
	Target   *ns.Handle // the child is in that IPC namespace
	From     *ns.Handle // the parent's objects are in that one
	// SameIPC and SameShm are what the kernel says, before any message:
	// whether the IPC namespace the child looks in is the one the
	// parent's objects are in (by the namespaces' identities), and
	// whether the /dev/shm it looks in is (by device and inode); nil
	// where it cannot be told.
	SameIPC, SameShm *bool
}

// Same is the kernel's answer for one side of the line.
func (w *Where) Same(inDevShm bool) *bool {
	if inDevShm {
		return w.SameShm
	}
	return w.SameIPC
}

// Observer is told what a run does, and decides, as it happens: the
// transcript, whose lines must come in order with the child's own.
type Observer interface {
	Began()                           // the parent starts
	Opened(role string, h *ns.Handle) // "from" or "target", opened
	Namespaces(names []string, ids map[string]string)
	Noted(n Note)                          // while the objects are made
	Key(key int32)                         // the System V key made
	Made(o ipc.Object)                     // an object exists
	SysVCounts(counts string)              // the parent's, with -i yes
	ChildStarted(pid int)                  // the child waits at its checkpoint
	Heading(where *Where)                  // a run of Compare begins
	Interrupted(atPrompt bool)             // a signal came
	Exchanged(x *Exchange)                 // the verdict of one object
	Failed(op string, err error)           // a call of the parent's failed, as perror(3)
	Removing(o ipc.Object)                 // it goes
	Summed(where *Where, byIPC, shm *bool) // both sides of the line answered
	Limits(parent, child ipc.Limits)       // each IPC namespace's, read there
	Finished()                             // the parent ends
}

// Note is what making the objects came across: a name taken, a lock's
// squatter, a leftover removed or found.
type Note struct {
	What   string     // "taken", "squatted", "removed" or "leftover"
	Object ipc.Object // what it is about
	Holder ipc.Holder // who has it
	Own    string     // with "taken", the name the run takes instead
}

// Signals are SIGINT, SIGTERM and SIGHUP to invoke_ns, once caught.
type Signals struct {
	C      chan os.Signal
	caught chan struct{}
}

// Catch starts catching the signals that end a run, beside whatever the
// caller does meanwhile: catching takes the runtime a thread and a round
// trip to it per signal. Ready waits for it. They stay caught until
// invoke_ns exits: a signal after the work changes nothing.
func Catch() *Signals {
	s := &Signals{C: make(chan os.Signal, 4), caught: make(chan struct{})}
	go func() {
		signal.Notify(s.C, unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
		// A reader that goes away (invoke_ns | head) must not kill
		// invoke_ns before it removes the queue: ignored, SIGPIPE turns
		// into EPIPE on write. The child inherits it ignored, and catches
		// it again before it executes its command, which so gets the
		// default back.
		signal.Ignore(unix.SIGPIPE)
		close(s.caught)
	}()
	return s
}

// Ready waits until the signals are caught, so that one always finds the
// parent ready to remove what it made.
func (s *Signals) Ready() { <-s.caught }

// Raise ends what waits on the signals as sig would, without a signal:
// SIGPIPE, for a reader of the transcript that has gone (the signal
// itself is ignored, and a write says EPIPE instead).
func (s *Signals) Raise(sig unix.Signal) {
	select {
	case s.C <- sig:
	default: // full: a signal is on its way already
	}
}

// setup is what the child of a run is given. A child that joins an IPC
// namespace that exists (join) looks for POSIX shared memory in that
// process's /dev/shm, within its root, where the others look in their
// own.
func (p *Plan) setup(where *Where, join *ns.Handle, objs []ipc.Object, msg *string, tryCreate, quiet bool) *reexec.Setup {
	if join != nil && join.Root != nil {
		objs = slices.Clone(objs)
		for i := range objs {
			objs[i].InRoot = objs[i].Kind.InDevShm
		}
	}
	s := &reexec.Setup{New: p.New, Verbose: p.Verbose, Hostname: p.Hostname, Command: p.Command,
		IPC: p.Exchange, Objects: objs, Message: msg, TryCreate: tryCreate, Quiet: quiet, Limits: p.IDs}
	if where.NewIPC {
		s.New |= unix.CLONE_NEWIPC
	}
	return s
}

// identify fills in what the kernel says of where the child of a run
// looks, before any message: whether its IPC namespace is the one the
// objects are in (by construction, or by the namespaces' identities with
// a target), and where a kind is in /dev/shm, whether its /dev/shm is
// the one the objects are in (by construction, or by device and inode).
func (p *Plan) identify(w *Where) {
	switch {
	case w.Target != nil && p.From != nil:
		w.SameIPC = yes(w.Target.ID == p.From.ID)
	case w.Target != nil:
		w.SameIPC = yes(w.Target.Same)
	default:
		w.SameIPC = yes(!w.NewIPC)
	}
	if !slices.ContainsFunc(p.Objects, func(o ipc.Object) bool { return o.Kind.InDevShm }) {
		return
	}
	switch {
	case w.Target != nil:
		var home *os.File // where the objects are made: --from's root, or invoke_ns's own
		if p.From != nil {
			home = p.From.Root
		}
		w.SameShm = SameShm(w.Target.Root, home)
	case w.NewMount:
		w.SameShm = yes(false) // a fresh tmpfs on it (child.go)
	default:
		w.SameShm = yes(true)
	}
}

// SameShm says whether the /dev/shm of root a is the one of root b (nil:
// invoke_ns's own), by device and inode: false where a has none, nil
// where it cannot be told.
func SameShm(a, b *os.File) *bool {
	pa, err := ipc.ShmDirIn(a)
	if ipc.Nowhere(err) {
		return yes(false)
	}
	pb, berr := ipc.ShmDirIn(b)
	if err != nil || berr != nil {
		return nil
	}
	return yes(pa == pb)
}

// shown are the namespaces worth showing for a run: ipc for the exchange,
// and each new one, in the order of ns.Types.
func (p *Plan) shown() []string {
	return (&reexec.Setup{New: p.New, IPC: p.Exchange}).Shown()
}

// join is the IPC namespace the child of a run is born in, if one that
// exists: the target's, or with --from and no new IPC namespace, that of
// --from, where the parent's objects are.
func (p *Plan) join(where *Where) *ns.Handle {
	switch {
	case where.Target != nil:
		return where.Target
	case p.From != nil && !where.NewIPC:
		return p.From
	}
	return nil
}

// start starts the child of a run, in the namespaces it asks for, or born
// in join.
func (p *Plan) start(where *Where, stdout *os.File, join *ns.Handle) (*reexec.Child, error) {
	flags := uintptr(p.New)
	if where.NewIPC {
		flags |= unix.CLONE_NEWIPC
	}
	return reexec.Spawn{Flags: flags, Stdout: stdout, Inherited: p.Inherited, Join: join,
		ThreadsEnd: p.Target != nil || p.From != nil}.Start()
}
