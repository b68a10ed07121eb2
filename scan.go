// scan.go: --scan, every IPC namespace on the host that a process is in,
// found through /proc/*/ns/ipc and /proc/*/task/*/ns/ipc (a thread can be
// in another than its process), with the container it belongs to where
// the cgroup path tells; --probe proves each by a real message, as
// --target does. A namespace that only a bind mount keeps alive has no
// process, and is not found.

package main

import (
	"fmt"
	"invoke_ns/internal/ns"
	"invoke_ns/internal/term"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// scanned is one IPC namespace found.
type scanned struct {
	IPC       string  `json:"ipc"`
	UserNS    string  `json:"user_namespace"`
	Processes int     `json:"processes"`
	PID       int     `json:"pid"`
	TID       int     `json:"tid,omitempty"` // where only a thread of PID is in it
	Command   string  `json:"command"`
	Container string  `json:"container"`
	Own       bool    `json:"own"`
	Verdict   *string `json:"verdict,omitempty"` // with --probe
	// With --probe, the two questions apart (record's fields).
	SharesIPC    *bool `json:"shares_ipc_namespace,omitempty"`
	SharesDevShm *bool `json:"shares_dev_shm,omitempty"`
}

// scanRecord is what --scan --json prints.
type scanRecord struct {
	Namespaces []*scanned `json:"namespaces"`
	Unreadable int        `json:"unreadable"` // processes whose namespaces could not be read
	ExitStatus int        `json:"exit_status"`
	Error      string     `json:"error,omitempty"`
}

// scanNamespaces is every IPC namespace a process is in, as --scan shows
// it, and the processes whose namespaces could not be read.
func scanNamespaces() ([]*scanned, []ns.Hidden) {
	found, hidden := ns.Scan()
	all := make([]*scanned, len(found))
	for i, f := range found {
		all[i] = &scanned{IPC: f.ID, UserNS: f.Owner, Processes: len(f.PIDs), PID: f.PID, TID: f.TID,
			Command: ns.Comm(f.PID), Container: containerOf(f.PID), Own: f.Own}
	}
	return all, hidden
}

// containerPaths are where the container runtimes put a container's
// processes, by cgroup path: the runtime, what comes before its id or
// name, and what the id is made of ("" for a name, up to a / or .scope).
var containerPaths = []struct {
	runtime, before, of string
	least               int
}{
	{"podman", "libpod-conmon-", hexDigits, 12},
	{"podman", "libpod-", hexDigits, 12},
	{"containerd", "cri-containerd-", hexDigits, 12},
	{"crio", "crio-", hexDigits, 12},
	{"docker", "docker-", hexDigits, 64},
	{"docker", "docker/", hexDigits, 64},
	{"k8s pod", "pod", hexDigits + "_-", 36},
	{"lxc", "lxc.payload.", "", 1},
	{"lxc", "lxc/", "", 1},
	{"nspawn", "machine-", "", 1},
}

const hexDigits = "0123456789abcdef"

// containerOf names the container of process pid from its cgroup path,
// or "-".
func containerOf(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "-"
	}
	return containerIn(string(b))
}

// containerIn names the container a /proc/PID/cgroup text tells, or "-".
func containerIn(cgroup string) string {
	for _, c := range containerPaths {
		if c.runtime == "k8s pod" && !strings.Contains(cgroup, "kubepods") {
			continue
		}
		for rest := cgroup; ; {
			_, after, found := strings.Cut(rest, c.before)
			if !found {
				break
			}
			rest = after
			id := after
			if c.of != "" {
				id = after[:len(after)-len(strings.TrimLeft(after, c.of))]
			} else if k := strings.IndexAny(after, "/\n"); k >= 0 {
				id = after[:k]
			}
			id = strings.ReplaceAll(strings.TrimSuffix(id, ".scope"), `\x2d`, "-")
			if len(id) >= c.least {
				if len(id) > 12 {
					id = id[:12]
				}
				return c.runtime + " " + id
			}
		}
	}
	return "-"
}

// runScan lists the IPC namespaces, and with --probe tries each.
func runScan(cfg *config, out io.Writer) *outcome {
	all, unreadable := scanNamespaces()
	o := &outcome{}
	if cfg.Probe {
		sigs := make(chan os.Signal, 4)
		catchSignals(sigs)
		for _, s := range all {
			rec, po := probe(cfg, s, sigs)
			s.Verdict, s.SharesIPC, s.SharesDevShm = &rec.Verdict, rec.SharesIPC, rec.SharesDevShm
			if po.signal != 0 {
				o.signal = po.signal
				break
			}
		}
	}
	if cfg.JSON {
		rec := &scanRecord{Namespaces: all, Unreadable: len(unreadable), ExitStatus: o.exitStatus(), Error: o.errText()}
		writeRecord(rec, o)
		return o
	}
	rows := [][]string{{"IPC", "USER NS", "PROCS", "PID", "COMMAND", "CONTAINER"}}
	if cfg.Probe {
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
			row = append(row, *s.Verdict)
		}
		rows = append(rows, row)
	}
	term.Table(out, rows)
	for _, note := range unreadableNotes(unreadable) {
		term.Sentence(out, "", note)
	}
	return o
}

// unreadableNotes say why some namespaces are missing from the list:
// processes that refuse even root, named, since nothing will show them;
// and another user's, which root can see.
func unreadableNotes(unreadable []ns.Hidden) []string {
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
		notes = append(notes, "(processes "+list(refusing)+" refuse even root: they are not dumpable, so their "+
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

// task is the process, or the thread of it, that is in the namespace.
func (s *scanned) task() int {
	if s.TID != 0 {
		return s.TID
	}
	return s.PID
}

// number is the number in a namespace identity: "ipc:[4026531839]" gives
// "4026531839".
func number(id string) string {
	if i, j := strings.Index(id, "["), strings.Index(id, "]"); i >= 0 && j > i {
		return id[i+1 : j]
	}
	return id
}

// probe runs the exchange with the child in s, as --target does, quietly,
// and says what it came to.
func probe(cfg *config, s *scanned, sigs chan os.Signal) (*record, *outcome) {
	run := *cfg
	run.Target, run.IPC, run.Verbose = strconv.Itoa(s.task()), true, 0
	caught := make(chan struct{})
	close(caught)
	msg := fmt.Sprintf("a probe from invoke_ns %d", os.Getpid())
	p := &parent{cfg: &run, out: io.Discard, sigs: sigs, caught: caught, quiet: true}
	spec := &runSpec{IPC: true, Objects: targets(&run), Message: &msg, Quiet: true}
	rec := &record{Objects: []*objectRecord{}, start: time.Now()}
	if err := p.aim(spec, rec); err != nil {
		rec.Verdict = "failed"
		return rec, &outcome{err: err}
	}
	o := p.runOnce(spec, rec)
	rec.finish(&run, o)
	return rec, o
}
