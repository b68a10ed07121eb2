// compare.go: --compare, the classroom's one command. The parent reads the
// message once, sends a child in its own IPC namespace to deliver it, then
// a child in a new IPC namespace, and shows the two runs side by side.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
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

func runCompare(cfg *config, out io.Writer) error {
	start := time.Now()
	cr := &compareRecord{Options: newRecord(cfg).Options, Runs: []*record{}}
	err := compare(cfg, out, cr)
	if cfg.Verbose {
		fmt.Fprintf(out, "Parent: %s - Finishing up\n", cfg.Prog)
	}
	if cfg.JSON {
		cr.ElapsedMS = float64(time.Since(start).Microseconds()) / 1000
		cr.ExitStatus, cr.Error = statusOf(err), errText(err)
		err = writeVerdict(cr, err)
	}
	return err
}

func compare(cfg *config, out io.Writer, cr *compareRecord) error {
	if cfg.Verbose {
		fmt.Fprintf(out, "Parent: PID of parent is %d\n", os.Getpid())
	}
	// Read before signals are caught: Ctrl-C at this prompt just ends
	// invoke_ns, which has made nothing yet.
	msg, err := promptMessage(os.Stdin, out, comparePrompt)
	if err != nil {
		return &statusError{code: exitNoMessage, err: hint(fmt.Errorf("reading the message: %w", err),
			fmt.Sprintf("give one line of at most %d bytes", messageMax))}
	}
	sigs := make(chan os.Signal, 4)
	catchSignals(sigs)
	text := string(msg)
	cr.Message = &text
	for _, r := range compareRuns {
		run := *cfg
		run.IPC, run.NewIPC, run.Message, run.TryCreate, run.Quiet = true, r.newIPC, &text, true, !cfg.Verbose
		runOut := out
		if run.Quiet {
			runOut = io.Discard
		}
		fmt.Fprintf(runOut, "--- the child in a %s IPC namespace ---\n", strings.Fields(r.title)[0])
		p := newParent(&run, runOut, sigs)
		p.rec.Options, p.rec.Run = nil, r.name
		c, err := startChild(&run, runOut)
		p.showNamespaces()
		if err == nil {
			err = p.withObjects(c)
		}
		p.rec.finish(&run, err)
		cr.Runs = append(cr.Runs, p.rec)
		// A verdict is a result to show; anything else ends it here.
		var st *statusError
		if err != nil && (!errors.As(err, &st) || st.err != nil) {
			return err
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
		return &statusError{code: exitExposed}
	}
	fmt.Fprintf(out, "\nIsolation shown: with -i no the child reached what the parent made;\n"+
		"with -i yes it could not even find it, and could create its own with the same %s.\n", nameOrKey(cfg))
	return nil
}

// isolated says whether every object was delivered in the shared
// namespace and not found in the new one.
func isolated(cfg *config, runs []*record) bool {
	if len(runs) != 2 || len(runs[0].Objects) != len(cfg.Kinds) || len(runs[1].Objects) != len(cfg.Kinds) {
		return false
	}
	for i := range cfg.Kinds {
		shared, own := runs[0].Objects[i], runs[1].Objects[i]
		if shared.Verdict != "delivered" || own.Verdict != "blocked" || own.ChildOpen.Errno != "ENOENT" {
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
	for _, kind := range nsKinds(&config{IPC: true, NewPID: cfg.NewPID, NewMount: cfg.NewMount,
		Hostname: cfg.Hostname, NewNet: cfg.NewNet, NewUser: cfg.NewUser}) {
		row("parent's "+kind+" namespace", func(r *record) string { return r.ParentNS[kind] })
		row("child's "+kind+" namespace", func(r *record) string { return r.ChildNS[kind] })
	}
	for i, t := range targets(cfg) {
		obj := func(r *record) *objectRecord {
			if i < len(r.Objects) {
				return r.Objects[i]
			}
			return &objectRecord{Verdict: "not tried"}
		}
		row(t.label(), func(r *record) string { return obj(r).Verdict })
		row("  child's "+t.lookup(), func(r *record) string { return openCell(obj(r).ChildOpen) })
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
	case !t.carriesText():
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
	switch {
	case !cfg.hasSysV():
		return "name"
	case slices.Contains(cfg.Kinds, kindMQ):
		return "name and key"
	}
	return "key"
}
