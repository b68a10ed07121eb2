// helpers_test.go: what the end-to-end tests share: the real binary, built
// once; a way to run it; privilege checks that skip with a reason; and the
// check that no test leaves a queue behind.

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// binary is the invoke_ns built for this test run.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	// A fuzzing worker runs only the fuzz target: no binary, no listing,
	// which would slow its start and its stop past the fuzzer's deadline.
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "invoke_ns-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Readable by the unprivileged uid of the rootless tests.
	os.Chmod(dir, 0o755)
	binary = filepath.Join(dir, "invoke_ns")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := bounded(ctx, "go", "build", "-o", binary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building invoke_ns: %v\n%s", err, out)
		os.Exit(1)
	}
	before, listed := allQueues()
	sysvBefore := sysvObjects()
	code := m.Run()
	if after, ok := allQueues(); listed && ok {
		if left := newNames(before, after); len(left) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: queues left behind by the tests: %v\n", left)
			code = 1
		}
	}
	if left := newNames(sysvBefore, sysvObjects()); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: System V objects left behind by the tests: %v\n", left)
		code = 1
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// allQueues lists the POSIX queues of the host's IPC namespace, by
// mounting an mqueue filesystem in a mount namespace of its own. It needs
// root; ok is false without it.
func allQueues() (names []string, ok bool) {
	if os.Geteuid() != 0 {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), runLimit)
	defer cancel()
	out, err := bounded(ctx, "unshare", "--mount", "--propagation", "private", "sh", "-c",
		"mount -t mqueue none /mnt && ls -A /mnt").Output()
	if err != nil {
		return nil, false
	}
	return strings.Fields(string(out)), true
}

func newNames(before, after []string) []string {
	seen := map[string]bool{}
	for _, n := range before {
		seen[n] = true
	}
	var added []string
	for _, n := range after {
		if !seen[n] {
			added = append(added, n)
		}
	}
	sort.Strings(added)
	return added
}

var queueSeq atomic.Int64

// testQueue is a queue name of this test alone, checked at the end of the
// test to be gone.
func testQueue(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("/invoke_ns_test_%d_%d", os.Getpid(), queueSeq.Add(1))
	t.Cleanup(func() { assertNoQueue(t, name) })
	return name
}

// assertNoQueue fails if the queue exists, and removes it.
func assertNoQueue(t *testing.T, name string) {
	t.Helper()
	q, err := OpenQueue(name, unix.O_RDONLY)
	if err == nil {
		q.Close()
		UnlinkQueue(name)
		t.Errorf("queue %s was left behind", name)
	} else if !errors.Is(err, unix.ENOENT) {
		t.Errorf("checking for queue %s: %v", name, err)
	}
}

// privFlags returns the flags that give the binary the privilege to create
// namespaces: none as root, -U where user namespaces are allowed; it skips
// the test, saying why, where neither is possible.
func privFlags(t *testing.T) []string {
	t.Helper()
	if os.Geteuid() == 0 {
		return nil
	}
	if err := command(t, "unshare", "--user", "--map-root-user", "true").Run(); err != nil {
		t.Skipf("skipped %s: needs root, or a host that allows unprivileged user namespaces (unshare -r: %v)", t.Name(), err)
	}
	return []string{"-U"}
}

// needRoot skips a test that only root can run, saying what is skipped.
func needRoot(t *testing.T, what string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("skipped %s: %s needs root", t.Name(), what)
	}
}

// result is what one run of the binary did.
type result struct {
	stdout, stderr string
	code           int
	elapsed        time.Duration
}

// runLimit bounds every command a test runs, the binary above all: a
// regression then fails its test instead of hanging the suite.
const runLimit = 30 * time.Second

// command is exec.Command with a deadline of runLimit: the process is
// killed then, and Wait gives up on pipes that a grandchild still holds.
func command(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runLimit)
	t.Cleanup(cancel)
	return bounded(ctx, name, args...)
}

func bounded(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// run runs the binary with stdin as its input and waits for it.
func run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	cmd := command(t, binary, args...)
	cmd.Stdin = strings.NewReader(stdin)
	return finish(t, cmd)
}

