// Package show words what a run did and came to, in three views of one
// value: the transcript, said as the run goes (Transcript, the run's
// Observer), the tables of --compare and --scan, and the JSON of --json.
// It decides nothing: every verdict is the run's.
package show

import (
	"fmt"
	"io"
	"os"

	"invoke_ns/internal/ipc"
	"invoke_ns/internal/ns"
	"invoke_ns/internal/reexec"
	"invoke_ns/internal/run"
	"invoke_ns/internal/term"

	"golang.org/x/sys/unix"
)

// Transcript is the parent's lines, in the article's words where it has
// them: with -v the article's steps, with -vv more, and every verdict in
// one sentence within 80 columns. perror(3)'s lines go to Stderr.
type Transcript struct {
	Out     io.Writer
	Stderr  io.Writer
	Verbose int
	Prog    string // argv[0], for "Finishing up"
}

var _ run.Observer = (*Transcript)(nil)

// verbosef prints a line of -v, the article's.
func (t *Transcript) verbosef(format string, args ...any) {
	if t.Verbose >= 1 {
		fmt.Fprintf(t.Out, format, args...)
	}
}

// moref prints a line of -vv, which explains more than the article does.
func (t *Transcript) moref(format string, args ...any) {
	if t.Verbose >= 2 {
		fmt.Fprintf(t.Out, format, args...)
	}
}

// say prints a sentence within 80 columns, after prefix.
func (t *Transcript) say(prefix, text string) { term.Sentence(t.Out, prefix, text) }

func (t *Transcript) Began() { t.verbosef("Parent: PID of parent is %d\n", os.Getpid()) }

func (t *Transcript) Opened(role string, h *ns.Handle) {
	if role == "target" {
		t.moref("Parent: target: %s, %s, owned by %s\n", h.About(), h.ID, h.Owner())
		return
	}
	t.moref("Parent: %s: %s, %s\n", role, h.About(), h.ID)
}

func (t *Transcript) Namespaces(names []string, ids map[string]string) {
	t.moref("Parent: namespaces %s\n", ns.Line(ids, names))
}

func (t *Transcript) Noted(n run.Note) {
	o, h := n.Object, n.Holder
	switch n.What {
	case "taken":
		fmt.Fprintf(t.Out, "Parent: %s\n", h.About(o.Name))
		if h.State == ipc.Leftover {
			fmt.Fprintf(t.Out, "Parent: (%s removes it)\n", o.Removal())
		}
		fmt.Fprintf(t.Out, "Parent: this run uses %s\n", n.Own)
	case "squatted":
		if o.Kind.ByName {
			t.say("Parent: ", fmt.Sprintf("the lock of %s: %s; going by the lock of the %s itself", o.Name, h.Why(), o.Kind.Noun))
		} else {
			t.say("Parent: ", fmt.Sprintf("the lock of key %d: %s", o.Key, h.Why()))
		}
	case "removed":
		// Said also without -v: -f removed something.
		t.say("Parent: ", fmt.Sprintf("removed %s, an earlier run's leftover", o))
	case "leftover":
		t.say("Parent: ", fmt.Sprintf("left behind by an earlier run: the %s (%s removes it)", o, o.Removal()))
	}
}

func (t *Transcript) Key(key int32) {
	fmt.Fprintf(t.Out, "Parent: System V key: %d (0x%08x in ipcs)\n", key, uint32(key))
}

// Made says what the parent made; the budget is measured later, and
// said with its verdict.
func (t *Transcript) Made(o ipc.Object) {
	if !o.Kind.PerUser {
		t.verbosef("Parent: %s %s\n", o.Kind.Created, o)
	}
}

func (t *Transcript) SysVCounts(counts string) { t.moref("Parent: /proc/sysvipc: %s\n", counts) }

func (t *Transcript) ChildStarted(pid int) { t.verbosef("Parent: PID of child is %d\n", pid) }

// headings of the runs of --compare, in the -v transcript.
var headings = map[string]string{
	"shared": "--- the child in a shared IPC namespace ---",
	"new":    "--- the child in a new IPC namespace ---",
	"target": "--- the child in the target's IPC namespace ---",
}

func (t *Transcript) Heading(w *run.Where) { fmt.Fprintf(t.Out, "%s\n", headings[w.Run]) }

// Interrupted ends the line the signal cut short at the prompt, before
// anything else is said.
func (t *Transcript) Interrupted(atPrompt bool) {
	if atPrompt {
		io.WriteString(t.Out, "\n")
	}
}

