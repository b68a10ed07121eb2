// json.go: --json's view, one JSON object for scripts: the run's, the
// runs of --compare, or --scan's. docs/json.md documents every field; a
// test parses them.

package show

import (
	"cmp"
	"encoding/json"
	"io"
	"time"

	"invoke_ns/internal/ipc"
	"invoke_ns/internal/node"
	"invoke_ns/internal/ns"
	"invoke_ns/internal/reexec"
	"invoke_ns/internal/run"

	"golang.org/x/sys/unix"
)

// Options are the options in force, as --json shows them.
type Options struct {
	IPC     string   `json:"ipc"` // "yes", "no", or "" without -i
	Compare bool     `json:"compare"`
	Kinds   []string `json:"kinds"`
	Key     *int32   `json:"key"` // the key used: given, or drawn once made
	PID     bool     `json:"pid"`
	Mount   bool     `json:"mount"`
	UTS     string   `json:"uts"`
	Net     bool     `json:"net"`
	User    bool     `json:"user"`
	Timeout string   `json:"timeout"`
	Queue   string   `json:"queue"`
	Force   bool     `json:"force"`
	Command []string `json:"command"`
	Verbose int      `json:"verbose"`
}

// Record is what --json prints for a run.
type Record struct {
	Options  *Options          `json:"options,omitempty"`
	Run      string            `json:"run,omitempty"`    // in --compare
	Target   *NamespaceRecord  `json:"target,omitempty"` // with --target
	From     *NamespaceRecord  `json:"from,omitempty"`   // with --from
	ParentNS map[string]string `json:"parent_namespaces"`
	ChildNS  map[string]string `json:"child_namespaces"`
	// The limits of each IPC namespace, read there, by sysctl name.
	ParentLimits ipc.Limits      `json:"parent_limits,omitempty"`
	ChildLimits  ipc.Limits      `json:"child_limits,omitempty"`
	Objects      []*ObjectRecord `json:"objects"`
	Delivered    bool            `json:"delivered"`
	Verdict      run.Verdict     `json:"verdict"`
	// The two questions, answered apart: whether a message crossed
	// through what the IPC namespace isolates (mq, msg, sem, shm), and
	// through /dev/shm (pshm); null where not asked, or not answered.
	SharesIPC    *bool   `json:"shares_ipc_namespace"`
	SharesDevShm *bool   `json:"shares_dev_shm"`
	ElapsedMS    float64 `json:"elapsed_ms"`
	ExitStatus   int     `json:"exit_status"`
	Error        string  `json:"error,omitempty"`
}

// NamespaceRecord is the IPC namespace of --target or --from.
type NamespaceRecord struct {
	PID     int    `json:"pid,omitempty"`     // the process it was found through
	TID     int    `json:"tid,omitempty"`     // the thread, where it was a thread
	Command string `json:"command,omitempty"` // that process's name
	Path    string `json:"path"`              // the namespace file
	IPC     string `json:"ipc"`               // its identity
	UserNS  string `json:"user_namespace"`    // the user namespace that owns it
}

// ObjectRecord is one object's exchange.
type ObjectRecord struct {
	Kind        string      `json:"kind"`
	Name        string      `json:"name,omitempty"` // mq, pshm
	Key         *int32      `json:"key,omitempty"`  // System V
	ChildOpen   *OpenResult `json:"child_open"`
	ChildCreate *OpenResult `json:"child_create,omitempty"` // --compare
	Delivered   bool        `json:"delivered"`
	Message     *string     `json:"message"`
	Verdict     run.Verdict `json:"verdict"`
	// ReadOnly says that the child could only read the object (its
	// /dev/shm is read-only), and read back what the parent wrote.
	ReadOnly bool `json:"read_only,omitempty"`
	// Budget is, for mqbudget, what the parent measured of the budget.
	Budget *BudgetRecord `json:"budget,omitempty"`
}

