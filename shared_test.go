// shared_test.go: invoke_ns on a shared machine, as a class uses it: runs
// at once, other users, leftovers, limits, signals, and input and output
// that go wrong.

package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"invoke_ns/internal/hermetic"
	"invoke_ns/internal/ipc"
	"invoke_ns/internal/reexec"

	"golang.org/x/sys/unix"
)

// asUser runs the test binary as a helper process (helper in
// helpers_test.go) as uid 65534, and waits for it.
func asUser(t *testing.T, args ...string) result {
	t.Helper()
	return finish(t, helperCmd(t, 65534, args[0], args[1:]...))
}

// helperCmd is the test binary as the helper what, run by uid (-1: the
// suite's own), from a copy that uid can read.
func helperCmd(t *testing.T, uid int, what string, args ...string) *exec.Cmd {
	t.Helper()
	if uid < 0 {
		cmd := command(t, os.Args[0], args...)
		cmd.Env = append(os.Environ(), helperEnv+"="+what)
		return cmd
	}
	needRealRoot(t, fmt.Sprintf("switching to uid %d", uid))
	self := filepath.Join(dir, "helper")
	if _, err := os.Stat(self); err != nil {
		b, err := os.ReadFile(os.Args[0])
		if err == nil {
			err = os.WriteFile(self, b, 0o755)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	cmd := command(t, self, args...)
	cmd.Env = append(os.Environ(), helperEnv+"="+what)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	return cmd
}

// The queue is the run's alone: another user cannot open it.
func TestQueueIsPrivate(t *testing.T) {
	needRealRoot(t, "switching to uid 65534")
	q := testQueue(t)
	s, _ := atPrompt(t, nil, q)
	r := asUser(t, "open-queue", q)
	if got := strings.TrimSpace(r.stdout); got != "EACCES" {
		t.Errorf("uid 65534 opening %s: %q, want EACCES\n%s", q, got, r.stderr)
	}
	io.WriteString(s.stdin, "mine\n")
	if r := s.wait(); r.code != exitOK {
		t.Errorf("exit %d\n%s", r.code, r.stderr)
	}
}

// A message taken by another process before the parent's receive is
// "taken", at once, not a timeout. The thief here waits in the kernel,
// where a sent message goes to a waiting receiver first.
func TestTakenMessage(t *testing.T) {
	flags := privFlags(t)
	q := testQueue(t)
	s, _ := atPrompt(t, flags, q)
	thief, err := OpenQueue(q, unix.O_RDONLY, ipc.Identity{})
	if err != nil {
		t.Fatal(err)
	}
	defer thief.Close()
	stolen := make(chan string, 1)
	inKernel := make(chan int, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		inKernel <- unix.Gettid()
		buf := make([]byte, ipc.MessageMax+1)
		deadline := unix.NsecToTimespec(time.Now().Add(runLimit).UnixNano())
		var n uintptr
		thief.control(func(fd uintptr) {
			unix.FcntlInt(fd, unix.F_SETFL, unix.O_RDONLY) // blocking, this one
			n, _, _ = unix.Syscall6(unix.SYS_MQ_TIMEDRECEIVE, fd, uintptr(unsafe.Pointer(&buf[0])),
				uintptr(len(buf)), 0, uintptr(unsafe.Pointer(&deadline)), 0)
		})
		stolen <- string(buf[:max(int(n), 0)])
	}()
	waitInSyscall(t, <-inKernel, unix.SYS_MQ_TIMEDRECEIVE)
	began := time.Now()
	io.WriteString(s.stdin, "for the parent\n")
	r := s.wait()
	if got := <-stolen; got != "for the parent\x00" {
		t.Fatalf("the thief got %q", got)
	}
	if r.code != exitTaken || !strings.Contains(flat(r.stdout), "Parent: no message arrived: the child sent it, but another process took it from "+q+" first") {
		t.Errorf("exit %d, want %d and the verdict:\n%s\nstderr:\n%s", r.code, exitTaken, r.stdout, r.stderr)
	}
	// A bound on a wait: the timeout is 60 s.
	if d := time.Since(began); d > 10*time.Second {
		t.Errorf("the verdict took %v", d)
	}
}

// waitInSyscall returns once thread tid of this process sleeps in system
// call nr: /proc shows the call it is in.
func waitInSyscall(t *testing.T, tid int, nr uintptr) {
	t.Helper()
	want := strconv.Itoa(int(nr)) + " "
	for end := time.Now().Add(runLimit); time.Now().Before(end); runtime.Gosched() {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/syscall", tid))
		st, _ := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/stat", tid))
		if strings.HasPrefix(string(b), want) && strings.Contains(string(st), ") S ") {
			return
		}
	}
	t.Fatalf("thread %d never waited in system call %d", tid, nr)
}

// Thirty runs at once with the default name all deliver their own
// message: the name gives way to one of each run's own.
func TestThirtyDefaultRunsAtOnce(t *testing.T) {
	flags := privFlags(t)
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			msg := fmt.Sprintf("student %d", i)
			r, ok := goRun(t, msg+"\n", append(flags, "-i", "no")...)
			if !ok {
				return
			}
			if r.code != exitOK || !strings.Contains(r.stdout, "child\n     >> "+msg+"\n") {
				t.Errorf("run %d: exit %d, not its own message:\n%s%s", i, r.code, r.stdout, r.stderr)
			}
			if strings.Contains(r.stdout, "this run uses") && !regexp.MustCompile(`(?m)^Parent: /ipc_namespace is in use by invoke_ns PID \d+\nParent: this run uses /ipc_namespace\.\d+`).MatchString(r.stdout) {
				t.Errorf("run %d does not say whose name it gave way to:\n%s", i, r.stdout)
			}
		})
	}
	wg.Wait()
}

