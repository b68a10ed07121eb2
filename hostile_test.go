// hostile_test.go: what someone hostile on a node does to a proof, and
// what invoke_ns must still say: a root process that removes the objects
// of every run and probe the moment they exist, a full descriptor table
// and a tight limit on threads on a machine of many CPUs, an engine's
// socket that trickles or floods, device nodes and FIFOs planted under an
// object's name, process names that carry terminal controls, an older
// build's live run under -f, a reader that goes away, a seccomp filter.

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
	"unsafe"

	"invoke_ns/internal/hermetic"
	"invoke_ns/internal/ipc"

	"golang.org/x/sys/unix"
)

func init() {
	helpers["remover"] = remover
	helpers["threads-ns"] = threadsInNamespaces
	helpers["named"] = named
	helpers["confined"] = confined
}

// remover QUEUES: removes every object of invoke_ns's the moment it
// exists, in its IPC namespace, its /dev/shm, and the mqueue filesystem
// mounted at QUEUES: queues and files as they are made (inotify), System
// V objects with invoke_ns's keys (0x49...) as /proc/sysvipc lists them.
// It says "ready" once it watches, and "removed N" when its input ends.
func remover(args []string) int {
	in, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		fmt.Fprintln(os.Stderr, "remover:", err)
		return 1
	}
	shm := -1
	for _, d := range []string{args[0], ipc.ShmDir} {
		w, err := unix.InotifyAddWatch(in, d, unix.IN_CREATE|unix.IN_MOVED_TO)
		if err != nil {
			fmt.Fprintln(os.Stderr, "remover:", err)
			return 1
		}
		if d == ipc.ShmDir {
			shm = w
		}
	}
	done := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(done) }()
	fmt.Println("ready")
	removed := 0
	buf := make([]byte, 64<<10)
	for {
		select {
		case <-done:
			fmt.Println("removed", removed)
			return 0
		default:
		}
		n, _ := unix.Read(in, buf)
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := strings.TrimRight(string(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+int(ev.Len)]), "\x00")
			off += unix.SizeofInotifyEvent + int(ev.Len)
			var err error
			if int(ev.Wd) == shm {
				err = unix.Unlink(filepath.Join(ipc.ShmDir, name))
			} else {
				err = UnlinkQueue("/" + name)
			}
			if err == nil {
				removed++
			}
		}
		for _, k := range []string{"msg", "sem", "shm"} {
			for _, row := range ipc.SysVTable(k) {
				key, _ := strconv.ParseInt(row["key"], 10, 64)
				id, _ := strconv.Atoi(row[ipc.IDColumn(k)])
				if uint32(key)&0xff000000 != 0x49000000 {
					continue
				}
				var e unix.Errno
				switch k {
				case "msg":
					_, _, e = unix.Syscall(unix.SYS_MSGCTL, uintptr(id), unix.IPC_RMID, 0)
				case "sem":
					_, _, e = unix.Syscall6(unix.SYS_SEMCTL, uintptr(id), 0, unix.IPC_RMID, 0, 0, 0)
				case "shm":
					_, _, e = unix.Syscall(unix.SYS_SHMCTL, uintptr(id), unix.IPC_RMID, 0)
				}
				if e == 0 {
					removed++
				}
			}
		}
	}
}

