// adversary_test.go: invoke_ns against what a hostile container or a
// clumsy neighbour on a shared host does: objects of the same name in
// another namespace, links out of a container's root, a thread in a
// namespace of its own, a full /dev/shm, a FIFO, a stopped child,
// another user's objects and locks, and -f runs racing each other.

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"invoke_ns/internal/ipc"
	"invoke_ns/internal/ns"
	"invoke_ns/internal/run"

	"golang.org/x/sys/unix"
)

func init() {
	helpers["impostor"] = impostor
	helpers["thread-ns"] = threadNamespace
	helpers["squat"] = squat
	helpers["make"] = makeObjects
}

// impostor NAME KEY, run in IPC and mount namespaces of its own: makes an
// object of every kind with that name or key there, and a /dev/shm of its
// own with the file in it; says "ready"; and when its input ends, says
// whether anything arrived in them ("untouched" if not), and removes them.
func impostor(args []string) int {
	key, err := strconv.ParseInt(args[1], 10, 32)
	if err == nil {
		err = unix.Mount("tmpfs", ipc.ShmDir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777")
	}
	var objs []ipc.Receiver
	for _, k := range objectKinds() {
		if err != nil {
			break
		}
		var o ipc.Receiver
		if o, err = (ipc.Object{Kind: kindNamed(k), Name: args[0], Key: int32(key)}).Create(); err == nil {
			objs = append(objs, o)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "impostor:", err)
		return 1
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	touched := false
	buf := make([]byte, ipc.MessageMax+1)
	for i, o := range objs {
		if n, err := o.Receive(buf, time.Now()); err == nil {
			fmt.Printf("%s: %q arrived\n", objectKinds()[i], buf[:n])
			touched = true
		}
		o.Remove()
		o.Close()
	}
	if !touched {
		fmt.Println("untouched")
	}
	return 0
}

// threadNamespace: one thread, not the main one, moves to an IPC
// namespace of its own; the helper says "thread TID" and waits for its
// input to end.
func threadNamespace([]string) int {
	runtime.LockOSThread() // the main thread stays with this goroutine
	tid := make(chan int)
	var moveOn func()
	moveOn = func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			go moveOn() // held here, so that the next cannot land on it
			select {}
		}
		if err := unix.Unshare(unix.CLONE_NEWIPC); err != nil {
			fmt.Fprintln(os.Stderr, "thread-ns:", err)
			os.Exit(1)
		}
		tid <- unix.Gettid()
		select {} // the thread stays in its namespace till the end
	}
	go moveOn()
	fmt.Println("thread", <-tid)
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// squat NAME: binds and listens on the abstract socket of the lock of the
// queue NAME, as a run of invoke_ns would, says "ready", and holds it
// until its input ends.
func squat(args []string) int {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err == nil {
		err = unix.Bind(fd, &unix.SockaddrUnix{Name: ipc.LockName(ipc.Object{Kind: kindNamed("mq"), Name: args[0]})})
	}
	if err == nil {
		err = unix.Listen(fd, 1)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "squat:", err)
		return 1
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// makeObjects NAME KEY: makes a queue and a /dev/shm file named NAME and
// a System V message queue with KEY, as the caller's alone, and leaves
// them.
func makeObjects(args []string) int {
	key, _ := strconv.ParseInt(args[1], 10, 32)
	for _, k := range []string{"mq", "pshm", "msg"} {
		o, err := (ipc.Object{Kind: kindNamed(k), Name: args[0], Key: int32(key)}).Create()
		if err != nil {
			fmt.Fprintln(os.Stderr, "make:", err)
			return 1
		}
		o.Close()
	}
	return 0
}

// An IPC and mount namespace with objects of its own under the names and
// key of the parent's: the child finds them, sees that they are not the
// parent's, and never writes into them; the verdict is blocked, and says
// why. So for --target, --compare --target, --from, and --scan --probe.
func TestImpostorIsNeverWritten(t *testing.T) {
	privFlags(t)
	needRoot(t, "namespaces of the test's own")
	q, key := testQueue(t), testKey(t)
	cmd := command(t, tool(t, "unshare"), "--ipc", "--mount", "--propagation", "private", os.Args[0], q, strconv.Itoa(int(key)))
	cmd.Env = append(os.Environ(), helperEnv+"=impostor")
	imp := startCmd(t, cmd)
	imp.waitFor("ready")
	pid := strconv.Itoa(cmd.Process.Pid)
	which := []string{"-q", q, "--key", strconv.Itoa(int(key))}

	r := invoke(t, "secret\n", append([]string{"--target", pid, "-k", "all"}, which...)...)
	comm := ns.Comm(cmd.Process.Pid)
	own := fmt.Sprintf("process %s (%s) has its own", pid, comm)
	if got := strings.Count(flat(r.stdout), own); r.code != exitBlocked || got != len(objectKinds()) ||
		!strings.Contains(flat(r.stdout), fmt.Sprintf("the /dev/shm of process %s (%s) has its own %s, not this one", pid, comm, q)) {
		t.Errorf("--target: exit %d, %d of %d %q:\n%s\nstderr:\n%s", r.code, got, len(objectKinds()), own, r.stdout, r.stderr)
	}
	if strings.Contains(r.stderr, "goroutine") {
		t.Errorf("a Go trace:\n%s", r.stderr)
	}

	r = invoke(t, "secret\n", append([]string{"--json", "--target", pid, "-k", "mq"}, which[:2]...)...)
	var rec jsonRun
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil || rec.Verdict != "blocked" ||
		rec.Objects[0].ChildOpen == nil || rec.Objects[0].ChildOpen.Result != "not-ours" {
		t.Errorf("--json: %v\n%s", err, r.stdout)
	}

	r = invoke(t, "secret\n", append([]string{"--json", "-c", "--target", pid, "-k", "all"}, which...)...)
	var cmp jsonCompare
	if err := json.Unmarshal([]byte(r.stdout), &cmp); err != nil || len(cmp.Runs) != 3 {
		t.Fatalf("--compare --target: %v\n%s\nstderr:\n%s", err, r.stdout, r.stderr)
	}
	for _, o := range cmp.Runs[2].Objects {
		if o.Verdict != "blocked" || o.ChildOpen == nil || o.ChildOpen.Result != "not-ours" {
			t.Errorf("--compare --target, %s: %s, %+v", o.Kind, o.Verdict, o.ChildOpen)
		}
	}

	// The parent's objects in a namespace of a third process.
	from := strconv.Itoa(sleeperIn(t, "--ipc"))
	r = invoke(t, "secret\n", append([]string{"--from", from, "--target", pid, "-k", "mq,msg,sem,shm"}, which...)...)
	if r.code != exitBlocked || !strings.Contains(flat(r.stdout), "not the one in the IPC namespace of process "+from+" (sleep)") {
		t.Errorf("--from: exit %d:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}

	r = invoke(t, "", append([]string{"--scan", "--probe", "--json", "-k", "all"}, which...)...)
	var scan jsonScan
	if err := json.Unmarshal([]byte(r.stdout), &scan); err != nil {
		t.Fatalf("--scan: %v\n%s", err, r.stdout)
	}
	for _, s := range scan.Namespaces {
		// Where the host cannot be seen (a user namespace of the suite's
		// own), nothing is said of sharing it.
		shares := func(b *bool) bool { return b == nil && !scan.HostSeen || b != nil && scan.HostSeen && !*b }
		if strconv.Itoa(s.PID) == pid && (s.Verdict == nil || *s.Verdict != "blocked" || !shares(s.SharesIPC) ||
			!shares(s.SharesDevShm)) {
			t.Errorf("--scan --probe, the host seen %v: %+v", scan.HostSeen, s)
		}
	}

	imp.stdin.Close()
	if got := imp.wait(); strings.TrimSpace(strings.TrimPrefix(got.stdout, "ready\n")) != "untouched" {
		t.Errorf("the impostor's objects were written into:\n%s%s", got.stdout, got.stderr)
	}
}

// A process in a root whose /dev/shm is a link: one that loops, and one
// that leads, by an absolute path, to a directory that exists only
// outside that root. Each is looked up within the root, and blocked with
// the reason; the file outside is left as it was.
func TestTargetRootLinks(t *testing.T) {
	needRoot(t, "chroot")
	busybox := tool(t, "busybox")
	outside := t.TempDir()
	q := testQueue(t)
	outsideFile := filepath.Join(outside, q[1:])
	content := bytes.Repeat([]byte("untouched "), ipc.MappingSize)
	if err := os.WriteFile(outsideFile, content, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, link, says string }{
		{"a link that loops", ipc.ShmDir, "is a link that loops"},
		{"a link out of the root", outside, "leads nowhere within its root"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			os.MkdirAll(filepath.Join(root, "bin"), 0o755)
			os.MkdirAll(filepath.Join(root, "dev"), 0o755)
			copyFile(t, busybox, filepath.Join(root, "bin", "busybox"))
			os.Symlink("busybox", filepath.Join(root, "bin", "sleep"))
			if err := os.Symlink(tt.link, filepath.Join(root, ipc.ShmDir)); err != nil {
				t.Fatal(err)
			}
			sleeper := command(t, tool(t, "chroot"), root, "/bin/sleep", "600")
			if err := sleeper.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sleeper.Process.Kill(); sleeper.Wait() })
			waitForCommand(t, sleeper.Process.Pid, "sleep")
			r := invoke(t, "secret\n", "--target", strconv.Itoa(sleeper.Process.Pid), "-k", "pshm", "-q", q)
			want := fmt.Sprintf("the /dev/shm of process %d (sleep) %s", sleeper.Process.Pid, tt.says)
			if r.code != exitBlocked || !strings.Contains(flat(r.stdout), want) {
				t.Errorf("exit %d, want 3 and %q:\n%s\nstderr:\n%s", r.code, want, r.stdout, r.stderr)
			}
		})
	}
	if b, err := os.ReadFile(outsideFile); err != nil || !bytes.Equal(b, content) {
		t.Errorf("the file outside the root was changed (%v)", err)
	}
}

// A namespace that only a thread is in is listed, probed and joined
// through that thread, and named as a thread.
func TestThreadNamespace(t *testing.T) {
	privFlags(t)
	needRoot(t, "joining another IPC namespace")
	cmd := helperCmd(t, -1, "thread-ns")
	h := startCmd(t, cmd)
	h.waitFor("thread ")
	var tid int
	fmt.Sscanf(lastLine(h.seen.String()), "thread %d", &tid)
	if tid == 0 {
		t.Fatalf("no thread: %q", h.seen.String())
	}
	pid := cmd.Process.Pid
	waitForNamespace(t, tid, "ipc")
	thread := fmt.Sprintf("thread %d of process %d (%s)", tid, pid, ns.Comm(pid))

	r := invoke(t, "to a thread\n", "--target", strconv.Itoa(tid), "-q", testQueue(t))
	if r.code != exitBlocked || !strings.Contains(flat(r.stdout), thread+" is in another IPC namespace") {
		t.Errorf("--target TID: exit %d, want 3 and %q:\n%s\nstderr:\n%s", r.code, thread, r.stdout, r.stderr)
	}
	r = invoke(t, "to a thread\n", "--json", "--target", strconv.Itoa(tid), "-q", testQueue(t))
	var rec jsonRun
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil || rec.Target == nil || rec.Target.PID != pid || rec.Target.TID != tid {
		t.Errorf("--json target %+v (%v)", rec.Target, err)
	}

	id, _ := os.Readlink(fmt.Sprintf("/proc/%d/task/%d/ns/ipc", pid, tid))
	r = invoke(t, "", "--scan", "--probe", "--json", "-q", testQueue(t))
	var scan jsonScan
	if err := json.Unmarshal([]byte(r.stdout), &scan); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	found := false
	for _, s := range scan.Namespaces {
		if s.IPC == id {
			found = s.PID == pid && s.TID == tid && s.Verdict != nil && *s.Verdict == "blocked"
		}
	}
	if !found {
		t.Errorf("the thread's namespace %s, probed through thread %d, blocked: not in\n%s", id, tid, r.stdout)
	}
	r = invoke(t, "", "--scan")
	named := false
	for _, row := range scanTable(r.stdout) {
		named = named || row["PID"] == strconv.Itoa(pid) && strings.HasSuffix(row["COMMAND"], fmt.Sprintf(" (thread %d)", tid))
	}
	if !named {
		t.Errorf("--scan does not name thread %d:\n%s", tid, r.stdout)
	}
}

// A full tmpfs on /dev/shm: every kind is refused in one error before the
// exchange, nothing is left, and --json still prints its object. The
// test's own mount namespace holds the tiny tmpfs.
func TestFullDevShm(t *testing.T) {
	needRoot(t, "mounting a tmpfs")
	script := `mount -t tmpfs -o size=8k tmpfs /dev/shm &&
head -c 65536 /dev/zero > /dev/shm/fill 2>/dev/null
echo hi | "$0" -k pshm -i no -q "$1"; echo "exit $?"
echo hi | "$0" -k all -i no -q "$1" --json; echo "exit $?"
echo "left: $(ls -A /dev/shm)"`
	cmd := command(t, tool(t, "unshare"), "--mount", "--propagation", "private", "sh", "-c", script, binary, testQueue(t))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v\n%s%s", err, out, stderr.String())
	}
	text := string(out)
	if strings.Count(text, "exit 1\n") != 2 || !strings.Contains(text, "left: fill\n") ||
		!strings.Contains(text, `"exit_status": 1`) {
		t.Errorf("want exit 1 twice, the JSON object, nothing left:\n%s", text)
	}
	errs := strings.Split(strings.TrimSpace(stderr.String()), "invoke_ns: ")
	if len(errs) != 3 || strings.Contains(stderr.String(), "goroutine") || !strings.Contains(flat(stderr.String()), "/dev/shm is full") {
		t.Errorf("want two errors of invoke_ns's, no trace:\n%s", stderr.String())
	}
}

