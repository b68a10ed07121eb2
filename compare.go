// compare.go: --compare, the classroom's one command. The parent reads the
// message once, sends a child in its own IPC namespace to deliver it, then
// a child in a new IPC namespace, and shows the two runs side by side.

package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
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

// The two runs, in order.
var compareRuns = []struct {
	name   string
	newIPC bool
	title  string
}{
	{"shared", false, "shared (-i no)"},
	{"new", true, "new (-i yes)"},
}

func runCompare(cfg *config, out io.Writer, file *os.File) *outcome {
	start := time.Now()
	cr := &compareRecord{Options: newRecord(cfg).Options, Runs: []*record{}}
	o := compare(cfg, out, file, cr)
	if cfg.Verbose {
		fmt.Fprintf(out, "Parent: %s - Finishing up\n", cfg.Prog)
	}
	if cfg.JSON {
		cr.ElapsedMS = float64(time.Since(start).Microseconds()) / 1000
		cr.ExitStatus, cr.Error = o.exitStatus(), o.errText()
		writeRecord(cr, o)
	}
	return o
}

func compare(cfg *config, out io.Writer, file *os.File, cr *compareRecord) *outcome {
	if cfg.Verbose {
		fmt.Fprintf(out, "Parent: PID of parent is %d\n", os.Getpid())
	}
	// Read before signals are caught: Ctrl-C at this prompt just ends
	// invoke_ns, which has made nothing yet.
	msg, err := promptMessage(os.Stdin, out, comparePrompt)
	if err != nil {
		return &outcome{err: &codeError{code: exitNoMessage, err: hint(fmt.Errorf("reading the message: %w", err),
			fmt.Sprintf("give one line of at most %d bytes", messageMax))}}
	}
	sigs := make(chan os.Signal, 4)
	catchSignals(sigs)
	caught := make(chan struct{})
	close(caught)
	text := string(msg)
	cr.Message = &text
	for _, r := range compareRuns {
		spec := &runSpec{IPC: true, NewIPC: r.newIPC, Objects: targets(cfg), Message: &text,
			TryCreate: true, Quiet: !cfg.Verbose}
		runOut, childOut := out, file
		if spec.Quiet {
			runOut, childOut = io.Discard, nil
		}
		fmt.Fprintf(runOut, "--- the child in a %s IPC namespace ---\n", strings.Fields(r.title)[0])
		p := &parent{cfg: cfg, out: runOut, childOut: childOut, sigs: sigs, caught: caught, quiet: spec.Quiet}
		rec := &record{Run: r.name, Objects: []*objectRecord{}, start: time.Now()}
		o := p.runOnce(spec, rec)
		rec.finish(cfg, o)
		cr.Runs = append(cr.Runs, rec)
		// A verdict is a result to show; a failure or a signal ends it
		// here, a signal that came after the run's own wait too.
		select {
		case sig := <-sigs:
			o.signal = sig.(unix.Signal)
		default:
		}
		if o.err != nil || o.signal != 0 {
			return o
		}
	}
	if cfg.Verbose {
		io.WriteString(out, "\n")
	}
	printTable(out, cfg, cr.Runs)
	cr.Isolated = isolated(cfg, cr.Runs)
	if !cr.Isolated {
		fmt.Fprintf(out, "\nIsolation not shown: with -i no the child should reach what the parent made,\n"+
			"and with -i yes find none of it (ENOENT).\n")
		return &outcome{exposed: true}
	}
	fmt.Fprintf(out, "\nIsolation shown: with -i no the child reached what the parent made;\n"+
		"with -i yes it could not even find it, and could create its own with the same %s.\n", nameOrKey(cfg))
	return &outcome{}
}

// isolated says whether every object was delivered in the shared
// namespace and not found in the new one.
func isolated(cfg *config, runs []*record) bool {
	if len(runs) != 2 || len(runs[0].Objects) != len(cfg.Kinds) || len(runs[1].Objects) != len(cfg.Kinds) {
		return false
	}
	for i := range cfg.Kinds {
		shared, own := runs[0].Objects[i], runs[1].Objects[i]
		if shared.Verdict != delivered || own.Verdict != blocked || own.ChildOpen == nil || own.ChildOpen.Errno != "ENOENT" {
			return false
		}
	}
	return true
}

// printTable shows the two runs side by side: the namespaces, then for
// each object its verdict and how it came about.
func printTable(out io.Writer, cfg *config, runs []*record) {
	tw := tabwriter.NewWriter(out, 0, 8, 3, ' ', 0)
	row := func(label string, cell func(r *record) string) {
		cells := []string{label}
		for _, r := range runs {
			cells = append(cells, cell(r))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	header := []string{""}
	for i := range runs {
		header = append(header, compareRuns[i].title)
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, ns := range shownNamespaces(cfg, true) {
		row("parent's "+ns+" namespace", func(r *record) string { return r.ParentNS[ns] })
		row("child's "+ns+" namespace", func(r *record) string { return r.ChildNS[ns] })
	}
	for i, t := range targets(cfg) {
		obj := func(r *record) *objectRecord {
			if i < len(r.Objects) {
				return r.Objects[i]
			}
			return &objectRecord{}
		}
		row(t.label(), func(r *record) string {
			if obj(r).Verdict == verdictNone {
				return "not tried"
			}
			return obj(r).Verdict.String()
		})
		row("  child's "+t.kind().lookup, func(r *record) string { return openCell(obj(r).ChildOpen) })
		row("  what arrived", func(r *record) string { return arrivedCell(t, obj(r)) })
		row("  child creates its own", func(r *record) string { return createCell(obj(r).ChildCreate) })
	}
	tw.Flush()
}

func openCell(o *openResult) string {
	switch {
	case o == nil:
		return "-"
	case o.Result == "ok":
		return "ok"
	}
	return fmt.Sprintf("%s (%s)", o.Error, o.Errno)
}

func arrivedCell(t target, o *objectRecord) string {
	switch {
	case !o.Delivered:
		return "nothing"
	case !t.kind().carriesText:
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
	return fmt.Sprintf("no: %s (%s)", o.Error, o.Errno)
}

// nameOrKey words the closing sentence for the kinds compared.
func nameOrKey(cfg *config) string {
	byName, byKey := false, false
	for _, t := range targets(cfg) {
		byName = byName || t.kind().byName
		byKey = byKey || !t.kind().byName
	}
	switch {
	case byName && byKey:
		return "name and key"
	case byKey:
		return "key"
	}
	return "name"
}
