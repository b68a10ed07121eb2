// pshm_test.go: POSIX shared memory (-k pshm), what the IPC namespace does
// not isolate, and the mount namespace with a /dev/shm of its own that
// does. The suite has a /dev/shm of its own (helpers_test.go).

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"invoke_ns/internal/ipc"

	"golang.org/x/sys/unix"
)

// mountinfo is this process's mount table, less the mount IDs, which the
// kernel numbers afresh.
func mountinfo(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPOSIXSharedMemory(t *testing.T) {
	flags := privFlags(t)
	tests := []struct {
		name string
		args []string
		code int
		says string // one sentence of the transcript, on one line
	}{
		{"-i no delivers", []string{"-i", "no"}, exitOK, "Parent: the following message was received from the child"},
		{"-i yes delivers, and says why", []string{"-i", "yes"}, exitOK,
			"Parent: it crossed the new IPC namespace: POSIX shared memory is a file in /dev/shm, which the IPC namespace does not isolate; a mount namespace with its own /dev/shm does (-m)"},
		{"-m -i yes is blocked", []string{"-m", "-i", "yes"}, exitBlocked,
			"Parent: no message can arrive: the child's new mount namespace has a /dev/shm of its own, without <q>"},
		{"-m -i no is blocked by the mount namespace", []string{"-m", "-i", "no"}, exitBlocked,
			"without <q>: this time the mount namespace blocked it, not the IPC namespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := testQueue(t)
			before := mountinfo(t)
			r := invoke(t, "through /dev/shm\n", append(append(flags, "-k", "pshm", "-q", q), tt.args...)...)
			if want := strings.ReplaceAll(tt.says, "<q>", q); r.code != tt.code || !strings.Contains(flat(r.stdout), want) {
				t.Errorf("exit %d, want %d and %q:\n%s\nstderr:\n%s", r.code, tt.code, want, r.stdout, r.stderr)
			}
			if delivered := strings.Contains(r.stdout, ">> through /dev/shm\n\n"); delivered != (tt.code == exitOK) {
				t.Errorf("delivered %v:\n%s", delivered, r.stdout)
			}
			if tt.code == exitBlocked && !strings.Contains(r.stderr, " Child: shm_open: No such file or directory") {
				t.Errorf("stderr lacks the child's ENOENT:\n%s", r.stderr)
			}
			// A bound on a wait: the timeout is 60 s.
			if r.elapsed > 2*time.Second {
				t.Errorf("the verdict took %v", r.elapsed)
			}
			// The child's /dev/shm was its own: the suite's mounts, which
			// are shared as a systemd host's, have not changed.
			if after := mountinfo(t); after != before {
				t.Errorf("the mount table changed:\n%s\nto\n%s", before, after)
			}
		})
	}
}

// Ctrl-C while the parent waits leaves nothing in /dev/shm. A signal
// after a first verdict (mq blocked, pshm at the prompt) decides too.
func TestPOSIXSharedMemoryCtrlC(t *testing.T) {
	flags := privFlags(t)
	for _, args := range [][]string{{"-k", "pshm", "-vi", "no"}, {"-k", "mq,pshm", "-vi", "yes"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			q := testQueue(t)
			s := start(t, append(append(flags, "-q", q), args...)...)
			s.waitForPrompt()
			if _, err := os.Stat(ipc.ShmPath(ipc.ShmDir, q)); err != nil {
				t.Fatalf("no %s while the run waits: %v", ipc.ShmPath(ipc.ShmDir, q), err)
			}
			s.cmd.Process.Signal(unix.SIGINT)
			if r := s.wait(); r.code != 130 {
				t.Errorf("exit %d, want 130\n%s", r.code, r.stderr)
			}
			if _, err := os.Stat(ipc.ShmPath(ipc.ShmDir, q)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s is left: %v", ipc.ShmPath(ipc.ShmDir, q), err)
			}
		})
	}
}

