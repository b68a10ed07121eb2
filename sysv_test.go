// sysv_test.go: the System V kinds (-k msg|sem|shm|all), through the Go
// API and end to end, with real objects in real namespaces.

package main

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"invoke_ns/internal/ipc"

	"golang.org/x/sys/unix"
)

var sysvKinds = []string{"msg", "sem", "shm"}

// hasKey says whether an object of kind with key exists here.
func hasKey(kind string, key int32) bool {
	b, _ := os.ReadFile("/proc/sysvipc/" + kind)
	return regexp.MustCompile(fmt.Sprintf(`(?m)^\s*%d\s`, key)).Match(b)
}

var keySeq atomic.Int32

// testKey is a System V key of this test alone; at the end, no object of
// any kind may have it.
func testKey(t *testing.T) int32 {
	t.Helper()
	key := 0x7e000000 | int32(os.Getpid()&0xffff)<<8 | keySeq.Add(1)&0xff
	t.Cleanup(func() {
		for _, k := range sysvKinds {
			if hasKey(k, key) {
				if o, err := kindNamed(k).Look(ipc.Object{Kind: kindNamed(k), Key: key}, nil); err == nil {
					ipc.RemoveSysV(o.(ipc.Receiver), nil)
				}
				t.Errorf("a %s object with key %d was left behind", k, key)
			}
		}
	})
	return key
}

func TestKinds(t *testing.T) {
	flags := privFlags(t)
	for _, kind := range sysvKinds {
		t.Run(kind, func(t *testing.T) {
			key := testKey(t)
			args := append(flags, "-k", kind, "--key", fmt.Sprint(key))
			r := invoke(t, "by key\n", append(args, "-i", "no")...)
			want := "     >> by key\n"
			if kind == "sem" {
				want = "the child's signal arrived through the System V semaphore set with key " + fmt.Sprint(key)
			}
			if r.code != exitOK || !strings.Contains(flat(r.stdout), flat(want)) || !strings.Contains(r.stdout, fmt.Sprintf("Parent: System V key: %d (0x%08x in ipcs)\n", key, key)) {
				t.Errorf("-i no: exit %d, stdout lacks %q:\n%s\nstderr:\n%s", r.code, want, r.stdout, r.stderr)
			}
			r = invoke(t, "by key\n", append(args, "-i", "yes")...)
			if r.code != exitBlocked || !strings.Contains(r.stderr, " Child: "+kind+"get: No such file or directory") {
				t.Errorf("-i yes: exit %d, want %d\n%s\nstderr:\n%s", r.code, exitBlocked, r.stdout, r.stderr)
			}
			if r.elapsed > 2*time.Second {
				t.Errorf("-i yes took %v to give its verdict", r.elapsed)
			}
		})
	}
}

// Ctrl-C while the parent waits removes every object. A semaphore's child
// does not prompt, so sem goes first and the prompt of msg holds the run.
func TestKindsCtrlC(t *testing.T) {
	flags := privFlags(t)
	for _, kinds := range []string{"msg", "shm", "sem,msg", "all"} {
		t.Run(kinds, func(t *testing.T) {
			key := testKey(t)
			q := ""
			if kinds == "all" {
				q = testQueue(t)
			}
			s, pid := atPrompt(t, append(flags, "-k", kinds, "--key", fmt.Sprint(key)), q)
			for _, k := range sysvKinds {
				if strings.Contains(kinds, k) || kinds == "all" {
					if !hasKey(k, key) {
						t.Errorf("no %s object with key %d while the run waits", k, key)
					}
				}
			}
			s.cmd.Process.Signal(unix.SIGINT)
			if r := s.wait(); r.code != 130 {
				t.Errorf("exit %d, want 130\n%s", r.code, r.stderr)
			}
			waitGone(t, pid, 5*time.Second)
			// testKey's cleanup checks that nothing is left.
		})
	}
}

// With -i yes, each kind gets its verdict, the last one too: the child
// exits right after its last report, and the parent must still read it.
// The race was about one run in forty, so many runs, a few at a time.
func TestKindsEveryVerdict(t *testing.T) {
	flags := privFlags(t)
	var wg sync.WaitGroup
	work := make(chan int)
	for range 4 {
		wg.Go(func() {
			for i := range work {
				q := testQueue(t)
				r, ok := goRun(t, "hello\n", append(flags, "-k", "all", "-vi", "yes", "-q", q)...)
				if !ok {
					continue
				}
				// pshm crosses, so the run is delivered, and says why.
				if got := strings.Count(r.stdout, "can arrive: the new IPC namespace has no"); r.code != exitOK || got != 4 ||
					!strings.Contains(flat(r.stdout), "In sum: the child is in another IPC namespace, but shares the parent's /dev/shm.") {
					t.Errorf("run %d: exit %d, %d verdicts (want 4, one per kind):\n%s\nstderr:\n%s", i, r.code, got, r.stdout, r.stderr)
				}
			}
		})
	}
	for i := range 120 {
		work <- i
	}
	close(work)
	wg.Wait()
}

