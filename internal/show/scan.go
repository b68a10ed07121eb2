// scan.go: --scan's view: every IPC namespace a process is in, a line
// each within 80 columns, with what the probe proved of each, and why some
// could not be read.

package show

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"invoke_ns/internal/ns"
	"invoke_ns/internal/run"
	"invoke_ns/internal/term"
)

// Namespace is one IPC namespace found, as --scan shows it.
type Namespace struct {
	IPC       string       `json:"ipc"`
	UserNS    string       `json:"user_namespace"`
	Processes int          `json:"processes"`
	PID       int          `json:"pid"`
	TID       int          `json:"tid,omitempty"` // where only a thread of PID is in it
	Command   string       `json:"command"`
	Container string       `json:"container"`
	Own       bool         `json:"own"`
	Verdict   *run.Verdict `json:"verdict,omitempty"` // with --probe
	// With --probe, the two questions apart (Record's fields).
	SharesIPC    *bool `json:"shares_ipc_namespace,omitempty"`
	SharesDevShm *bool `json:"shares_dev_shm,omitempty"`
}

// ScanRecord is what --scan --json prints.
type ScanRecord struct {
	Namespaces []*Namespace `json:"namespaces"`
	Unreadable int          `json:"unreadable"` // processes whose namespaces could not be read
	ExitStatus int          `json:"exit_status"`
	Error      string       `json:"error,omitempty"`
}

// Scanned is f as --scan shows it, with what its probe came to, if it
// was probed.
func Scanned(f *ns.Found, probe *run.Result) *Namespace {
	n := &Namespace{IPC: f.ID, UserNS: f.Owner, Processes: len(f.PIDs), PID: f.PID, TID: f.TID,
		Command: ns.Comm(f.PID), Container: ns.ContainerOf(f.PID), Own: f.Own}
	if probe != nil {
		v := probe.Outcome()
		if probe.Err != nil {
			v = run.Failed
		}
		n.Verdict, n.SharesIPC, n.SharesDevShm = &v, probe.Shares(false), probe.Shares(true)
	}
	return n
}

// Scan shows the namespaces in a table, and what could not be read.
func Scan(w io.Writer, all []*Namespace, hidden []ns.Hidden, probed bool) {
	rows := [][]string{{"IPC", "USER NS", "PROCS", "PID", "COMMAND", "CONTAINER"}}
	if probed {
		rows[0] = append(rows[0], "VERDICT")
	}
	for _, s := range all {
		container := s.Container
		if s.Own {
			container = "this one"
		}
		command := s.Command
		if s.TID != 0 {
			command = fmt.Sprintf("%s (thread %d)", s.Command, s.TID)
		}
		row := []string{number(s.IPC), number(s.UserNS), strconv.Itoa(s.Processes), strconv.Itoa(s.PID), command, container}
		if s.Verdict != nil {
			row = append(row, s.Verdict.String())
		}
		rows = append(rows, row)
	}
	term.Table(w, rows)
	for _, note := range UnreadableNotes(hidden) {
		term.Sentence(w, "", note)
	}
}

// UnreadableNotes say why some namespaces are missing from the list:
// processes that refuse even root, named, since nothing will show them;
// and another user's, which root can see.
func UnreadableNotes(unreadable []ns.Hidden) []string {
	var refusing []string
	others := 0
	for _, h := range unreadable {
		if h.RefusesRoot {
			refusing = append(refusing, fmt.Sprintf("%d (%s)", h.PID, h.Comm))
		} else {
			others++
		}
	}
	var notes []string
	switch n := len(refusing); {
	case n == 1:
		notes = append(notes, "(process "+refusing[0]+" refuses even root: it is not dumpable, so its namespaces "+
			"cannot be read)")
	case n > 1:
		notes = append(notes, "(processes "+List(refusing)+" refuse even root: they are not dumpable, so their "+
			"namespaces cannot be read)")
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

// number is the number in a namespace identity: "ipc:[4026531839]" gives
// "4026531839".
func number(id string) string {
	if i, j := strings.Index(id, "["), strings.Index(id, "]"); i >= 0 && j > i {
		return id[i+1 : j]
	}
	return id
}
