// engine_test.go: real engines. A Docker daemon of the test's own runs a
// container in every IPC mode; Podman, with a configuration and storage of
// the test's own, runs a pod and plays a Kubernetes Pod; the image of
// deploy/ runs as the DaemonSet runs it. Each is torn down when its test
// ends, failed or not: containers, pods, images, daemons, mounts.

package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
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

	"invoke_ns/internal/hermetic"

	"golang.org/x/sys/unix"
)

// engine runs an engine's client against a daemon, or a store, of the
// test's own.
type engineCLI struct {
	t    *testing.T
	cli  string   // docker or podman
	args []string // before the command: podman's store
	env  []string // DOCKER_HOST, CONTAINERS_CONF
	dir  string   // the test's folder for it
}

// run runs the client, and fails the test if it fails; it gives the
// output, trimmed.
func (e *engineCLI) run(args ...string) string {
	e.t.Helper()
	out, err := e.try(args...)
	if err != nil {
		e.t.Fatalf("%s %s: %v\n%s", e.cli, strings.Join(args, " "), err, out)
	}
	return out
}

// try runs the client, and gives its output and error.
func (e *engineCLI) try(args ...string) (string, error) {
	cmd := command(e.t, e.cli, append(slices.Clone(e.args), args...)...)
	// Not the checkout: podman kube play would build an image from a
	// folder named as the image is.
	cmd.Env, cmd.Dir = append(os.Environ(), e.env...), e.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

// pid is the PID of a container's first process, once it runs sleep.
func (e *engineCLI) pid(name string) int {
	e.t.Helper()
	pid, err := strconv.Atoi(e.run("inspect", "-f", "{{.State.Pid}}", name))
	if err != nil || pid <= 0 {
		e.t.Fatalf("the PID of %s: %v", name, err)
	}
	waitForCommand(e.t, pid, "sleep")
	return pid
}

// invoke runs invoke_ns with the engine's environment (DOCKER_HOST, where
// it names Docker's containers).
func (e *engineCLI) invoke(args ...string) result {
	e.t.Helper()
	cmd := binaryCmd(e.t, "engine hello\n", args...)
	cmd.Env = append(os.Environ(), e.env...)
	return finish(e.t, cmd)
}

// startDaemon starts a daemon of the test's own, name, its output in
// dir/log, and gives a channel closed once it has ended. When the test
// ends, clear removes what it runs, then the daemon is sent SIGTERM and
// waited for (killed after runLimit), and what it left in dir is swept.
func startDaemon(t *testing.T, name, dir string, args []string, clear func()) <-chan struct{} {
	t.Helper()
	log, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		clear()
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(runLimit):
			cmd.Process.Kill()
			<-exited
			t.Errorf("%s did not stop within %v of SIGTERM", name, runLimit)
		}
		sweep(t, dir)
	})
	return exited
}

// rootfsTar is a tarball of a busybox root filesystem, for `import`.
func rootfsTar(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "rootfs")
	busyboxRoot(t, root)
	file := filepath.Join(t.TempDir(), "rootfs.tar")
	f, err := os.Create(file)
	if err == nil {
		err = writeTar(f, root)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	return file
}