// startRemover starts remover in the suite's namespaces, and waits until
// it watches; stop ends it, and says how many objects it removed. It is
// stopped when the test ends, if not before.
func startRemover(t *testing.T) (stop func() int) {
	t.Helper()
	if hermetic.QueuesDir == "" {
		t.Skipf("skipped %s: the suite runs in the host's IPC namespace, where removing every object of "+
			"invoke_ns's would touch other programs'", t.Name())
	}
	s := startCmd(t, helperCmd(t, -1, "remover", hermetic.QueuesDir))
	s.waitFor("ready")
	removed, stopped := 0, false
	stop = func() int {
		if !stopped {
			stopped = true
			s.stdin.Close()
			r := s.wait()
			if _, err := fmt.Sscanf(lastLine(r.stdout), "removed %d", &removed); err != nil || r.code != 0 {
				t.Errorf("remover: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
			}
		}
		return removed
	}
	t.Cleanup(func() { stop() })
	return stop
}

// threadsInNamespaces N: N threads, each in an IPC namespace of its own;
// "ready" once they all are, then it waits for its input to end.
func threadsInNamespaces(args []string) int {
	n, _ := strconv.Atoi(args[0])
	runtime.LockOSThread() // the main thread stays in the suite's namespace
	moved := make(chan error)
	for range n {
		go func() {
			runtime.LockOSThread()
			if unix.Gettid() == unix.Getpid() {
				moved <- fmt.Errorf("on the main thread")
				return
			}
			moved <- unix.Unshare(unix.CLONE_NEWIPC)
			select {} // the thread stays in its namespace till the end
		}()
	}
	for range n {
		if err := <-moved; err != nil {
			fmt.Fprintln(os.Stderr, "threads-ns:", err)
			return 1
		}
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// named NAME: gives itself that command name (prctl PR_SET_NAME), moves
// its main thread to an IPC namespace of its own, so that a row of --scan
// is its, says "ready" and waits for its input to end.
func named(args []string) int {
	runtime.LockOSThread()
	name := append([]byte(args[0]), 0)
	if err := unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&name[0])), 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "named:", err)
		return 1
	}
	if err := unix.Unshare(unix.CLONE_NEWIPC); err != nil {
		fmt.Fprintln(os.Stderr, "named:", err)
		return 1
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// confined PROGRAM ARGS...: executes the program under a seccomp filter
// that refuses, with EPERM, setns(2), unshare(2) and clone(2) with any
// CLONE_NEW* flag, and clone3(2) with ENOSYS (as Docker's default profile
// does for a container without CAP_SYS_ADMIN): root, confined.
func confined(args []string) int {
	const (
		ldAbs   = 0x20 // BPF_LD|BPF_W|BPF_ABS
		jeq     = 0x15 // BPF_JMP|BPF_JEQ|BPF_K
		jset    = 0x45 // BPF_JMP|BPF_JSET|BPF_K
		ret     = 0x06 // BPF_RET|BPF_K
		allow   = 0x7fff0000
		errno   = 0x00050000
		newMask = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
			unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET
	)
	prog := []unix.SockFilter{
		{Code: ldAbs, K: 4}, // arch
		{Code: jeq, K: unix.AUDIT_ARCH_X86_64, Jt: 1},
		{Code: ret, K: allow},
		{Code: ldAbs, K: 0}, // nr
		{Code: jeq, K: unix.SYS_SETNS, Jt: 6},
		{Code: jeq, K: unix.SYS_UNSHARE, Jt: 5},
		{Code: jeq, K: unix.SYS_CLONE3, Jt: 5},
		{Code: jeq, K: unix.SYS_CLONE, Jf: 2},
		{Code: ldAbs, K: 16}, // the flags, their low half
		{Code: jset, K: newMask, Jt: 1},
		{Code: ret, K: allow},
		{Code: ret, K: errno | uint32(unix.EPERM)},
		{Code: ret, K: errno | uint32(unix.ENOSYS)},
	}
	if runtime.GOARCH != "amd64" {
		fmt.Fprintln(os.Stderr, "confined: the filter is written for amd64")
		return 1
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "confined:", err)
		return 1
	}
	runtime.LockOSThread() // the filter is the thread's, and execve keeps it
	if err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fprog)), 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "confined:", err)
		return 1
	}
	err := syscall.Exec(args[0], args, os.Environ())
	fmt.Fprintln(os.Stderr, "confined:", err)
	return 1
}

