// compare.go: --compare's view: the runs side by side in a table within
// 80 columns, and the sentences that say what they showed.

package show

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"invoke_ns/internal/ipc"
	"invoke_ns/internal/ns"
	"invoke_ns/internal/reexec"
	"invoke_ns/internal/run"
	"invoke_ns/internal/term"

	"golang.org/x/sys/unix"
)

// titles of the runs' columns.
var titles = map[string]string{"shared": "shared (-i no)", "new": "new (-i yes)", "target": "target"}

// Compare shows what the runs came to: the table, what they showed, and
// which the target's behaved like.
func Compare(w io.Writer, c *run.Compared, verbose int) {
	if verbose >= 1 {
		io.WriteString(w, "\n")
	}
	table(w, c)
	if len(c.Runs) > 0 && c.Runs[0].ParentLimits != nil {
		heads, sets := []string{"parent's"}, []ipc.Limits{c.Runs[0].ParentLimits}
		for _, r := range c.Runs {
			heads, sets = append(heads, titles[r.Where.Run]), append(sets, r.ChildLimits)
		}
		io.WriteString(w, "\n")
		var b strings.Builder
		if LimitsTable(&b, heads, sets, verbose >= 2) == 0 {
			term.Sentence(w, "", "IPC limits: the same in every namespace, each read there (-vv shows them).")
		} else {
			io.WriteString(w, "IPC limits, each read in its namespace (* differs from the parent's):\n"+b.String())
		}
	}
	io.WriteString(w, "\n")
	term.Sentence(w, "", conclusion(c))
	if c.Target != nil {
		io.WriteString(w, "\n")
		term.Sentence(w, "", likeWhich(c.Target, c.Runs))
	}
}

// table shows the runs side by side: the namespaces, then for each object
// its verdict and how it came about.
func table(w io.Writer, c *run.Compared) {
	rows := [][]string{{""}}
	for _, r := range c.Runs {
		rows[0] = append(rows[0], titles[r.Where.Run])
	}
	row := func(label string, cell func(r *run.Result) string) {
		cells := []string{label}
		for _, r := range c.Runs {
			cells = append(cells, cell(r))
		}
		rows = append(rows, cells)
	}
	for _, t := range ns.Types {
		if _, shown := c.Runs[0].ParentNS[t.Name]; !shown {
			continue
		}
		row("parent's "+t.Name+" namespace", func(r *run.Result) string { return r.ParentNS[t.Name] })
		row("child's "+t.Name+" namespace", func(r *run.Result) string { return r.ChildNS[t.Name] })
	}
	for i, o := range c.Kinds {
		x := func(r *run.Result) *run.Exchange {
			if i < len(r.Exchanges) {
				return r.Exchanges[i]
			}
			return &run.Exchange{Object: o}
		}
		row(o.Label(), func(r *run.Result) string { return exchangeCell(x(r)) })
		if o.Kind.PerUser {
			row("  child's mq_open", func(r *run.Result) string { return sentCell(x(r).Report) })
			row("  parent's, after it", func(r *run.Result) string { return afterCell(x(r)) })
			continue
		}
		row("  child's "+o.Kind.Lookup, func(r *run.Result) string { return openCell(x(r).Report) })
		row("  what arrived", func(r *run.Result) string { return arrivedCell(x(r)) })
		row("  child creates its own", func(r *run.Result) string { return createCell(x(r).Report) })
	}
	term.Table(w, rows)
}

// LimitsTable shows IPC namespaces' limits side by side, under heads, the
// first's against each other's: every one with all, else those that
// differ somewhere; a value that differs from the first's is marked "*".
// It says how many it showed.
func LimitsTable(w io.Writer, heads []string, sets []ipc.Limits, all bool) int {
	rows := [][]string{append([]string{""}, heads...)}
	for _, l := range sets[0] {
		row, differs := []string{l.Name, l.Value}, false
		for _, set := range sets[1:] {
			v := set.Get(l.Name)
			switch {
			case v == "":
				v = "?"
			case v != l.Value:
				v, differs = v+" *", true
			}
			row = append(row, v)
		}
		if all || differs {
			rows = append(rows, row)
		}
	}
	if len(rows) > 1 {
		term.Table(w, rows)
	}
	return len(rows) - 1
}

// errnoCell is an errno as a cell: "ENOENT (No such file or directory)".
func errnoCell(e unix.Errno) string {
	return fmt.Sprintf("%s (%s)", unix.ErrnoName(e), ipc.Strerror(e))
}