// writeTar writes the files under root to w as a tar archive, each owned
// by root, as an image's layer has them.
func writeTar(w io.Writer, root string) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == root {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link, _ := os.Readlink(path)
		h, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		h.Name, h.Uid, h.Gid, h.Uname, h.Gname = strings.TrimPrefix(path, root+"/"), 0, 0, "", ""
		if err := tw.WriteHeader(h); err != nil || !info.Mode().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if err == nil {
			_, err = tw.Write(b)
		}
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// startDockerd starts a Docker daemon of the test's own: its data, its
// runtime state and its socket in the test's folder, no network of its
// own, no iptables; in the suite's namespaces, or with hostIPC in the IPC
// namespace of the host (PID 2's), whose --ipc=host is then the host's.
// It is stopped, with every container, when the test ends.
func startDockerd(t *testing.T, hostIPC bool) *engineCLI {
	t.Helper()
	needRealRoot(t, "a Docker daemon")
	dockerd, docker := tool(t, "dockerd"), tool(t, "docker")
	asFound(t, "/etc/docker/key.json", "/run/docker", "/run/containerd")
	dir := t.TempDir()
	sock := filepath.Join(dir, "docker.sock")
	config := filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(config, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{dockerd, "--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"-H", "unix://" + sock, "--pidfile", filepath.Join(dir, "pid"), "--config-file", config,
		"--iptables=false", "--ip6tables=false", "--bridge=none"}
	if hostIPC {
		args = append([]string{tool(t, "nsenter"), "--ipc=/proc/2/ns/ipc", "--"}, args...)
	}
	e := &engineCLI{t: t, cli: docker, env: []string{"DOCKER_HOST=unix://" + sock}, dir: dir}
	exited := startDaemon(t, "dockerd", dir, args, func() {
		if ids, err := e.try("ps", "-aq"); err == nil && ids != "" {
			if out, err := e.try(append([]string{"rm", "-f"}, strings.Fields(ids)...)...); err != nil {
				t.Errorf("docker rm: %v\n%s", err, out)
			}
		}
	})
	waitUntil(t, "answered by dockerd", func() bool {
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(dir, "log"))
			t.Fatalf("dockerd ended:\n%s", b)
		default:
		}
		_, err := e.try("version")
		return err == nil
	})
	return e
}

// sweep ends what an engine left of the test's (a process run from dir,
// such as a shim), and unmounts what it left mounted under dir, in the
// suite's mount namespace: t.TempDir removes the rest.
func sweep(t *testing.T, dir string) {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		if pid, err := strconv.Atoi(strings.Split(p, "/")[2]); err == nil && bytes.Contains(b, []byte(dir)) {
			t.Errorf("process %d was left running: %s", pid, bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
			unix.Kill(pid, unix.SIGKILL)
		}
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var mounts []string
	for s := bufio.NewScanner(f); s.Scan(); {
		if fields := strings.Fields(s.Text()); len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			mounts = append(mounts, fields[4])
		}
	}
	// The deepest first.
	slices.SortFunc(mounts, func(a, b string) int { return len(b) - len(a) })
	for _, m := range mounts {
		unix.Unmount(m, unix.MNT_DETACH)
	}
}

// dockerContainer runs a container of busybox sleeping, with no network,
// and returns its PID.
func (e *engineCLI) dockerContainer(image, name string, opts ...string) int {
	e.t.Helper()
	args := append([]string{"run", "-d", "--pull", "never", "--network", "none", "--name", name}, opts...)
	e.run(append(args, image, "sleep", "600")...)
	return e.pid(name)
}