func (t *Transcript) Failed(op string, err error) {
	fmt.Fprintf(t.Stderr, "Parent: %s: %s\n", op, ipc.Strerror(err))
}

func (t *Transcript) Removing(o ipc.Object) {
	if o.Kind.PerUser {
		return // nothing: each queue went with its descriptor
	}
	if o.Kind.CloseLine {
		t.verbosef("Parent: closing %s\n", o)
	}
	t.verbosef("Parent: Removing %s\n", o)
}

// Limits shows, with -vv, each IPC namespace's limits side by side.
func (t *Transcript) Limits(parent, child ipc.Limits) {
	if t.Verbose >= 2 {
		fmt.Fprintf(t.Out, "Parent: IPC limits, each read in its namespace (* the child's differs):\n")
		LimitsTable(t.Out, []string{"parent's", "child's"}, []ipc.Limits{parent, child}, true)
	}
}

func (t *Transcript) Summed(w *run.Where, byIPC, shm *bool) {
	t.say("Parent: ", Summary(w, *byIPC, *shm))
}

// A long argv[0] (a path typed in full) is wrapped, as any sentence is.
func (t *Transcript) Finished() {
	if t.Verbose >= 1 {
		t.say("Parent: ", t.Prog+" - Finishing up")
	}
}

// Exchanged says what the exchange through one object came to.
func (t *Transcript) Exchanged(x *run.Exchange) {
	o := x.Object
	if o.Kind.PerUser && x.Report != nil && x.Verdict != run.Interfered {
		t.budget(x)
		return
	}
	switch x.Verdict {
	case run.Delivered:
		t.delivered(x)
	case run.TimedOut:
		if x.AtPrompt {
			// Still at its prompt: end the prompt's line.
			io.WriteString(t.Out, "\n")
		}
		t.Failed(o.Kind.WaitOp, x.WaitErr)
	case run.Taken:
		t.say("Parent: ", fmt.Sprintf("no %s arrived: the child sent it, but another process took it from %s first",
			o.Kind.What(), o.ShortName()))
	case run.TargetEnded:
		t.Interrupted(x.AtPrompt)
		t.say("Parent: ", fmt.Sprintf("no %s will arrive: the target, %s, ended", o.Kind.What(), x.Where.Target.About()))
	case run.ChildGone:
		if x.Child.Signaled() {
			fmt.Fprintf(t.Out, "Parent: the child was killed by %s before it sent a message\n", unix.SignalName(x.Child.Signal()))
		} else {
			fmt.Fprintf(t.Out, "Parent: the child exited with status %d before it sent a message\n", x.Child.ExitStatus())
		}
	case run.Blocked, run.NoMessage, run.SendFailed:
		t.undelivered(x)
	case run.LookupFailed:
		t.say("Parent: ", fmt.Sprintf("no %s can arrive: the child's %s failed: %s", o.Kind.What(), o.Kind.Lookup,
			ipc.ErrnoWords(x.Report.Errno)))
	case run.Interfered:
		t.say("Parent: ", fmt.Sprintf("no verdict: %s; %s", interference(x), sameWhere(x)))
	}
}

// budget says what the try at the per-user queue budget came to: with
// -vv first what was measured, then the verdict and why.
func (t *Transcript) budget(x *run.Exchange) {
	if m := x.Budget; m != nil && m.Margin > 0 {
		used := "how much of it is in use could not be told"
		if n, ok := m.InUse(); ok {
			used = fmt.Sprintf("%d bytes in use, and a queue of one message of one byte takes %d", n, m.Queue)
		}
		if t.Verbose >= 2 {
			t.say("Parent: ", fmt.Sprintf("your POSIX queue budget (RLIMIT_MSGQUEUE, ulimit -q) is %d bytes, %s: "+
				"under a limit of %d bytes of its own, the parent had room for one queue more", m.Limit, used, m.Margin))
		}
		t.verbosef("Parent: trying mq_open again, now that the child has made its queue\n")
	}
	switch x.Verdict {
	case run.Delivered:
		t.say("Parent: ", fmt.Sprintf("the budget crossed %s: with the child's one queue made, the parent could not "+
			"make one (Too many open files), where it could before; POSIX queues are paid for by the user who makes "+
			"them (RLIMIT_MSGQUEUE), in whatever IPC namespace they are", budgetWhere(x.Where)))
	case run.Blocked:
		t.say("Parent: ", "the child's queue took nothing from the parent's budget: the parent could still make one")
	case run.Unlimited:
		t.say("Parent: ", "not limited: "+x.Budget.Unlimited+", so no one's queues can use up its budget")
	case run.SendFailed:
		t.say("Parent: ", fmt.Sprintf("no verdict: the child could not make a queue of its own (%s)",
			ipc.Strerror(x.Report.Errno)))
	default:
		t.say("Parent: ", "no verdict on the budget: "+x.Verdict.String())
	}
}

