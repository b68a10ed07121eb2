// container_test.go: --target against real containers, started with runc
// from an OCI bundle of busybox: one with an IPC namespace of its own (the
// default), one whose spec leaves it out (as --ipc=host), one that joins
// the first's (as --ipc=container: and a pod), and one of its own whose
// /dev/shm is the suite's (as -v /dev/shm:/dev/shm).

package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"invoke_ns/internal/term"
)

var containerSeq int

// container starts a detached container whose spec edit changes, and
// returns the PID of its process, which sleeps. It is deleted when the
// test ends, failed or not.
func container(t *testing.T, edit func(spec map[string]any)) int {
	t.Helper()
	needRealRoot(t, "starting containers with runc")
	runc := tool(t, "runc")
	state, bundle := t.TempDir(), t.TempDir()
	busyboxRoot(t, filepath.Join(bundle, "rootfs"))
	spec := command(t, runc, "spec")
	spec.Dir = bundle
	if out, err := spec.CombinedOutput(); err != nil {
		t.Fatalf("runc spec: %v\n%s", err, out)
	}
	var config map[string]any
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err == nil {
		err = json.Unmarshal(b, &config)
	}
	if err != nil {
		t.Fatal(err)
	}
	process := config["process"].(map[string]any)
	process["terminal"] = false
	process["args"] = []any{"sleep", "600"}
	if edit != nil {
		edit(config)
	}
	if b, err = json.Marshal(config); err == nil {
		err = os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
	containerSeq++
	id := fmt.Sprintf("invoke-ns-test-%d-%d", os.Getpid(), containerSeq)
	pidFile := filepath.Join(state, "pid")
	t.Cleanup(func() {
		del := exec.Command(runc, "--root", state, "delete", "--force", id)
		if out, err := del.CombinedOutput(); err != nil {
			t.Errorf("runc delete %s: %v\n%s", id, err, out)
		}
	})
	// The container's process keeps runc's standard output and error: a
	// file, which no one waits to see closed.
	log := filepath.Join(state, "log")
	logf, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	run := command(t, runc, "--root", state, "run", "--detach", "--pid-file", pidFile, "--bundle", bundle, id)
	run.Stdout, run.Stderr = logf, logf
	if err := run.Run(); err != nil {
		out, _ := os.ReadFile(log)
		t.Fatalf("runc run: %v\n%s", err, out)
	}
	b, err = os.ReadFile(pidFile)
	pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || perr != nil {
		t.Fatalf("the container's PID: %v %v", err, perr)
	}
	// runc run returns once the container has started, which may be
	// before its process has executed sleep.
	waitForCommand(t, pid, "sleep")
	return pid
}

// busyboxRoot makes rootfs a root filesystem of busybox-static, with the
// commands the tests run linked to it, and the folders a runtime mounts on.
func busyboxRoot(t *testing.T, rootfs string) {
	t.Helper()
	busybox := tool(t, "busybox")
	for _, d := range []string{"bin", "dev", "proc", "sys", "etc", "tmp"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, busybox, filepath.Join(rootfs, "bin", "busybox"))
	for _, c := range []string{"sh", "sleep", "ls", "cat"} {
		os.Symlink("busybox", filepath.Join(rootfs, "bin", c))
	}
}

// withoutIPC leaves the IPC namespace out of a spec: the container shares
// the one runc runs in.
func withoutIPC(spec map[string]any) { setIPC(spec, "", false) }

// setIPC gives a spec an IPC namespace at path ("" for a new one), or
// none.
func setIPC(spec map[string]any, path string, keep bool) {
	linux := spec["linux"].(map[string]any)
	var ns []any
	for _, n := range linux["namespaces"].([]any) {
		if n.(map[string]any)["type"] != "ipc" {
			ns = append(ns, n)
		}
	}
	if keep {
		entry := map[string]any{"type": "ipc"}
		if path != "" {
			entry["path"] = path
		}
		ns = append(ns, entry)
	}
	linux["namespaces"] = ns
}

// hostShm gives the container the suite's /dev/shm instead of its own.
func hostShm(spec map[string]any) {
	var mounts []any
	for _, m := range spec["mounts"].([]any) {
		if m.(map[string]any)["destination"] != "/dev/shm" {
			mounts = append(mounts, m)
		}
	}
	spec["mounts"] = append(mounts, map[string]any{
		"destination": "/dev/shm", "type": "bind", "source": "/dev/shm", "options": []any{"rbind", "rw"},
	})
}

func TestTargetContainers(t *testing.T) {
	own := container(t, nil)
	host := container(t, withoutIPC)
	pod := container(t, func(spec map[string]any) { setIPC(spec, fmt.Sprintf("/proc/%d/ns/ipc", own), true) })
	shared := container(t, hostShm)
	tests := []struct {
		name   string
		target string
		code   int
		says   string
	}{
		{"its own IPC namespace", strconv.Itoa(own), exitBlocked, fmt.Sprintf("process %d (sleep) is in another IPC namespace, ipc:[", own)},
		{"the host's (no IPC namespace in its spec)", strconv.Itoa(host), exitOK, fmt.Sprintf("process %d (sleep) shares this IPC namespace", host)},
		{"the first one's, joined", strconv.Itoa(pod), exitBlocked, "is in another IPC namespace"},
		{"its namespace file", fmt.Sprintf("/proc/%d/ns/ipc", own), exitBlocked, fmt.Sprintf("/proc/%d/ns/ipc is another IPC namespace", own)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := invoke(t, "to the container\n", "--target", tt.target, "-q", testQueue(t))
			if r.code != tt.code || !strings.Contains(flat(r.stdout), tt.says) {
				t.Errorf("exit %d, want %d and %q:\n%s\nstderr:\n%s", r.code, tt.code, tt.says, r.stdout, r.stderr)
			}
			// A bound on a wait: the timeout is 60 s.
			if r.elapsed > 5*time.Second {
				t.Errorf("the verdict took %v", r.elapsed)
			}
		})
	}
	// One container against another (--from): the pod's share one.
	for _, tt := range []struct {
		name     string
		from, to int
		code     int
		says     string
	}{
		{"--from the first, --target the pod's other", own, pod, exitOK,
			fmt.Sprintf("process %d (sleep) shares the IPC namespace of process %d (sleep)", pod, own)},
		{"--from the first, --target the host's", own, host, exitBlocked,
			fmt.Sprintf("process %d (sleep) is in another IPC namespace than process %d (sleep)", host, own)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := invoke(t, "between containers\n", "--from", strconv.Itoa(tt.from), "--target", strconv.Itoa(tt.to),
				"-k", "mq,msg,sem,shm", "-q", testQueue(t))
			if r.code != tt.code || !strings.Contains(flat(r.stdout), tt.says) {
				t.Errorf("exit %d, want %d and %q:\n%s\nstderr:\n%s", r.code, tt.code, tt.says, r.stdout, r.stderr)
			}
		})
	}
	// Every kind, through the container's own /dev/shm for pshm: blocked,
	// but for the container whose /dev/shm is the suite's. Kinds on both
	// sides of the line: blocked only where neither crossed, and each
	// question answered apart.
	for _, tt := range []struct {
		name string
		pid  int
		pshm string
		code int
		sum  string
	}{
		{"every kind, its own /dev/shm", own, "blocked", exitBlocked, "is in another IPC namespace, and has a /dev/shm of its own."},
		{"every kind, the suite's /dev/shm", shared, "delivered", exitOK, "is in another IPC namespace, but shares this /dev/shm."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := invoke(t, "to the container\n", "--json", "-k", "all", "--target", strconv.Itoa(tt.pid), "-q", testQueue(t))
			var got jsonRun
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != tt.code {
				t.Fatalf("exit %d, %v:\n%s\nstderr:\n%s", r.code, err, r.stdout, r.stderr)
			}
			sum := fmt.Sprintf("In sum: process %d (sleep) %s", tt.pid, tt.sum)
			if !strings.Contains(flat(r.stderr), sum) || got.SharesIPC == nil || *got.SharesIPC ||
				got.SharesDevShm == nil || *got.SharesDevShm != (tt.pshm == "delivered") {
				t.Errorf("want %q, shares_ipc_namespace false, shares_dev_shm %v:\n%s\nstderr:\n%s",
					sum, tt.pshm == "delivered", r.stdout, r.stderr)
			}
			for _, o := range got.Objects {
				want := "blocked"
				if o.Kind == "pshm" {
					want = tt.pshm
				}
				if o.Verdict != want {
					t.Errorf("%s: %s, want %s", o.Kind, o.Verdict, want)
				}
			}
			if got.Target == nil || got.Target.PID != tt.pid || got.Target.Command != "sleep" || !strings.HasPrefix(got.Target.UserNS, "user:[") {
				t.Errorf("target %+v", got.Target)
			}
		})
	}
	// Nothing was left in the container's namespace.
	// /proc/sysvipc shows the reader's IPC namespace; /dev/mqueue, in the
	// container's mount namespace, shows the container's queues.
	for _, look := range [][]string{
		{"-i", "sh", "-c", "cat /proc/sysvipc/msg /proc/sysvipc/sem /proc/sysvipc/shm | grep -vc '^ *key'"},
		{"-i", "-m", "ls", "-A", "/dev/mqueue"},
	} {
		out, err := command(t, tool(t, "nsenter"), append([]string{"-t", strconv.Itoa(own)}, look...)...).Output()
		if got := strings.TrimSpace(string(out)); got != "0" && got != "" || err != nil && got == "" {
			t.Errorf("in the container, %q gives %q (%v)", look, got, err)
		}
	}
}