func finish(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &stdout
	}
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
		if ws := ee.Sys().(syscall.WaitStatus); ws.Signaled() {
			t.Fatalf("invoke_ns %q was killed by %v; stderr:\n%s", cmd.Args[1:], ws.Signal(), r.stderr)
		}
	case err != nil:
		t.Fatalf("running invoke_ns %q: %v", cmd.Args[1:], err)
	}
	return r
}

// started is a run in progress whose transcript the test reads as it comes.
type started struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  *bufio.Reader
	out    io.ReadCloser // stdout's read end, under lines
	stderr bytes.Buffer
	seen   strings.Builder
}

// start runs the binary with a pipe on stdin that the test writes to, and
// a pipe on stdout that it reads from.
func start(t *testing.T, args ...string) *started {
	t.Helper()
	return startCmd(t, command(t, binary, args...))
}

// startCmd is start for a command the test has prepared.
func startCmd(t *testing.T, cmd *exec.Cmd) *started {
	t.Helper()
	s := &started{t: t, cmd: cmd}
	var err error
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// A read of the transcript has a deadline too, since the child may
	// hold the pipe open after invoke_ns is gone.
	if f, ok := out.(*os.File); ok {
		f.SetReadDeadline(time.Now().Add(runLimit))
	}
	s.out, s.lines = out, bufio.NewReader(out)
	s.cmd.Stderr = &s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			s.cmd.Process.Kill()
			s.cmd.Wait()
		}
	})
	return s
}

// waitFor reads the transcript until it holds text, and returns what came
// before it on that line.
func (s *started) waitFor(text string) string {
	s.t.Helper()
	for {
		line, err := s.lines.ReadString('\n')
		s.seen.WriteString(line)
		if i := strings.Index(line, text); i >= 0 {
			return line[:i]
		}
		if err != nil {
			s.t.Fatalf("transcript ended before %q: %v\n%s\nstderr:\n%s", text, err, s.seen.String(), s.stderr.String())
		}
	}
}

// waitForPrompt reads up to the child's ">> ", which ends no line.
func (s *started) waitForPrompt() {
	s.t.Helper()
	for !strings.HasSuffix(s.seen.String(), ">> ") {
		b, err := s.lines.ReadByte()
		if err != nil {
			s.t.Fatalf("transcript ended before the prompt: %v\n%s\nstderr:\n%s", err, s.seen.String(), s.stderr.String())
		}
		s.seen.WriteByte(b)
	}
}

// closeReader stops reading the transcript, as head(1) does.
func (s *started) closeReader() { s.out.Close() }

// childPID reads the child's PID from the verbose transcript.
func (s *started) childPID() int {
	s.t.Helper()
	s.waitFor("Parent: PID of child is ")
	var pid int
	if _, err := fmt.Sscanf(lastLine(s.seen.String()), "Parent: PID of child is %d", &pid); err != nil {
		s.t.Fatalf("no child PID in %q: %v", s.seen.String(), err)
	}
	return pid
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// wait reads the rest of the transcript and waits for the run to end.
func (s *started) wait() result {
	s.t.Helper()
	rest, _ := io.ReadAll(s.lines)
	s.seen.Write(rest)
	s.stdin.Close()
	err := s.cmd.Wait()
	r := result{stdout: s.seen.String(), stderr: s.stderr.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
		if ws := ee.Sys().(syscall.WaitStatus); ws.Signaled() {
			r.code = 128 + int(ws.Signal())
		}
	} else if err != nil {
		s.t.Fatal(err)
	}
	return r
}

// waitGone waits, through a pidfd, for a process that is not our child to
// end, and fails if it has not within limit.
func waitGone(t *testing.T, pid int, limit time.Duration) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return
	}
	if err != nil {
		t.Fatalf("pidfd_open %d: %v", pid, err)
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, int(limit.Milliseconds()))
	for errors.Is(err, unix.EINTR) {
		n, err = unix.Poll(fds, int(limit.Milliseconds()))
	}
	if err != nil || n == 0 {
		t.Fatalf("process %d still runs after %v", pid, limit)
	}
}