// BudgetRecord is the user's POSIX queue budget as the parent measured
// it before the child's try; with unlimited, nothing was measured.
type BudgetRecord struct {
	Limit     uint64  `json:"limit_bytes,omitempty"`  // the soft RLIMIT_MSGQUEUE
	InUse     *uint64 `json:"in_use_bytes,omitempty"` // held by the user's queues then
	Queue     uint64  `json:"queue_bytes,omitempty"`  // what one queue of invoke_ns's takes
	Margin    uint64  `json:"margin_bytes,omitempty"` // the limit the parent tried under
	Unlimited string  `json:"unlimited,omitempty"`    // why the parent is not limited
}

// OpenResult is the child's lookup: "ok", "not-ours", or the error and
// its errno.
type OpenResult struct {
	Result string `json:"result"`
	Error  string `json:"error,omitempty"`
	Errno  string `json:"errno,omitempty"`
}

// CompareRecord is what --json prints with --compare.
type CompareRecord struct {
	Options    *Options  `json:"options"`
	Message    *string   `json:"message"`
	Runs       []*Record `json:"runs"`
	Isolated   bool      `json:"isolated"`
	ElapsedMS  float64   `json:"elapsed_ms"`
	ExitStatus int       `json:"exit_status"`
	Error      string    `json:"error,omitempty"`
}

func namespaceRecord(h *ns.Handle) *NamespaceRecord {
	if h == nil {
		return nil
	}
	r := &NamespaceRecord{PID: h.TGID, Command: h.Comm, Path: h.Path, IPC: h.ID, UserNS: h.Owner()}
	if h.TGID != h.PID {
		r.TID = h.PID
	}
	return r
}

// errnoResult is "ok", or "error" with the errno's text and name.
func errnoResult(errno unix.Errno) *OpenResult {
	if errno == 0 {
		return &OpenResult{Result: "ok"}
	}
	return &OpenResult{Result: "error", Error: ipc.Strerror(errno), Errno: unix.ErrnoName(errno)}
}

// RunRecord is the record of a run, with opts (nil within --compare),
// the exit status it came to and its error's text.
func RunRecord(opts *Options, r *run.Result, status int, errText string) *Record {
	rec := &Record{Options: opts, Target: namespaceRecord(r.Where.Target), From: namespaceRecord(r.Where.From),
		ParentNS: r.ParentNS, ChildNS: r.ChildNS, ParentLimits: r.ParentLimits, ChildLimits: r.ChildLimits,
		Objects:   []*ObjectRecord{},
		ElapsedMS: ms(r.Elapsed), ExitStatus: status, Error: errText}
	if opts == nil {
		rec.Run = r.Where.Run
	}
	for _, o := range r.Objects {
		if o.Kind.SysV() && opts != nil && o.Key != 0 {
			key := o.Key
			opts.Key = &key // the key used, drawn or given
		}
	}
	for _, x := range r.Exchanges {
		rec.Objects = append(rec.Objects, objectRecord(x))
	}
	rec.Verdict = r.Outcome()
	rec.Delivered = rec.Verdict == run.Delivered
	rec.SharesIPC, rec.SharesDevShm = r.Shares(false), r.Shares(true)
	return rec
}