// A FIFO given as a namespace file is refused at once, never opened for
// reading, which would wait for a writer.
func TestFIFOIsNoNamespace(t *testing.T) {
	privFlags(t)
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--target", fifo}, {"--from", fifo, "-i", "no"}} {
		r := invoke(t, "", append(args, "-q", testQueue(t))...)
		want := args[0] + " " + fifo + ": not an IPC namespace file"
		if msg, one := oneError(r.stderr); r.code != exitFailure || !one || !strings.Contains(msg, want) {
			t.Errorf("%q: exit %d, want 1 and %q:\n%s", args, r.code, want, r.stderr)
		}
		// A bound on a wait: a blocking open never returns.
		if r.elapsed > 5*time.Second {
			t.Errorf("%q took %v", args, r.elapsed)
		}
	}
}

// --from's errors name --from; a zombie has ended; a process that even
// root may not read is named so.
func TestTargetWords(t *testing.T) {
	privFlags(t)
	zombie := command(t, "true")
	if err := zombie.Start(); err != nil {
		t.Fatal(err)
	}
	defer zombie.Wait()
	waitUntil(t, "true ended", func() bool { return ns.Ended(zombie.Process.Pid) })
	tests := []struct {
		name string
		args []string
		says string
	}{
		{"--from no such process", []string{"--from", "2147483000", "-i", "no"}, "--from 2147483000: no such process"},
		{"--from not a namespace", []string{"--from", "/etc/hostname", "-i", "no"}, "--from /etc/hostname: not an IPC namespace file"},
		{"a zombie", []string{"--target", strconv.Itoa(zombie.Process.Pid)},
			fmt.Sprintf("--target %d: process %d (true) has ended", zombie.Process.Pid, zombie.Process.Pid)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := invoke(t, "", tt.args...)
			if msg, one := oneError(r.stderr); r.code != exitFailure || !one || !strings.Contains(msg, tt.says) {
				t.Errorf("exit %d, want 1 and %q:\n%s", r.code, tt.says, r.stderr)
			}
		})
	}
	t.Run("root without CAP_SYS_PTRACE", func(t *testing.T) {
		needRealRoot(t, "root without CAP_SYS_PTRACE")
		h := startCmd(t, helperCmd(t, -1, "undumpable"))
		h.waitFor("ready")
		pid := h.cmd.Process.Pid
		r := finish(t, command(t, tool(t, "setpriv"), "--bounding-set=-sys_ptrace", binary, "--target", strconv.Itoa(pid)))
		want := fmt.Sprintf("process %d (%s): permission denied — root without CAP_SYS_PTRACE", pid, ns.Comm(pid))
		if msg, _ := oneError(r.stderr); r.code != exitFailure || !strings.Contains(msg, want) || !strings.Contains(msg, "give it CAP_SYS_PTRACE") {
			t.Errorf("exit %d, want 1 and %q:\n%s", r.code, want, r.stderr)
		}
	})
}