// budgetWhere names the namespaces of the child's that the budget
// crossed.
func budgetWhere(w *run.Where) string {
	switch {
	case w.Target != nil:
		return "into " + w.Target.About()
	case w.NewIPC && w.NewUser:
		return "the new IPC and user namespaces"
	case w.NewIPC:
		return "the new IPC namespace"
	case w.NewUser:
		return "the new user namespace"
	}
	return "from the child to the parent"
}

// sameWhere says what the kernel says of where the child is, which a
// message that fails to cross cannot turn.
func sameWhere(x *run.Exchange) string {
	if x.Object.Kind.InDevShm {
		return "the kernel says the child's " + ipc.ShmDir + " is the one the object is in (device and inode)"
	}
	return "the kernel says the child's IPC namespace is the one the object is in (its identity)"
}

// delivered shows what arrived, as the article does, and what it means.
func (t *Transcript) delivered(x *run.Exchange) {
	o, w := x.Object, x.Where
	if x.ReadOnly {
		who := "the child"
		if w.Target != nil {
			who = w.Target.About()
		}
		t.say("Parent: ", fmt.Sprintf("%s could only read the %s, its %s being mounted read-only, and read back "+
			"what the parent wrote there: it shares that %s, read-only", who, o, ipc.ShmDir, ipc.ShmDir))
		return
	}
	switch {
	case !o.Kind.CarriesText:
		t.verbosef("Parent: received the child's signal\n")
		fmt.Fprintf(t.Out, "\n")
		t.say("    Parent: ", "the child's signal arrived through the "+o.String())
		fmt.Fprintf(t.Out, "     (a semaphore carries no text)\n\n")
	case o.Kind.ByName:
		t.verbosef("Parent: received message from child\n")
		fmt.Fprintf(t.Out, "\n    Parent: the following message was received from the child\n     >> %s\n\n", x.Message)
	default:
		t.verbosef("Parent: received message from child\n")
		fmt.Fprintf(t.Out, "\n")
		t.say("    Parent: ", "the following message was received from the child through the "+o.String())
		fmt.Fprintf(t.Out, "     >> %s\n\n", x.Message)
	}
	switch {
	case w.Target != nil && o.Kind.InDevShm && w.From != nil:
		t.say("Parent: ", fmt.Sprintf("%s shares the %s of %s", w.Target.About(), ipc.ShmDir, w.From.About()))
	case w.Target != nil && o.Kind.InDevShm:
		t.say("Parent: ", fmt.Sprintf("%s shares this %s", w.Target.About(), ipc.ShmDir))
	case w.Target != nil:
		t.say("Parent: ", here(w.Target, w.From))
	case o.Kind.InDevShm && w.NewIPC:
		t.say("Parent: ", "it crossed the new IPC namespace: POSIX shared memory is a file in "+ipc.ShmDir+
			", which the IPC namespace does not isolate; a mount namespace with its own "+ipc.ShmDir+" does (-m)")
	}
}

