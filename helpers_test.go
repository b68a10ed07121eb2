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
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"invoke_ns/internal/hermetic"
	"invoke_ns/internal/ipc"
	"invoke_ns/internal/term"

	"golang.org/x/sys/unix"
)

// binary is the invoke_ns built for this test run, in dir.
var binary, dir string

// helperEnv makes the test binary a helper process (helpers below).
const helperEnv = "_INVOKE_NS_TEST_HELPER"

func TestMain(m *testing.M) {
	flag.Parse()
	if h := os.Getenv(helperEnv); h != "" {
		os.Exit(helper(h, flag.Args()))
	}
	// A fuzzing worker runs only the fuzz target: no binary, no listing,
	// which would slow its start and its stop past the fuzzer's deadline.
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		os.Exit(m.Run())
	}
	os.Exit(hermetic.Main(m, func() (func(), error) {
		var err error
		if dir, err = os.MkdirTemp("", "bin-"); err != nil {
			return nil, err
		}
		// Readable by the unprivileged uid of the rootless tests.
		os.Chmod(dir, 0o755)
		undo := func() { os.RemoveAll(dir) }
		if err := build(); err != nil {
			undo()
			return nil, err
		}
		return undo, nil
	}))
}

// binaryEnv names a built invoke_ns to test instead of building one, for
// a run as a user who cannot build (.ci/run's rootless run).
const binaryEnv = "INVOKE_NS_TEST_BINARY"

// build builds invoke_ns into dir, or copies the one binaryEnv names.
func build() error {
	binary = filepath.Join(dir, "invoke_ns")
	if prebuilt := os.Getenv(binaryEnv); prebuilt != "" {
		b, err := os.ReadFile(prebuilt)
		if err == nil {
			err = os.WriteFile(binary, b, 0o755)
		}
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := bounded(ctx, "go", "build", "-o", binary, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building invoke_ns: %v\n%s", err, out)
	}
	return nil
}

// helper is what the test binary does when run as a helper process: for
// "open-queue NAME", open the queue for reading and print the error; for
// "undumpable", make itself not dumpable and wait.
func helper(what string, args []string) int {
	if h, ok := helpers[what]; ok {
		return h(args)
	}
	switch {
	case what == "undumpable" && len(args) == 0:
		// A process that not even root may look into without
		// CAP_SYS_PTRACE, until its standard input ends.
		if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println("ready")
		io.Copy(io.Discard, os.Stdin)
		return 0
	case what == "open-queue" && len(args) == 1:
		q, err := OpenQueue(args[0], unix.O_RDONLY, ipc.Identity{})
		if err == nil {
			q.Close()
			fmt.Println("opened")
			return 0
		}
		fmt.Println(unix.ErrnoName(ipc.ErrnoOf(err)))
		return 0
	}
	fmt.Fprintf(os.Stderr, "unknown helper %q %q\n", what, args)
	return 2
}

// helpers are further helpers, by name, each given its arguments.
var helpers = map[string]func(args []string) int{}

var queueSeq atomic.Int64

// objectKinds are the kinds of object a namespace holds, in the order of
// -k all: all but the per-user queue budget, which --target and --probe
// leave out, and through which no message passes.
func objectKinds() []string {
	var names []string
	for _, k := range kinds {
		if !k.PerUser {
			names = append(names, k.Name)
		}
	}
	return names
}

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
	q, err := OpenQueue(name, unix.O_RDONLY, ipc.Identity{})
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

// needRoot skips a test that only root can run, saying what is skipped:
// root of the suite's user namespace is enough.
func needRoot(t *testing.T, what string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("skipped %s: %s needs root", t.Name(), what)
	}
}

// needRealRoot skips a test that needs root of the host, such as one that
// switches to a second uid, which the suite's user namespace does not map.
func needRealRoot(t *testing.T, what string) {
	t.Helper()
	if !realRoot() {
		t.Skipf("skipped %s: %s needs real root (the suite runs in a user namespace)", t.Name(), what)
	}
}

// realRoot says whether the suite runs as root of the host, and not as
// root of a user namespace of its own.
func realRoot() bool { return hermetic.RealRoot() }

// tool is the path of a tool a test uses, a command on PATH or a file,
// as testdata/tools lists it with its package. One that is missing fails
// the test as root, since make deps installs it then, and skips it
// otherwise; both say which package it is in.
func tool(t *testing.T, name string) string {
	t.Helper()
	var err error
	path := name
	if filepath.IsAbs(name) {
		_, err = os.Stat(name)
	} else {
		path, err = exec.LookPath(name)
	}
	if err == nil {
		return path
	}
	pkg := packageOf(t, name)
	if realRoot() {
		t.Fatalf("%s is missing: install the package %s (make deps does)", name, pkg)
	}
	t.Skipf("skipped %s: %s is missing: it is in the package %s, which sudo make deps installs", t.Name(), name, pkg)
	return ""
}

