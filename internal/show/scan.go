// scan.go: --scan's view of a node: a line for each container, and for
// each IPC namespace that no container owns, within 80 columns; which
// share the host's IPC namespace or its /dev/shm, what the probes proved,
// why a probe proved nothing, and what could not be read. Every name
// from outside (a process's, a container's) is shown escaped.

package show

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"invoke_ns/internal/ipc"
	"invoke_ns/internal/node"
	"invoke_ns/internal/ns"
	"invoke_ns/internal/reexec"
	"invoke_ns/internal/run"
	"invoke_ns/internal/term"

	"golang.org/x/sys/unix"
)

// Scan shows the node: a table, which containers share the host's IPC
// namespace and /dev/shm, whose IPC limits differ from the host's (with
// -v, which), and what could not be read or proved.
func Scan(w io.Writer, n *node.Node, probed bool, verbose int) {
	same := "HOST"
	if n.From != nil || !n.HostSeen {
		same = "SAME"
	}
	rows := [][]string{{"IPC", "NPROCS", "PID", "COMMAND", "CONTAINER", same + " IPC", same + " SHM"}}
	if probed {
		rows[0] = append(rows[0], "VERDICT")
	}
	for _, r := range n.Rows {
		command := term.Escape(r.Task.Comm)
		if r.Task.TID != 0 {
			command = fmt.Sprintf("%s (thread %d)", command, r.Task.TID)
		}
		byIPC, _ := r.Shares(false)
		byShm, _ := r.Shares(true)
		shm := yesNo(byShm)
		if shm == "yes" && r.ShmReadOnly {
			shm = "yes (ro)"
		}
		row := []string{number(r.Namespace.IPC), strconv.Itoa(r.Processes), strconv.Itoa(r.Task.PID), command,
			term.Escape(r.Container.String()), yesNo(byIPC), shm}
		if probed {
			row = append(row, verdictCell(r.Probe))
		}
		rows = append(rows, row)
	}
	term.Table(w, rows)
	io.WriteString(w, "\n")
	ipcNS, shm := "the host's IPC namespace", "the host's /dev/shm"
	switch {
	case n.From != nil:
		ipcNS, shm = "the IPC namespace of "+n.From.About(), "the /dev/shm of "+n.From.About()
	case !n.HostSeen:
		ipcNS, shm = "invoke_ns's own IPC namespace", "invoke_ns's own /dev/shm"
	}
	term.Sentence(w, "", sharing(n.Rows, false, "Sharing "+ipcNS, probed))
	term.Sentence(w, "", sharing(n.Rows, true, "Sharing "+shm, probed))
	switch {
	case n.HostSeen || n.From != nil:
	case n.HostUnread != "":
		term.Sentence(w, "", "(the host's namespaces cannot be read: "+n.HostUnread+")")
	default:
		term.Sentence(w, "", "(the host's namespaces cannot be seen from here: PID 2 is no kernel thread; "+
			"run with the host's PIDs, as docker run --pid=host or hostPID: true)")
	}
	for _, note := range limitsNotes(n, verbose) {
		term.Sentence(w, "", note)
	}
	for _, note := range ProbeNotes(n.Rows) {
		term.Sentence(w, "", note)
	}
	for _, note := range UnreadableNotes(n.Hidden) {
		term.Sentence(w, "", note)
	}
	for _, l := range n.Leftovers {
		term.Sentence(w, "", "("+leftover(l.Object)+")")
	}
}

// limitsNotes name the containers, and the namespaces of no container,
// whose IPC limits, as their probes read them, differ from those of the
// namespace they are held against; with verbose, which, and how.
func limitsNotes(n *node.Node, verbose int) []string {
	if n.HostLimits == nil || !n.Held() {
		return nil
	}
	theirs := "the host's IPC namespace"
	if n.From != nil {
		theirs = "the IPC namespace of " + n.From.About()
	}
	var names, notes []string
	for _, r := range n.Rows {
		diff := r.Limits.Diff(n.HostLimits)
		if len(diff) == 0 {
			continue
		}
		name := term.Escape(r.Container.String())
		if r.Container.Engine == "" {
			name = "IPC namespace " + number(r.Namespace.IPC) + " (" + term.Escape(r.Task.Comm) + ")"
		}
		names, notes = append(names, name), append(notes, name+": "+strings.Join(diff, ", "))
	}
	switch {
	case len(names) == 0:
		return nil
	case verbose >= 1:
		return append([]string{"IPC limits other than in " + theirs + ", each read in its namespace:"}, notes...)
	}
	return []string{"IPC limits other than in " + theirs + ": " + List(names) + " (-v says which)."}
}