// Docker's every IPC mode, and a /dev/shm bound from its host: --target
// -k all proves each, and --scan names each as docker ps does, says which
// share the daemon's IPC namespace and /dev/shm (the suite's: --from
// holds them against it), and --probe proves it kind by kind.
func TestDocker(t *testing.T) {
	d := startDockerd(t, false)
	const image = "invoke_ns-test:busybox"
	d.run("import", rootfsTar(t), image)
	containers := []struct {
		name     string
		opts     []string
		ipc, shm bool // shares the daemon's IPC namespace, /dev/shm
	}{
		{"own", nil, false, false},
		{"donor", []string{"--ipc", "shareable"}, false, false},
		{"joiner", []string{"--ipc", "container:donor"}, false, false},
		{"hostipc", []string{"--ipc", "host"}, true, true},
		{"sneaky", []string{"--ipc", "container:hostipc"}, true, true},
		{"noipc", []string{"--ipc", "none"}, false, false},
		{"shmbind", []string{"-v", "/dev/shm:/dev/shm"}, false, true},
		// An IPC namespace's limits of its own, which --probe reads.
		{"tuned", []string{"--sysctl", "kernel.msgmni=1000"}, false, false},
	}
	pids := map[string]int{}
	for _, c := range containers {
		pids[c.name] = d.dockerContainer(image, c.name, c.opts...)
	}
	self := strconv.Itoa(os.Getpid())
	for _, c := range containers {
		t.Run("--target "+c.name, func(t *testing.T) {
			r := d.invoke("--json", "--target", strconv.Itoa(pids[c.name]), "-k", "all", "-q", testQueue(t))
			var got jsonRun
			decode(t, r.stdout, &got, map[string]bool{})
			want := exitBlocked
			if c.ipc || c.shm {
				want = exitOK
			}
			if r.code != want || got.SharesIPC == nil || *got.SharesIPC != c.ipc || got.SharesDevShm == nil || *got.SharesDevShm != c.shm {
				t.Errorf("exit %d (want %d), shares IPC %v, /dev/shm %v (want %v, %v)\n%s", r.code, want,
					deref(got.SharesIPC), deref(got.SharesDevShm), c.ipc, c.shm, r.stderr)
			}
		})
	}
	t.Run("--scan", func(t *testing.T) {
		r := d.invoke("--scan", "--json", "--from", self)
		var got jsonScan
		decode(t, r.stdout, &got, map[string]bool{})
		byName := got.byName()
		for _, c := range containers {
			g := byName[c.name]
			id := d.run("inspect", "-f", "{{.Id}}", c.name)
			if g == nil || g.Engine != "docker" || g.ID != id || g.PID != pids[c.name] ||
				deref(g.SharesHostIPC) != c.ipc || deref(g.SharesHostDevShm) != c.shm {
				t.Errorf("%s (%s): %+v", c.name, id, g)
			}
		}
		if byName["joiner"] == nil || byName["donor"] == nil || byName["joiner"].IPC != byName["donor"].IPC {
			t.Errorf("joiner is not in donor's IPC namespace:\n%s", r.stdout)
		}
		// The same, in words: the two sentences name them.
		r = d.invoke("--scan", "--from", self)
		text := flat(r.stdout)
		for _, want := range []string{
			"IPC namespace of process " + self + " (invoke_ns.test): hostipc, sneaky.",
			"/dev/shm of process " + self + " (invoke_ns.test): hostipc, shmbind, sneaky.",
		} {
			if r.code != exitOK || !strings.Contains(text, want) {
				t.Errorf("exit %d, no %q:\n%s%s", r.code, want, r.stdout, r.stderr)
			}
		}
	})
	t.Run("--scan --probe", func(t *testing.T) {
		r := d.invoke("--scan", "--probe", "-k", "all", "--json", "--from", self, "-q", testQueue(t))
		var got jsonScan
		decode(t, r.stdout, &got, map[string]bool{})
		byName := got.byName()
		for _, c := range containers {
			g := byName[c.name]
			if g == nil {
				t.Errorf("%s is not listed:\n%s", c.name, r.stdout)
				continue
			}
			want := map[string]string{}
			for _, k := range objectKinds() {
				v := c.ipc
				if kindNamed(k).InDevShm {
					v = c.shm
				}
				want[k] = map[bool]string{true: "delivered", false: "blocked"}[v]
			}
			if !maps.Equal(g.Verdicts, want) || deref(g.SharesHostIPC) != c.ipc || deref(g.SharesHostDevShm) != c.shm {
				t.Errorf("%s: %+v, want verdicts %v", c.name, g, want)
			}
			// Its limits, read inside its namespace: tuned's its own,
			// every other's as a fresh namespace's, the suite's own.
			wantMni := got.HostLimits["kernel.msgmni"]
			if c.name == "tuned" {
				wantMni = 1000.0
			}
			if g.Limits["kernel.msgmni"] != wantMni || len(g.Limits) != len(got.HostLimits) {
				t.Errorf("%s: ipc_limits %v, want kernel.msgmni %v (the host's: %v)", c.name, g.Limits, wantMni, got.HostLimits)
			}
		}
		if got.HostLimits["kernel.msgmni"] == 1000.0 {
			t.Errorf("the suite's namespace has kernel.msgmni 1000 already: %v", got.HostLimits)
		}
		// In words, tuned alone, and with -v how.
		text := flat(d.invoke("--scan", "--probe", "--from", self, "-q", testQueue(t)).stdout)
		if !strings.Contains(text, "IPC limits other than in the IPC namespace of process "+self+" (invoke_ns.test): tuned (-v") {
			t.Errorf("tuned is not named as having limits of its own:\n%s", text)
		}
		text = flat(d.invoke("--scan", "--probe", "-v", "--from", self, "-q", testQueue(t)).stdout)
		if !strings.Contains(text, "tuned: kernel.msgmni 1000, not ") {
			t.Errorf("-v does not say how tuned's limits differ:\n%s", text)
		}
	})
}