// A target that cannot be joined, or is no namespace at all, is refused
// in one error saying why and what to do.
func TestTargetErrors(t *testing.T) {
	privFlags(t)
	tests := []struct {
		name   string
		target string
		says   string
	}{
		{"no such process", "2147483000", "no such process"},
		{"not a namespace", "/etc/hostname", "not an IPC namespace file"},
		{"another kind of namespace", "/proc/self/ns/net", "not an IPC namespace file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := invoke(t, "", "--target", tt.target)
			if msg, one := oneError(r.stderr); r.code != exitFailure || !one || !strings.Contains(msg, tt.says) {
				t.Errorf("exit %d, want 1 and %q:\n%s", r.code, tt.says, r.stderr)
			}
		})
	}
	t.Run("-i with --target", func(t *testing.T) {
		if r := invoke(t, "", "--target", "1", "-i", "no"); r.code != exitUsage {
			t.Errorf("exit %d, want 2\n%s", r.code, r.stderr)
		}
	})
	t.Run("a namespace file and pshm", func(t *testing.T) {
		r := invoke(t, "", "--target", "/proc/self/ns/ipc", "-k", "pshm")
		if msg, _ := oneError(r.stderr); r.code != exitFailure || !strings.Contains(msg, "give --target PID for pshm") {
			t.Errorf("exit %d\n%s", r.code, r.stderr)
		}
	})
}