// verdictCell is a row's verdict, or "-" where it was not probed.
func verdictCell(r *run.Result) string {
	if r == nil {
		return "-"
	}
	return probeOutcome(r).String()
}

// probeOutcome is a probe's verdict: its run's, or failed where it failed as
// a whole.
func probeOutcome(r *run.Result) run.Verdict {
	if r.Err != nil && !errors.Is(r.Err, run.ErrInterfered) {
		return run.Failed
	}
	return r.Outcome()
}

// sharing is the summary's sentence for one side: the containers that
// share it, as the kernel says; with probes, said proved by a message
// where each was, and naming those whose probe proved nothing, with its
// verdict; and those whose answer is unknown.
func sharing(rows []*node.Row, inDevShm bool, what string, probed bool) string {
	var yes, unknown, unproved []string
	proved, containers := true, 0
	for _, r := range rows {
		if r.Container.Engine == "" {
			continue
		}
		containers++
		name := term.Escape(r.Container.String())
		answer, byMessage := r.Shares(inDevShm)
		proved = proved && byMessage
		switch {
		case answer == nil:
			unknown = append(unknown, name)
		case *answer:
			if inDevShm && r.ShmReadOnly {
				name += " (read-only)"
			}
			yes = append(yes, name)
			if probed && !byMessage {
				unproved = append(unproved, name+": "+verdictCell(r.Probe))
			}
		}
	}
	if proved && containers > 0 {
		what += ", proved by a message"
	}
	s := what + ": " + names(yes)
	if len(unproved) > 0 && len(unproved) < len(yes) {
		slices.Sort(unproved)
		s += " (proved by a message, but for " + List(unproved) + ")"
	} else if len(unproved) > 0 {
		s += " (by the kernel's identities; no message proved it: " + List(unproved) + ")"
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		s += " (unknown for " + List(unknown) + ")"
	}
	return s + "."
}

// ProbeNotes say why a probe proved nothing: a failure with its cause,
// interference, a task gone; one note a row.
func ProbeNotes(rows []*node.Row) []string {
	var notes []string
	for _, r := range rows {
		if r.Probe == nil {
			continue
		}
		why := Why(r.Probe)
		if why == "" {
			continue
		}
		who := r.Task.String()
		if r.Container.Engine != "" {
			who = term.Escape(r.Container.String()) + ", " + who
		}
		notes = append(notes, "("+who+": "+why+")")
	}
	return notes
}

// Why says why a probe's verdict is neither delivered nor blocked: ""
// where it is one of those.
func Why(r *run.Result) string {
	if errors.Is(r.Err, run.ErrInterfered) {
		return r.Err.Error()
	}
	if r.Err != nil {
		return "the probe failed: " + r.Err.Error()
	}
	for _, x := range r.Exchanges {
		if s := exchangeWhy(x); s != "" {
			return s
		}
	}
	return ""
}

// exchangeWhy says why one exchange of a probe came to neither delivered
// nor blocked.
func exchangeWhy(x *run.Exchange) string {
	o := x.Object
	switch x.Verdict {
	case run.Interfered:
		return interference(x)
	case run.Gone:
		return "it ended, or its PID names another process now, before it was probed: not proved"
	case run.LookupFailed:
		return fmt.Sprintf("%s failed: %s", o.Kind.Lookup, errnoWhy(x.Report.Errno))
	case run.SendFailed:
		return fmt.Sprintf("%s failed: %s", o.Kind.SendOp, errnoWhy(x.Report.Errno))
	case run.TimedOut:
		return fmt.Sprintf("the probe was held up for longer than -t on the %s", o)
	case run.Taken:
		return fmt.Sprintf("another process took the probe's %s from the %s", o.Kind.What(), o)
	}
	return ""
}