// A root process in the IPC namespace the probes are held against
// removes their objects the moment they exist. The kernel's identity of
// that namespace says it is the one: it is never called blocked, nor not
// shared, whatever its message did; it is interfered with, or delivered
// where a message got through first. A scan of only the IPC namespace's
// kinds, and one of every kind; ten of each, since the removal races the
// probes.
func TestInterferenceIsNeverIsolation(t *testing.T) {
	needRoot(t, "joining IPC namespaces")
	// A container in the suite's IPC namespace, and one in its own.
	shared, own := container(t, withoutIPC), container(t, nil)
	stop := startRemover(t)
	self := strconv.Itoa(os.Getpid())
	selfNS, _ := os.Readlink("/proc/self/ns/ipc")
	for _, kinds := range []string{"mq", "all"} {
		for round := range 10 {
			r := invoke(t, "", "--scan", "--probe", "-k", kinds, "--json", "--from", self)
			var scan jsonScan
			if err := json.Unmarshal([]byte(r.stdout), &scan); err != nil || r.code != exitOK {
				t.Fatalf("-k %s, round %d: exit %d, %v\n%s\nstderr:\n%s", kinds, round, r.code, err, r.stdout, r.stderr)
			}
			for _, n := range scan.Namespaces {
				switch {
				case n.IPC != selfNS:
				case !n.Host || n.SharesIPC == nil || !*n.SharesIPC || n.Verdict == nil ||
					*n.Verdict != "interfered" && *n.Verdict != "delivered":
					t.Errorf("-k %s, round %d: the namespace held against: %+v", kinds, round, n)
				case *n.Verdict == "interfered" && n.Why == "":
					t.Errorf("-k %s, round %d: interfered, and not said why: %+v", kinds, round, n)
				}
			}
			for _, n := range scan.Namespaces {
				if (n.PID == shared && (n.IPC != selfNS || n.Verdict == nil || *n.Verdict == "blocked")) ||
					(n.PID == own && (n.SharesIPC == nil || *n.SharesIPC)) {
					t.Errorf("-k %s, round %d: the container's namespace: %+v", kinds, round, n)
				}
			}
		}
	}
	// The same in words: the sharing row is the host's, the sentence
	// says so, and no message is said to prove it.
	r := invoke(t, "", "--scan", "--probe", "--from", self)
	for _, row := range scanTable(r.stdout) {
		if row["PID"] == strconv.Itoa(shared) && (row["SAME IPC"] != "yes" || row["VERDICT"] == "blocked") {
			t.Errorf("the sharing container's row %q:\n%s", row, r.stdout)
		}
	}
	if stop() == 0 {
		t.Errorf("the remover removed nothing: nothing was tried")
	}
}

// A run whose objects are removed under it, -i no, is interfered with
// (exit 8), never blocked, and says what happened.
func TestInterferenceInARun(t *testing.T) {
	flags := privFlags(t)
	startRemover(t)
	for _, kind := range []string{"mq", "msg", "pshm"} {
		which := []string{"-q", testQueue(t)}
		if !kindNamed(kind).ByName {
			which = nil
		}
		r := invoke(t, "gone\n", append(append(flags, "-k", kind, "-i", "no", "--json"), which...)...)
		var got jsonRun
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("-k %s: %v\n%s\nstderr:\n%s", kind, err, r.stdout, r.stderr)
		}
		// The child may still have sent before the object went.
		if !(r.code == exitInterfered && got.Verdict == "interfered" ||
			r.code == exitOK && got.Verdict == "delivered") || got.SharesIPC == nil && kind != "pshm" {
			t.Errorf("-k %s: exit %d, %+v\nstderr:\n%s", kind, r.code, got, r.stderr)
		}
		if r.code == exitInterfered && !strings.Contains(flat(r.stderr), "no verdict: ") {
			t.Errorf("-k %s: interfered, without a word on it:\n%s", kind, r.stderr)
		}
	}
}

// Under ulimit -n 256, on a machine of many CPUs (GOMAXPROCS=128), over a
// thousand IPC namespaces that share the /dev/shm held against: the
// probes run as many at once as the descriptors leave room for, none is
// called not sharing it, there is no trace, and nothing is left.
func TestProbesWithinTightLimits(t *testing.T) {
	needRoot(t, "joining IPC namespaces")
	h := startCmd(t, helperCmd(t, -1, "threads-ns", "1000"))
	h.waitFor("ready")
	pid := h.cmd.Process.Pid
	cmd := command(t, tool(t, "prlimit"), "--nofile=256", "--", binary, "--scan", "--probe", "-k", "mq,pshm", "--json",
		"--from", strconv.Itoa(os.Getpid()))
	cmd.Env = append(os.Environ(), "GOMAXPROCS=128")
	r := finish(t, cmd)
	var scan jsonScan
	if err := json.Unmarshal([]byte(r.stdout), &scan); err != nil || r.code != exitOK || strings.Contains(r.stderr, "goroutine ") {
		t.Fatalf("exit %d, %v\n%.2000s\nstderr:\n%.2000s", r.code, err, r.stdout, r.stderr)
	}
	threads := 0
	for _, n := range scan.Namespaces {
		if n.PID != pid || n.TID == 0 {
			continue
		}
		threads++
		if n.SharesDevShm == nil || !*n.SharesDevShm || n.Verdict == nil || *n.Verdict != "delivered" {
			t.Errorf("thread %d's namespace: %+v", n.TID, n)
		}
	}
	if threads != 1000 {
		t.Errorf("%d of the helper's 1000 namespaces were listed", threads)
	}
	if left := hermetic.Leftovers(); len(left) > 0 {
		t.Errorf("left behind: %q", left)
	}
}

