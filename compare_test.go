// compare_test.go: --compare, end to end and its verdict.
package main

import (
	"regexp"
	"strings"
	"testing"
)

func TestCompare(t *testing.T) {
	flags := privFlags(t)
	q := testQueue(t)
	r := run(t, pianoRiffs+"\n", append(flags, "-c", "-p", "-q", q)...)
	if r.code != exitOK {
		t.Fatalf("exit %d, want 0\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	cells := func(label string) []string {
		t.Helper()
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(label) + `  +(.+?)  +(.+)$`).FindStringSubmatch(r.stdout)
		if m == nil {
			t.Fatalf("no row %q:\n%s", label, r.stdout)
		}
		return m[1:]
	}
	for _, tt := range []struct {
		label        string
		shared, want string
	}{
		{"mq " + q, "delivered", "blocked"},
		{"  child's mq_open", "ok", "No such file or directory (ENOENT)"},
		{"  what arrived", `"` + pianoRiffs + `"`, "nothing"},
		{"  child creates its own", "no: File exists (EEXIST)", "created, then removed"},
	} {
		if got := cells(tt.label); got[0] != tt.shared || got[1] != tt.want {
			t.Errorf("row %q: %q, want %q and %q", tt.label, got, tt.shared, tt.want)
		}
	}
	// Both parents are this one; the child's IPC namespace is new only in
	// the second run, and its PID namespace (-p) in both.
	parentIPC, childIPC := cells("parent's ipc namespace"), cells("child's ipc namespace")
	parentPID, childPID := cells("parent's pid namespace"), cells("child's pid namespace")
	if parentIPC[0] != parentIPC[1] || childIPC[0] != parentIPC[0] || childIPC[1] == parentIPC[1] {
		t.Errorf("ipc namespaces: parent %q, child %q", parentIPC, childIPC)
	}
	if childPID[0] == parentPID[0] || childPID[1] == parentPID[1] {
		t.Errorf("pid namespaces: parent %q, child %q", parentPID, childPID)
	}
	if strings.Count(r.stdout, "enter a message") != 1 || !strings.Contains(r.stdout, "\nIsolation shown:") || r.stderr != "" {
		t.Errorf("want one prompt and the verdict, nothing on stderr:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
}

func TestCompareWithoutAMessage(t *testing.T) {
	flags := privFlags(t)
	for _, in := range []string{"", strings.Repeat("x", messageMax+1) + "\n"} {
		r := run(t, in, append(flags, "-c", "-q", testQueue(t))...)
		if r.code != exitNoMessage || !strings.Contains(r.stderr, "invoke_ns: reading the message: ") || strings.Contains(r.stdout, "Parent: PID") {
			t.Errorf("input %.10q: exit %d, want %d\n%s\nstderr:\n%s", in, r.code, exitNoMessage, r.stdout, r.stderr)
		}
	}
}

// isolated is the verdict behind --compare's exit status.
func TestIsolated(t *testing.T) {
	run := func(verdict, errno string) *record {
		open := &openResult{Result: "ok"}
		if errno != "" {
			open = &openResult{Result: "error", Errno: errno}
		}
		return &record{Objects: []*objectRecord{{Verdict: verdict, ChildOpen: open}}}
	}
	cfg := &config{Kinds: []string{kindMQ}}
	tests := []struct {
		name string
		runs []*record
		want bool
	}{
		{"delivered, then not found", []*record{run("delivered", ""), run("blocked", "ENOENT")}, true},
		{"delivered both times", []*record{run("delivered", ""), run("delivered", "")}, false},
		{"blocked both times", []*record{run("blocked", "ENOENT"), run("blocked", "ENOENT")}, false},
		{"blocked, but not for want of the name", []*record{run("delivered", ""), run("blocked", "EACCES")}, false},
		{"timed out in the shared namespace", []*record{run("timeout", ""), run("blocked", "ENOENT")}, false},
		{"only one run", []*record{run("delivered", "")}, false},
		{"an object missing", []*record{run("delivered", ""), {}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isolated(cfg, tt.runs); got != tt.want {
				t.Errorf("isolated = %v, want %v", got, tt.want)
			}
		})
	}
}
