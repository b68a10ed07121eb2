package run

import (
	"testing"

	"invoke_ns/internal/ipc"
	"invoke_ns/internal/reexec"

	"golang.org/x/sys/unix"
)

// A report that the child did not send is judged by what the kernel
// says of where it looked: blocked needs a place of its own and nothing
// of the parent's found there; the same place is interference; any other
// failure of the lookup, or a place not known, is no verdict.
func TestJudge(t *testing.T) {
	same, other := yes(true), yes(false)
	enoent := reexec.Report{Tried: reexec.OpenFailed, Errno: unix.ENOENT}
	for _, tt := range []struct {
		name string
		r    reexec.Report
		same *bool
		want Verdict
	}{
		{"not found in another namespace", enoent, other, Blocked},
		{"not found in the same namespace", enoent, same, Interfered},
		{"not found, the place not known", enoent, nil, LookupFailed},
		{"another object in another namespace", reexec.Report{Tried: reexec.NotOurs}, other, Blocked},
		{"another object in the same namespace", reexec.Report{Tried: reexec.NotOurs}, same, Interfered},
		{"too many open files", reexec.Report{Tried: reexec.OpenFailed, Errno: unix.EMFILE}, other, LookupFailed},
		{"permission denied", reexec.Report{Tried: reexec.OpenFailed, Errno: unix.EACCES}, other, LookupFailed},
		{"no /dev/shm in its root", reexec.Report{Tried: reexec.OpenFailed, Errno: unix.ELOOP, ShmDir: true}, other, Blocked},
		{"a file that loops", reexec.Report{Tried: reexec.OpenFailed, Errno: unix.ELOOP}, other, LookupFailed},
		{"no message", reexec.Report{Tried: reexec.NoMessage}, same, NoMessage},
		{"the send failed", reexec.Report{Tried: reexec.SendFailed, Errno: unix.EAGAIN}, same, SendFailed},
		{"read-only, the token read back", reexec.Report{Tried: reexec.ReadOnly, Read: []byte("token")}, same, Delivered},
		{"read-only, another token", reexec.Report{Tried: reexec.ReadOnly, Read: []byte("forged")}, same, Interfered},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := judge(tt.r, tt.same, []byte("token")); got != tt.want {
				t.Errorf("judge: %v, want %v", got, tt.want)
			}
		})
	}
}

// What a result says of sharing: the kernel's answer first, which a
// message that did not cross never turns; a message that crossed where
// the kernel does not say; nothing where no kind of that side was asked.
func TestShares(t *testing.T) {
	mq := ipc.Object{Kind: &ipc.Kind{Name: "mq"}}
	pshm := ipc.Object{Kind: ipc.Pshm}
	budget := ipc.Object{Kind: &ipc.Kind{Name: "mqbudget", PerUser: true}}
	result := func(sameIPC *bool, objs []ipc.Object, vs ...Verdict) *Result {
		r := &Result{Where: &Where{SameIPC: sameIPC}, Exchange: true, Objects: objs}
		for i, v := range vs {
			r.Exchanges = append(r.Exchanges, &Exchange{Object: objs[i], Verdict: v})
		}
		return r
	}
	show := func(b *bool) string {
		if b == nil {
			return "nil"
		}
		return map[bool]string{true: "true", false: "false"}[*b]
	}
	for _, tt := range []struct {
		name   string
		r      *Result
		shares string
		proved bool
	}{
		{"the same, delivered", result(yes(true), []ipc.Object{mq}, Delivered), "true", true},
		{"the same, interfered", result(yes(true), []ipc.Object{mq}, Interfered), "true", false},
		{"the same, failed before any exchange", result(yes(true), []ipc.Object{mq}), "true", false},
		{"another, blocked", result(yes(false), []ipc.Object{mq}, Blocked), "false", true},
		{"another, failed", result(yes(false), []ipc.Object{mq}, LookupFailed), "false", false},
		{"not known, delivered", result(nil, []ipc.Object{mq}, Delivered), "true", true},
		{"not known, blocked", result(nil, []ipc.Object{mq}, Blocked), "nil", false},
		{"no kind of that side asked", result(yes(true), []ipc.Object{pshm}, Delivered), "nil", false},
		// The budget is no namespace's: it crossing says nothing of one.
		{"the budget alone, crossed", result(yes(false), []ipc.Object{budget}, Delivered), "nil", false},
		{"another, blocked, the budget crossed", result(yes(false), []ipc.Object{mq, budget}, Blocked, Delivered), "false", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := show(tt.r.Shares(false)); got != tt.shares || tt.r.Proved(false) != tt.proved {
				t.Errorf("shares %s, proved %v; want %s, %v", got, tt.r.Proved(false), tt.shares, tt.proved)
			}
		})
	}
}

// The run's verdict: with kinds on both sides of the line, what crossed
// either; a budget that does not limit the parent says nothing either
// way, and counts only where nothing else was tried.
func TestVerdict(t *testing.T) {
	mq := ipc.Object{Kind: &ipc.Kind{Name: "mq"}}
	budget := ipc.Object{Kind: &ipc.Kind{Name: "mqbudget", PerUser: true}}
	run := func(objs []ipc.Object, vs ...Verdict) *Result {
		r := &Result{Where: &Where{}, Exchange: true, Objects: objs}
		for i, v := range vs {
			r.Exchanges = append(r.Exchanges, &Exchange{Object: objs[i], Verdict: v})
		}
		return r
	}
	both := []ipc.Object{mq, budget}
	for _, tt := range []struct {
		name string
		r    *Result
		want Verdict
	}{
		{"mq blocked, the budget crossed", run(both, Blocked, Delivered), Delivered},
		{"mq blocked, the budget kept apart", run(both, Blocked, Blocked), Blocked},
		{"mq blocked, the budget unlimited", run(both, Blocked, Unlimited), Blocked},
		{"mq delivered, the budget unlimited", run(both, Delivered, Unlimited), Delivered},
		{"the budget alone, unlimited", run([]ipc.Object{budget}, Unlimited), Unlimited},
		{"mq timed out, the budget crossed", run(both, TimedOut, Delivered), TimedOut},
		{"the budget failed", run(both, Delivered, SendFailed), SendFailed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.Verdict(); got != tt.want {
				t.Errorf("Verdict: %v, want %v", got, tt.want)
			}
		})
	}
}