// An ordinary user, under a limit on processes that the check accepts,
// on a machine of many CPUs (GOMAXPROCS=128): a run with every kind, and
// a scan that proves every kind, end with no runtime trace and never
// with status 2, which is for the command line; nothing is left.
func TestTightProcessLimit(t *testing.T) {
	needRealRoot(t, "a second uid")
	for _, args := range [][]string{
		{"-k", "all", "-i", "no", "-q", testQueue(t)},
		{"--scan", "--probe", "-k", "all"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			cmd := command(t, tool(t, "setpriv"), append([]string{"--reuid=65534", "--regid=65534", "--clear-groups",
				tool(t, "prlimit"), "--nproc=40", "--", binary}, args...)...)
			cmd.Dir, cmd.Stdin = "/", strings.NewReader("under a limit\n")
			cmd.Env = append(os.Environ(), "GOMAXPROCS=128")
			r := finish(t, cmd)
			_, one := oneError(r.stderr)
			if r.code == exitUsage || strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "fatal error") ||
				r.code != exitOK && !one {
				t.Errorf("exit %d:\n%.3000s", r.code, r.stderr)
			}
			if left := hermetic.Leftovers(); len(left) > 0 {
				t.Errorf("left behind: %q", left)
			}
		})
	}
}

// engineSocket listens, as an engine's API would, on a unix socket of
// the test's, and answers each request as answer says; it is closed when
// the test ends. asked receives a value once a request has come.
func engineSocket(t *testing.T, answer func(c net.Conn)) (sock string, asked <-chan struct{}) {
	t.Helper()
	sock = filepath.Join(t.TempDir(), "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	came := make(chan struct{}, 100)
	done := make(chan struct{})
	t.Cleanup(func() { close(done); l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				go func() { <-done; c.Close() }()
				bufio.NewReader(c).ReadString('\n')
				came <- struct{}{}
				answer(c)
			}()
		}
	}()
	return sock, came
}

// An engine's socket that answers a byte every 1.5 s holds the scan no
// longer than its deadline, and a signal ends --every at once while it
// waits; one that answers 100 MB keeps the scan's memory well under the
// DaemonSet's limit of 128 MiB.
func TestHostileEngine(t *testing.T) {
	trickle := func(c net.Conn) {
		for _, b := range []byte("HTTP/1.0 200 OK\r\n\r\n[" + strings.Repeat(`{"Id":"x","Names":["/y"]},`, 100)) {
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(1500 * time.Millisecond)
		}
	}
	sock, asked := engineSocket(t, trickle)
	t.Run("a trickle", func(t *testing.T) {
		cmd := binaryCmd(t, "", "--scan")
		cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+sock)
		r := finish(t, cmd)
		if r.code != exitOK || r.elapsed > 15*time.Second || !strings.Contains(r.stdout, "Sharing ") {
			t.Errorf("exit %d after %v, want 0 within 15 s:\n%s\nstderr:\n%s", r.code, r.elapsed, r.stdout, r.stderr)
		}
	})
	t.Run("a signal while it trickles", func(t *testing.T) {
		cmd := command(t, binary, "--scan", "--every", "1s", "--json")
		cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+sock)
		s := startCmd(t, cmd)
		<-asked
		began := time.Now()
		s.cmd.Process.Signal(syscall.SIGTERM)
		r := s.wait()
		if took := time.Since(began); r.code != 128+int(syscall.SIGTERM) || took > 3*time.Second {
			t.Errorf("exit %d %v after SIGTERM, want %d within 3 s\nstderr:\n%s", r.code, took, 128+int(syscall.SIGTERM), r.stderr)
		}
	})
	t.Run("a flood", func(t *testing.T) {
		flood, _ := engineSocket(t, func(c net.Conn) {
			w := bufio.NewWriterSize(c, 1<<20)
			w.WriteString("HTTP/1.0 200 OK\r\n\r\n[")
			element := `{"Id":"` + strings.Repeat("f", 64) + `","Names":["/` + strings.Repeat("n", 900) + `"]},`
			for range 100 << 20 / len(element) {
				if _, err := w.WriteString(element); err != nil {
					return
				}
			}
			w.WriteString(`{}]`)
			w.Flush()
		})
		cmd := binaryCmd(t, "", "--scan", "--json")
		cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+flood)
		r := finish(t, cmd)
		rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10
		t.Logf("peak RSS %.1f MiB", float64(rss)/(1<<20))
		// The race detector's build keeps shadow memory of its own,
		// several times the program's: its peak says nothing of this.
		if r.code != exitOK || rss >= 96<<20 && !raceBuild {
			t.Errorf("exit %d, peak RSS %d MiB, want 0 and under 96 MiB\nstderr:\n%s", r.code, rss>>20, r.stderr)
		}
	})
}