func objectRecord(x *run.Exchange) *ObjectRecord {
	o := &ObjectRecord{Kind: x.Object.Kind.Name, Delivered: x.Arrived, Verdict: x.Verdict, ReadOnly: x.ReadOnly}
	switch k := x.Object.Kind; {
	case k.ByName:
		o.Name = x.Object.Name
	case k.SysV():
		key := x.Object.Key
		o.Key = &key
	}
	if m := x.Budget; m != nil {
		o.Budget = &BudgetRecord{Limit: m.Limit, Queue: m.Queue, Margin: m.Margin, Unlimited: m.Unlimited}
		if n, ok := m.InUse(); ok {
			o.Budget.InUse = &n
		}
	}
	if r := x.Report; r != nil {
		switch r.Tried {
		case reexec.ReadOnly:
			o.ChildOpen = &OpenResult{Result: "read-only"}
		case reexec.OpenFailed:
			o.ChildOpen = errnoResult(r.Errno)
		case reexec.NotOurs:
			o.ChildOpen = &OpenResult{Result: "not-ours", Error: ipc.ErrNotOurs.Error()}
		case reexec.SendFailed:
			// The budget's mq_open is the child's send: its queue.
			o.ChildOpen = errnoResult(0)
			if x.Object.Kind.PerUser {
				o.ChildOpen = errnoResult(r.Errno)
			}
		default:
			o.ChildOpen = errnoResult(0)
		}
		if r.CreateTried {
			o.ChildCreate = errnoResult(r.CreateErrno)
		}
	}
	if x.Arrived && x.Object.Kind.CarriesText {
		s := string(x.Message)
		o.Message = &s
	}
	return o
}

// Outcome is the exit status a result comes to, and its error's text.
type Outcome func(r *run.Result) (status int, errText string)

// ComparedRecord is the record of --compare; each gives each run's status.
func ComparedRecord(opts *Options, c *run.Compared, status int, errText string, each Outcome) *CompareRecord {
	rec := &CompareRecord{Options: opts, Message: c.Message, Runs: []*Record{}, Isolated: c.Isolated,
		ElapsedMS: ms(c.Elapsed), ExitStatus: status, Error: errText}
	for _, r := range c.Runs {
		status, errText := each(r)
		rec.Runs = append(rec.Runs, RunRecord(nil, r, status, errText))
	}
	for _, o := range c.Kinds {
		if o.Kind.SysV() && o.Key != 0 {
			key := o.Key
			opts.Key = &key
		}
	}
	return rec
}

// Write writes v as one indented JSON object and its newline.
func Write(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err == nil {
		_, err = w.Write(append(b, '\n'))
	}
	return err
}

// ScanRecord is what --scan --json prints: one object a report.
type ScanRecord struct {
	Node       string             `json:"node"`
	Time       string             `json:"time"`        // when the scan began, RFC 3339, UTC
	DurationMS float64            `json:"duration_ms"` // how long it took
	HostSeen   bool               `json:"host_seen"`
	From       *NamespaceRecord   `json:"from,omitempty"` // with --from
	Containers []*ContainerRecord `json:"containers"`
	Namespaces []*ScannedRecord   `json:"namespaces"`
	Unreadable int                `json:"unreadable"` // processes whose namespaces could not be read
	Leftovers  []*LeftoverRecord  `json:"leftovers,omitempty"`
	HostLimits ipc.Limits         `json:"host_ipc_limits,omitempty"` // with --probe
	ExitStatus int                `json:"exit_status"`
	Error      string             `json:"error,omitempty"`
}

// ContainerRecord is a container, as --json shows it.
type ContainerRecord struct {
	Engine           string `json:"engine"`
	ID               string `json:"id"`
	Name             string `json:"name"`
	PID              int    `json:"pid"`
	Processes        int    `json:"processes"`
	IPC              string `json:"ipc"`
	SharesHostIPC    *bool  `json:"shares_host_ipc"`
	SharesHostDevShm *bool  `json:"shares_host_dev_shm"`
	// DevShmReadOnly says that its /dev/shm, the host's, is mounted
	// read-only (a pod's sandbox has it so).
	DevShmReadOnly bool                   `json:"dev_shm_read_only,omitempty"`
	Kubernetes     *KubeRecord            `json:"kubernetes,omitempty"`
	Verdicts       map[string]run.Verdict `json:"verdicts,omitempty"` // with --probe, by kind
	Why            string                 `json:"why,omitempty"`      // with --probe: why it proved nothing
	Limits         ipc.Limits             `json:"ipc_limits,omitempty"`
}