// A queue name as long as the kernel takes works: the lock's name is a
// hash of it.
func TestLongestQueueName(t *testing.T) {
	flags := privFlags(t)
	name := "/" + strings.Repeat("n", ipc.NameMax-len(strconv.Itoa(os.Getpid()))) + strconv.Itoa(os.Getpid())
	t.Cleanup(func() { assertNoQueue(t, name) })
	r := invoke(t, "long\n", append(flags, "-k", "mq,pshm", "-i", "no", "-q", name)...)
	if r.code != exitOK || strings.Count(r.stdout, ">> long") != 3 {
		t.Errorf("a %d-byte name: exit %d\n%s\nstderr:\n%s", len(name)-1, r.code, r.stdout, r.stderr)
	}
}

// The child stopped at random moments, and the moment it has sent its
// message: every run ends within -t and the grace after it, and a signal
// ends one whatever the child does. A few rounds at a time.
func TestStoppedChild(t *testing.T) {
	flags := privFlags(t)
	const timeout = time.Second
	bound := timeout + run.Grace + 3*time.Second
	var wg sync.WaitGroup
	for round := range 16 {
		wg.Go(func() {
			if err := stoppedRound(flags, round, bound); err != nil {
				t.Errorf("round %d: %v", round, err)
			}
		})
	}
	wg.Wait()
}