// watchOpens watches files for opens (inotify IN_OPEN, which an O_PATH
// descriptor does not give), and gives what saw them.
func watchOpens(t *testing.T, paths ...string) (opened func() []string) {
	t.Helper()
	in, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(in) })
	byWatch := map[int32]string{}
	for _, p := range paths {
		w, err := unix.InotifyAddWatch(in, p, unix.IN_OPEN)
		if err != nil {
			t.Fatalf("watching %s: %v", p, err)
		}
		byWatch[int32(w)] = p
	}
	return func() []string {
		var seen []string
		buf := make([]byte, 4096)
		for {
			n, err := unix.Read(in, buf)
			if err != nil || n <= 0 {
				return seen
			}
			for off := 0; off+unix.SizeofInotifyEvent <= n; {
				ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
				// Not IN_IGNORED and IN_UNMOUNT, which come as its
				// mount namespace ends.
				if ev.Mask&unix.IN_OPEN != 0 {
					seen = append(seen, byWatch[ev.Wd])
				}
				off += unix.SizeofInotifyEvent + int(ev.Len)
			}
		}
	}
}

// A device node and a FIFO planted under an object's name, in a target's
// /dev/shm that allows device nodes and in the parent's own, are never
// opened: not by the child of --target, not by a probe, not by -f.
func TestPlantedNodesNeverOpened(t *testing.T) {
	needRealRoot(t, "making device nodes")
	plant := `mount -t tmpfs -o mode=1777 tmpfs /dev/shm && mknod /dev/shm/planted-dev c 1 3 && mkfifo /dev/shm/planted-fifo`
	target := command(t, tool(t, "unshare"), "--ipc", "--mount", "--propagation", "private", "sh", "-c", plant+" && echo ready && exec sleep 600")
	ts := startCmd(t, target)
	ts.waitFor("ready")
	pid := target.Process.Pid
	waitForCommand(t, pid, "sleep")
	in := func(name string) string { return fmt.Sprintf("/proc/%d/root/dev/shm/%s", pid, name) }
	opened := watchOpens(t, in("planted-dev"), in("planted-fifo"))
	for _, name := range []string{"/planted-dev", "/planted-fifo"} {
		r := invoke(t, "secret\n", "--target", strconv.Itoa(pid), "-k", "pshm", "-q", name)
		if r.code != exitBlocked || !strings.Contains(flat(r.stdout), "has its own "+name+", not this one") {
			t.Errorf("--target, %s: exit %d\n%s\nstderr:\n%s", name, r.code, r.stdout, r.stderr)
		}
		r = invoke(t, "", "--scan", "--probe", "-k", "pshm", "-q", name, "--from", strconv.Itoa(os.Getpid()))
		if r.code != exitOK {
			t.Errorf("--scan --probe, %s: exit %d\n%s", name, r.code, r.stderr)
		}
	}
	// In the parent's own /dev/shm, one that allows device nodes: with
	// and without -f, they stay, and are said not to be invoke_ns's.
	script := plant + ` && echo ready && read go && for n in planted-dev planted-fifo; do
		"$0" -k pshm -i no -q /$n </dev/null; echo "exit $?"; "$0" -f -k pshm -i no -q /$n </dev/null; echo "exit $?"; done`
	own := command(t, tool(t, "unshare"), "--mount", "--propagation", "private", "sh", "-c", script, binary)
	run := startCmd(t, own)
	run.waitFor("ready")
	ownOpened := watchOpens(t, fmt.Sprintf("/proc/%d/root/dev/shm/planted-dev", own.Process.Pid),
		fmt.Sprintf("/proc/%d/root/dev/shm/planted-fifo", own.Process.Pid))
	io.WriteString(run.stdin, "go\n")
	r := run.wait()
	if strings.Count(r.stdout, "exit 1\n") != 4 || strings.Count(flat(r.stderr), "not an object of invoke_ns's (not a regular file)") != 4 {
		t.Errorf("want 4 refusals, each saying why:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	if seen := append(opened(), ownOpened()...); len(seen) > 0 {
		t.Errorf("opened: %q", seen)
	}
}

// Process names with terminal controls in them (an erasing sequence,
// carriage return, bell, a C1 CSI as a character and as a lone byte) show
// escaped in --scan and --scan --probe: their text holds no control byte
// but newline.
func TestNamesEscaped(t *testing.T) {
	needRoot(t, "IPC namespaces of the test's own")
	names := map[string]string{
		"\x1b[9A\x1b[J\x1b[8m": `\x1b[9A\x1b[J\x1b[8m`,
		"cr\rbel\x07":          `cr\rbel\x07`,
		"csi\u009b2J":          `csi\u009b2J`,
		"raw\x9b2J":            `raw\x9b2J`,
	}
	for name := range names {
		startCmd(t, helperCmd(t, -1, "named", name)).waitFor("ready")
	}
	for _, args := range [][]string{{"--scan"}, {"--scan", "--probe", "--from", strconv.Itoa(os.Getpid())}} {
		r := invoke(t, "", args...)
		for i := 0; i < len(r.stdout); {
			c, size := utf8.DecodeRuneInString(r.stdout[i:])
			if c != '\n' && (c < 0x20 || c == 0x7f || c >= 0x80 && c < 0xa0 || c == utf8.RuneError && size == 1) {
				t.Errorf("%q: a control character %U at %d:\n%q", args, c, i, r.stdout)
				break
			}
			i += size
		}
		// A cell too wide for its column is broken onto lines: joined
		// again, without the spaces that joined them.
		var commands []string
		for _, row := range scanTable(r.stdout) {
			commands = append(commands, strings.ReplaceAll(row["COMMAND"], " ", ""))
		}
		for _, escaped := range names {
			if !slices.Contains(commands, escaped) {
				t.Errorf("%q: no %s among %q:\n%s", args, escaped, commands, r.stdout)
			}
		}
	}
}

// oldBuild builds invoke_ns as it was at commit, from the checkout's own
// history, and gives its path: a build whose locks are named otherwise.
func oldBuild(t *testing.T, commit string) string {
	t.Helper()
	git := tool(t, "git")
	if command(t, git, "rev-parse", "--git-dir").Run() != nil {
		t.Skipf("skipped %s: the sources are not a git checkout (.ci/run's rootless pass runs a copy), "+
			"so no older build can be made", t.Name())
	}
	if out, err := command(t, git, "cat-file", "-e", commit+"^{commit}").CombinedOutput(); err != nil {
		t.Fatalf("commit %s is not in this checkout's history (%v: %s): a clone with its history is needed", commit, err, out)
	}
	src := t.TempDir()
	archive := command(t, git, "archive", "--format=tar", commit)
	untar := command(t, "tar", "-x", "-C", src)
	var err error
	if untar.Stdin, err = archive.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	if err := archive.Start(); err != nil {
		t.Fatal(err)
	}
	if out, err := untar.CombinedOutput(); err != nil {
		t.Fatalf("unpacking %s: %v\n%s", commit, err, out)
	}
	if err := archive.Wait(); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "invoke_ns")
	build := command(t, "go", "build", "-o", bin, ".")
	build.Dir, build.Env = src, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", commit, err, out)
	}
	return bin
}