// exchangeCell is an exchange's verdict, the budget's in its own words.
func exchangeCell(x *run.Exchange) string {
	switch {
	case x.Verdict == run.None:
		return "not tried"
	case x.Object.Kind.PerUser && x.Verdict == run.Delivered:
		return "crossed"
	}
	return x.Verdict.String()
}

// sentCell is how the child's own queue of the budget went.
func sentCell(r *reexec.Report) string {
	switch {
	case r == nil:
		return "-"
	case r.Tried == reexec.SendFailed:
		return errnoCell(r.Errno)
	}
	return "made one"
}

// afterCell is how the parent's try after the child's queue went.
func afterCell(x *run.Exchange) string {
	switch x.Verdict {
	case run.Delivered:
		return "EMFILE: no room left"
	case run.Blocked:
		return "made one"
	case run.Unlimited:
		return "not limited"
	}
	return "-"
}

func openCell(r *reexec.Report) string {
	switch {
	case r == nil:
		return "-"
	case r.Tried == reexec.NotOurs:
		return "not the parent's"
	case r.Tried == reexec.OpenFailed:
		return errnoCell(r.Errno)
	}
	return "ok"
}

func arrivedCell(x *run.Exchange) string {
	switch {
	case !x.Arrived:
		return "nothing"
	case !x.Object.Kind.CarriesText:
		return "a signal (no text)"
	}
	return strconv.Quote(string(x.Message))
}

func createCell(r *reexec.Report) string {
	switch {
	case r == nil || !r.CreateTried:
		return "-"
	case r.CreateErrno == 0:
		return "created, then removed"
	}
	return "no: " + errnoCell(r.CreateErrno)
}

// conclusion says what the runs showed, each namespace for what it
// isolates.
func conclusion(c *run.Compared) string {
	var byIPC, mnt []string
	budget := false
	for _, t := range c.Kinds {
		switch {
		case t.Kind.PerUser:
			budget = true
		case t.Kind.InDevShm:
			mnt = append(mnt, t.Kind.Name)
		default:
			byIPC = append(byIPC, t.Kind.Name)
		}
	}
	newMount := c.Runs[0].Where.NewMount
	if !c.Isolated {
		s := "Isolation not shown: "
		if len(byIPC) > 0 {
			s += "with -i no the child should reach what the parent made, and with -i yes find none of it (ENOENT)"
		}
		if len(mnt) > 0 {
			if len(byIPC) > 0 {
				s += "; "
			}
			if newMount {
				s += "POSIX shared memory should be out of reach of both children, each with a " + ipc.ShmDir + " of its own"
			} else {
				s += "POSIX shared memory should reach both children"
			}
		}
		if budget {
			if len(byIPC)+len(mnt) > 0 {
				s += "; "
			}
			s += "the queue budget should cross both"
		}
		return s + "."
	}
	var parts []string
	if len(byIPC) > 0 {
		parts = append(parts, "Isolation shown: the IPC namespace isolated "+List(byIPC)+": with -i no the child reached "+
			"what the parent made; with -i yes it could not even find it, and could create its own with the same "+
			nameOrKey(c.Kinds)+".")
	}
	if len(mnt) > 0 {
		if newMount {
			parts = append(parts, "POSIX shared memory was out of reach of both children: each had a "+ipc.ShmDir+
				" of its own (-m); the IPC namespace has nothing to do with it.")
		} else {
			parts = append(parts, "POSIX shared memory crossed the IPC namespace: it is a file in "+ipc.ShmDir+
				", and only a private "+ipc.ShmDir+" (-m) stops it.")
		}
	}
	if budget {
		parts = append(parts, "The queue budget crossed both: a child's queue, in either IPC namespace, left the "+
			"parent no room for one, since its user pays for it.")
	}
	return strings.Join(parts, " ")
}

// likeWhich says which of the first two runs the target's behaved like.
func likeWhich(target *ns.Handle, runs []*run.Result) string {
	same := func(a, b *run.Result) bool {
		if len(a.Exchanges) != len(b.Exchanges) {
			return false
		}
		for i := range a.Exchanges {
			if a.Exchanges[i].Verdict != b.Exchanges[i].Verdict {
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

// List is "mq", "mq and msg", "mq, msg and sem".
func List(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// nameOrKey words the closing sentence for the kinds the IPC namespace
// isolates among objs.
func nameOrKey(objs []ipc.Object) string {
	byName, byKey := false, false
	for _, o := range objs {
		if o.Kind.Isolated() {
			byName = byName || o.Kind.ByName
			byKey = byKey || o.Kind.SysV()
		}
	}
	switch {
	case byName && byKey:
		return "name and key"
	case byKey:
		return "key"
	}
	return "name"
}