// stoppedRound is one round of TestStoppedChild: even rounds stop the
// child once it says it sends, odd ones 0 to 4 ms after it starts; every
// fourth sends SIGTERM to invoke_ns then.
func stoppedRound(flags []string, round int, bound time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), runLimit)
	defer cancel()
	args := append(slices.Clone(flags), "-v", "-k", "all", "-t", "1", "-i", "no", "-q",
		fmt.Sprintf("/invoke_ns_test_%d_stopped_%d", os.Getpid(), round))
	cmd := bounded(ctx, binary, args...)
	cmd.Stdin = strings.NewReader("stopped\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		return err
	}
	lines, seen := bufio.NewReader(out), ""
	waitFor := func(text string) error {
		for !strings.Contains(seen, text) {
			l, err := lines.ReadString('\n')
			seen += l
			if err != nil {
				return fmt.Errorf("no %q: %v\n%s", text, err, seen)
			}
		}
		return nil
	}
	if err := waitFor("Parent: PID of child is "); err != nil {
		return err
	}
	var child int
	fmt.Sscanf(seen[strings.Index(seen, "Parent: PID of child is "):], "Parent: PID of child is %d", &child)
	if round%2 == 0 {
		waitFor(" Child: sending message to parent")
	} else {
		time.Sleep(time.Duration(rand.IntN(4000)) * time.Microsecond)
	}
	unix.Kill(child, unix.SIGSTOP)
	began := time.Now()
	if round%4 == 0 {
		cmd.Process.Signal(unix.SIGTERM)
	}
	rest, _ := io.ReadAll(lines)
	seen += string(rest)
	err = cmd.Wait()
	code := cmd.ProcessState.ExitCode()
	switch {
	case time.Since(began) > bound:
		return fmt.Errorf("ended after %v, more than %v", time.Since(began), bound)
	case round%4 == 0 && code != 128+int(unix.SIGTERM) && code != exitOK:
		return fmt.Errorf("SIGTERM with the child stopped: exit %d (%v)\n%s%s", code, err, seen, stderr.String())
	case strings.Contains(stderr.String(), "goroutine"):
		return fmt.Errorf("a Go trace:\n%s", stderr.String())
	}
	if q := args[len(args)-1]; errors.Is(func() error { _, err := OpenQueue(q, unix.O_RDONLY, ipc.Identity{}); return err }(), unix.ENOENT) {
		return nil
	}
	return fmt.Errorf("its queue was left behind")
}