// lockNamesChanged is the last commit whose locks are named by SHA-256,
// before FNV-128a: a build of it and a build of now see nothing of each
// other's System V locks.
const lockNamesChanged = "d0f4ede"

// A live run of an older build, whose locks are named otherwise, keeps
// its System V objects under this build's -f, and goes through.
func TestForceSparesAnOlderBuildsRun(t *testing.T) {
	old := oldBuild(t, lockNamesChanged)
	key := strconv.Itoa(int(testKey(t)))
	s := startCmd(t, command(t, old, "-v", "-k", "msg,sem,shm", "-i", "no", "--key", key))
	s.waitForPrompt()
	r := invoke(t, "", "-f", "-k", "msg,sem,shm", "-i", "no", "--key", key)
	if msg, _ := oneError(r.stderr); r.code != exitFailure || !strings.Contains(msg, fmt.Sprintf("in use by invoke_ns PID %d, so it stays", s.cmd.Process.Pid)) {
		t.Errorf("-f: exit %d, want 1 and the live run named:\n%s", r.code, r.stderr)
	}
	io.WriteString(s.stdin, "older and alive\n")
	if r := s.wait(); r.code != exitOK || strings.Count(r.stdout, ">> older and alive") < 3 {
		t.Errorf("the older build's run: exit %d\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

// A reader that goes away (| head -1) ends --scan --every within the next
// report, quietly, with the status of a command SIGPIPE ended; and a run
// at its prompt too.
func TestReaderGoneEndsQuietly(t *testing.T) {
	for _, args := range [][]string{{"--scan", "--every", "1s"}, {"--scan", "--json", "--every", "1s"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			s := start(t, args...)
			if _, err := s.lines.ReadString('\n'); err != nil {
				t.Fatal(err)
			}
			s.closeReader()
			began := time.Now()
			r := s.wait()
			if took := time.Since(began); r.code != 128+int(syscall.SIGPIPE) || r.stderr != "" || took > 3*time.Second {
				t.Errorf("exit %d after %v, want %d within 3 s and nothing said:\n%s", r.code, took, 128+int(syscall.SIGPIPE), r.stderr)
			}
		})
	}
	t.Run("-v -i no", func(t *testing.T) {
		flags := privFlags(t)
		s := start(t, append(flags, "-v", "-i", "no", "-q", testQueue(t))...)
		s.waitFor("PID of parent")
		s.closeReader()
		s.stdin.Close()
		r := s.wait()
		if r.code != 128+int(syscall.SIGPIPE) || strings.Contains(r.stderr, "invoke_ns: ") {
			t.Errorf("exit %d, want %d and no error:\n%s", r.code, 128+int(syscall.SIGPIPE), r.stderr)
		}
	})
}

// Root under a seccomp filter that refuses namespaces, as a container's
// default profile does, is told that the filter refuses it, never to run
// with sudo nor that it lacks CAP_SYS_ADMIN; -U is not blamed on the
// sysctls, which allow it here.
func TestConfinedRoot(t *testing.T) {
	needRealRoot(t, "root of the host, under a seccomp filter")
	target := strconv.Itoa(sleeperIn(t, "--ipc"))
	for _, tt := range []struct {
		name string
		args []string
		says string
	}{
		{"-i yes", []string{"-i", "yes"}, "even root with CAP_SYS_ADMIN is refused here: a seccomp filter forbids it"},
		{"--target", []string{"--target", target}, "even root with CAP_SYS_ADMIN is refused here: a seccomp filter forbids it"},
		{"-U -i yes", []string{"-U", "-i", "yes"}, "allow them here (user.max_user_namespaces, " +
			"kernel.unprivileged_userns_clone, kernel.apparmor_restrict_unprivileged_userns): a seccomp filter forbids it"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := finish(t, helperCmd(t, -1, "confined", append([]string{binary, "-q", testQueue(t)}, tt.args...)...))
			msg, one := oneError(r.stderr)
			if r.code != exitFailure || !one || !strings.Contains(msg, tt.says) || strings.Contains(msg, "sudo") {
				t.Errorf("exit %d, want 1 and %q:\n%s", r.code, tt.says, r.stderr)
			}
		})
	}
}

// Where /proc is not mounted, or there is no /dev/shm, the error says so
// and what to do.
func TestNoProcNoDevShm(t *testing.T) {
	needRoot(t, "mount namespaces of the test's own")
	for _, tt := range []struct{ name, script, says string }{
		// A tmpfs over it: a user namespace's root may not unmount a
		// /proc it was given (the rootless pass of .ci/run).
		{"no /proc", `mount -t tmpfs tmpfs /proc && exec "$0" -i no -q "$1" </dev/null`, "/proc is not mounted here: mount it"},
		{"no /dev/shm", `mount -t tmpfs tmpfs /dev && exec "$0" -k pshm -i no -q "$1"`,
			"there is no /dev/shm here: mount a tmpfs on it"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := finish(t, command(t, tool(t, "unshare"), "--mount", "--propagation", "private", "sh", "-c", tt.script,
				binary, testQueue(t)))
			// The race detector's build warns where /proc is missing.
			stderr := regexp.MustCompile(`(?m)^==\d+==WARNING: .*\n`).ReplaceAllString(r.stderr, "")
			if msg, one := oneError(stderr); r.code != exitFailure || !one || !strings.Contains(msg, tt.says) {
				t.Errorf("exit %d, want 1 and %q:\n%s", r.code, tt.says, r.stderr)
			}
		})
	}
}