// Joining another user's namespace without privilege says what to do.
func TestTargetNeedsPrivilege(t *testing.T) {
	pid := container(t, nil)
	cmd := command(t, binary, "-U", "--target", fmt.Sprintf("/proc/%d/ns/ipc", pid))
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	r := finish(t, cmd)
	if msg, one := oneError(r.stderr); r.code != exitFailure || !one || !strings.Contains(msg, "run as root") {
		t.Errorf("exit %d:\n%s", r.code, r.stderr)
	}
}

// The target's process ends while the child waits at its prompt: the run
// ends at once, with nothing left behind.
func TestTargetEnds(t *testing.T) {
	privFlags(t)
	sleeper := command(t, "sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	pid := sleeper.Process.Pid
	s := start(t, "-v", "--target", strconv.Itoa(pid), "-q", testQueue(t))
	s.waitForPrompt()
	began := time.Now()
	sleeper.Process.Kill()
	sleeper.Wait()
	r := s.wait()
	want := fmt.Sprintf("Parent: no message will arrive: the target, process %d (sleep), ended", pid)
	if r.code != exitFailure || !strings.Contains(flat(r.stdout), want) {
		t.Errorf("exit %d, want 1 and %q:\n%s\nstderr:\n%s", r.code, want, r.stdout, r.stderr)
	}
	// A bound on a wait: the timeout is 60 s.
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("ended after %v", d)
	}
}