// Another user's objects: root's -f leaves them, naming the owner, and
// nobody calls them an earlier run's leftover; another user finds root's
// owned by another user too.
func TestOtherUsersObjects(t *testing.T) {
	needRealRoot(t, "a second uid")
	q, key := testQueue(t), testKey(t)
	if r := finish(t, helperCmd(t, 65534, "make", q, strconv.Itoa(int(key)))); r.code != 0 {
		t.Fatalf("uid 65534 making objects: %d\n%s", r.code, r.stderr)
	}
	defer func() {
		UnlinkQueue(q)
		ipc.UnlinkShm(ipc.ShmDir, q)
		if o, err := ipc.MsgGet(key, 0, ipc.Identity{}); err == nil {
			o.Remove()
		}
	}()
	for _, args := range [][]string{
		{"-q", q},
		{"-k", "pshm", "-q", q},
		{"-k", "msg", "--key", strconv.Itoa(int(key))},
	} {
		r := invoke(t, "x\n", append([]string{"-f", "-i", "no"}, args...)...)
		if msg, _ := oneError(r.stderr); r.code != exitFailure || !strings.Contains(msg, "owned by uid 65534, another user, so it stays") {
			t.Errorf("root's -f %q: exit %d\n%s", args, r.code, r.stderr)
		}
	}
	if _, err := OpenQueue(q, unix.O_RDONLY, ipc.Identity{}); err != nil {
		t.Errorf("uid 65534's queue is gone: %v", err)
	}
	if _, err := os.Stat(ipc.ShmPath(ipc.ShmDir, q)); err != nil {
		t.Errorf("uid 65534's /dev/shm file is gone: %v", err)
	}
	if _, err := ipc.MsgGet(key, 0, ipc.Identity{}); err != nil {
		t.Errorf("uid 65534's System V queue is gone: %v", err)
	}

	// Root's leftover, as uid 65534 sees it.
	mine := testQueue(t)
	left, err := CreateQueue(mine, 0o600, 1, 8)
	if err != nil {
		t.Fatal(err)
	}
	left.Close()
	defer UnlinkQueue(mine)
	cmd := command(t, binary, "-i", "no", "-q", mine)
	cmd.Dir, cmd.Stdin = "/", strings.NewReader("x\n")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	r := finish(t, cmd)
	if msg, _ := oneError(r.stderr); r.code != exitFailure || !strings.Contains(msg, "owned by another user") ||
		strings.Contains(msg, "earlier run") {
		t.Errorf("uid 65534 on root's queue: exit %d\n%s", r.code, r.stderr)
	}
}

