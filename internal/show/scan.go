// scan.go: --scan's view of a node: a line for each container, and for
// each IPC namespace that no container owns, within 80 columns; which
// share the host's IPC namespace or its /dev/shm; what the probes proved;
// and why some processes could not be read.

package show

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"invoke_ns/internal/engine"
	"invoke_ns/internal/ns"
	"invoke_ns/internal/run"
	"invoke_ns/internal/term"
)

// Node is what --scan found on a node.
type Node struct {
	Name       string       // $NODE_NAME, else the hostname
	HostSeen   bool         // the host's namespaces were seen (PID 2, a kernel thread)
	HostUnread string       // why PID 2's could not be read, where it is a kernel thread
	From       *ns.Handle   // with --from: held against its namespaces instead
	Namespaces []*Namespace // every IPC namespace a process is in
	Rows       []*Row       // the containers, and the namespaces no container owns
	Hidden     []ns.Hidden  // the processes whose namespaces could not be read
}

// Row is a container, or a namespace that no container owns.
type Row struct {
	Container engine.Container // none for a namespace of its own
	Namespace *Namespace       // the IPC namespace it is in
	PID, TID  int              // its first process, or thread
	Command   string
	HostIPC   bool // its IPC namespace is the host's
	HostShm   *bool
	Probe     *run.Result // with --probe
}

// Shares says whether the row shares the host's IPC namespace, or with
// inDevShm its /dev/shm: as a message proved it, where --probe tried a
// kind of that side; else as the identities read (nil: unknown).
func (r *Row) Shares(inDevShm bool) (answer *bool, proved bool) {
	if r.Probe != nil && r.Probe.Err == nil {
		if p := r.Probe.Shares(inDevShm); p != nil {
			return p, true
		}
	}
	if inDevShm {
		return r.HostShm, false
	}
	return &r.HostIPC, false
}

// Namespace is one IPC namespace found, as --scan shows it.
type Namespace struct {
	IPC          string       `json:"ipc"`
	UserNS       string       `json:"user_namespace"`
	Processes    int          `json:"processes"`
	PID          int          `json:"pid"`
	TID          int          `json:"tid,omitempty"` // where only a thread of PID is in it
	Command      string       `json:"command"`
	Container    string       `json:"container"`
	Own          bool         `json:"own"`
	Host         bool         `json:"host"`
	Verdict      *run.Verdict `json:"verdict,omitempty"` // with --probe
	SharesIPC    *bool        `json:"shares_ipc_namespace,omitempty"`
	SharesDevShm *bool        `json:"shares_dev_shm,omitempty"`
}

// Proved notes what the probe of a namespace came to.
func (n *Namespace) Proved(r *run.Result) {
	v := r.Outcome()
	if r.Err != nil {
		v = run.Failed
	}
	n.Verdict, n.SharesIPC, n.SharesDevShm = &v, r.Shares(false), r.Shares(true)
}

// ContainerRecord is a container, as --json shows it.
type ContainerRecord struct {
	Engine           string                 `json:"engine"`
	ID               string                 `json:"id"`
	Name             string                 `json:"name"`
	PID              int                    `json:"pid"`
	IPC              string                 `json:"ipc"`
	SharesHostIPC    *bool                  `json:"shares_host_ipc"`
	SharesHostDevShm *bool                  `json:"shares_host_dev_shm"`
	Verdicts         map[string]run.Verdict `json:"verdicts,omitempty"` // with --probe, by kind
}

// ScanRecord is what --scan --json prints.
type ScanRecord struct {
	Node       string             `json:"node"`
	HostSeen   bool               `json:"host_seen"`
	From       *NamespaceRecord   `json:"from,omitempty"` // with --from
	Containers []*ContainerRecord `json:"containers"`
	Namespaces []*Namespace       `json:"namespaces"`
	Unreadable int                `json:"unreadable"` // processes whose namespaces could not be read
	ExitStatus int                `json:"exit_status"`
	Error      string             `json:"error,omitempty"`
}