// --scan lists a container's IPC namespace with its process, marks the
// suite's own (which a container without an IPC namespace shares), and
// --probe proves each; --json gives the same.
func TestScan(t *testing.T) {
	own := container(t, nil)
	host := container(t, withoutIPC)
	id, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/ipc", own))
	if err != nil {
		t.Fatal(err)
	}
	self, _ := os.Readlink("/proc/self/ns/ipc")
	hostID, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/ipc", host))
	if hostID != self {
		t.Fatalf("the container without an IPC namespace is in %s, not the suite's %s", hostID, self)
	}
	// The rows by IPC namespace: runc's cgroup path names no engine, so
	// each namespace is one row. Every line within 80 columns.
	table := func(r result) map[string]map[string]string {
		t.Helper()
		for _, l := range strings.Split(r.stdout, "\n") {
			if len([]rune(l)) > term.Columns {
				t.Errorf("%d columns: %q", len([]rune(l)), l)
			}
		}
		rows := map[string]map[string]string{}
		for _, row := range scanTable(r.stdout) {
			rows[row["IPC"]] = row
		}
		return rows
	}
	// Held against the host's namespaces, PID 2's, not the suite's.
	r := invoke(t, "", "--scan")
	rows := table(r)
	want := map[string]string{"IPC": idNumber(id), "NPROCS": "1", "PID": strconv.Itoa(own), "COMMAND": "sleep",
		"CONTAINER": "-", "HOST IPC": "no", "HOST SHM": "no"}
	if f := rows[idNumber(id)]; r.code != exitOK || !maps.Equal(f, want) {
		t.Errorf("exit %d, the container's line %q, want %q:\n%s", r.code, f, want, r.stdout)
	}
	if f := rows[idNumber(self)]; f == nil || f["HOST IPC"] != "no" {
		t.Errorf("the suite's namespace %q is the host's:\n%s", f, r.stdout)
	}
	hostNS, _ := os.Readlink("/proc/2/ns/ipc")
	if f := rows[idNumber(hostNS)]; f == nil || f["HOST IPC"] != "yes" || f["HOST SHM"] != "yes" {
		t.Errorf("the host's line %q:\n%s", f, r.stdout)
	}
	if !strings.Contains(r.stdout, "\nSharing the host's IPC namespace: ") || !strings.Contains(r.stdout, "\nSharing the host's /dev/shm: ") {
		t.Errorf("no summary:\n%s", r.stdout)
	}
	// Proved against the suite's own, where its objects belong: the
	// container in it shares it, the other is blocked.
	r = invoke(t, "", "--scan", "--probe", "--from", strconv.Itoa(os.Getpid()), "-q", testQueue(t))
	rows = table(r)
	if f := rows[idNumber(self)]; r.code != exitOK || f == nil || f["SAME IPC"] != "yes" || f["VERDICT"] != "delivered" {
		t.Errorf("exit %d, the suite's namespace %q:\n%s\n%s", r.code, f, r.stdout, r.stderr)
	}
	if f := rows[idNumber(id)]; f == nil || f["SAME IPC"] != "no" || f["VERDICT"] != "blocked" {
		t.Errorf("the container's namespace %q:\n%s", f, r.stdout)
	}
	if !strings.Contains(r.stdout, "\nSharing the IPC namespace of process "+strconv.Itoa(os.Getpid())+" ") || !strings.Contains(r.stdout, "SAME IPC") {
		t.Errorf("the summary does not name --from's process:\n%s", r.stdout)
	}
	r = invoke(t, "", "--scan", "--json")
	var got jsonScan
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != exitOK {
		t.Fatalf("exit %d, %v:\n%s", r.code, err, r.stdout)
	}
	found := false
	for _, s := range got.Namespaces {
		if s.IPC == id {
			found = s.PID == own && s.Processes == 1 && !s.Own && !s.Host && s.Verdict == nil && strings.HasPrefix(s.UserNS, "user:[")
		}
	}
	if !found || !got.HostSeen || got.Node == "" {
		t.Errorf("--json lacks the container's namespace %s with PID %d, or the host:\n%s", id, own, r.stdout)
	}
}

