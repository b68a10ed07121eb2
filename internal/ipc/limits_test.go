package ipc

import (
	"encoding/json"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestLimitsJSON: limits in JSON are keyed by their sysctls' names, with
// numbers (kernel.sem four of them), and read back whole and in order,
// as the child's report carries them.
func TestLimitsJSON(t *testing.T) {
	ls := Limits{{"fs.mqueue.queues_max", "300"}, {"kernel.msgmni", "1000"},
		{"kernel.sem", "32000 1024000000 500 32000"}, {"kernel.shmall", "18446744073692774399"}}
	b, err := json.Marshal(ls)
	want := `{"fs.mqueue.queues_max":300,"kernel.msgmni":1000,"kernel.sem":[32000,1024000000,500,32000],` +
		`"kernel.shmall":18446744073692774399}`
	if err != nil || string(b) != want {
		t.Fatalf("Marshal: %s, %v; want %s", b, err, want)
	}
	var back Limits
	if err := json.Unmarshal(b, &back); err != nil || !slices.Equal(back, ls) {
		t.Errorf("read back %v, %v; want %v", back, err, ls)
	}
}

// TestLimitsDiff: only the sysctls both have, with other values, each
// with both.
func TestLimitsDiff(t *testing.T) {
	host := Limits{{"fs.mqueue.queues_max", "300"}, {"kernel.msgmni", "1000"}, {"kernel.shmmni", "4096"}}
	fresh := Limits{{"fs.mqueue.queues_max", "256"}, {"kernel.msgmni", "32000"}, {"kernel.shmmni", "4096"}}
	want := []string{"fs.mqueue.queues_max 256, not 300", "kernel.msgmni 32000, not 1000"}
	if got := fresh.Diff(host); !slices.Equal(got, want) {
		t.Errorf("Diff: %v, want %v", got, want)
	}
	if got := host.Diff(Limits{{"kernel.shmmni", "4096"}}); got != nil {
		t.Errorf("Diff with none differing: %v", got)
	}
}

// TestReadLimits: this thread's namespace has every sysctl, each a
// number or (kernel.sem) four, and what IPC_INFO gives is what
// /proc/sys says.
func TestReadLimits(t *testing.T) {
	ls := ReadLimits()
	if len(ls) != len(limitNames) {
		t.Fatalf("read %d of %d: %v", len(ls), len(limitNames), ls)
	}
	for _, l := range ls {
		b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(l.Name, ".", "/"))
		if want := strings.Join(strings.Fields(string(b)), " "); err != nil || l.Value != want {
			t.Errorf("%s: %q, /proc/sys says %q (%v)", l.Name, l.Value, want, err)
		}
	}
	b, err := json.Marshal(ls)
	var m map[string]any
	if err != nil || json.Unmarshal(b, &m) != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if sem, ok := m["kernel.sem"].([]any); !ok || len(sem) != 4 {
		t.Errorf("kernel.sem: %v", m["kernel.sem"])
	}
}

// TestReadLimitsTuned: in an IPC namespace of the test's own, every
// limit given a value of its own, what IPC_INFO gives is what /proc/sys
// says, field for field. The thread that made it is thrown away.
func TestReadLimitsTuned(t *testing.T) {
	tuned := map[string]string{"kernel.msgmax": "8001", "kernel.msgmnb": "16002", "kernel.msgmni": "31003",
		"kernel.sem": "251 32004 35 126", "kernel.shmmax": "1234567", "kernel.shmall": "7654321", "kernel.shmmni": "4005"}
	done := make(chan Limits, 1)
	errs := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread goes with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWIPC); err != nil {
			errs <- err
			return
		}
		for name, v := range tuned {
			if err := os.WriteFile("/proc/sys/"+strings.ReplaceAll(name, ".", "/"), []byte(v), 0); err != nil {
				errs <- err
				return
			}
		}
		done <- ReadLimits()
	}()
	select {
	case err := <-errs:
		t.Skipf("skipped %s: an IPC namespace of the test's own needs root: %v", t.Name(), err)
	case ls := <-done:
		for name, want := range tuned {
			if got := ls.Get(name); got != want {
				t.Errorf("%s: %q, set to %q", name, got, want)
			}
		}
	}
}
