// json.go: --json's view, one JSON object for scripts: the run's, the
// runs of --compare, or --scan's. docs/json.md documents every field; a
// test parses them.

package show

import (
	"encoding/json"
	"io"

	"invoke_ns/internal/ipc"
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
	Options   *Options          `json:"options,omitempty"`
	Run       string            `json:"run,omitempty"`    // in --compare
	Target    *NamespaceRecord  `json:"target,omitempty"` // with --target
	From      *NamespaceRecord  `json:"from,omitempty"`   // with --from
	ParentNS  map[string]string `json:"parent_namespaces"`
	ChildNS   map[string]string `json:"child_namespaces"`
	Objects   []*ObjectRecord   `json:"objects"`
	Delivered bool              `json:"delivered"`
	Verdict   run.Verdict       `json:"verdict"`
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
		ParentNS: r.ParentNS, ChildNS: r.ChildNS, Objects: []*ObjectRecord{},
		ElapsedMS: float64(r.Elapsed.Microseconds()) / 1000, ExitStatus: status, Error: errText}
	if opts == nil {
		rec.Run = r.Where.Run
	}
	for _, o := range r.Objects {
		if !o.Kind.ByName && opts != nil {
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
	o := &ObjectRecord{Kind: x.Object.Kind.Name, Delivered: x.Arrived, Verdict: x.Verdict}
	if x.Object.Kind.ByName {
		o.Name = x.Object.Name
	} else {
		key := x.Object.Key
		o.Key = &key
	}
	if r := x.Report; r != nil {
		switch r.Tried {
		case reexec.OpenFailed:
			o.ChildOpen = errnoResult(r.Errno)
		case reexec.NotOurs:
			o.ChildOpen = &OpenResult{Result: "not-ours", Error: ipc.ErrNotOurs.Error()}
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
		ElapsedMS: float64(c.Elapsed.Microseconds()) / 1000, ExitStatus: status, Error: errText}
	for _, r := range c.Runs {
		status, errText := each(r)
		rec.Runs = append(rec.Runs, RunRecord(nil, r, status, errText))
	}
	for _, o := range c.Kinds {
		if !o.Kind.ByName && o.Key != 0 {
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
