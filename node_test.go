// node_test.go: a node's containers, and one namespace checked against
// another (--from), with every kind.

package main

import (
	"encoding/json"
	"fmt"
	"invoke_ns/internal/ipc"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// shmOwnSleeper starts sleep in an IPC and a mount namespace of its own,
// with a /dev/shm of its own, and waits until it runs there.
func shmOwnSleeper(t *testing.T) int {
	t.Helper()
	cmd := command(t, tool(t, "unshare"), "--ipc", "--mount", "--propagation", "private",
		"sh", "-c", "mount -t tmpfs -o mode=1777 tmpfs /dev/shm && exec sleep 600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitForCommand(t, cmd.Process.Pid, "sleep")
	waitForNamespace(t, cmd.Process.Pid, "ipc")
	return cmd.Process.Pid
}

// joiner starts sleep in the IPC and mount namespaces of process pid.
func joiner(t *testing.T, pid int) int {
	t.Helper()
	cmd := command(t, tool(t, "nsenter"), "-t", strconv.Itoa(pid), "-i", "-m", "sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitForCommand(t, cmd.Process.Pid, "sleep")
	return cmd.Process.Pid
}

// --from with every kind: the parent's POSIX shared memory made in the
// /dev/shm of --from's process, within its root; one process checked
// against another that shares both its namespaces, against one that
// shares neither, and --compare from it. Nothing is left there.
func TestFromEveryKind(t *testing.T) {
	privFlags(t)
	needRoot(t, "namespaces of the test's own")
	a := shmOwnSleeper(t)
	b, c := joiner(t, a), sleeperIn(t, "--ipc")
	about := func(pid int) string { return fmt.Sprintf("process %d (sleep)", pid) }
	for _, tt := range []struct {
		name string
		args []string
		code int
		says string
	}{
		{"sharing both", []string{"--target", strconv.Itoa(b)}, exitOK, fmt.Sprintf(
			"In sum: %s shares the IPC namespace of %s and the /dev/shm of %s.", about(b), about(a), about(a))},
		{"sharing neither", []string{"--target", strconv.Itoa(c)}, exitBlocked, fmt.Sprintf(
			"In sum: %s is in another IPC namespace, and has a /dev/shm of its own.", about(c))},
		{"-i no, the child there too", []string{"-i", "no"}, exitOK, fmt.Sprintf(
			"In sum: the child shares the IPC namespace of %s and the /dev/shm of %s.", about(a), about(a))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := invoke(t, "from a\n", append([]string{"-k", "all", "--from", strconv.Itoa(a), "-q", testQueue(t)}, tt.args...)...)
			if r.code != tt.code || !strings.Contains(flat(r.stdout), tt.says) {
				t.Errorf("exit %d, want %d and %q:\n%s\nstderr:\n%s", r.code, tt.code, tt.says, r.stdout, r.stderr)
			}
		})
	}
	t.Run("--compare", func(t *testing.T) {
		r := invoke(t, "from a\n", "-c", "-k", "mq,msg,sem,shm", "--from", strconv.Itoa(a), "-q", testQueue(t))
		if r.code != exitOK || !strings.Contains(flat(r.stdout), "Isolation shown") {
			t.Errorf("exit %d:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
	})
	// Nothing of the runs' is left in a's namespaces.
	look := command(t, tool(t, "nsenter"), "-t", strconv.Itoa(a), "-i", "-m", "sh", "-c",
		"m=$(mktemp -d) && mount -t mqueue none $m && ls -A $m && umount $m && rmdir $m; ls -A /dev/shm; "+
			"tail -q -n +2 /proc/sysvipc/msg /proc/sysvipc/sem /proc/sysvipc/shm | grep -c .")
	out, _ := look.Output()
	if got := strings.TrimSpace(string(out)); got != "0" {
		t.Errorf("left in the namespaces of --from's process: %q", got)
	}
}

// --every repeats the scan until a signal: with --json, each report one
// JSON object on a line of its own (JSON Lines), as a log collector reads
// them; without, each report after the first under the time it was made.
func TestScanEvery(t *testing.T) {
	t.Run("--json", func(t *testing.T) {
		s := start(t, "--scan", "--json", "--every", "20ms")
		for i := range 3 {
			line, err := s.lines.ReadString('\n')
			if err != nil {
				t.Fatalf("report %d: %v\nstderr: %s", i, err, s.stderr.String())
			}
			var got jsonScan
			if err := json.Unmarshal([]byte(line), &got); err != nil || got.Node == "" || len(got.Namespaces) == 0 {
				t.Fatalf("report %d is not one scan on one line: %v\n%s", i, err, line)
			}
		}
		s.cmd.Process.Signal(syscall.SIGTERM)
		r := s.wait()
		if r.code != 128+int(syscall.SIGTERM) {
			t.Errorf("exit %d after SIGTERM, want %d\n%s", r.code, 128+int(syscall.SIGTERM), r.stderr)
		}
		// What followed, to the end, is whole reports, a line each.
		for _, line := range strings.SplitAfter(r.stdout, "\n") {
			if line == "" {
				continue
			}
			var got jsonScan
			if err := json.Unmarshal([]byte(line), &got); err != nil {
				t.Errorf("not a report: %v\n%q", err, line)
			}
		}
	})
	t.Run("text", func(t *testing.T) {
		s := start(t, "--scan", "--every", "20ms")
		// The first report, then a line that is only a time. Held
		// against the host's namespaces, or where they cannot be read
		// (in a user namespace), invoke_ns's own.
		s.waitFor(" IPC namespace: ")
		for {
			line, err := s.lines.ReadString('\n')
			if err != nil {
				t.Fatalf("no second report under its time: %v\nstderr: %s", err, s.stderr.String())
			}
			if _, err := time.Parse(time.RFC3339, strings.TrimSpace(line)); err == nil {
				break
			}
			if strings.HasPrefix(line, "IPC ") {
				t.Fatalf("a report without its time:\n%s", line)
			}
		}
		s.waitFor(" IPC namespace: ")
		s.cmd.Process.Signal(syscall.SIGINT)
		if r := s.wait(); r.code != 128+int(syscall.SIGINT) {
			t.Errorf("exit %d after SIGINT\n%s", r.code, r.stderr)
		}
	})
}

// stuckFS mounts on dir a filesystem that never answers: FUSE, with no
// server reading /dev/fuse, so that each lookup in it waits without end,
// as in a container whose FUSE server has stopped. The mount goes, and
// the waits with it, when the test ends.
func stuckFS(t *testing.T, dir string) {
	t.Helper()
	fuse, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("a filesystem that never answers needs FUSE: %v", err)
	}
	opts := fmt.Sprintf("fd=%d,rootmode=40000,user_id=0,group_id=0", fuse.Fd())
	if err := unix.Mount("stuck", dir, "fuse", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		fuse.Close()
		t.Fatalf("mounting FUSE on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		// Closing the server's end ends every wait on the mount.
		fuse.Close()
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
		}
	})
}

// heldUpTarget starts a process in an IPC namespace of its own, in a
// root whose /dev/shm is a filesystem that never answers, and gives its
// PID: a probe of its /dev/shm is held up there.
func heldUpTarget(t *testing.T) int {
	t.Helper()
	needRealRoot(t, "mounting FUSE (/dev/fuse is the host root's)")
	busybox := tool(t, "busybox")
	root := t.TempDir()
	for _, d := range []string{"bin", "dev/shm"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, busybox, filepath.Join(root, "bin", "busybox"))
	if err := os.Symlink("busybox", filepath.Join(root, "bin", "sleep")); err != nil {
		t.Fatal(err)
	}
	stuckFS(t, filepath.Join(root, ipc.ShmDir))
	cmd := command(t, tool(t, "unshare"), "--ipc", tool(t, "chroot"), root, "/bin/sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitForCommand(t, cmd.Process.Pid, "sleep")
	waitForNamespace(t, cmd.Process.Pid, "ipc")
	return cmd.Process.Pid
}

// heldInFUSE waits until a thread of process pid waits on FUSE.
func heldInFUSE(t *testing.T, pid int) {
	t.Helper()
	waitUntil(t, "a probe held up in FUSE", func() bool {
		waits, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/wchan", pid))
		for _, w := range waits {
			if b, err := os.ReadFile(w); err == nil && strings.HasPrefix(string(b), "fuse_") {
				return true
			}
		}
		return false
	})
}

// A probe held up where nothing bounds the wait, in the /dev/shm of a
// process whose root has a filesystem there that never answers, is given
// up after -t: that namespace times out on pshm, after its queue was
// proved blocked; the others are proved as ever, and nothing is left.
func TestScanProbeHeldUp(t *testing.T) {
	held := heldUpTarget(t)
	self := strconv.Itoa(os.Getpid())
	t.Run("-t", func(t *testing.T) {
		r := invoke(t, "", "--scan", "--probe", "-k", "mq,pshm", "-t", "1s", "--json", "--from", self)
		var scan jsonScan
		if err := json.Unmarshal([]byte(r.stdout), &scan); err != nil || r.code != exitOK {
			t.Fatalf("exit %d, %v:\n%s\nstderr:\n%s", r.code, err, r.stdout, r.stderr)
		}
		if r.elapsed < time.Second {
			t.Errorf("ended after %v, before -t 1s: the probe was not held up", r.elapsed)
		}
		var heldUp, own *jsonScanned
		for _, s := range scan.Namespaces {
			if s.PID == held {
				heldUp = s
			}
			if s.Own {
				own = s
			}
		}
		switch {
		case heldUp == nil:
			t.Errorf("the held-up namespace, of process %d, is not listed:\n%s", held, r.stdout)
		case heldUp.Verdict == nil || *heldUp.Verdict != "timeout" || heldUp.SharesIPC == nil || *heldUp.SharesIPC ||
			heldUp.SharesDevShm == nil || *heldUp.SharesDevShm:
			// Its /dev/shm is another filesystem: the kernel says so,
			// whatever its probe came to.
			t.Errorf("held up: want timeout, not sharing the IPC namespace nor /dev/shm: %+v", heldUp)
		}
		if own == nil || own.Verdict == nil || *own.Verdict != "delivered" {
			t.Errorf("the suite's own namespace, probed beside it: want delivered, got %+v", own)
		}
	})
	t.Run("a signal meanwhile", func(t *testing.T) {
		s := start(t, "--scan", "--probe", "-k", "mq,pshm", "--json", "--from", self)
		heldInFUSE(t, s.cmd.Process.Pid)
		s.cmd.Process.Signal(syscall.SIGINT)
		r := s.wait()
		var scan jsonScan
		if err := json.Unmarshal([]byte(r.stdout), &scan); err != nil || r.code != 128+int(syscall.SIGINT) ||
			scan.ExitStatus != r.code {
			t.Errorf("exit %d after SIGINT, want %d, and it in the JSON: %v\n%s\nstderr:\n%s",
				r.code, 128+int(syscall.SIGINT), err, r.stdout, r.stderr)
		}
	})
}