// A process of another user's that binds the lock of a name is no run of
// invoke_ns: it is named as what it is, and -f still removes the caller's
// own leftover of that name.
func TestSquattedLock(t *testing.T) {
	needRealRoot(t, "a second uid")
	q := testQueue(t)
	sq := helperCmd(t, 65534, "squat", q)
	s := startCmd(t, sq)
	s.waitFor("ready")
	left, err := CreateQueue(q, 0o600, 1, 8)
	if err != nil {
		t.Fatal(err)
	}
	left.Close()
	r := invoke(t, "past the squatter\n", "-f", "-i", "no", "-q", q)
	says := fmt.Sprintf("held by process %d (%s), which is not invoke_ns", sq.Process.Pid, ns.Comm(sq.Process.Pid))
	if r.code != exitOK || !strings.Contains(flat(r.stdout), says) ||
		!strings.Contains(flat(r.stdout), "removed message queue "+q+", an earlier run's leftover") {
		t.Errorf("exit %d, want 0, %q and the leftover removed:\n%s\nstderr:\n%s", r.code, says, r.stdout, r.stderr)
	}
	if r := invoke(t, "again\n", "-i", "no", "-q", q); r.code != exitOK {
		t.Errorf("with the lock squatted: exit %d\n%s", r.code, r.stderr)
	}
}