// undelivered says, in one sentence, why no message can arrive.
func (t *Transcript) undelivered(x *run.Exchange) {
	o, w, r := x.Object, x.Where, x.Report
	what := o.Kind.What()
	switch x.Verdict {
	case run.NoMessage:
		if r.Tried == reexec.TooLong {
			if r.Endless {
				fmt.Fprintf(t.Out, "Parent: no message will arrive: the child's goes on past %d bytes\n", term.DiscardMax)
			} else {
				fmt.Fprintf(t.Out, "Parent: no message will arrive: the child's was %d bytes, more than the %d that fit\n",
					r.Size, ipc.MessageMax)
			}
			return
		}
		fmt.Fprintf(t.Out, "Parent: no message will arrive: the child was given none\n")
		return
	case run.SendFailed:
		t.say("Parent: ", fmt.Sprintf("no %s will arrive: the child could not send it (%s)", what, ipc.Strerror(r.Errno)))
		return
	}
	if r.Tried == reexec.NotOurs {
		t.say("Parent: ", fmt.Sprintf("no %s can arrive: %s has its own %s, not %s", what, where(x), o.Bare(), thisOne(w)))
		return
	}
	mnt, missing := o.Kind.InDevShm, r.Errno == unix.ENOENT
	var s string
	switch {
	case r.ShmDir && w.Target != nil:
		s = fmt.Sprintf("the %s of %s %s", ipc.ShmDir, w.Target.About(), shmDirFault(r.Errno))
	case missing && !mnt && w.Target != nil:
		s = elsewhere(w.Target, w.From)
	case missing && mnt && w.Target != nil:
		s = fmt.Sprintf("the %s of %s has no %s", ipc.ShmDir, w.Target.About(), o.Bare())
	case missing && !mnt && w.NewIPC:
		s = "the new IPC namespace has no " + o.Bare()
	case missing && mnt && w.NewMount && !w.NewIPC:
		s = fmt.Sprintf("the child's new mount namespace has a %s of its own, without %s: this time the mount "+
			"namespace blocked it, not the IPC namespace", ipc.ShmDir, o.Bare())
	case missing && mnt && w.NewMount:
		s = fmt.Sprintf("the child's new mount namespace has a %s of its own, without %s", ipc.ShmDir, o.Bare())
	default:
		s = fmt.Sprintf("the child could not open %s (%s)", o.ShortName(), ipc.Strerror(r.Errno))
	}
	t.say("Parent: ", fmt.Sprintf("no %s can arrive: %s", what, s))
}

// where names the place the child looked for the object: the target, its
// /dev/shm, or the child's own namespaces.
func where(x *run.Exchange) string {
	w := x.Where
	mnt := x.Object.Kind.InDevShm
	switch {
	case w.Target != nil && mnt:
		return "the " + ipc.ShmDir + " of " + w.Target.About()
	case w.Target != nil:
		return w.Target.About()
	case mnt:
		return "the child's " + ipc.ShmDir
	case w.NewIPC:
		return "the new IPC namespace"
	}
	return "the child's IPC namespace"
}

// thisOne names the parent's objects: this IPC namespace's, or with
// --from that one's.
func thisOne(w *run.Where) string {
	if w.From != nil {
		return "the one in the IPC namespace of " + w.From.About()
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

// elsewhere says that the target is another IPC namespace than this one,
// or than from's.
func elsewhere(e, from *ns.Handle) string {
	than := ""
	if from != nil {
		than = " than " + from.About()
	}
	if e.PID == 0 {
		return fmt.Sprintf("%s is another IPC namespace%s, %s", e.Path, than, e.ID)
	}
	return fmt.Sprintf("%s is in another IPC namespace%s, %s", e.About(), than, e.ID)
}

// here says that the target is this IPC namespace, or from's.
func here(e, from *ns.Handle) string {
	if from != nil {
		return fmt.Sprintf("%s shares the IPC namespace of %s, %s", e.About(), from.About(), e.ID)
	}
	if e.PID == 0 {
		return fmt.Sprintf("%s is this IPC namespace, %s", e.Path, e.ID)
	}
	return fmt.Sprintf("%s shares this IPC namespace, %s", e.About(), e.ID)
}

// Summary answers, in one sentence, the two questions a run with kinds on
// both sides of the line asks: whether the child's IPC namespace is the
// parent's (this one, or with --from that one), and whether its /dev/shm
// is.
func Summary(w *run.Where, byIPC, shm bool) string {
	who, ipcRef, shmRef := "the child", "the parent's IPC namespace", "the parent's "+ipc.ShmDir
	if w.Target != nil {
		who, ipcRef, shmRef = w.Target.About(), "this IPC namespace", "this "+ipc.ShmDir
	}
	if w.From != nil {
		ipcRef, shmRef = "the IPC namespace of "+w.From.About(), "the "+ipc.ShmDir+" of "+w.From.About()
	}
	var s string
	switch {
	case byIPC && shm:
		s = fmt.Sprintf("%s shares %s and %s", who, ipcRef, shmRef)
	case shm:
		s = fmt.Sprintf("%s is in another IPC namespace, but shares %s", who, shmRef)
	case byIPC:
		s = fmt.Sprintf("%s shares %s, but has a %s of its own", who, ipcRef, ipc.ShmDir)
	default:
		s = fmt.Sprintf("%s is in another IPC namespace, and has a %s of its own", who, ipc.ShmDir)
	}
	return "In sum: " + s + "."
}