// interference says what another process did to an exchange, where the
// kernel says the namespace is the parent's.
func interference(x *run.Exchange) string {
	o, w := x.Object, x.Where
	place := "the IPC namespace the kernel says is the one the objects are in"
	if o.Kind.InDevShm {
		place = "the " + ipc.ShmDir + " the kernel says is the one the objects are in"
	}
	switch {
	case x.Disowned:
		return fmt.Sprintf("interfered with: another process removed or replaced the %s during the exchange; "+
			"what has the name now is left alone", o)
	case x.Report != nil && x.Report.Tried == reexec.NotOurs:
		return fmt.Sprintf("interfered with: in %s, %s is another object, not the one made: another process "+
			"replaced it; what has the name now is left alone", place, o.Bare())
	case x.Report != nil && x.Report.Tried != reexec.Sent:
		return fmt.Sprintf("interfered with: in %s, there is no %s: another process removed it", place, o.Bare())
	case w != nil && w.Target == nil:
		return "interfered with"
	}
	return fmt.Sprintf("interfered with: what arrived through the %s is not what was sent", o)
}

// errnoWhy is an errno's words, with what to do where something can be.
func errnoWhy(e unix.Errno) string { return ipc.ErrnoWords(e) }

// leftover names an object an earlier run or probe left, and the
// command that removes it.
func leftover(o ipc.Object) string {
	return fmt.Sprintf("left behind by an earlier run: the %s (%s removes it)", o, o.Removal())
}

// names lists the containers, sorted, or says there are none.
func names(list []string) string {
	if len(list) == 0 {
		return "no container"
	}
	slices.Sort(list)
	return strings.Join(list, ", ")
}

// yesNo is a cell of a known answer, or "?".
func yesNo(b *bool) string {
	switch {
	case b == nil:
		return "?"
	case *b:
		return "yes"
	}
	return "no"
}

// number is the number in a namespace identity: "ipc:[4026531839]" gives
// "4026531839".
func number(id string) string {
	if i, j := strings.Index(id, "["), strings.Index(id, "]"); i >= 0 && j > i {
		return id[i+1 : j]
	}
	return id
}

// UnreadableNotes say why some namespaces are missing from the list:
// processes that refuse even root, named, since nothing will show them;
// and another user's, which root can see.
func UnreadableNotes(unreadable []ns.Hidden) []string {
	var refusing []string
	others, noPtrace := 0, 0
	for _, h := range unreadable {
		switch {
		case h.RefusesRoot:
			refusing = append(refusing, fmt.Sprintf("%d (%s)", h.PID, term.Escape(h.Comm)))
		case h.NoPtrace:
			noPtrace++
		default:
			others++
		}
	}
	var notes []string
	switch n := len(refusing); {
	case n == 1:
		notes = append(notes, "(process "+refusing[0]+" refuses even root, with CAP_SYS_PTRACE: its namespaces "+
			"cannot be read)")
	case n > 1:
		notes = append(notes, "(processes "+List(refusing)+" refuse even root, with CAP_SYS_PTRACE: their "+
			"namespaces cannot be read)")
	}
	if noPtrace > 0 {
		notes = append(notes, fmt.Sprintf("(the namespaces of %d %s could not be read: root here lacks "+
			"CAP_SYS_PTRACE — give it that, as the DaemonSet of deploy/kubernetes does)", noPtrace,
			map[bool]string{true: "process", false: "processes"}[noPtrace == 1]))
	}
	switch {
	case others == 1:
		notes = append(notes, "(the namespaces of 1 process of another user could not be read: run as root to see them)")
	case others > 1:
		notes = append(notes, fmt.Sprintf("(the namespaces of %d processes of other users could not be read: "+
			"run as root to see them)", others))
	}
	return notes
}