// deref is *b, false for nil.
func deref(b *bool) bool { return b != nil && *b }

// asFound removes, when the test ends, those of paths that do not exist
// now: what an engine makes outside the folders it is given (Docker's
// key.json, Podman's caches and runc's state folder), so that the machine
// is left as it was found. A mount there is the suite's, and goes first.
func asFound(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			continue
		}
		// Also if the test process ends before its cleanups run.
		if err := hermetic.RemoveAfter(p); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			unix.Unmount(p, unix.MNT_DETACH)
			if err := os.RemoveAll(p); err != nil {
				t.Errorf("removing what the engine made: %v", err)
			}
		})
	}
}

// startPodman readies Podman with a configuration and a store of the
// test's own. The configuration is what these machines need: limits within
// the hard ones (root here lacks CAP_SYS_RESOURCE), runc (crun refuses
// their hybrid cgroup layout), file locks (else /dev/shm/libpod_lock
// stays), no systemd. Every pod, container and image goes when the test
// ends, failed or not.
func startPodman(t *testing.T) *engineCLI {
	t.Helper()
	needRealRoot(t, "Podman")
	podman := tool(t, "podman")
	tool(t, "catatonit") // a pod's infra container
	asFound(t, "/var/lib/containers", "/var/cache/containers", "/run/runc", "/run/netns", "/run/containers", "/run/libpod")
	dir := t.TempDir()
	conf := filepath.Join(dir, "containers.conf")
	err := os.WriteFile(conf, []byte(`[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
lock_type = "file"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "`+filepath.Join(dir, "events.log")+`"
[network]
network_config_dir = "`+filepath.Join(dir, "networks")+`"
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	// Podman refuses a runroot of over 50 characters: in the tests'
	// folder, but not in the test's.
	run, err := os.MkdirTemp("", "pm-")
	if err != nil {
		t.Fatal(err)
	}
	e := &engineCLI{t: t, cli: podman, dir: dir, env: []string{"CONTAINERS_CONF=" + conf},
		args: []string{"--root", filepath.Join(dir, "root"), "--runroot", run, "--tmpdir", filepath.Join(dir, "tmp")}}
	t.Cleanup(func() {
		defer func() {
			sweep(t, run)
			os.RemoveAll(run)
		}()
		for _, args := range [][]string{{"pod", "rm", "-f", "-a", "-t", "0"}, {"rm", "-f", "-a", "-t", "0"}, {"rmi", "-a", "-f"}} {
			if out, err := e.try(args...); err != nil {
				t.Errorf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
		sweep(t, dir)
	})
	return e
}

// A pod's containers share an IPC namespace and a /dev/shm, and two pods
// share neither: --from one container and --target another prove it, and
// --scan names each container as podman ps does, the infra containers
// too. Both for `podman pod create` and `podman kube play`.
func TestPodman(t *testing.T) {
	p := startPodman(t)
	const image = "localhost/invoke_ns-test:busybox"
	p.run("import", rootfsTar(t), image)
	p.run("pod", "create", "--name", "invp1", "--network", "none")
	for _, name := range []string{"invp1-a", "invp1-b"} {
		p.run("run", "-d", "--pod", "invp1", "--name", name, image, "sleep", "600")
	}
	// Podman 4.3 ignores hostIPC (4.5 honours it): whichever it does,
	// --scan must say it.
	pod := filepath.Join(p.dir, "invweb.yaml")
	err := os.WriteFile(pod, []byte(`apiVersion: v1
kind: Pod
metadata:
  name: invweb
spec:
  hostIPC: true
  containers:
    - name: app
      image: `+image+`
      command: ["/bin/sleep", "600"]
    - name: sidecar
      image: `+image+`
      command: ["/bin/sleep", "600"]
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	p.run("kube", "play", "--network", "none", pod)
	pids := map[string]int{}
	for _, name := range []string{"invp1-a", "invp1-b", "invweb-app", "invweb-sidecar"} {
		pids[name] = p.pid(name)
	}
	for _, tt := range []struct {
		from, target string
		shared       bool
	}{
		{"invp1-a", "invp1-b", true},
		{"invweb-app", "invweb-sidecar", true},
		{"invp1-a", "invweb-app", false},
		{"invweb-sidecar", "invp1-b", false},
	} {
		t.Run("--from "+tt.from+" --target "+tt.target, func(t *testing.T) {
			r := p.invoke("--json", "--from", strconv.Itoa(pids[tt.from]), "--target", strconv.Itoa(pids[tt.target]),
				"-k", "all", "-q", testQueue(t))
			var got jsonRun
			decode(t, r.stdout, &got, map[string]bool{})
			want := map[bool]int{true: exitOK, false: exitBlocked}[tt.shared]
			if r.code != want || deref(got.SharesIPC) != tt.shared || deref(got.SharesDevShm) != tt.shared {
				t.Errorf("exit %d (want %d), shares IPC %v, /dev/shm %v (want %v)\n%s", r.code, want,
					deref(got.SharesIPC), deref(got.SharesDevShm), tt.shared, r.stderr)
			}
		})
	}
	t.Run("--scan", func(t *testing.T) {
		self, _ := os.Readlink("/proc/self/ns/ipc")
		r := p.invoke("--scan", "--json", "--from", strconv.Itoa(os.Getpid()))
		var got jsonScan
		decode(t, r.stdout, &got, map[string]bool{})
		byName := got.byName()
		names := strings.Fields(p.run("ps", "--format", "{{.Names}}"))
		if len(names) != 6 { // two pods: an infra container and two others each
			t.Fatalf("podman ps lists %q", names)
		}
		for _, name := range names {
			c := byName[name]
			if c == nil || c.Engine != "podman" || c.ID != p.run("inspect", "-f", "{{.Id}}", name) {
				t.Errorf("%s: %+v\n%s", name, c, r.stdout)
			}
		}
		if c := byName["invweb-app"]; c != nil {
			honoured := c.IPC == self
			t.Logf("podman %s, hostIPC: true: the pod's IPC namespace is the host's: %v",
				p.run("version", "--format", "{{.Client.Version}}"), honoured)
			if deref(c.SharesHostIPC) != honoured {
				t.Errorf("invweb-app is in %s (the host's: %s), but shares_host_ipc is %v", c.IPC, self, deref(c.SharesHostIPC))
			}
		}
		for _, pair := range [][2]string{{"invp1-a", "invp1-b"}, {"invweb-app", "invweb-sidecar"}} {
			a, b := byName[pair[0]], byName[pair[1]]
			if a == nil || b == nil || a.IPC != b.IPC {
				t.Errorf("%s and %s are not in one IPC namespace", pair[0], pair[1])
			}
		}
		if a, b := byName["invp1-a"], byName["invweb-app"]; a == nil || b == nil || a.IPC == b.IPC {
			t.Errorf("the two pods share an IPC namespace")
		}
	})
}

// daemonSet is what the tests take from deploy/kubernetes/daemonset.yaml:
// the pod template, and the container's arguments and capabilities.
type daemonSet struct {
	template           []string // the pod template's lines, as a Pod's
	args, capAdd, drop []string
	metrics            string // the folder of --metrics, a hostPath's
}

// readDaemonSet reads the manifest, and checks what it must not ask for.
func readDaemonSet(t *testing.T) daemonSet {
	t.Helper()
	b, err := os.ReadFile("deploy/kubernetes/daemonset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var d daemonSet
	lines := strings.Split(string(b), "\n")
	// A flow sequence, on its line and those that go on with it.
	flow := func(i int, key string, into *[]string) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(lines[i]), key+":"); ok {
			for j := i + 1; !strings.HasSuffix(strings.TrimSpace(v), "]") && j < len(lines); j++ {
				v += " " + strings.TrimSpace(lines[j])
			}
			if err := json.Unmarshal([]byte(v), into); err != nil {
				t.Fatalf("%s: %v", lines[i], err)
			}
		}
	}
	in := false
	for i, l := range lines {
		flow(i, "args", &d.args)
		flow(i, "add", &d.capAdd)
		flow(i, "drop", &d.drop)
		switch {
		case l == "  template:":
			in = true
		case in && strings.HasPrefix(l, "    "):
			d.template = append(d.template, l[4:])
		case in && strings.TrimSpace(l) != "":
			in = false
		}
	}
	text := string(b)
	for _, must := range []string{"hostPID: true", "privileged: false", "readOnlyRootFilesystem: true",
		"allowPrivilegeEscalation: false", "fieldPath: spec.nodeName", "limits:", "requests:"} {
		if !strings.Contains(text, must) {
			t.Errorf("the DaemonSet lacks %q", must)
		}
	}
	if i := slices.Index(d.args, "--metrics"); i >= 0 && i+1 < len(d.args) {
		d.metrics = filepath.Dir(d.args[i+1])
	}
	if d.metrics == "" || !strings.Contains(text, "mountPath: "+d.metrics) || !strings.Contains(text, "path: "+d.metrics) {
		t.Errorf("the DaemonSet writes no --metrics into a hostPath folder mounted where it says: %q", d.metrics)
	}
	if regexp.MustCompile(`(?m)^\s*(hostIPC|privileged): true`).MatchString(text) ||
		!slices.Equal(d.drop, []string{"ALL"}) || len(d.args) == 0 || len(d.capAdd) == 0 || len(d.template) == 0 {
		t.Errorf("the DaemonSet: %+v", d)
	}
	return d
}

// containerfile is deploy/Containerfile, wherever the engine runs.
func containerfile(t *testing.T) string {
	t.Helper()
	f, err := filepath.Abs("deploy/Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// imageContext is a folder to build deploy/Containerfile in: the suite's
// binary where it is static, as FROM scratch needs; else (the race
// detector's, which needs cgo) one built static.
func imageContext(t *testing.T) string {
	t.Helper()
	ctx := t.TempDir()
	to := filepath.Join(ctx, "invoke_ns")
	f, err := elf.Open(binary)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP }) {
		copyFile(t, binary, to)
		return ctx
	}
	build := command(t, "go", "build", "-o", to, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building a static invoke_ns: %v\n%s", err, out)
	}
	return ctx
}

// hostObjects lists the IPC objects of the host's IPC namespace (PID
// 2's) and the files of its /dev/shm, by name, key and id: what a probe
// from the host's namespaces would leave.
func hostObjects(t *testing.T) []string {
	t.Helper()
	list := command(t, tool(t, "nsenter"), "--ipc=/proc/2/ns/ipc", "--", tool(t, "unshare"), "--mount", "--propagation", "private",
		"sh", "-c", "mount -t mqueue mqueue /mnt && ls -A /mnt | sed 's/^/mq /' && tail -qn +2 /proc/sysvipc/msg /proc/sysvipc/sem /proc/sysvipc/shm")
	out, err := list.CombinedOutput()
	if err != nil {
		t.Fatalf("listing the host's IPC objects: %v\n%s", err, out)
	}
	var objs []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(l); len(f) >= 2 {
			objs = append(objs, f[0]+" "+f[1])
		}
	}
	files, err := os.ReadDir("/proc/2/root/dev/shm")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		objs = append(objs, "pshm "+f.Name())
	}
	slices.Sort(objs)
	return objs
}

