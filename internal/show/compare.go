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
		row(o.Label(), func(r *run.Result) string {
			if x(r).Verdict == run.None {
				return "not tried"
			}
			return x(r).Verdict.String()
		})
		row("  child's "+o.Kind.Lookup, func(r *run.Result) string { return openCell(x(r).Report) })
		row("  what arrived", func(r *run.Result) string { return arrivedCell(x(r)) })
		row("  child creates its own", func(r *run.Result) string { return createCell(x(r).Report) })
	}
	term.Table(w, rows)
}

// errnoCell is an errno as a cell: "ENOENT (No such file or directory)".
func errnoCell(e unix.Errno) string {
	return fmt.Sprintf("%s (%s)", unix.ErrnoName(e), ipc.Strerror(e))
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
	for _, t := range c.Kinds {
		if t.Kind.InDevShm {
			mnt = append(mnt, t.Kind.Name)
		} else {
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
		if !o.Kind.InDevShm {
			byName = byName || o.Kind.ByName
			byKey = byKey || !o.Kind.ByName
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