// -f refuses to remove a live run's object, naming the run, and the run
// goes on undisturbed.
func TestForceSparesALiveRun(t *testing.T) {
	flags := privFlags(t)
	for _, kind := range []string{"mq", "msg"} {
		t.Run(kind, func(t *testing.T) {
			q, key := testQueue(t), testKey(t)
			args := append(flags, "-k", kind)
			what := "message queue " + q
			if kind == "mq" {
				args = append(args, "-q", q)
			} else {
				args = append(args, "--key", strconv.Itoa(int(key)))
				what = fmt.Sprintf("System V message queue with key %d", key)
			}
			s, _ := atPrompt(t, args, "")
			var parent int
			fmt.Sscanf(s.seen.String(), "Parent: PID of parent is %d", &parent)
			r := invoke(t, "intruder\n", append(args, "-f", "-i", "no")...)
			want := fmt.Sprintf("invoke_ns: -f: %s: in use by invoke_ns PID %d, so it stays", what, parent)
			if r.code != exitFailure || !strings.HasPrefix(flat(r.stderr), want) {
				t.Errorf("exit %d, want 1 and %q:\n%s", r.code, want, r.stderr)
			}
			io.WriteString(s.stdin, "still mine\n")
			if r := s.wait(); r.code != exitOK || !strings.Contains(r.stdout, ">> still mine\n") {
				t.Errorf("the live run was disturbed: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
		})
	}
}

// A run whose queue was removed and made anew by someone else, in its own
// IPC namespace, is interfered with: no verdict (exit 8), said so, and
// the new queue is left alone at the end.
func TestDisplacedRunLeavesTheOtherAlone(t *testing.T) {
	flags := privFlags(t)
	q := testQueue(t)
	s, _ := atPrompt(t, flags, q)
	if err := UnlinkQueue(q); err != nil {
		t.Fatal(err)
	}
	other, err := CreateQueue(q, 0o600, 1, 8)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { other.Close(); UnlinkQueue(q) }()
	io.WriteString(s.stdin, "to the old one\n")
	r := s.wait()
	// The child opened the queue before its prompt, and sent into it: it
	// arrived in a queue that was no longer named so.
	if r.code != exitInterfered || !strings.Contains(flat(r.stdout), "another process removed or replaced the message "+
		"queue "+q+" during the exchange; what has the name now is left alone") {
		t.Errorf("exit %d, want 8 and what happened:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if _, err := OpenQueue(q, unix.O_RDONLY, ipc.Identity{}); err != nil {
		t.Errorf("the other queue is gone: %v", err)
	}
}

// Two runs that are each PID 1 of a PID namespace, with every kind and the
// default name and key, do not meet.
func TestTwoPID1RunsAtOnce(t *testing.T) {
	privFlags(t)
	needRoot(t, "unshare --pid")
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			cmd := command(t, "unshare", "--pid", "--fork", binary, "-k", "all", "-i", "no")
			cmd.Stdin = strings.NewReader(fmt.Sprintf("pid one %d\n", i))
			r, ok := goFinish(t, cmd)
			if !ok {
				return
			}
			// Once at the prompt, then once for each kind but sem and mqbudget,
			// which carry no text: as many as objectKinds.
			want := len(objectKinds())
			if got := strings.Count(r.stdout, fmt.Sprintf(">> pid one %d\n", i)); r.code != exitOK || got != want {
				t.Errorf("run %d: exit %d, its message %d times (want %d):\n%s%s", i, r.code, got, want, r.stdout, r.stderr)
			}
		})
	}
	wg.Wait()
}