// packageOf is the package testdata/tools names for a tool.
func packageOf(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/tools")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == name {
			return f[1]
		}
	}
	t.Fatalf("%s is not in testdata/tools: add it, with its package", name)
	return ""
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

// invoke runs the binary with stdin as its input and waits for it.
func invoke(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return finish(t, binaryCmd(t, stdin, args...))
}

// binaryCmd is the binary with args, and stdin as its input.
func binaryCmd(t *testing.T, stdin string, args ...string) *exec.Cmd {
	cmd := command(t, binary, args...)
	cmd.Stdin = strings.NewReader(stdin)
	return cmd
}

func finish(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	r, err := execute(cmd)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// goRun is invoke for a goroutine the test started, and goFinish is finish:
// FailNow belongs to the test's own goroutine, so a run that cannot be
// judged fails the test with t.Error, and ok is false.
func goRun(t *testing.T, stdin string, args ...string) (r result, ok bool) {
	t.Helper()
	return goFinish(t, binaryCmd(t, stdin, args...))
}

func goFinish(t *testing.T, cmd *exec.Cmd) (r result, ok bool) {
	t.Helper()
	r, err := execute(cmd)
	if err != nil {
		t.Error(err)
	}
	return r, err == nil
}

// execute runs cmd and gives its result, or why it cannot be judged: it
// could not start, a signal killed it, or a build with the race detector
// (make race) reported a race.
func execute(cmd *exec.Cmd) (result, error) {
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
			return r, fmt.Errorf("invoke_ns %q was killed by %v; stderr:\n%s", cmd.Args[1:], ws.Signal(), r.stderr)
		}
	case err != nil:
		return r, fmt.Errorf("running invoke_ns %q: %v", cmd.Args[1:], err)
	}
	return r, raced(r.stderr)
}

// raced says whether stderr holds a report of the race detector's.
func raced(stderr string) error {
	if strings.Contains(stderr, "WARNING: DATA RACE") {
		return fmt.Errorf("the race detector reported a race:\n%s", stderr)
	}
	return nil
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

// oneError says whether stderr holds one error of invoke_ns's, within 80
// columns (the lines after the first indented), and gives it on one line.
func oneError(stderr string) (string, bool) {
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if !strings.HasPrefix(lines[0], "invoke_ns: ") {
		return "", false
	}
	for i, l := range lines {
		if utf8.RuneCountInString(l) > term.Columns || i > 0 && !strings.HasPrefix(l, "  ") {
			return "", false
		}
	}
	return flat(stderr), true
}

// flat is s with every run of white space, line ends too, made one space:
// a sentence broken within 80 columns reads the same.
func flat(s string) string { return strings.Join(strings.Fields(s), " ") }

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
	if err := raced(r.stderr); err != nil {
		s.t.Fatal(err)
	}
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

// waitUntil waits, with a deadline, until cond holds: for a change in
// another process that nothing can be waited on for, such as its
// namespaces or its command.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(runLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still not %s after %v", what, runLimit)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitForCommand waits until process pid runs comm: until then it may
// still be whatever started it (runc's init, unshare).
func waitForCommand(t *testing.T, pid int, comm string) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("process %d running %s", pid, comm), func() bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		return err == nil && strings.TrimSpace(string(b)) == comm
	})
}

// waitForNamespace waits until process pid is in a namespace of type ns
// (ipc, mnt, ...) other than the suite's own.
func waitForNamespace(t *testing.T, pid int, ns string) {
	t.Helper()
	own, err := os.Readlink("/proc/self/ns/" + ns)
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, fmt.Sprintf("process %d in a %s namespace of its own", pid, ns), func() bool {
		id, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
		return err == nil && id != own
	})
}

// sleeperIn starts sleep in new namespaces of the types given (unshare's
// options, such as "--ipc"), waits until it runs there, and returns its
// PID; it is killed when the test ends.
func sleeperIn(t *testing.T, namespaces ...string) int {
	t.Helper()
	cmd := command(t, tool(t, "unshare"), append(namespaces, "sleep", "600")...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// unshare makes the namespaces, then executes sleep.
	waitForCommand(t, cmd.Process.Pid, "sleep")
	for _, opt := range namespaces {
		ns := strings.TrimPrefix(opt, "--")
		if ns == "mount" {
			ns = "mnt"
		}
		waitForNamespace(t, cmd.Process.Pid, ns)
	}
	return cmd.Process.Pid
}
