package show

import (
	"slices"
	"testing"

	"invoke_ns/internal/ns"
)

// The note on what --scan could not read, for one process and several,
// of each cause.
func TestUnreadableNotes(t *testing.T) {
	tests := []struct {
		name   string
		hidden []ns.Hidden
		want   []string
	}{
		{"none", nil, nil},
		{"one refuses root", []ns.Hidden{{PID: 1, Comm: "init", RefusesRoot: true}},
			[]string{"(process 1 (init) refuses even root, with CAP_SYS_PTRACE: its namespaces cannot be read)"}},
		{"two refuse root", []ns.Hidden{{PID: 1, Comm: "init", RefusesRoot: true}, {PID: 7, Comm: "agent", RefusesRoot: true}},
			[]string{"(processes 1 (init) and 7 (agent) refuse even root, with CAP_SYS_PTRACE: their namespaces cannot be read)"}},
		{"another user's", []ns.Hidden{{PID: 9, Comm: "sshd", RefusesRoot: false}},
			[]string{"(the namespaces of 1 process of another user could not be read: run as root to see them)"}},
		{"root without CAP_SYS_PTRACE", []ns.Hidden{{PID: 2, Comm: "kthreadd", NoPtrace: true}, {PID: 3, Comm: "pool_workqueue_", NoPtrace: true}},
			[]string{"(the namespaces of 2 processes could not be read: root here lacks CAP_SYS_PTRACE — give it that, as the DaemonSet of deploy/kubernetes does)"}},
		{"both", []ns.Hidden{{PID: 9, Comm: "sshd", RefusesRoot: false}, {PID: 1, Comm: "init", RefusesRoot: true}, {PID: 10, Comm: "cron", RefusesRoot: false}}, []string{
			"(process 1 (init) refuses even root, with CAP_SYS_PTRACE: its namespaces cannot be read)",
			"(the namespaces of 2 processes of other users could not be read: run as root to see them)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := UnreadableNotes(tt.hidden); !slices.Equal(got, tt.want) {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}