// Two runs at once, each with a key made from its own PID, each get their
// own message through every kind.
func TestKindsTwoAtOnce(t *testing.T) {
	flags := privFlags(t)
	var wg sync.WaitGroup
	results, judged := make([]result, 2), make([]bool, 2)
	for i := range results {
		q := testQueue(t)
		wg.Go(func() {
			results[i], judged[i] = goRun(t, fmt.Sprintf("run %d\n", i), append(flags, "-k", "all", "-i", "no", "-q", q)...)
		})
	}
	wg.Wait()
	for i, r := range results {
		if !judged[i] {
			continue
		}
		// Once at the prompt, then once for each kind but sem and mqbudget,
		// which carry no text: as many as objectKinds.
		if got := strings.Count(r.stdout, fmt.Sprintf("     >> run %d\n", i)); r.code != exitOK || got != len(objectKinds()) {
			t.Errorf("run %d: exit %d, its own message %d times (want one at the prompt and one per kind but sem):\n%s\nstderr:\n%s", i, r.code, got, r.stdout, r.stderr)
		}
	}
}

// -vv -i yes shows how empty the child's namespace is.
func TestSysvipcCounts(t *testing.T) {
	flags := privFlags(t)
	r := invoke(t, "", append(flags, "-vv", "-k", "msg,shm", "--key", fmt.Sprint(testKey(t)), "-i", "yes")...)
	parent := regexp.MustCompile(`(?m)^Parent: /proc/sysvipc: msg ([1-9][0-9]*), sem [0-9]+, shm ([1-9][0-9]*)$`)
	if r.code != exitBlocked || !parent.MatchString(r.stdout) || !strings.Contains(r.stdout, "\n Child: /proc/sysvipc: msg 0, sem 0, shm 0\n") {
		t.Errorf("exit %d, counts missing:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestCompareAllKinds(t *testing.T) {
	flags := privFlags(t)
	key := testKey(t)
	q := testQueue(t)
	r := invoke(t, "compared\n", append(flags, "-c", "-k", "all", "--key", fmt.Sprint(key), "-q", q)...)
	if r.code != exitOK || !strings.Contains(r.stdout, "\nIsolation shown:") {
		t.Fatalf("exit %d\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, label := range []string{"mq " + q, fmt.Sprintf("msg key %d", key), fmt.Sprintf("sem key %d", key), fmt.Sprintf("shm key %d", key)} {
		row := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(label) + ` +delivered +blocked$`)
		if n := len(row.FindAllString(r.stdout, -1)); n != 1 {
			t.Errorf("%d rows for %q with delivered and blocked, want 1:\n%s", n, label, r.stdout)
		}
	}
	if r.stderr != "" {
		t.Errorf("stderr: %s", r.stderr)
	}
}

// An object left with the key is refused, with what to do, and -f
// removes it first.
func TestSysVLeftover(t *testing.T) {
	flags := privFlags(t)
	for _, kind := range sysvKinds {
		t.Run(kind, func(t *testing.T) {
			tg := ipc.Object{Kind: kindNamed(kind), Key: testKey(t)}
			o, err := tg.Create()
			if err != nil {
				t.Fatal(err)
			}
			o.Close()
			args := append(flags, "-k", kind, "--key", fmt.Sprint(tg.Key), "-i", "no")
			r := invoke(t, "again\n", args...)
			if want := fmt.Sprintf("left behind by an earlier run — remove it with -f (or %s)", tg.Removal()); r.code != exitFailure ||
				!strings.Contains(flat(r.stderr), want) {
				t.Errorf("exit %d\nstderr:\n%s", r.code, r.stderr)
			}
			if !hasKey(kind, tg.Key) {
				t.Fatalf("the refused run removed the object it did not make")
			}
			r = invoke(t, "again\n", append(args, "-f")...)
			if r.code != exitOK || !strings.Contains(flat(r.stdout), "Parent: removed "+tg.String()+", an earlier run's leftover") {
				t.Errorf("-f: exit %d\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
		})
	}
}