// The caller's descriptors 3 and 4, which the handshake once took, reach
// the command.
func TestCallersDescriptorsReachTheCommand(t *testing.T) {
	flags := privFlags(t)
	f3, f4 := filepath.Join(t.TempDir(), "three"), filepath.Join(t.TempDir(), "four")
	os.WriteFile(f3, []byte("three\n"), 0o644)
	os.WriteFile(f4, []byte("four\n"), 0o644)
	args := append(flags, "-i", "no", "-q", testQueue(t), "sh", "-c", "cat <&3 <&4 && cat <&4")
	cmd := command(t, "sh", append([]string{"-c", `"$0" "$@" 3<"` + f3 + `" 4<"` + f4 + `"`, binary}, args...)...)
	cmd.Stdin = strings.NewReader("hello\n")
	r := finish(t, cmd)
	if r.code != exitOK || !strings.HasSuffix(r.stdout, " ...\nfour\n") {
		t.Errorf("exit %d, want the command to read fds 3 and 4:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	cmd = command(t, "sh", append([]string{"-c", `"$0" "$@" 3<"` + f3 + `"`, binary}, append(flags, "sh", "-c", "cat <&3")...)...)
	if r := finish(t, cmd); r.code != exitOK || !strings.HasSuffix(r.stdout, " ...\nthree\n") {
		t.Errorf("fd 3 alone: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// An endless line is refused at once with exit 5, in every mode.
func TestEndlessInput(t *testing.T) {
	flags := privFlags(t)
	for _, args := range [][]string{{"-i", "no"}, {"-i", "no", "-t", "3"}, {"-c"}, {"-k", "mq,msg", "-i", "no"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			zero, err := os.Open("/dev/zero")
			if err != nil {
				t.Skipf("skipped %s: no /dev/zero: %v", t.Name(), err)
			}
			defer zero.Close()
			cmd := command(t, binary, append(append(flags, "-q", testQueue(t)), args...)...)
			cmd.Stdin = zero
			r := finish(t, cmd)
			// One limit, one count, in the child's line and the parent's.
			counts := map[string]bool{}
			for _, m := range regexp.MustCompile(`past (\d+) bytes`).FindAllStringSubmatch(r.stdout+r.stderr, -1) {
				counts[m[1]] = true
			}
			if r.code != exitNoMessage || len(counts) != 1 || !counts["1048576"] {
				t.Errorf("exit %d, want 5 and why:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			// A bound on a wait: -t 3 would have timed out.
			if r.elapsed > 2500*time.Millisecond {
				t.Errorf("refused after %v", r.elapsed)
			}
		})
	}
}

// A transcript that cannot be written fails the run, in one line, after
// everything is removed.
func TestTranscriptUnwritable(t *testing.T) {
	flags := privFlags(t)
	for _, args := range [][]string{{"-i", "no"}, {"-i", "yes"}, {"-c"}, {"true"}, {"-v", "true"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
			if err != nil {
				t.Skipf("skipped %s: no /dev/full: %v", t.Name(), err)
			}
			defer full.Close()
			cmd := command(t, binary, append(append(flags, "-q", testQueue(t)), args...)...)
			cmd.Stdin, cmd.Stdout = strings.NewReader("hello\n"), full
			r := finish(t, cmd)
			var lines []string
			for _, l := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
				if strings.HasPrefix(l, "invoke_ns:") {
					lines = append(lines, l)
				}
			}
			if r.code != exitFailure || len(lines) != 1 || !strings.Contains(flat(r.stderr), "writing the transcript: write /dev/stdout: no space left on device") {
				t.Errorf("exit %d, want 1 and one line:\n%s", r.code, r.stderr)
			}
		})
	}
}

// With -p, the command is PID 1 and ignores SIGTERM; invoke_ns ends it
// after its grace, removes what it made, and exits 128+15.
func TestSIGTERMEndsAPID1Command(t *testing.T) {
	flags := privFlags(t)
	q := testQueue(t)
	s := start(t, append(flags, "-p", "-i", "no", "-q", q, "sleep", "30")...)
	s.waitForPrompt()
	io.WriteString(s.stdin, "hi\n")
	s.waitFor(" Child: Executing command sleep")
	began := time.Now()
	s.cmd.Process.Signal(unix.SIGTERM)
	r := s.wait()
	if r.code != 128+int(unix.SIGTERM) {
		t.Errorf("exit %d, want 143\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	// A bound on a wait: the command would sleep 30 s.
	if d := time.Since(began); d > 10*time.Second {
		t.Errorf("ended after %v", d)
	}
}

// Tight limits are refused before anything is made, in one line naming
// the limit, with no stack trace of the Go runtime's.
func TestTightLimits(t *testing.T) {
	flags := privFlags(t)
	tests := []struct {
		name   string
		prefix []string
		limit  string
		user   bool
	}{
		{"descriptors", []string{"prlimit", "--nofile=8"}, "RLIMIT_NOFILE (ulimit -n) is 8", false},
		{"processes", []string{"prlimit", "--nproc=8"}, "RLIMIT_NPROC (ulimit -u) is 8", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range 5 {
				args := append(append([]string{}, tt.prefix...), binary)
				if tt.user {
					needRealRoot(t, "switching to uid 65534, whom RLIMIT_NPROC binds")
					args = append([]string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}, append(args, "-U")...)
				} else {
					args = append(args, flags...)
				}
				cmd := command(t, args[0], append(args[1:], "-k", "all", "-i", "no", "-q", testQueue(t))...)
				cmd.Dir = "/"
				cmd.Stdin = strings.NewReader("hello\n")
				r := finish(t, cmd)
				if msg, one := oneError(r.stderr); r.code != exitFailure || !one || !strings.Contains(msg, tt.limit) {
					t.Fatalf("run %d: exit %d, want 1 and one line naming %q:\n%s", i, r.code, tt.limit, r.stderr)
				}
			}
		})
	}
}

// The child's marker, set by mistake where invoke_ns did not set it, is
// refused at once, even beside pipes on descriptors 3 and 4.
func TestChildMarkerSetByMistake(t *testing.T) {
	for _, marker := range []string{"3 4", "3:1 4:2", "nonsense"} {
		t.Run(marker, func(t *testing.T) {
			r1, w1, _ := os.Pipe()
			r2, w2, _ := os.Pipe()
			defer func() { r1.Close(); w1.Close(); r2.Close(); w2.Close() }()
			cmd := command(t, binary, "--help")
			cmd.Env = append(os.Environ(), reexec.ChildEnv+"="+marker)
			cmd.ExtraFiles = []*os.File{r1, w2}
			r := finish(t, cmd)
			if msg, one := oneError(r.stderr); r.code != exitFailure || !one || !strings.Contains(msg, "unset "+reexec.ChildEnv) {
				t.Errorf("exit %d, want 1 and one line saying to unset it:\n%s", r.code, r.stderr)
			}
		})
	}
}

// The binary on a filesystem made noexec after it started: the child
// cannot start, and the error says why. invoke_ns is held at its own exec
// (ptrace) while the mount becomes noexec, then let go.
func TestNoexecSaysSo(t *testing.T) {
	needRoot(t, "mounting a tmpfs in the suite's mount namespace")
	if !hermetic.On() {
		t.Skipf("skipped %s: mounts only in the suite's own mount namespace", t.Name())
	}
	mnt := t.TempDir()
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(mnt, unix.MNT_DETACH)
	copyFile(t, binary, filepath.Join(mnt, "invoke_ns"))
	// ptrace requests come from the thread that started the tracee.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd := command(t, filepath.Join(mnt, "invoke_ns"), "-i", "no", "-q", testQueue(t))
	var stderr strings.Builder
	cmd.Stdin, cmd.Stderr = strings.NewReader("hello\n"), &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Ptrace: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(cmd.Process.Pid, &ws, 0, nil); err != nil || !ws.Stopped() {
		t.Fatalf("not stopped at its exec: %v, %v", err, ws)
	}
	if err := unix.Mount("", mnt, "", unix.MS_REMOUNT|unix.MS_NOEXEC, ""); err != nil {
		t.Fatal(err)
	}
	if err := unix.PtraceDetach(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitFailure || !strings.Contains(flat(stderr.String()), "mounted noexec") {
		t.Errorf("exit %d, want 1 and the noexec mount named:\n%s", code, stderr.String())
	}
}

// Removing another user's object says whose it is and who may.
func TestForceOnAnotherUsersObject(t *testing.T) {
	needRealRoot(t, "switching to uid 65534")
	for _, tt := range []struct{ kind, refusal string }{
		{"msg", ": owned by uid 0, another user, so it stays — -f removes only what an earlier run of yours left behind"},
		{"pshm", ": owned by uid 0, another user, so it stays — -f removes only what an earlier run of yours left behind"},
	} {
		t.Run(tt.kind, func(t *testing.T) {
			tg := ipc.Object{Kind: kindNamed(tt.kind)}
			which := []string{"-q", testQueue(t)}
			if tg.Name = which[1]; !tg.Kind.ByName {
				tg.Key = testKey(t)
				which = []string{"--key", strconv.Itoa(int(tg.Key))}
			}
			o, err := tg.Create()
			if err != nil {
				t.Fatal(err)
			}
			defer func() { o.Remove(); o.Close() }()
			cmd := command(t, binary, append([]string{"-U", "-f", "-k", tt.kind, "-i", "no"}, which...)...)
			cmd.Dir = "/"
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			r := finish(t, cmd)
			if r.code != exitFailure || !strings.Contains(flat(r.stderr), tt.refusal) {
				t.Errorf("exit %d, want %d and %q:\n%s", r.code, exitFailure, tt.refusal, r.stderr)
			}
			if e, err := tg.Open(nil); err != nil {
				t.Errorf("root's %s is gone: %v", tt.kind, err)
			} else {
				e.Close()
			}
		})
	}
}