// Record is the node as --json shows it.
func (n *Node) Record(status int, errText string) *ScanRecord {
	rec := &ScanRecord{Node: n.Name, HostSeen: n.HostSeen, From: namespaceRecord(n.From), Containers: []*ContainerRecord{}, Namespaces: n.Namespaces,
		Unreadable: len(n.Hidden), ExitStatus: status, Error: errText}
	for _, r := range n.Rows {
		if r.Container.Engine == "" {
			continue
		}
		byIPC, _ := r.Shares(false)
		byShm, _ := r.Shares(true)
		c := &ContainerRecord{Engine: r.Container.Engine, ID: r.Container.ID, Name: r.Container.Name, PID: r.PID,
			IPC: r.Namespace.IPC, SharesHostIPC: byIPC, SharesHostDevShm: byShm}
		if r.Probe != nil {
			c.Verdicts = map[string]run.Verdict{}
			for _, x := range r.Probe.Exchanges {
				c.Verdicts[x.Object.Kind.Name] = x.Verdict
			}
		}
		rec.Containers = append(rec.Containers, c)
	}
	return rec
}

// Scan shows the node: a table, which containers share the host's IPC
// namespace and /dev/shm, and what could not be read.
func Scan(w io.Writer, n *Node, probed bool) {
	same := "HOST"
	if n.From != nil || !n.HostSeen {
		same = "SAME"
	}
	rows := [][]string{{"IPC", "PID", "COMMAND", "CONTAINER", same + " IPC", same + " SHM"}}
	if probed {
		rows[0] = append(rows[0], "VERDICT")
	}
	for _, r := range n.Rows {
		command := r.Command
		if r.TID != 0 {
			command = fmt.Sprintf("%s (thread %d)", r.Command, r.TID)
		}
		byIPC, _ := r.Shares(false)
		byShm, _ := r.Shares(true)
		row := []string{number(r.Namespace.IPC), strconv.Itoa(r.PID), command, r.Container.String(),
			yesNo(byIPC), yesNo(byShm)}
		if probed {
			verdict := "-"
			if r.Probe != nil {
				v := r.Probe.Outcome()
				if r.Probe.Err != nil {
					v = run.Failed
				}
				verdict = v.String()
			}
			row = append(row, verdict)
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
	term.Sentence(w, "", sharing(n.Rows, false, "Sharing "+ipcNS))
	term.Sentence(w, "", sharing(n.Rows, true, "Sharing "+shm))
	switch {
	case n.HostSeen || n.From != nil:
	case n.HostUnread != "":
		term.Sentence(w, "", "(the host's namespaces cannot be read: "+n.HostUnread+")")
	default:
		term.Sentence(w, "", "(the host's namespaces cannot be seen from here: PID 2 is no kernel thread; "+
			"run with the host's PIDs, as docker run --pid=host or hostPID: true)")
	}
	for _, note := range UnreadableNotes(n.Hidden) {
		term.Sentence(w, "", note)
	}
}

// sharing is the summary's sentence for one side: the containers that
// share it, said proved by a message where every container's answer was,
// and naming those whose answer is unknown.
func sharing(rows []*Row, inDevShm bool, what string) string {
	var yes, unknown []string
	proved, containers := true, 0
	for _, r := range rows {
		if r.Container.Engine == "" {
			continue
		}
		containers++
		answer, byMessage := r.Shares(inDevShm)
		proved = proved && byMessage
		switch {
		case answer == nil:
			unknown = append(unknown, r.Container.String())
		case *answer:
			yes = append(yes, r.Container.String())
		}
	}
	if proved && containers > 0 {
		what += ", proved by a message"
	}
	s := what + ": " + names(yes)
	if len(unknown) > 0 {
		slices.Sort(unknown)
		s += " (unknown for " + List(unknown) + ")"
	}
	return s + "."
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
			refusing = append(refusing, fmt.Sprintf("%d (%s)", h.PID, h.Comm))
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
