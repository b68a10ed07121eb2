// report.go: the verdict of a run as one JSON object (--json), for
// scripts. docs/json.md documents every field; a test parses them.
package main

import (
	"encoding/json"
	"io"
	"time"

	"golang.org/x/sys/unix"
)

// record is what --json prints.
type record struct {
	Options    jsonOptions       `json:"options"`
	Queue      string            `json:"queue,omitempty"`
	ParentNS   map[string]string `json:"parent_namespaces"`
	ChildNS    map[string]string `json:"child_namespaces"`
	ChildOpen  *openResult       `json:"child_open"`
	Delivered  bool              `json:"delivered"`
	Message    *string           `json:"message"`
	Verdict    string            `json:"verdict"`
	ElapsedMS  float64           `json:"elapsed_ms"`
	ExitStatus int               `json:"exit_status"`
	Error      string            `json:"error,omitempty"`

	start time.Time
}

type jsonOptions struct {
	IPC     string   `json:"ipc"` // "yes", "no", or "" without -i
	PID     bool     `json:"pid"`
	Mount   bool     `json:"mount"`
	UTS     string   `json:"uts"`
	Net     bool     `json:"net"`
	User    bool     `json:"user"`
	Timeout string   `json:"timeout"`
	Queue   string   `json:"queue"`
	Force   bool     `json:"force"`
	Command []string `json:"command"`
	Verbose bool     `json:"verbose"`
}

// openResult is the child's mq_open: "ok", or the error and its errno.
type openResult struct {
	Result string `json:"result"`
	Error  string `json:"error,omitempty"`
	Errno  string `json:"errno,omitempty"`
}

func newRecord(cfg *config) *record {
	ipc := ""
	if cfg.IPC {
		ipc = map[bool]string{true: "yes", false: "no"}[cfg.NewIPC]
	}
	r := &record{
		Options: jsonOptions{
			IPC: ipc, PID: cfg.NewPID, Mount: cfg.NewMount, UTS: cfg.Hostname, Net: cfg.NewNet,
			User: cfg.NewUser, Timeout: cfg.Timeout.String(), Queue: cfg.Queue, Force: cfg.Force,
			Command: cfg.Command, Verbose: cfg.Verbose,
		},
		start: time.Now(),
	}
	if cfg.IPC {
		r.Queue = cfg.Queue
	}
	return r
}

// childOpened notes the child's mq_open result from its report.
func (r *record) childOpened(rep report) {
	if rep.Outcome == outcomeOpenFailed {
		r.ChildOpen = &openResult{Result: "error", Error: strerror(rep.Errno), Errno: unix.ErrnoName(rep.Errno)}
		return
	}
	r.ChildOpen = &openResult{Result: "ok"}
}

// delivered notes the message that arrived.
func (r *record) delivered(msg string) {
	r.Delivered, r.Message = true, &msg
}

// verdictNow notes the time from start to verdict.
func (r *record) verdictNow() {
	r.ElapsedMS = float64(time.Since(r.start).Microseconds()) / 1000
}

// verdicts name the statuses of an exchange that delivered nothing.
var verdicts = map[int]string{exitBlocked: "blocked", exitTimeout: "timeout", exitNoMessage: "no-message"}

// finish stamps the end of the run and writes the object.
func (r *record) finish(w io.Writer, ipc bool, err error) {
	if r.ElapsedMS == 0 { // no exchange: the verdict is the child's end
		r.verdictNow()
	}
	r.ExitStatus = statusOf(err)
	r.Error = errText(err)
	switch {
	case !ipc:
		r.Verdict = "none"
	case r.Delivered:
		r.Verdict = "delivered"
	case verdicts[r.ExitStatus] != "":
		r.Verdict = verdicts[r.ExitStatus]
	default:
		r.Verdict = "failed"
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(r)
}