// Two -f runs at once, a leftover of the name there: one removes it and
// runs, the other finds it live and leaves it; neither loses its queue.
func TestForceRunsAtOnce(t *testing.T) {
	flags := privFlags(t)
	q := testQueue(t)
	for round := range 250 {
		left, err := CreateQueue(q, 0o600, 1, 8)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		left.Close()
		var wg sync.WaitGroup
		var results [2]result
		for i := range 2 {
			wg.Go(func() { results[i], _ = goRun(t, "raced\n", append(flags, "-f", "-i", "no", "-q", q)...) })
		}
		wg.Wait()
		delivered := 0
		for _, r := range results {
			switch {
			case r.code == exitOK:
				delivered++
			case r.code == exitFailure && strings.Contains(flat(r.stderr), "in use by") && strings.Contains(flat(r.stderr), "so it stays"):
			default:
				t.Fatalf("round %d: exit %d\n%s\nstderr:\n%s", round, r.code, r.stdout, r.stderr)
			}
		}
		if delivered == 0 {
			t.Fatalf("round %d: neither run went through", round)
		}
	}
}

// Leftovers are named with the command that removes each: a /dev/shm
// file of a run killed outright, and its System V objects, whose keys
// were drawn at random.
func TestLeftoversNamed(t *testing.T) {
	flags := privFlags(t)
	s := start(t, append(flags, "-v", "-k", "msg,pshm", "-i", "no")...)
	s.waitForPrompt()
	s.cmd.Process.Kill()
	s.wait()
	var key int32
	fmt.Sscanf(s.seen.String()[strings.Index(s.seen.String(), "System V key: "):], "System V key: %d", &key)
	remove := fmt.Sprintf("ipcrm -Q 0x%08x removes it", uint32(key))
	defer func() {
		ipc.UnlinkShm(ipc.ShmDir, defaultQueue)
		if o, err := ipc.MsgGet(key, 0, ipc.Identity{}); err == nil {
			o.Remove()
		}
	}()
	r := invoke(t, "again\n", append(flags, "-k", "msg,pshm", "-i", "no")...)
	out := flat(r.stdout)
	if r.code != exitOK || !strings.Contains(out, "/ipc_namespace was left behind by an earlier run") ||
		!strings.Contains(out, "(rm /dev/shm/ipc_namespace removes it)") || !strings.Contains(out, remove) {
		t.Errorf("exit %d, want both leftovers named, with %q:\n%s\nstderr:\n%s", r.code, remove, r.stdout, r.stderr)
	}
}

// The command that removes a leftover, for each kind and name.
func TestRemoval(t *testing.T) {
	for _, tt := range []struct {
		o    ipc.Object
		want string
	}{
		{ipc.Object{Kind: kindNamed("mq"), Name: defaultQueue}, "invoke_ns -f -i no"},
		{ipc.Object{Kind: kindNamed("mq"), Name: "/ipc_namespace.42"}, "invoke_ns -f -q /ipc_namespace.42 -i no"},
		{ipc.Object{Kind: kindNamed("pshm"), Name: "/ipc_namespace.42"}, "rm /dev/shm/ipc_namespace.42"},
		{ipc.Object{Kind: kindNamed("msg"), Key: 0x49000001}, "ipcrm -Q 0x49000001"},
		{ipc.Object{Kind: kindNamed("sem"), Key: -1}, "ipcrm -S 0xffffffff"},
		{ipc.Object{Kind: kindNamed("shm"), Key: 17}, "ipcrm -M 0x00000011"},
	} {
		if got := tt.o.Removal(); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.o, got, tt.want)
		}
	}
}
