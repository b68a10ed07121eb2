// compare.go: --compare, the classroom's one command. The parent reads the
// message once, sends a child in its own IPC namespace to deliver it, then
// a child in a new IPC namespace, and shows the two runs side by side.

package main

import (
	"cmp"
	"fmt"
	"invoke_ns/internal/ipc"
	"invoke_ns/internal/ns"
	"invoke_ns/internal/reexec"
	"invoke_ns/internal/term"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// compareRecord is what --json prints with --compare.
type compareRecord struct {
	Options    *jsonOptions `json:"options"`
	Message    *string      `json:"message"`
	Runs       []*record    `json:"runs"`
	Isolated   bool         `json:"isolated"`
	ElapsedMS  float64      `json:"elapsed_ms"`
	ExitStatus int          `json:"exit_status"`
	Error      string       `json:"error,omitempty"`
}

// compareRun is one column of the table.
type compareRun struct {
	name    string
	newIPC  bool
	title   string
	heading string // of its part of the -v transcript
}

// The two runs, in order; --target adds a third (targetRun).
var compareRuns = []compareRun{
	{"shared", false, "shared (-i no)", "--- the child in a shared IPC namespace ---"},
	{"new", true, "new (-i yes)", "--- the child in a new IPC namespace ---"},
}

var targetRun = compareRun{"target", false, "target", "--- the child in the target's IPC namespace ---"}

// runsOf are the runs of --compare with cfg's options.
func runsOf(cfg *config) []compareRun {
	if cfg.Target != "" {
		return append(slices.Clone(compareRuns), targetRun)
	}
	return compareRuns
}

func runCompare(cfg *config, out io.Writer, file *os.File, inherited []int) *outcome {
	start := time.Now()
	cr := &compareRecord{Options: newRecord(cfg).Options, Runs: []*record{}}
	o := compare(cfg, out, file, inherited, cr)
	if cfg.Verbose >= 1 {
		fmt.Fprintf(out, "Parent: %s - Finishing up\n", cfg.Prog)
	}
	if cfg.JSON {
		cr.ElapsedMS = float64(time.Since(start).Microseconds()) / 1000
		cr.ExitStatus, cr.Error = o.exitStatus(), o.errText()
		writeRecord(cr, o)
	}
	return o
}

func compare(cfg *config, out io.Writer, file *os.File, inherited []int, cr *compareRecord) *outcome {
	if cfg.Verbose >= 1 {
		fmt.Fprintf(out, "Parent: PID of parent is %d\n", os.Getpid())
	}
	// As in runSingle, the signals are caught while the children start,
	// and before the prompt: a signal before then finds nothing made.
	sigs := make(chan os.Signal, 4)
	caught := make(chan struct{})
	go func() { catchSignals(sigs); close(caught) }()
	var text string
	quiet := cfg.Verbose == 0
	p := &parent{cfg: cfg, out: out, childOut: file, inherited: inherited, sigs: sigs, caught: caught, quiet: quiet}
	if quiet {
		p.out, p.childOut = io.Discard, nil
	}
	objects := targets(cfg)
	var joined *ns.Handle
	var targetObjects []ipc.Object
	if cfg.Target != "" {
		var err error
		if joined, err = ns.Open("--target", cfg.Target); err != nil {
			return &outcome{err: err}
		}
		// The target's child looks for POSIX shared memory in the
		// target's /dev/shm, where the others look in their own.
		targetObjects = slices.Clone(objects)
		if err := lookInRoot(joined, targetObjects); err != nil {
			return &outcome{err: err}
		}
	}
	// The children start at once, each from a thread of its own, before
	// the message is read and the objects exist: each waits at its
	// checkpoint while its runtime comes up, and with all of them alive
	// together, each of their namespaces is its own, even where the kernel
	// would reuse a number. The runtime lets forks overlap, and a thread
	// that forked may wait for a CPU behind the very child it started, for
	// as long as a time slice: one fork does not wait for the other.
	type started struct {
		c   *reexec.Child
		err error
	}
	var specs []*runSpec
	starts := make([]chan started, len(runsOf(cfg)))
	for i, r := range runsOf(cfg) {
		spec := &runSpec{IPC: true, NewIPC: r.newIPC, Objects: objects, Message: &text, TryCreate: true, Quiet: quiet}
		var join *ns.Handle
		if r.name == targetRun.name {
			join, spec.Objects = joined, targetObjects
		}
		specs, starts[i] = append(specs, spec), make(chan started, 1)
		go func() {
			c, err := startChild(cfg, spec, p.childOut, inherited, join)
			starts[i] <- started{c, err}
		}()
	}
	var children []*reexec.Child
	defer func() {
		for _, c := range children {
			c.Kill()
			c.Close()
		}
	}()
	var err error
	for _, ch := range starts {
		st := <-ch
		if st.err != nil {
			err = cmp.Or(err, st.err)
			continue
		}
		children = append(children, st.c)
	}
	if err != nil {
		return &outcome{err: err}
	}
	<-caught
	msg, sig, err := promptOrSignal(out, sigs)
	switch {
	case sig != 0:
		return &outcome{signal: sig}
	case err != nil:
		return &outcome{err: &codeError{code: exitNoMessage, err: hint(fmt.Errorf("reading the message: %w", err),
			fmt.Sprintf("give one line of at most %d bytes", ipc.MessageMax))}}
	}
	text = string(msg)
	cr.Message = &text

	namespaces := shownNamespaces(cfg, true)
	parentNS := ns.IDs("self", namespaces)
	p.moref("Parent: namespaces %s\n", ns.Line(parentNS, namespaces))
	// One set of objects for both: the child in a new namespace cannot
	// reach them, and one that could would show it in the table.
	objs, err := p.createAll(specs[0])
	if err != nil {
		return &outcome{err: err}
	}
	if joined != nil {
		// The names, keys and identities settled in making them.
		for i := range targetObjects {
			targetObjects[i].Name, targetObjects[i].Key, targetObjects[i].ID = objects[i].Name, objects[i].Key, objects[i].ID
		}
	}
	// Each child's namespaces, read while all of them wait at their
	// checkpoints: none has gone, so none's can be another's number.
	recs := make([]*record, len(children))
	for i, c := range children {
		recs[i] = &record{Run: runsOf(cfg)[i].name, ParentNS: parentNS, Objects: []*objectRecord{}, start: time.Now(),
			ChildNS: ns.IDs(strconv.Itoa(c.PID), namespaces)}
	}
	// Quietly, the child in a new namespace can be let go at once: it can
	// reach none of the objects, and what it does meanwhile shows nowhere.
	// Not with POSIX shared memory it could reach (no -m), nor the target.
	if quiet && (cfg.NewMount || !slices.ContainsFunc(objects, func(t ipc.Object) bool { return t.Kind.InDevShm })) {
		if err := p.release(children[1], specs[1]); err != nil {
			p.removeAll(objects, objs)
			return &outcome{err: err}
		}
	}
	o := p.compareRuns(specs, children, objs, recs, namespaces, cr, joined)
	if err := p.removeAll(objects, objs); err != nil && o.err == nil {
		o.err = err
	}
	if o.err != nil || o.signal != 0 {
		return o
	}
	if cfg.Verbose >= 1 {
		io.WriteString(out, "\n")
	}
	printTable(out, cfg, objects, cr.Runs)
	cr.Isolated = isolated(cfg, cr.Runs[:2])
	io.WriteString(out, "\n")
	term.Sentence(out, "", conclusion(cfg, objects, cr.Isolated))
	if joined != nil {
		io.WriteString(out, "\n")
		term.Sentence(out, "", likeWhich(joined, cr.Runs))
	}
	return &outcome{exposed: !cr.Isolated}
}

// compareRuns drives each child through the objects in turn, the objects
// set back between them, and records each run. The children are waited
// for once the runs are done: a child has nothing left to do after its
// last report, so its end overlaps the next one's exchange.
func (p *parent) compareRuns(specs []*runSpec, children []*reexec.Child, objs []ipc.Receiver, recs []*record,
	namespaces []string, cr *compareRecord, target *ns.Handle) *outcome {
	var ran []*outcome
	done := true // whether the last run's child was let go
	for i, r := range runsOf(p.cfg) {
		p.printf("%s\n", r.heading)
		if r.name == targetRun.name {
			p.target, p.targetGone = target, ns.Watch(target.PID)
			recs[i].Target = newTargetRecord(target)
		}
		var o *outcome
		o, done = p.converse(children[i], specs[i], objs, recs[i], namespaces)
		ran = append(ran, o)
		for _, obj := range objs {
			obj.Reset()
		}
		// A verdict is a result to show; a failure or a signal ends it
		// here, a signal that came after the run too.
		select {
		case sig := <-p.sigs:
			o.signal = sig.(unix.Signal)
		default:
		}
		if o.err != nil || o.signal != 0 {
			break
		}
	}
	for i, o := range ran {
		if i < len(ran)-1 || done {
			p.awaitChild(children[i], o)
		}
		recs[i].finish(p.cfg, o)
		cr.Runs = append(cr.Runs, recs[i])
	}
	return ran[len(ran)-1]
}

// comparePrompt is --compare's: the parent reads the message for both
// children.
const comparePrompt = "\n     Parent: enter a message for both children to send (MAX 80 chars)\n     >> "

// promptOrSignal reads --compare's message, or gives the signal that came
// first; the prompt's line is then ended, so that what follows starts on
// a line of its own.
func promptOrSignal(out io.Writer, sigs <-chan os.Signal) ([]byte, unix.Signal, error) {
	type line struct {
		msg []byte
		err error
	}
	read := make(chan line, 1)
	go func() {
		msg, err := term.Prompt(os.Stdin, out, comparePrompt, ipc.MessageMax)
		read <- line{msg, err}
	}()
	select {
	case l := <-read:
		return l.msg, 0, l.err
	case sig := <-sigs:
		io.WriteString(out, "\n")
		return nil, sig.(unix.Signal), nil
	}
}

// expected is the verdict each run should give for t: what the IPC
// namespace isolates is blocked in the new one alone; POSIX shared memory
// crosses it, and is blocked in both only by a /dev/shm of the child's
// own (-m).
func expected(cfg *config, t ipc.Object) (shared, own verdict) {
	if t.Kind.InDevShm {
		if cfg.NewMount {
			return blocked, blocked
		}
		return delivered, delivered
	}
	return delivered, blocked
}

// isolated says whether every object gave the verdicts expected of it in
// both runs, each block for want of the name or key (ENOENT).
func isolated(cfg *config, runs []*record) bool {
	if len(runs) != 2 || len(runs[0].Objects) != len(cfg.Kinds) || len(runs[1].Objects) != len(cfg.Kinds) {
		return false
	}
	for i, t := range targets(cfg) {
		wantShared, wantOwn := expected(cfg, t)
		for r, want := range []verdict{wantShared, wantOwn} {
			got := runs[r].Objects[i]
			if got.Verdict != want || want == blocked && (got.ChildOpen == nil || got.ChildOpen.Errno != "ENOENT") {
				return false
			}
		}
	}
	return true
}

// conclusion says what the runs showed, each namespace for what it
// isolates.
func conclusion(cfg *config, objects []ipc.Object, shown bool) string {
	var byIPC, mnt []string
	for _, t := range objects {
		if t.Kind.InDevShm {
			mnt = append(mnt, t.Kind.Name)
		} else {
			byIPC = append(byIPC, t.Kind.Name)
		}
	}
	if !shown {
		s := "Isolation not shown: "
		if len(byIPC) > 0 {
			s += "with -i no the child should reach what the parent made, and with -i yes find none of it (ENOENT)"
		}
		if len(mnt) > 0 {
			if len(byIPC) > 0 {
				s += "; "
			}
			if cfg.NewMount {
				s += "POSIX shared memory should be out of reach of both children, each with a " + ipc.ShmDir + " of its own"
			} else {
				s += "POSIX shared memory should reach both children"
			}
		}
		return s + "."
	}
	var parts []string
	if len(byIPC) > 0 {
		parts = append(parts, "Isolation shown: the IPC namespace isolated "+list(byIPC)+": with -i no the child reached "+
			"what the parent made; with -i yes it could not even find it, and could create its own with the same "+
			nameOrKey(byIPC)+".")
	}
	if len(mnt) > 0 {
		if cfg.NewMount {
			parts = append(parts, "POSIX shared memory was out of reach of both children: each had a "+ipc.ShmDir+
				" of its own (-m); the IPC namespace has nothing to do with it.")
		} else {
			parts = append(parts, "POSIX shared memory crossed the IPC namespace: it is a file in "+ipc.ShmDir+
				", and only a private "+ipc.ShmDir+" (-m) stops it.")
		}
	}
	return strings.Join(parts, " ")
}

// likeWhich says which of the first two runs the target's behaved like.
func likeWhich(target *ns.Handle, runs []*record) string {
	same := func(a, b *record) bool {
		if len(a.Objects) != len(b.Objects) {
			return false
		}
		for i := range a.Objects {
			if a.Objects[i].Verdict != b.Objects[i].Verdict {
				return false
			}
		}
		return true
	}
	switch {
	case len(runs) < 3:
		return "The target's run did not take place."
	case same(runs[2], runs[0]):
		return "The target, " + target.About() + ", behaved like -i no: it shares this IPC namespace."
	case same(runs[2], runs[1]):
		return "The target, " + target.About() + ", behaved like -i yes: it is isolated from this IPC namespace."
	}
	return "The target, " + target.About() + ", behaved like neither run: see each kind's row."
}

// list is "mq", "mq and msg", "mq, msg and sem".
func list(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// printTable shows the runs side by side: the namespaces, then for each
// object its verdict and how it came about, within 80 columns.
func printTable(out io.Writer, cfg *config, objects []ipc.Object, runs []*record) {
	rows := [][]string{{""}}
	for i := range runs {
		rows[0] = append(rows[0], runsOf(cfg)[i].title)
	}
	row := func(label string, cell func(r *record) string) {
		cells := []string{label}
		for _, r := range runs {
			cells = append(cells, cell(r))
		}
		rows = append(rows, cells)
	}
	for _, ns := range shownNamespaces(cfg, true) {
		row("parent's "+ns+" namespace", func(r *record) string { return r.ParentNS[ns] })
		row("child's "+ns+" namespace", func(r *record) string { return r.ChildNS[ns] })
	}
	for i, t := range objects {
		obj := func(r *record) *objectRecord {
			if i < len(r.Objects) {
				return r.Objects[i]
			}
			return &objectRecord{}
		}
		row(t.Label(), func(r *record) string {
			if obj(r).Verdict == verdictNone {
				return "not tried"
			}
			return obj(r).Verdict.String()
		})
		row("  child's "+t.Kind.Lookup, func(r *record) string { return openCell(obj(r).ChildOpen) })
		row("  what arrived", func(r *record) string { return arrivedCell(t, obj(r)) })
		row("  child creates its own", func(r *record) string { return createCell(obj(r).ChildCreate) })
	}
	term.Table(out, rows)
}

func openCell(o *openResult) string {
	switch {
	case o == nil:
		return "-"
	case o.Result == "ok":
		return "ok"
	case o.Result == "not-ours":
		return "not the parent's"
	}
	return fmt.Sprintf("%s (%s)", o.Errno, o.Error)
}

func arrivedCell(t ipc.Object, o *objectRecord) string {
	switch {
	case !o.Delivered:
		return "nothing"
	case !t.Kind.CarriesText:
		return "a signal (no text)"
	}
	return strconv.Quote(*o.Message)
}

func createCell(o *openResult) string {
	switch {
	case o == nil:
		return "-"
	case o.Result == "ok":
		return "created, then removed"
	}
	return fmt.Sprintf("no: %s (%s)", o.Errno, o.Error)
}

// nameOrKey words the closing sentence for the kinds compared.
func nameOrKey(kinds []string) string {
	byName, byKey := false, false
	for _, k := range kinds {
		byName = byName || kindNamed(k).ByName
		byKey = byKey || !kindNamed(k).ByName
	}
	switch {
	case byName && byKey:
		return "name and key"
	case byKey:
		return "key"
	}
	return "name"
}