// sameShm says whether process pid's /dev/shm is the host's (PID 2's):
// one directory, by device and inode.
func sameShm(t *testing.T, pid int) bool {
	t.Helper()
	var a, b unix.Stat_t
	if unix.Stat(fmt.Sprintf("/proc/%d/root/dev/shm", pid), &a) != nil || unix.Stat("/proc/2/root/dev/shm", &b) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}

// firstLine is the first line the command writes on standard output, or
// a failure of the test if it writes none in time.
func firstLine(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	cmd.Process.Kill()
	cmd.Wait()
	if err != nil {
		t.Fatalf("no line from %s: %v\n%s", strings.Join(cmd.Args, " "), err, stderr.String())
	}
	return line
}

// The image, run as the DaemonSet runs it: the host's PIDs, not its IPC
// namespace; the manifest's capabilities alone, a read-only root, and its
// arguments. Beside it, containers in the host's IPC namespace and in one
// of their own (a Docker daemon in the host's IPC namespace gives
// --ipc=host its meaning): its first JSON line names them, and says which
// share the host's, proved by the probes; and ended as Kubernetes ends a
// pod, it leaves nothing in the host's namespaces.
func TestDaemonSetImage(t *testing.T) {
	ds := readDaemonSet(t)
	d := startDockerd(t, true)
	d.run("build", "-q", "-f", containerfile(t), "-t", "invoke_ns-test:image", imageContext(t))
	const image = "invoke_ns-test:busybox"
	d.run("import", rootfsTar(t), image)
	hostipc := d.dockerContainer(image, "hostipc", "--ipc", "host")
	own := d.dockerContainer(image, "own")
	before := hostObjects(t)
	textfile := t.TempDir()
	args := []string{"run", "-d", "--name", "agent", "--pid", "host", "--user", "0", "--read-only",
		"--security-opt", "no-new-privileges", "--network", "none", "--cap-drop", "ALL",
		"-e", "NODE_NAME=invoke-ns-test-node", "-v", textfile + ":" + ds.metrics,
		// The test's daemon has no socket at /var/run/docker.sock.
		"-e", "DOCKER_HOST=unix:///run/docker.sock", "-v", strings.TrimPrefix(d.env[0], "DOCKER_HOST=unix://") + ":/run/docker.sock"}
	for _, c := range ds.capAdd {
		args = append(args, "--cap-add", c)
	}
	d.run(append(append(args, "invoke_ns-test:image"), ds.args...)...)
	logs := command(t, d.cli, "logs", "-f", "agent")
	logs.Env = append(os.Environ(), d.env...)
	line := firstLine(t, logs)
	var got jsonScan
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatalf("not a JSON line: %v\n%s", err, line)
	}
	if got.Node != "invoke-ns-test-node" || !got.HostSeen {
		t.Errorf("node %q, host seen %v", got.Node, got.HostSeen)
	}
	byName := got.byName()
	agent, _ := strconv.Atoi(d.run("inspect", "-f", "{{.State.Pid}}", "agent"))
	for _, c := range []struct {
		name string
		pid  int
		ipc  bool
	}{{"hostipc", hostipc, true}, {"own", own, false}, {"agent", agent, false}} {
		g, shm := byName[c.name], sameShm(t, c.pid)
		if g == nil {
			t.Errorf("%s is not listed:\n%s", c.name, line)
			continue
		}
		for kind, v := range g.Verdicts {
			if want := map[bool]string{true: "delivered", false: "blocked"}[map[bool]bool{true: shm, false: c.ipc}[kindNamed(kind).InDevShm]]; v != want {
				t.Errorf("%s, %s: %s, want %s", c.name, kind, v, want)
			}
		}
		if g.PID != c.pid || deref(g.SharesHostIPC) != c.ipc || deref(g.SharesHostDevShm) != shm || len(g.Verdicts) != len(objectKinds()) {
			t.Errorf("%s: %+v, want PID %d, host IPC %v, host /dev/shm %v, every kind", c.name, g, c.pid, c.ipc, shm)
		}
	}
	// Its metrics, in the folder the manifest mounts, as its first
	// report's.
	if b, err := os.ReadFile(filepath.Join(textfile, "invoke_ns.prom")); err != nil ||
		!strings.Contains(string(b), `invokens_container_shares_host_ipc{node="invoke-ns-test-node",engine="docker",namespace="",pod="",container="hostipc",`) {
		t.Errorf("the agent's metrics: %v\n%s", err, b)
	}
	// Kubernetes ends a pod with SIGTERM.
	d.run("stop", "-t", "10", "agent")
	if status := d.run("inspect", "-f", "{{.State.ExitCode}}", "agent"); status != "143" {
		t.Errorf("the agent ended with status %s on SIGTERM, not 143", status)
	}
	if after := hostObjects(t); !slices.Equal(before, after) {
		t.Errorf("the host's IPC objects were %q, and are %q", before, after)
	}
}