// A run ended by a signal in its exchange is failed in --json, the run's
// verdict and its object's: "none" is for runs without -i.
func TestInterruptedRunIsFailed(t *testing.T) {
	flags := privFlags(t)
	cmd := command(t, binary, append(flags, "--json", "-v", "-i", "no", "-q", testQueue(t))...)
	// The transcript goes to stderr with --json: the prompt is there.
	transcript, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	cmd.Stdout = &out
	if _, err := cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var seen []byte
	for b := make([]byte, 1); !strings.HasSuffix(string(seen), ">> "); seen = append(seen, b[0]) {
		if _, err := transcript.Read(b); err != nil {
			t.Fatalf("no prompt: %v\n%s", err, seen)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	io.Copy(io.Discard, transcript)
	cmd.Wait()
	var got jsonRun
	code := cmd.ProcessState.ExitCode()
	if err := json.Unmarshal([]byte(out.String()), &got); err != nil || code != 128+int(syscall.SIGTERM) ||
		got.Verdict != "failed" || len(got.Objects) != 1 || got.Objects[0].Verdict != "failed" {
		t.Errorf("exit %d, %v: %+v\n%s", code, err, got, out.String())
	}
}

// The objects of a scan killed outright while it probes are named by the
// next scan, and by the next run, each with the command that removes it;
// and those commands remove them.
func TestProbeLeftoversNamed(t *testing.T) {
	held := heldUpTarget(t)
	self := strconv.Itoa(os.Getpid())
	s := start(t, "--scan", "--probe", "-k", "all", "--json", "--from", self)
	heldInFUSE(t, s.cmd.Process.Pid)
	s.cmd.Process.Kill()
	s.wait()
	unix.Kill(held, unix.SIGKILL)
	left := hermetic.Leftovers()
	if len(left) == 0 {
		t.Fatal("the killed scan left nothing: nothing to name")
	}
	r := invoke(t, "", "--scan", "--probe", "-k", "all", "--json", "--from", self)
	var scan jsonScan
	if err := json.Unmarshal([]byte(r.stdout), &scan); err != nil || r.code != exitOK {
		t.Fatalf("exit %d, %v\n%s", r.code, err, r.stderr)
	}
	removals := map[string]string{} // the command, and the kind it removes
	for _, l := range scan.Leftovers {
		removals[l.Removal] = l.Kind
	}
	for _, k := range objectKinds() {
		if !slices.ContainsFunc(scan.Leftovers, func(l *jsonLeftover) bool { return l.Kind == k }) {
			t.Errorf("no %s among the leftovers: %+v", k, scan.Leftovers)
		}
	}
	// In words, in the next scan's and the next run's; a run names
	// queues only where /dev/mqueue shows its namespace's, which the
	// suite's namespace is not.
	text := flat(invoke(t, "", "--scan", "--probe", "-k", "all", "--from", self).stdout)
	run := flat(invoke(t, "again\n", "-k", "all", "-i", "no").stdout)
	for removal, kind := range removals {
		if !strings.Contains(text, "("+removal+" removes it)") || kind != "mq" && !strings.Contains(run, "("+removal+" removes it)") {
			t.Errorf("%q is not named:\n%s\n\n%s", removal, text, run)
		}
	}
	// The commands given remove them, invoke_ns's own on PATH.
	for removal := range removals {
		cmd := command(t, "sh", "-c", removal)
		cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
		cmd.Stdin = strings.NewReader("removing\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", removal, err, out)
		}
	}
	if left := hermetic.Leftovers(); len(left) > 0 {
		t.Errorf("still there: %q", left)
	}
}
