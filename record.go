// record.go: the verdict of a run as one JSON object (--json), for
// scripts. docs/json.md documents every field; a test parses them.

package main

import (
	"encoding/json"
	"fmt"
	"invoke_ns/internal/ipc"
	"invoke_ns/internal/ns"
	"invoke_ns/internal/reexec"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// record is what --json prints.
type record struct {
	Options   *jsonOptions      `json:"options,omitempty"`
	Run       string            `json:"run,omitempty"`    // in --compare: "shared" or "new"
	Target    *targetRecord     `json:"target,omitempty"` // with --target
	From      *targetRecord     `json:"from,omitempty"`   // with --from
	ParentNS  map[string]string `json:"parent_namespaces"`
	ChildNS   map[string]string `json:"child_namespaces"`
	Objects   []*objectRecord   `json:"objects"`
	Delivered bool              `json:"delivered"`
	Verdict   string            `json:"verdict"`
	// The two questions, answered apart: whether a message crossed
	// through what the IPC namespace isolates (mq, msg, sem, shm), and
	// through /dev/shm (pshm); null where not asked, or not answered.
	SharesIPC    *bool   `json:"shares_ipc_namespace"`
	SharesDevShm *bool   `json:"shares_dev_shm"`
	ElapsedMS    float64 `json:"elapsed_ms"`
	ExitStatus   int     `json:"exit_status"`
	Error        string  `json:"error,omitempty"`

	start time.Time
}

// targetRecord is the IPC namespace of --target.
type targetRecord struct {
	PID     int    `json:"pid,omitempty"`     // the process it was found through
	TID     int    `json:"tid,omitempty"`     // the thread, where it was a thread
	Command string `json:"command,omitempty"` // that process's name
	Path    string `json:"path"`              // the namespace file
	IPC     string `json:"ipc"`               // its identity
	UserNS  string `json:"user_namespace"`    // the user namespace that owns it
}

func newTargetRecord(e *ns.Handle) *targetRecord {
	r := &targetRecord{PID: e.TGID, Command: e.Comm, Path: e.Path, IPC: e.ID, UserNS: e.Owner()}
	if e.TGID != e.PID {
		r.TID = e.PID
	}
	return r
}

// objectRecord is one object's exchange.
type objectRecord struct {
	Kind        string      `json:"kind"`
	Name        string      `json:"name,omitempty"` // mq
	Key         *int32      `json:"key,omitempty"`  // System V
	ChildOpen   *openResult `json:"child_open"`
	ChildCreate *openResult `json:"child_create,omitempty"` // --compare
	Delivered   bool        `json:"delivered"`
	Message     *string     `json:"message"`
	Verdict     verdict     `json:"verdict"`
}

type jsonOptions struct {
	IPC     string   `json:"ipc"` // "yes", "no", or "" without -i
	Compare bool     `json:"compare"`
	Kinds   []string `json:"kinds"`
	Key     *int32   `json:"key"`
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

// openResult is the child's mq_open: "ok", or the error and its errno.
type openResult struct {
	Result string `json:"result"`
	Error  string `json:"error,omitempty"`
	Errno  string `json:"errno,omitempty"`
}

func newRecord(cfg *config) *record {
	ipcOpt := ""
	if cfg.IPC {
		ipcOpt = map[bool]string{true: "yes", false: "no"}[cfg.NewIPC]
	}
	opts := &jsonOptions{
		IPC: ipcOpt, Compare: cfg.Compare, Kinds: cfg.Kinds, PID: cfg.NewPID, Mount: cfg.NewMount,
		UTS: cfg.Hostname, Net: cfg.NewNet, User: cfg.NewUser, Timeout: cfg.Timeout.String(),
		Queue: cfg.Queue, Force: cfg.Force, Command: cfg.Command, Verbose: cfg.Verbose,
	}
	if ipc.HasSysV(targets(cfg)) {
		opts.Key = &cfg.Key
	}
	return &record{Options: opts, Objects: []*objectRecord{}, start: time.Now()}
}

// object starts the record of one object's exchange.
func (r *record) object(t ipc.Object) *objectRecord {
	o := &objectRecord{Kind: t.Kind.Name}
	if t.Kind.ByName {
		o.Name = t.Name
	} else {
		key := t.Key
		o.Key = &key
	}
	r.Objects = append(r.Objects, o)
	return o
}

// errnoResult is "ok", or "error" with the errno's text and name.
func errnoResult(errno unix.Errno) *openResult {
	if errno == 0 {
		return &openResult{Result: "ok"}
	}
	return &openResult{Result: "error", Error: ipc.Strerror(errno), Errno: unix.ErrnoName(errno)}
}

// childReport notes what the child's report says.
func (o *objectRecord) childReport(rep reexec.Report) {
	switch rep.Tried {
	case reexec.OpenFailed:
		o.ChildOpen = errnoResult(rep.Errno)
	case reexec.NotOurs:
		o.ChildOpen = &openResult{Result: "not-ours", Error: ipc.ErrNotOurs.Error()}
	default:
		o.ChildOpen = errnoResult(0)
	}
	if rep.CreateTried {
		o.ChildCreate = errnoResult(rep.CreateErrno)
	}
}

// arrived notes what arrived: a message, or with nil a semaphore's
// signal.
func (o *objectRecord) arrived(msg []byte) {
	o.Delivered = true
	if msg != nil {
		s := string(msg)
		o.Message = &s
	}
}

// verdictNow notes the time from start to verdict.
func (r *record) verdictNow() {
	r.ElapsedMS = float64(time.Since(r.start).Microseconds()) / 1000
}

// finish stamps the end of the run and gives it its verdict: the first
// object's that was not delivered.
func (r *record) finish(cfg *config, o *outcome) {
	if r.ElapsedMS == 0 { // no exchange: the verdict is the child's end
		r.verdictNow()
	}
	r.ExitStatus = o.exitStatus()
	r.Error = o.errText()
	r.Verdict = "none"
	var vs []kindVerdict
	for _, obj := range r.Objects {
		vs = append(vs, kindVerdict{kindNamed(obj.Kind).Isolation(), obj.Verdict})
	}
	if cfg.IPC || cfg.Compare {
		v := judge(vs)
		r.Verdict = v.String()
		if v == delivered && len(r.Objects) < len(cfg.Kinds) || v == verdictNone {
			r.Verdict = "failed" // cut short
		}
	}
	r.Delivered = r.Verdict == "delivered"
	r.SharesIPC, r.SharesDevShm = shares(vs, "ipc"), shares(vs, "mnt")
}

// MarshalText names a verdict in JSON by its String.
func (v verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText reads a verdict's name back, for readers of the record.
func (v *verdict) UnmarshalText(b []byte) error {
	for w := verdictNone; w <= lastVerdict; w++ {
		if w.String() == string(b) {
			*v = w
			return nil
		}
	}
	return fmt.Errorf("unknown verdict %q", b)
}

// writeRecord writes the --json object on standard output. With --json
// the object is what the run produces: if it cannot be written, the run
// failed, whatever its verdict; only an error of its own goes before that.
func writeRecord(v any, o *outcome) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err == nil {
		_, err = os.Stdout.Write(append(b, '\n'))
	}
	if err != nil && o.err == nil && o.signal == 0 {
		o.err = hint(fmt.Errorf("writing the --json object: %w", err), "check where standard output goes")
	}
}
