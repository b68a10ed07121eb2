// budget_test.go: -k mqbudget for real. The per-user budget of POSIX
// queues crosses a new IPC namespace, and a new user namespace too, as
// root without CAP_SYS_RESOURCE and as an ordinary user; nothing is left
// charged to the user, in any namespace; and runs of one user at once
// each prove it, taking turns.

package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"invoke_ns/internal/ns"

	"golang.org/x/sys/unix"
)

func init() {
	helpers["budget-room"] = func([]string) int {
		room, err := budgetRoom()
		if err != nil {
			fmt.Println(err)
			return 1
		}
		fmt.Println(room)
		return 0
	}
}

// budgetRoom is the least RLIMIT_MSGQUEUE under which this process can
// make a queue of one message of one byte: what its user's queues hold,
// and one queue more. The same before and after a run, the run left
// nothing charged to the user. Found as invoke_ns finds it, but by the
// test's own hand.
func budgetRoom() (uint64, error) {
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MSGQUEUE, &old); err != nil {
		return 0, err
	}
	defer unix.Setrlimit(unix.RLIMIT_MSGQUEUE, &old)
	fits := func(limit uint64) bool {
		unix.Setrlimit(unix.RLIMIT_MSGQUEUE, &unix.Rlimit{Cur: limit, Max: old.Max})
		name := fmt.Sprintf("/budget_test_%d", unix.Getpid())
		q, err := CreateQueue(name, 0o600, 1, 1)
		unix.Setrlimit(unix.RLIMIT_MSGQUEUE, &old)
		if err != nil {
			return false
		}
		UnlinkQueue(name)
		q.Close()
		return true
	}
	lo, hi := uint64(0), old.Cur
	if !fits(hi) {
		return 0, fmt.Errorf("no room for a queue under RLIMIT_MSGQUEUE %d", hi)
	}
	for hi-lo > 1 {
		if mid := lo + (hi-lo)/2; fits(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, nil
}

// roomOf is budgetRoom of uid's (-1: the suite's own user).
func roomOf(t *testing.T, uid int) uint64 {
	t.Helper()
	if uid < 0 {
		room, err := budgetRoom()
		if err != nil {
			t.Fatal(err)
		}
		return room
	}
	r := finish(t, helperCmd(t, uid, "budget-room"))
	room, err := strconv.ParseUint(strings.TrimSpace(r.stdout), 10, 64)
	if r.code != 0 || err != nil {
		t.Fatalf("uid %d's budget: exit %d, %q %s", uid, r.code, r.stdout, r.stderr)
	}
	return room
}

// invokeLimited runs the binary as uid (-1: the suite's own user),
// without CAP_SYS_RESOURCE, which would take it out of the budget's
// reach.
func invokeLimited(t *testing.T, uid int, stdin string, args ...string) result {
	t.Helper()
	switch {
	case uid >= 0:
		return asNobody(t, stdin, args...)
	case ns.InitialUserNS() && ns.HasCap(unix.CAP_SYS_RESOURCE):
		cmd := command(t, tool(t, "setpriv"), append([]string{"--inh-caps=-sys_resource",
			"--bounding-set=-sys_resource", "--", binary}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		return finish(t, cmd)
	}
	return invoke(t, stdin, args...)
}

// TestBudget: the budget crosses where the measurements said it
// would, in words and in JSON, with what was measured; and afterwards
// the user has as much room for queues as before.
func TestBudget(t *testing.T) {
	tests := []struct {
		name  string
		uid   int // -1: the suite's own user
		args  []string
		where string
	}{
		{"-i yes", -1, []string{"-i", "yes"}, "the new IPC namespace"},
		{"-i no", -1, []string{"-i", "no"}, "from the child to the parent"},
		{"-U -i yes", -1, []string{"-U", "-i", "yes"}, "the new IPC and user namespaces"},
		{"an ordinary user, -U -i yes", 65534, []string{"-U", "-i", "yes"}, "the new IPC and user namespaces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.uid < 0 && !strings.Contains(tt.name, "-U") {
				args = append(privFlags(t), args...)
			} else if tt.uid < 0 {
				privFlags(t) // -U needs user namespaces, as rootless runs do
			}
			before := roomOf(t, tt.uid)
			r := invokeLimited(t, tt.uid, "", append([]string{"-k", "mqbudget"}, args...)...)
			if want := "the budget crossed " + tt.where + ": with the child's one queue made, the parent could not make one"; r.code != exitOK || !strings.Contains(flat(r.stdout), want) {
				t.Errorf("exit %d, no %q:\n%s\nstderr:\n%s", r.code, want, r.stdout, r.stderr)
			}
			if after := roomOf(t, tt.uid); after != before {
				t.Errorf("the user's queues held %d bytes before the run and %d after", before, after)
			}
			r = invokeLimited(t, tt.uid, "", append([]string{"-k", "mqbudget", "--json"}, args...)...)
			var got jsonRun
			decode(t, r.stdout, &got, map[string]bool{})
			if r.code != exitOK || got.Verdict != "delivered" || len(got.Objects) != 1 {
				t.Fatalf("--json: exit %d, %+v\n%s", r.code, got, r.stderr)
			}
			b := got.Objects[0].Budget
			if o := got.Objects[0]; o.Verdict != "delivered" || !o.Delivered || b == nil || b.Margin != before ||
				b.InUse == nil || *b.InUse+b.Queue != before {
				t.Errorf("--json: the budget measured %+v, where the user's room was %d: %+v", b, before, got.Objects[0])
			}
			if after := roomOf(t, tt.uid); after != before {
				t.Errorf("with --json: the user's queues held %d bytes before the run and %d after", before, after)
			}
		})
	}
}

// TestBudgetRunsAtOnce: runs of one user at once each prove the budget
// crossed, each in its turn: none takes another's room for its own.
func TestBudgetRunsAtOnce(t *testing.T) {
	flags := privFlags(t)
	before := roomOf(t, -1)
	const runs = 8
	results := make([]result, runs)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Go(func() {
			cmd := binaryCmd(t, "", append(flags, "-k", "mqbudget", "-i", "yes", "--json")...)
			results[i], _ = goFinish(t, cmd)
		})
	}
	wg.Wait()
	for i, r := range results {
		var got jsonRun
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != exitOK || got.Verdict != "delivered" {
			t.Errorf("run %d: exit %d, %v %+v\n%s", i, r.code, err, got, r.stderr)
		}
	}
	if after := roomOf(t, -1); after != before {
		t.Errorf("the user's queues held %d bytes before the runs and %d after", before, after)
	}
}

// TestBudgetRefused: --target and --probe leave the budget out of -k
// all, and refuse it named: it is the user's own, no namespace's.
func TestBudgetRefused(t *testing.T) {
	for _, args := range [][]string{{"--target", "1", "-k", "mqbudget"}, {"--scan", "--probe", "-k", "mq,mqbudget"}} {
		r := invoke(t, "", args...)
		lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
		if r.code != exitUsage || len(lines) != 2 || len(lines[0]) > 80 ||
			!strings.HasPrefix(lines[0], "invoke_ns: -k mqbudget is your own budget") {
			t.Errorf("%v: exit %d, not a usage error in two lines:\n%s", args, r.code, r.stderr)
		}
	}
	cfg, err := parseOptions([]string{"invoke_ns", "--target", "1", "-k", "all"})
	if err != nil || strings.Contains(strings.Join(cfg.Kinds, ","), "mqbudget") || len(cfg.Kinds) != len(objectKinds()) {
		t.Errorf("--target -k all: %v, %v", cfg, err)
	}
}