// Two runs at once with the default name each get their own object.
func TestPOSIXSharedMemoryTwoAtOnce(t *testing.T) {
	flags := privFlags(t)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			msg := fmt.Sprintf("pshm run %d", i)
			r, ok := goRun(t, msg+"\n", append(flags, "-k", "pshm", "-i", "yes")...)
			if !ok {
				return
			}
			if r.code != exitOK || !strings.Contains(r.stdout, ">> "+msg+"\n") {
				t.Errorf("run %d: exit %d, not its own message:\n%s%s", i, r.code, r.stdout, r.stderr)
			}
		})
	}
	wg.Wait()
}

// --compare has a pshm row, delivered in both, and exits 0; with -m,
// blocked in both, and exits 0 too.
func TestCompareWithPOSIXSharedMemory(t *testing.T) {
	flags := privFlags(t)
	for _, tt := range []struct {
		args   []string
		shared string
		own    string
		says   string
	}{
		{nil, "delivered", "delivered", "POSIX shared memory crossed the IPC namespace"},
		{[]string{"-m"}, "blocked", "blocked", "POSIX shared memory was out of reach of both children"},
	} {
		t.Run(strings.Join(append([]string{"-k all -c"}, tt.args...), " "), func(t *testing.T) {
			q := testQueue(t)
			r := invoke(t, "compared\n", append(append(flags, "-k", "all", "-c", "-q", q), tt.args...)...)
			if r.code != exitOK || !strings.Contains(flat(r.stdout), tt.says) || !strings.Contains(r.stdout, "\nIsolation shown:") {
				t.Fatalf("exit %d:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			if got := tableCells(r.stdout, "pshm "+q); got == nil || got[0] != tt.shared || got[1] != tt.own {
				t.Errorf("pshm row %q, want %s and %s:\n%s", got, tt.shared, tt.own, r.stdout)
			}
		})
	}
}

// As for the other kinds: a leftover is refused and -f removes it; a live
// run's is never removed.
func TestPOSIXSharedMemoryLeftover(t *testing.T) {
	flags := privFlags(t)
	q := testQueue(t)
	left, err := ipc.CreateShm(nil, q)
	if err != nil {
		t.Fatal(err)
	}
	left.Close()
	defer ipc.UnlinkShm(ipc.ShmDir, q)
	args := append(flags, "-k", "pshm", "-q", q, "-i", "no")
	r := invoke(t, "again\n", args...)
	if msg, one := oneError(r.stderr); r.code != exitFailure || !one ||
		!strings.Contains(msg, "creating POSIX shared memory object "+q+": left behind by an earlier run — remove it with -f") {
		t.Errorf("exit %d\n%s", r.code, r.stderr)
	}
	r = invoke(t, "again\n", append(args, "-f")...)
	if r.code != exitOK || !strings.Contains(flat(r.stdout), "Parent: removed POSIX shared memory object "+q+", an earlier run's leftover") {
		t.Errorf("-f: exit %d\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	s, _ := atPrompt(t, append(flags, "-k", "pshm"), q)
	r = invoke(t, "intruder\n", append(args, "-f")...)
	if !strings.Contains(flat(r.stderr), "-f: POSIX shared memory object "+q+": in use by invoke_ns PID") {
		t.Errorf("-f on a live run's: exit %d\n%s", r.code, r.stderr)
	}
	io.WriteString(s.stdin, "mine\n")
	if r := s.wait(); r.code != exitOK {
		t.Errorf("the live run: exit %d\n%s", r.code, r.stderr)
	}
}

// Rootless, with -U: the same verdicts.
func TestPOSIXSharedMemoryRootless(t *testing.T) {
	needRealRoot(t, "switching to uid 65534")
	for _, tt := range []struct {
		args []string
		code int
	}{{[]string{"-i", "yes"}, exitOK}, {[]string{"-m", "-i", "yes"}, exitBlocked}} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := asNobody(t, "rootless\n", append([]string{"-U", "-k", "pshm", "-q", testQueue(t)}, tt.args...)...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\n%s\nstderr:\n%s", r.code, tt.code, r.stdout, r.stderr)
			}
		})
	}
}
