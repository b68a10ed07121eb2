package run

import (
	"testing"

	"invoke_ns/internal/ipc"
	"invoke_ns/internal/reexec"

	"golang.org/x/sys/unix"
)

// isolated is the verdict behind --compare's exit status.
func TestIsolated(t *testing.T) {
	mq := &ipc.Kind{Name: "mq", ByName: true}
	result := func(v Verdict, errno unix.Errno) *Result {
		rep := &reexec.Report{Tried: reexec.Sent}
		if errno != 0 {
			rep = &reexec.Report{Tried: reexec.OpenFailed, Errno: errno}
		}
		return &Result{Exchanges: []*Exchange{{Object: ipc.Object{Kind: mq}, Verdict: v, Report: rep}}}
	}
	plan := &Plan{Objects: []ipc.Object{{Kind: mq, Name: "/q"}}}
	tests := []struct {
		name string
		runs []*Result
		want bool
	}{
		{"delivered, then not found", []*Result{result(Delivered, 0), result(Blocked, unix.ENOENT)}, true},
		{"delivered both times", []*Result{result(Delivered, 0), result(Delivered, 0)}, false},
		{"blocked both times", []*Result{result(Blocked, unix.ENOENT), result(Blocked, unix.ENOENT)}, false},
		{"blocked, but not for want of the name", []*Result{result(Delivered, 0), result(Blocked, unix.EACCES)}, false},
		{"timed out in the shared namespace", []*Result{result(TimedOut, 0), result(Blocked, unix.ENOENT)}, false},
		{"only one run", []*Result{result(Delivered, 0)}, false},
		{"an object missing", []*Result{result(Delivered, 0), {}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isolated(plan, tt.runs); got != tt.want {
				t.Errorf("isolated = %v, want %v", got, tt.want)
			}
		})
	}
}
