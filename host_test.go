// host_test.go: the host is never changed, kernel limits get a clear
// error, and everything runs without root through -U.

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// interfaces lists the network interfaces this process sees.
func interfaces(t *testing.T) string {
	b, err := os.ReadFile("/proc/net/dev")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range strings.Split(string(b), "\n")[2:] {
		if name, _, ok := strings.Cut(l, ":"); ok {
			names = append(names, strings.TrimSpace(name))
		}
	}
	return strings.Join(names, " ")
}

func TestHostIsUnchanged(t *testing.T) {
	flags := privFlags(t)
	host, _ := os.Hostname()
	ifaces := interfaces(t)
	_, mqErr := os.Stat("/dev/mqueue")
	r := invoke(t, "hi\n", append(flags, "-p", "-m", "-n", "-u", "elsewhere", "-i", "yes", "-q", testQueue(t), "true")...)
	if r.code != exitBlocked {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if now, _ := os.Hostname(); now != host {
		t.Errorf("hostname changed from %q to %q", host, now)
	}
	if now := interfaces(t); now != ifaces {
		t.Errorf("interfaces changed from %q to %q", ifaces, now)
	}
	if _, err := os.Stat("/dev/mqueue"); (err == nil) != (mqErr == nil) {
		t.Errorf("/dev/mqueue changed: before %v, after %v", mqErr, err)
	}
}

// On a host whose root mount is shared, as systemd makes it, the child's
// /proc must not propagate over the host's.
func TestSharedRootKeepsHostProc(t *testing.T) {
	needRoot(t, "making / shared inside a mount namespace of the test")
	script := `mount --make-rshared / && "$0" -p -m true && test -d /proc/$$ && echo host /proc intact`
	out, err := command(t, "unshare", "--mount", "sh", "-c", script, binary).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "host /proc intact") {
		t.Errorf("after -p -m on a shared root, /proc no longer shows the host: %v\n%s", err, out)
	}
}

// asNobody runs the binary as uid and gid 65534, with the script's
// shell around it when script is not empty.
func asNobody(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	needRealRoot(t, "switching to uid 65534")
	cmd := command(t, binary, args...)
	cmd.Dir = "/"
	cmd.Stdin = strings.NewReader(stdin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	return finish(t, cmd)
}

func TestRootless(t *testing.T) {
	needRealRoot(t, "switching to uid 65534")
	if err := command(t, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "unshare", "-r", "true").Run(); err != nil {
		t.Skipf("skipped %s: this host does not allow unprivileged user namespaces: %v", t.Name(), err)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"no -U: the error says -U", []string{"-i", "yes"}, exitFailure, "", "add -U to run without root"},
		{"-U -i yes", []string{"-U", "-i", "yes"}, exitBlocked, "can arrive: the new IPC namespace has no", "mq_open: No such file or directory"},
		{"-U -i no", []string{"-U", "-i", "no"}, exitOK, "child\n     >> rootless\n", ""},
		{"-U -p -m", []string{"-U", "-p", "-m", "sh", "-c", "echo /proc/[0-9]*"}, exitOK, "/proc/1\n", ""},
		{"-U -u", []string{"-U", "-u", "box", "uname", "-n"}, exitOK, "box\n", ""},
		{"-U -n", []string{"-U", "-n", "sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '"}, exitOK, "\nlo\n", ""},
		{"-U is root inside", []string{"-U", "id", "-u"}, exitOK, "\n0\n", ""},
	}
	for _, kind := range sysvKinds {
		tests = append(tests, []struct {
			name   string
			args   []string
			code   int
			stdout string
			stderr string
		}{
			{"-U -k " + kind + " -i no", []string{"-U", "-k", kind, "-i", "no"}, exitOK, deliveredLine(kind), ""},
			{"-U -k " + kind + " -i yes", []string{"-U", "-k", kind, "-i", "yes"}, exitBlocked, "can arrive: the new IPC namespace has no", kind + "get: No such file or directory"},
		}...)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"-q", testQueue(t)}, tt.args...)
			if strings.Contains(tt.name, "-k") {
				args = append([]string{"--key", fmt.Sprint(testKey(t))}, tt.args...)
			}
			r := asNobody(t, "rootless\n", args...)
			if r.code != tt.code || !strings.Contains(flat(r.stdout), flat(tt.stdout)) || !strings.Contains(flat(r.stderr), tt.stderr) {
				t.Errorf("exit %d (want %d)\nstdout (want %q):\n%s\nstderr (want %q):\n%s", r.code, tt.code, tt.stdout, r.stdout, tt.stderr, r.stderr)
			}
		})
	}
}

// deliveredLine is the start of the line that says a System V kind's
// message, or a semaphore's signal, arrived.
func deliveredLine(kind string) string {
	if kind == "sem" {
		return "Parent: the child's signal arrived through the System V semaphore set"
	}
	return "Parent: the following message was received from the child through the " + kindNamed(kind).Noun
}