// --scan names what it could not read, and why: as another user, root's
// processes; as root with CAP_SYS_PTRACE, nothing; as root without it
// (setpriv drops it), a process that is not dumpable, the host's
// namespaces, and why.
func TestScanSaysWhatItCannotRead(t *testing.T) {
	needRealRoot(t, "a second uid, and root without CAP_SYS_PTRACE,")
	asUser := command(t, binary, "--scan")
	asUser.Dir = "/"
	asUser.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	r := finish(t, asUser)
	if want := "processes of other users could not be read: run as root to see them)"; r.code != exitOK ||
		!strings.Contains(flat(r.stdout), want) {
		t.Errorf("as uid 65534: exit %d, want %q:\n%s\nstderr:\n%s", r.code, want, r.stdout, r.stderr)
	}

	helper := command(t, os.Args[0])
	helper.Env = append(os.Environ(), helperEnv+"=undumpable")
	ready := startCmd(t, helper)
	ready.waitFor("ready")
	pid := helper.Process.Pid
	r = invoke(t, "", "--scan") // as root: it can read the helper
	if strings.Contains(r.stdout, "refuse") && strings.Contains(flat(r.stdout), fmt.Sprintf(" %d (", pid)) {
		t.Errorf("root with CAP_SYS_PTRACE could not read process %d:\n%s", pid, r.stdout)
	}
	// Root without CAP_SYS_PTRACE, as in a container given too little,
	// reads neither the helper nor the host's namespaces, and says why.
	r = finish(t, command(t, tool(t, "setpriv"), "--bounding-set=-sys_ptrace", binary, "--scan"))
	out := flat(r.stdout)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`\(the namespaces of \d+ processes could not be read: root here lacks CAP_SYS_PTRACE — give it that`),
		regexp.MustCompile(`\(the host's namespaces cannot be read: .* give it CAP_SYS_PTRACE\)`),
		regexp.MustCompile(`Sharing invoke_ns's own IPC namespace: `),
	} {
		if r.code != exitOK || !want.MatchString(out) {
			t.Errorf("without CAP_SYS_PTRACE: exit %d, want %q:\n%s\nstderr:\n%s", r.code, want, r.stdout, r.stderr)
		}
	}
}

// An ordinary user, who may join no IPC namespace (setns(2) wants
// CAP_SYS_ADMIN even for one's own), still proves with --probe the one it
// is in, from where it is.
func TestScanProbeAsUser(t *testing.T) {
	needRealRoot(t, "a second uid")
	asUser := command(t, binary, "--scan", "--probe", "-k", "all", "--json")
	asUser.Dir = "/"
	asUser.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	r := finish(t, asUser)
	var scan jsonScan
	if err := json.Unmarshal([]byte(r.stdout), &scan); err != nil || r.code != exitOK {
		t.Fatalf("exit %d, %v:\n%s\nstderr:\n%s", r.code, err, r.stdout, r.stderr)
	}
	for _, s := range scan.Namespaces {
		if s.Own && (s.Verdict == nil || *s.Verdict != "delivered") {
			t.Errorf("its own namespace: want delivered, got %+v\nstderr:\n%s", s, r.stderr)
		}
	}
	if len(scan.Namespaces) == 0 || !scan.Namespaces[0].Own {
		t.Errorf("its own namespace is not listed first:\n%s", r.stdout)
	}
}

// scanTable reads the table of --scan: a row a container or namespace,
// each cell by its column's title, the lines of a cell the table broke
// joined with a space.
func scanTable(out string) []map[string]string {
	lines := strings.Split(out, "\n")
	head := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "IPC ") })
	if head < 0 {
		return nil
	}
	var titles []string
	var starts []int
	for _, title := range []string{"IPC", "NPROCS", "PID", "COMMAND", "CONTAINER", "HOST IPC", "HOST SHM",
		"SAME IPC", "SAME SHM", "VERDICT"} {
		if i := strings.Index(lines[head], title); i >= 0 {
			titles, starts = append(titles, title), append(starts, i)
		}
	}
	var rows []map[string]string
	for _, l := range lines[head+1:] {
		if strings.TrimSpace(l) == "" {
			break
		}
		fresh := strings.TrimSpace(l[:min(len(l), starts[1])]) != ""
		if fresh {
			rows = append(rows, map[string]string{})
		}
		row := rows[len(rows)-1]
		for c, title := range titles {
			from, to := starts[c], len(l)
			if c+1 < len(starts) {
				to = min(starts[c+1], len(l))
			}
			if from < len(l) {
				row[title] = strings.TrimSpace(row[title] + " " + strings.TrimSpace(l[from:to]))
			}
		}
	}
	return rows
}

// idNumber is the number of a namespace's identity, as --scan shows it:
// "ipc:[4026531839]" gives "4026531839".
func idNumber(id string) string { return strings.Trim(strings.TrimPrefix(id, "ipc:"), "[]") }
