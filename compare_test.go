// compare_test.go: --compare, end to end and its verdict.

package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"invoke_ns/internal/ipc"
	"invoke_ns/internal/term"

	"golang.org/x/sys/unix"
)

func TestCompare(t *testing.T) {
	flags := privFlags(t)
	q := testQueue(t)
	r := invoke(t, pianoRiffs+"\n", append(flags, "-c", "-p", "-q", q)...)
	if r.code != exitOK {
		t.Fatalf("exit %d, want 0\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	cells := func(label string) []string {
		t.Helper()
		got := tableCells(r.stdout, label)
		if got == nil {
			t.Fatalf("no row %q:\n%s", label, r.stdout)
		}
		return got
	}
	for _, tt := range []struct {
		label        string
		shared, want string
	}{
		{"mq " + q, "delivered", "blocked"},
		{"  child's mq_open", "ok", "ENOENT (No such file or directory)"},
		{"  what arrived", `"` + pianoRiffs + `"`, "nothing"},
		{"  child creates its own", "no: EEXIST (File exists)", "created, then removed"},
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

// tableCells reads the cells of the row with label from --compare's table,
// each cell's lines joined with a space; nil if there is no such row.
func tableCells(out, label string) []string {
	lines := strings.Split(out, "\n")
	var header, at = -1, -1
	for i, l := range lines {
		if strings.Contains(l, "shared (-i no)") && header < 0 {
			header = i
		}
		if header >= 0 && strings.HasPrefix(l, label+"  ") && strings.TrimSpace(l[:len(label)]) == strings.TrimSpace(label) {
			at = i
			break
		}
	}
	if at < 0 {
		return nil
	}
	cols := []int{strings.Index(lines[header], "shared (-i no)"), strings.Index(lines[header], "new (-i yes)")}
	cells := make([]string, len(cols))
	for i := at; i < len(lines) && (i == at || strings.TrimSpace(lines[i][:min(cols[0], len(lines[i]))]) == ""); i++ {
		l := lines[i]
		if i > at && strings.TrimSpace(l) == "" {
			break
		}
		for c, from := range cols {
			to := len(l)
			if c+1 < len(cols) {
				to = min(cols[c+1], len(l))
			}
			if from < len(l) {
				cells[c] = strings.TrimSpace(cells[c] + " " + strings.TrimSpace(l[from:to]))
			}
		}
	}
	return cells
}

func TestCompareWithoutAMessage(t *testing.T) {
	flags := privFlags(t)
	for _, in := range []string{"", strings.Repeat("x", ipc.MessageMax+1) + "\n"} {
		r := invoke(t, in, append(flags, "-c", "-q", testQueue(t))...)
		if r.code != exitNoMessage || !strings.Contains(r.stderr, "invoke_ns: reading the message: ") || strings.Contains(r.stdout, "Parent: PID") {
			t.Errorf("input %.10q: exit %d, want %d\n%s\nstderr:\n%s", in, r.code, exitNoMessage, r.stdout, r.stderr)
		}
	}
}

// A signal during --compare ends it with 128+N, with no table and nothing
// left behind. The transcript goes into a pipe of one page that the test
// stops reading after the first run's heading, so that the signal is
// sure to come before the end of the runs: invoke_ns waits to write.
func TestCompareStopsOnASignal(t *testing.T) {
	flags := privFlags(t)
	q := testQueue(t)
	key := testKey(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := unix.FcntlInt(r.Fd(), unix.F_SETPIPE_SZ, 4096); err != nil {
		t.Skipf("skipped %s: cannot make the pipe one page: %v", t.Name(), err)
	}
	r.SetReadDeadline(time.Now().Add(runLimit))
	cmd := command(t, binary, append(flags, "-c", "-v", "-k", "all", "-q", q, "--key", fmt.Sprint(key))...)
	cmd.Stdin, cmd.Stdout = strings.NewReader("stopped\n"), w
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	lines := bufio.NewReaderSize(r, 16)
	var seen strings.Builder
	for !strings.Contains(seen.String(), "--- the child in a shared IPC namespace ---\n") {
		line, err := lines.ReadString('\n')
		seen.WriteString(line)
		if err != nil {
			t.Fatalf("no heading of the first run: %v\n%s", err, seen.String())
		}
	}
	cmd.Process.Signal(unix.SIGTERM)
	rest, _ := io.ReadAll(lines)
	seen.Write(rest)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 128+int(unix.SIGTERM) || strings.Contains(seen.String(), "Isolation") {
		t.Errorf("%v, want exit status 143 and no table:\n%s\nstderr:\n%s", err, seen.String(), stderr.String())
	}
}

// --compare --target adds a column for the target, and says which of the
// two runs it behaved like.
func TestCompareTarget(t *testing.T) {
	privFlags(t)
	isolated := sleeperIn(t, "--ipc")
	for _, tt := range []struct {
		name, pid, mq, like string
	}{
		{"isolated", strconv.Itoa(isolated), "blocked", "behaved like -i yes: it is isolated from this IPC namespace."},
		{"shared", strconv.Itoa(os.Getpid()), "delivered", "behaved like -i no: it shares this IPC namespace."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := testQueue(t)
			r := invoke(t, "compared\n", "-c", "--target", tt.pid, "-q", q)
			if r.code != exitOK || !strings.Contains(flat(r.stdout), tt.like) {
				t.Fatalf("exit %d, want 0 and %q:\n%s\nstderr:\n%s", r.code, tt.like, r.stdout, r.stderr)
			}
			lines := strings.Split(r.stdout, "\n")
			header := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "shared (-i no)") })
			if header < 0 || !strings.HasSuffix(lines[header], "target") {
				t.Fatalf("no target column:\n%s", r.stdout)
			}
			col := strings.LastIndex(lines[header], "target")
			row := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "mq "+q) })
			if row < 0 || len(lines[row]) <= col || !strings.HasPrefix(lines[row][col:], tt.mq) {
				t.Errorf("the target's mq cell is not %s:\n%s", tt.mq, r.stdout)
			}
			for _, l := range lines {
				if len([]rune(l)) > term.Columns {
					t.Errorf("%d columns: %q", len([]rune(l)), l)
				}
			}
		})
	}
}

// --compare --target with a namespace file cannot reach the target's
// /dev/shm: it says so before it makes anything, and leaves nothing behind.
func TestCompareTargetFileRefusesPshm(t *testing.T) {
	privFlags(t)
	q := testQueue(t)
	r := invoke(t, "compared\n", "-c", "--target", "/proc/self/ns/ipc", "-k", "all", "-q", q)
	if r.code != exitFailure || !strings.Contains(flat(r.stderr), "a namespace file leads to no /dev/shm") {
		t.Fatalf("exit %d, want %d and the reason:\n%s", r.code, exitFailure, r.stderr)
	}
	if _, err := os.Stat(ipc.ShmDir + q); !errors.Is(err, fs.ErrNotExist) {
		os.Remove(ipc.ShmDir + q)
		t.Errorf("%s%s: %v, want it never made", ipc.ShmDir, q, err)
	}
}