// The queue the parent creates under -U belongs to the caller.
func TestRootlessQueueOwner(t *testing.T) {
	needRealRoot(t, "switching to uid 65534")
	q := testQueue(t)
	cmd := command(t, binary, "-U", "-vi", "no", "-q", q)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	s := startCmd(t, cmd)
	s.waitForPrompt()
	out, err := command(t, "unshare", "--mount", "--propagation", "private", "sh", "-c",
		"mount -t mqueue none /mnt && stat -c %u:%g /mnt"+q).CombinedOutput()
	s.stdin.Write([]byte("owned\n"))
	if r := s.wait(); r.code != exitOK {
		t.Errorf("exit %d\n%s", r.code, r.stderr)
	}
	if err != nil || strings.TrimSpace(string(out)) != "65534:65534" {
		t.Errorf("queue owner %q (%v), want 65534:65534", out, err)
	}
}

func TestKernelLimits(t *testing.T) {
	needRealRoot(t, "setting mqueue limits in an IPC namespace of the test")
	tests := []struct {
		name, setup, want string
	}{
		{"queues_max reached", "echo 0 > /proc/sys/fs/mqueue/queues_max", "queues_max = 0"},
		{"msg_max too low", "echo 5 > /proc/sys/fs/mqueue/msg_max", "msg_max = 5"},
		{"RLIMIT_MSGQUEUE used up", "prlimit --pid $$ --msgqueue=100:", "RLIMIT_MSGQUEUE (ulimit -q) of 100 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// root is exempt from the sysctl limits: the run is uid 65534.
			script := tt.setup + ` && exec setpriv --reuid=65534 --regid=65534 --clear-groups "$0" -i no`
			cmd := command(t, "unshare", "--ipc", "sh", "-c", script, binary)
			cmd.Dir = "/"
			r := finish(t, cmd)
			if msg, one := oneError(r.stderr); r.code != exitFailure || !one || !strings.Contains(msg, tt.want) {
				t.Errorf("exit %d, want 1 and one line naming %q:\n%s", r.code, tt.want, r.stderr)
			}
		})
	}
}

// Where user namespaces are forbidden, -U names the setting that forbids
// them, and blames no other.
func TestUserNamespacesForbidden(t *testing.T) {
	needRoot(t, "lowering user.max_user_namespaces inside a user namespace of the test")
	// The limit is per user namespace: 0 inside one forbids any below it.
	script := `echo 0 > /proc/sys/user/max_user_namespaces && exec "$0" -U true`
	cmd := command(t, "unshare", "--user", "--map-root-user", "sh", "-c", script, binary)
	r := finish(t, cmd)
	msg, one := oneError(r.stderr)
	if r.code != exitFailure || !one {
		t.Fatalf("exit %d, want 1 and one error:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(msg, "user.max_user_namespaces is 0 here") || strings.Contains(msg, "unprivileged_userns_clone") ||
		strings.Contains(msg, "apparmor") {
		t.Errorf("the error does not name user.max_user_namespaces alone:\n%s", r.stderr)
	}
}

// With -m and -i yes, /dev/mqueue in the child lists the child's own
// queues, where the directory exists; where it does not, nothing is made.
func TestDevMqueueInTheChild(t *testing.T) {
	needRealRoot(t, "building a /dev with a device node in a mount namespace of the test")
	q := testQueue(t)
	// /dev here is a tmpfs of the test's own mount namespace, with a
	// /dev/mqueue showing the test's IPC namespace, as on a systemd host.
	// The tmpfs is built on a directory of the host's /tmp, removed again.
	script := `d=$(mktemp -d) && echo "tmpdir:$d" && trap 'umount "$d" 2>/dev/null; rmdir "$d"' EXIT &&
		mount -t tmpfs none "$d" && mkdir "$d/mqueue" && touch "$d/null" &&
		mount --bind /dev/null "$d/null" && mount --move "$d" /dev && mount -t mqueue none /dev/mqueue &&
		for ipc in no yes; do
			echo hi | "$0" -vv -m -i $ipc -q "$1" sh -c 'echo "listing:$(ls -A /dev/mqueue)"'
		done; echo end`
	out, err := command(t, "unshare", "--mount", "--propagation", "private", "sh", "-c", script, binary, q).CombinedOutput()
	text := string(out)
	// -i no: no mount, and the parent's queue shows; -i yes: the child's own, empty.
	if err != nil || strings.Count(text, " Child: mounted this IPC namespace's queues on /dev/mqueue\n") != 1 ||
		!strings.Contains(text, "listing:"+q[1:]+"\n") || !strings.Contains(text, "listing:\n") {
		t.Errorf("the child's /dev/mqueue is not its own (%v):\n%s", err, text)
	}
	if _, d, ok := strings.Cut(strings.SplitN(text, "\n", 2)[0], "tmpdir:"); !ok || !filepath.IsAbs(d) {
		t.Errorf("the script did not say which directory it made:\n%s", text)
	} else if _, err := os.Stat(d); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the test left %s on the host: %v", d, err)
	}

	// No /dev/mqueue: nothing is created, and -v says so.
	_, before := os.Stat("/dev/mqueue")
	r := invoke(t, "hi\n", "-vv", "-m", "-i", "yes", "-q", q, "true")
	if _, after := os.Stat("/dev/mqueue"); (before == nil) != (after == nil) {
		t.Errorf("/dev/mqueue changed on the host: %v, then %v", before, after)
	}
	if before != nil && !strings.Contains(r.stdout, " Child: no /dev/mqueue here: nothing mounted") {
		t.Errorf("-vv does not say that nothing was mounted:\n%s", r.stdout)
	}
}