// The DaemonSet's pod template, played as a Pod by Podman, starts and
// reports. Podman 4.3 takes no fieldRef of spec.nodeName (NODE_NAME is
// given its value), and ignores hostPID: whichever it does, host_seen
// must say it.
func TestDaemonSetPod(t *testing.T) {
	ds := readDaemonSet(t)
	p := startPodman(t)
	p.run("build", "-q", "-f", containerfile(t), "-t", "localhost/invoke_ns:latest", imageContext(t))
	pod := "apiVersion: v1\nkind: Pod\n" + strings.Join(ds.template, "\n")
	pod = strings.Replace(pod, "metadata:\n", "metadata:\n  name: invoke-ns\n", 1)
	pod = strings.Replace(pod, "valueFrom:\n            fieldRef:\n              fieldPath: spec.nodeName", "value: podman-node", 1)
	// The metrics' hostPath in the test's folder, not the host's.
	pod = strings.Replace(pod, "path: "+ds.metrics, "path: "+t.TempDir(), 1)
	if !strings.Contains(pod, "value: podman-node") {
		t.Fatalf("no NODE_NAME in the pod template:\n%s", pod)
	}
	file := filepath.Join(p.dir, "daemonset-pod.yaml")
	if err := os.WriteFile(file, []byte(pod), 0o644); err != nil {
		t.Fatal(err)
	}
	p.run("kube", "play", "--network", "none", file)
	logs := command(t, p.cli, append(slices.Clone(p.args), "logs", "-f", "invoke-ns-invoke-ns")...)
	logs.Env = append(os.Environ(), p.env...)
	line := firstLine(t, logs)
	var got jsonScan
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatalf("not a JSON line: %v\n%s", err, line)
	}
	hostPID := p.run("inspect", "-f", "{{.HostConfig.PidMode}}", "invoke-ns-invoke-ns") == "host"
	t.Logf("podman %s, hostPID: true: the pod has the host's PIDs: %v",
		p.run("version", "--format", "{{.Client.Version}}"), hostPID)
	if got.Node != "podman-node" || got.HostSeen != hostPID || len(got.Namespaces) == 0 || got.ExitStatus != 0 {
		t.Errorf("node %q, host seen %v (host's PIDs: %v), %d namespaces, status %d\n%s",
			got.Node, got.HostSeen, hostPID, len(got.Namespaces), got.ExitStatus, line)
	}
	p.run("pod", "stop", "-t", "10", "invoke-ns")
	if status := p.run("inspect", "-f", "{{.State.ExitCode}}", "invoke-ns-invoke-ns"); status != "143" {
		t.Errorf("the pod's container ended with status %s on SIGTERM, not 143", status)
	}
}

// byName is the containers of a scan, by name.
func (s *jsonScan) byName() map[string]*jsonContainer {
	m := map[string]*jsonContainer{}
	for _, c := range s.Containers {
		m[c.Name] = c
	}
	return m
}