// KubeRecord is a Kubernetes container's pod, as its runtime says.
type KubeRecord struct {
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	Container string `json:"container"` // "" for the pod's sandbox
	PodUID    string `json:"pod_uid"`
	Sandbox   bool   `json:"sandbox"`
}

// ScannedRecord is one IPC namespace found, as --json shows it.
type ScannedRecord struct {
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
	Why          string       `json:"why,omitempty"`
	Limits       ipc.Limits   `json:"ipc_limits,omitempty"` // with --probe
}

// LeftoverRecord is an object that an earlier run or probe left behind.
type LeftoverRecord struct {
	Kind    string `json:"kind"`
	Name    string `json:"name,omitempty"`
	Key     *int32 `json:"key,omitempty"`
	Removal string `json:"removal"` // the command that removes it
}

// ScanJSON is the node as --json shows it.
func ScanJSON(n *node.Node, status int, errText string) *ScanRecord {
	rec := &ScanRecord{Node: n.Name, Time: n.Time.UTC().Format(time.RFC3339), DurationMS: ms(n.Took),
		HostSeen: n.HostSeen, From: namespaceRecord(n.From), Containers: []*ContainerRecord{},
		Namespaces: []*ScannedRecord{}, Unreadable: len(n.Hidden), HostLimits: n.HostLimits, ExitStatus: status,
		Error: errText}
	for _, r := range n.Rows {
		if r.Container.Engine == "" {
			continue
		}
		byIPC, _ := r.Shares(false)
		byShm, _ := r.Shares(true)
		if !n.Held() {
			// Held against invoke_ns's own: nothing said of the host's.
			byIPC, byShm = nil, nil
		}
		c := &ContainerRecord{Engine: r.Container.Engine, ID: r.Container.ID, Name: r.Container.Name, PID: r.Task.PID,
			Processes: r.Processes, IPC: r.Namespace.IPC, SharesHostIPC: byIPC, SharesHostDevShm: byShm,
			DevShmReadOnly: byShm != nil && *byShm && r.ShmReadOnly, Limits: r.Limits}
		if k := r.Kube; k != nil {
			c.Kubernetes = &KubeRecord{Namespace: k.Namespace, Pod: k.Pod, Container: k.Container,
				PodUID: cmp.Or(k.PodUID, r.Container.PodUID), Sandbox: k.Sandbox}
		}
		if r.Probe != nil {
			c.Verdicts = map[string]run.Verdict{}
			for _, x := range r.Probe.Exchanges {
				c.Verdicts[x.Object.Kind.Name] = x.Verdict
			}
			c.Why = Why(r.Probe)
		}
		rec.Containers = append(rec.Containers, c)
	}
	for _, ns := range n.Namespaces {
		s := &ScannedRecord{IPC: ns.IPC, UserNS: ns.UserNS, Processes: ns.Processes, PID: ns.Task.PID, TID: ns.Task.TID,
			Command: ns.Task.Comm, Container: ns.Container, Own: ns.Own, Host: ns.Host}
		if r := ns.Row; r != nil && r.Probe != nil {
			v := probeOutcome(r.Probe)
			s.Verdict, s.Why, s.Limits = &v, Why(r.Probe), r.Limits
			if n.Held() {
				s.SharesIPC, _ = r.Shares(false)
				s.SharesDevShm, _ = r.Shares(true)
			}
		}
		rec.Namespaces = append(rec.Namespaces, s)
	}
	for _, l := range n.Leftovers {
		lr := &LeftoverRecord{Kind: l.Object.Kind.Name, Removal: l.Object.Removal()}
		if l.Object.Kind.ByName {
			lr.Name = l.Object.Name
		} else {
			key := l.Object.Key
			lr.Key = &key
		}
		rec.Leftovers = append(rec.Leftovers, lr)
	}
	return rec
}

// ms is d in milliseconds, to the microsecond.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
