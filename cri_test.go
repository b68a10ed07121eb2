// cri_test.go: Kubernetes nodes for real. A containerd of the test's own,
// with its CRI plugin and runc with the cgroupfs driver, driven by crictl
// as a kubelet drives it: pods made with their metadata, labels,
// cgroup_parent and namespace options, a hostIPC pod, a pod of two
// containers and a hostPID pod; and the DaemonSet's own pod, made from
// deploy/kubernetes/daemonset.yaml. Its images are built here and
// imported with ctr: no registry is reached. Everything goes when the
// test ends, failed or not: pods, the daemon and its shims, mounts,
// runc's state and the kubepods cgroups.

package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// criNode is a containerd of the test's own, and crictl against it.
type criNode struct {
	t      *testing.T
	dir    string // its folder: root, state, socket, logs
	sock   string
	crictl []string // crictl and its configuration
}

// cri runs crictl, as a kubelet asks the CRI, and fails the test if it
// fails; it gives the output, trimmed.
func (n *criNode) cri(args ...string) string {
	n.t.Helper()
	cmd := command(n.t, n.crictl[0], append(slices.Clone(n.crictl[1:]), args...)...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		n.t.Fatalf("crictl %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), stderr.String())
	}
	return strings.TrimSpace(out.String())
}

// startContainerd starts a containerd of the test's own, as a node's:
// in the host's IPC namespace, so that a hostIPC pod's is the host's
// (PID 2's), and with the host's /dev/shm (the suite's own is unmounted
// in a mount namespace of containerd's, where its mounts stay). Its root,
// state and socket are in the test's folder; its CRI plugin runs runc
// with the cgroupfs driver, and reaches no network (host-network pods,
// no CNI) and no registry (the sandbox image is imported). What runc and
// the shims keep under /run/containerd whatever containerd's state
// folder, and the kubepods cgroups, are removed when the test ends.
func startContainerd(t *testing.T) *criNode {
	t.Helper()
	needRealRoot(t, "a containerd")
	containerd := tool(t, "containerd")
	tool(t, "runc")
	crictl := tool(t, "crictl")
	asFound(t, "/run/containerd")
	// As a node's containerd makes its state folder, where runc and the
	// shims keep theirs: one that root may go through without
	// CAP_DAC_READ_SEARCH, which the DaemonSet does not have.
	if err := os.MkdirAll("/run/containerd", 0o711); err != nil {
		t.Fatal(err)
	}
	for _, c := range cgroupRoots(t) {
		kubepods := filepath.Join(c, "kubepods")
		if _, err := os.Stat(kubepods); err == nil {
			continue
		}
		t.Cleanup(func() { removeCgroup(t, kubepods) })
	}
	dir, err := os.MkdirTemp("", "ctd-")
	if err != nil {
		t.Fatal(err)
	}
	n := &criNode{t: t, dir: dir, sock: filepath.Join(dir, "containerd.sock")}
	config := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = %[3]q
[ttrpc]
  address = "%[3]s.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = %[4]q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/invoke-ns-test:busybox"
  # Root here lacks CAP_SYS_RESOURCE, and may not lower its score.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %[5]q
    conf_dir = %[6]q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), n.sock, filepath.Join(dir, "opt"),
		filepath.Join(dir, "cni", "bin"), filepath.Join(dir, "cni", "conf"))
	file := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(file, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	crictlConfig := filepath.Join(dir, "crictl.yaml")
	os.WriteFile(crictlConfig, []byte("runtime-endpoint: unix://"+n.sock+"\nimage-endpoint: unix://"+n.sock+"\ntimeout: 30\n"), 0o644)
	n.crictl = []string{crictl, "--config", crictlConfig}
	// The folder goes after the daemon's cleanup, registered first.
	t.Cleanup(func() { os.RemoveAll(dir) })
	args := []string{tool(t, "nsenter"), "--ipc=/proc/2/ns/ipc", "--", tool(t, "unshare"), "--mount",
		"--propagation", "private", "sh", "-c", `umount /dev/shm && exec "$0" --config "$1"`, containerd, file}
	exited := startDaemon(t, "containerd", dir, args, func() {
		if pods, err := exec.Command(n.crictl[0], append(slices.Clone(n.crictl[1:]), "pods", "-q")...).Output(); err == nil &&
			len(bytes.TrimSpace(pods)) > 0 {
			if out, err := exec.Command(n.crictl[0], append(slices.Clone(n.crictl[1:]), "rmp", "-fa")...).CombinedOutput(); err != nil {
				t.Errorf("crictl rmp -fa: %v\n%s", err, out)
			}
		}
	})
	waitUntil(t, "answered by containerd", func() bool {
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(dir, "log"))
			t.Fatalf("containerd ended:\n%s", b)
		default:
		}
		return exec.Command(tool(t, "ctr"), "-a", n.sock, "version").Run() == nil
	})
	return n
}

// cgroupRoots are the cgroup hierarchies mounted, v1's each and v2's.
func cgroupRoots(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var roots []string
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 8 && (f[len(f)-3] == "cgroup" || f[len(f)-3] == "cgroup2") {
			roots = append(roots, f[4])
		}
	}
	return roots
}

// removeCgroup removes a cgroup and those below it, the deepest first: a
// cgroup goes by rmdir(2) alone, once it has no process.
func removeCgroup(t *testing.T, path string) {
	t.Helper()
	var dirs []string
	filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	slices.SortFunc(dirs, func(a, b string) int { return len(b) - len(a) })
	for _, d := range dirs {
		if err := unix.Rmdir(d); err != nil && !os.IsNotExist(err) {
			t.Errorf("removing the cgroup %s: %v", d, err)
		}
	}
}

// ociImage writes an OCI image archive of the files of rootfs, named ref,
// that runs entrypoint, for ctr to import, and gives its path.
func ociImage(t *testing.T, rootfs, ref string, entrypoint []string) string {
	t.Helper()
	digest := func(b []byte) string { s := sha256.Sum256(b); return "sha256:" + hex.EncodeToString(s[:]) }
	var layer bytes.Buffer
	if err := writeTar(&layer, rootfs); err != nil {
		t.Fatal(err)
	}
	marshal := func(v any) []byte { b, _ := json.Marshal(v); return b }
	config := marshal(map[string]any{"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Entrypoint": entrypoint},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{digest(layer.Bytes())}}})
	manifest := marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(config), "size": len(config)},
		"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(layer.Bytes()),
			"size": layer.Len()}}})
	index := marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
		"manifests": []any{map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(manifest),
			"size": len(manifest), "annotations": map[string]string{"io.containerd.image.name": ref,
				"org.opencontainers.image.ref.name": ref}}}})
	file := filepath.Join(t.TempDir(), "image.tar")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ow := tar.NewWriter(f)
	for _, e := range []struct {
		name string
		b    []byte
	}{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)}, {"index.json", index},
		{"blobs/sha256/" + digest(layer.Bytes())[7:], layer.Bytes()}, {"blobs/sha256/" + digest(config)[7:], config},
		{"blobs/sha256/" + digest(manifest)[7:], manifest},
	} {
		if err := ow.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		ow.Write(e.b)
	}
	if err := ow.Close(); err != nil {
		t.Fatal(err)
	}
	return file
}

// importImage imports an image archive into the CRI's namespace of
// containerd (k8s.io), unpacked for its snapshotter.
func (n *criNode) importImage(archive string) {
	n.t.Helper()
	out, err := command(n.t, tool(n.t, "ctr"), "-a", n.sock, "-n", "k8s.io", "images", "import",
		"--snapshotter", "native", archive).CombinedOutput()
	if err != nil {
		n.t.Fatalf("ctr images import: %v\n%s", err, out)
	}
}

// busyboxImage builds the tests' image, busybox and the pause program,
// and imports it as localhost/invoke-ns-test:busybox, the sandbox image.
func (n *criNode) busyboxImage() string {
	n.t.Helper()
	const ref = "localhost/invoke-ns-test:busybox"
	rootfs := filepath.Join(n.t.TempDir(), "rootfs")
	busyboxRoot(n.t, rootfs)
	os.MkdirAll(filepath.Join(rootfs, "dev", "shm"), 0o755)
	build := command(n.t, "go", "build", "-o", filepath.Join(rootfs, "pause"), "./testdata/pause")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		n.t.Fatalf("building the pause program: %v\n%s", err, out)
	}
	n.importImage(ociImage(n.t, rootfs, ref, []string{"/pause"}))
	return ref
}

// pod is a pod as a kubelet asks the CRI for it: its metadata, the
// io.kubernetes labels, its log folder, its cgroup under kubepods (the
// cgroupfs driver's), and its namespaces (NODE: the host's).
type pod struct {
	namespace, name, uid string
	hostIPC, hostPID     bool
	containers           []podContainer
}

// podContainer is a container of a pod: its command replaces the
// image's entrypoint, its args follow it, as a pod spec's do; mounts are
// host paths by the container's.
type podContainer struct {
	name, image   string
	command, args []string
	mounts        map[string]string
	env           map[string]string
	// security is the container's security context as a kubelet hands
	// it to the CRI, beside the namespaces.
	security map[string]any
}

// namespaceMode is the CRI's NamespaceMode: POD, CONTAINER, NODE.
func namespaceMode(host bool) int {
	if host {
		return 2 // NODE
	}
	return 0 // POD
}

// run makes the pod and its containers, as a kubelet does (runp, create,
// start), and gives the PID of each container's process, by name, and
// the sandbox's as "".
func (n *criNode) run(p pod) map[string]int {
	n.t.Helper()
	dir := n.t.TempDir()
	labels := map[string]string{"io.kubernetes.pod.name": p.name, "io.kubernetes.pod.namespace": p.namespace,
		"io.kubernetes.pod.uid": p.uid}
	// Host network, and so no hostname of its own: there is no CNI here.
	options := map[string]any{"network": 2, "pid": namespaceMode(p.hostPID), "ipc": namespaceMode(p.hostIPC)}
	podConfig := map[string]any{
		"metadata":      map[string]any{"name": p.name, "namespace": p.namespace, "uid": p.uid, "attempt": 0},
		"labels":        labels,
		"log_directory": filepath.Join(n.dir, "logs", p.uid),
		"linux": map[string]any{"cgroup_parent": "/kubepods/besteffort/pod" + p.uid,
			"security_context": map[string]any{"namespace_options": options}},
	}
	podFile := filepath.Join(dir, "pod.json")
	writeJSON(n.t, podFile, podConfig)
	sandbox := n.cri("runp", podFile)
	pids := map[string]int{"": n.pid("inspectp", sandbox)}
	for _, c := range p.containers {
		clabels := map[string]string{"io.kubernetes.container.name": c.name}
		for k, v := range labels {
			clabels[k] = v
		}
		security := map[string]any{"namespace_options": options}
		for k, v := range c.security {
			security[k] = v
		}
		var envs []map[string]string
		for k, v := range c.env {
			envs = append(envs, map[string]string{"key": k, "value": v})
		}
		var mounts []map[string]any
		for in, host := range c.mounts {
			mounts = append(mounts, map[string]any{"container_path": in, "host_path": host})
		}
		config := map[string]any{
			"metadata": map[string]any{"name": c.name, "attempt": 0}, "image": map[string]any{"image": c.image},
			"command": c.command, "args": c.args, "envs": envs, "mounts": mounts, "labels": clabels,
			"log_path": c.name + "/0.log",
			"linux":    map[string]any{"security_context": security},
		}
		file := filepath.Join(dir, c.name+".json")
		writeJSON(n.t, file, config)
		id := n.cri("create", sandbox, file, podFile)
		n.cri("start", id)
		pids[c.name] = n.pid("inspect", id)
	}
	return pids
}

// pid is the PID of a container's process (inspect), or a sandbox's
// (inspectp), as the CRI gives it.
func (n *criNode) pid(inspect, id string) int {
	n.t.Helper()
	var info struct {
		Info struct {
			PID int `json:"pid"`
		} `json:"info"`
	}
	if err := json.Unmarshal([]byte(n.cri(inspect, id)), &info); err != nil || info.Info.PID <= 0 {
		n.t.Fatalf("no PID for %s: %v", id, err)
	}
	return info.Info.PID
}

// writeJSON writes v to file.
func writeJSON(t *testing.T, file string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err == nil {
		err = os.WriteFile(file, b, 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// criLogLine is the first line a container wrote on standard output, as
// the CRI logs it ("TIME stdout F line"): pieces of a line cut at 16 KiB
// ("P") joined again, as kubectl logs joins them.
func criLogLine(t *testing.T, file string) string {
	t.Helper()
	var line strings.Builder
	waitUntil(t, "a line in "+file, func() bool {
		line.Reset()
		f, err := os.Open(file)
		if err != nil {
			return false
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			f := strings.SplitN(sc.Text(), " ", 4)
			if len(f) < 4 || f[1] != "stdout" {
				continue
			}
			line.WriteString(f[3])
			if f[2] == "F" {
				return true
			}
		}
		return false
	})
	return line.String()
}

// The pods the tests make, as a kubelet would: a hostIPC pod, a pod of
// two containers, and a hostPID pod.
func testPods(image string) []pod {
	sleep := func(name string) podContainer {
		return podContainer{name: name, image: image, command: []string{"/bin/sleep", "600"}}
	}
	return []pod{
		{namespace: "default", name: "hostipc-pod", uid: "aaaaaaaa-1111-4111-8111-111111111111", hostIPC: true,
			containers: []podContainer{sleep("app")}},
		{namespace: "web", name: "plain-pod", uid: "bbbbbbbb-2222-4222-8222-222222222222",
			containers: []podContainer{sleep("web"), sleep("side")}},
		{namespace: "default", name: "hostpid-pod", uid: "cccccccc-3333-4333-8333-333333333333", hostPID: true,
			containers: []podContainer{sleep("app")}},
	}
}

// checkPods checks what a scan says of the test's pods: each container,
// and each pod's sandbox, named as kubectl names it, with its pod; which
// share the host's IPC namespace and /dev/shm (the hostIPC pod's, its
// sandbox's read-only); and with verdicts, that a message proved each,
// kind by kind.
func checkPods(t *testing.T, scan *jsonScan, pids map[string]int) {
	t.Helper()
	byName := scan.byName()
	for _, c := range []struct {
		name, container            string
		sandbox, hostIPC, readOnly bool
	}{
		{"default/hostipc-pod", "", true, true, true},
		{"default/hostipc-pod/app", "app", false, true, false},
		{"web/plain-pod", "", true, false, false},
		{"web/plain-pod/web", "web", false, false, false},
		{"web/plain-pod/side", "side", false, false, false},
		{"default/hostpid-pod/app", "app", false, false, false},
	} {
		g := byName[c.name]
		if g == nil {
			t.Errorf("%s is not listed", c.name)
			continue
		}
		k := g.Kubernetes
		if k == nil || k.Container != c.container || k.Sandbox != c.sandbox || k.PodUID == "" ||
			k.Namespace+"/"+k.Pod != c.name[:len(k.Namespace+"/"+k.Pod)] || g.Engine != "containerd" || len(g.ID) != 64 {
			t.Errorf("%s: %+v %+v", c.name, g, k)
		}
		if pid := pids[c.name]; pid != 0 && g.PID != pid {
			t.Errorf("%s: PID %d, want %d", c.name, g.PID, pid)
		}
		if deref(g.SharesHostIPC) != c.hostIPC || deref(g.SharesHostDevShm) != c.hostIPC || g.DevShmReadOnly != c.readOnly {
			t.Errorf("%s: shares the host's IPC namespace %v, /dev/shm %v, read-only %v; want %v, %v, %v", c.name,
				deref(g.SharesHostIPC), deref(g.SharesHostDevShm), g.DevShmReadOnly, c.hostIPC, c.hostIPC, c.readOnly)
		}
		for kind, v := range g.Verdicts {
			if want := map[bool]string{true: "delivered", false: "blocked"}[c.hostIPC]; v != want {
				t.Errorf("%s, %s: %s, want %s (%s)", c.name, kind, v, want, g.Why)
			}
		}
	}
	if a, b := byName["web/plain-pod/web"], byName["web/plain-pod/side"]; a == nil || b == nil || a.IPC != b.IPC ||
		byName["web/plain-pod"] == nil || byName["web/plain-pod"].IPC != a.IPC {
		t.Errorf("the plain pod's containers are not in one IPC namespace, its sandbox's")
	}
}

// Pods made through the CRI, as a kubelet makes them, are named and
// judged by --scan and proved by --scan --probe: the hostIPC pod's
// sandbox and container share the host's IPC namespace and /dev/shm, the
// sandbox's read-only, said and proved so; the others share neither.
// Then the DaemonSet's own pod, made through the CRI from its manifest
// as a kubelet would, says the same in the first line of its log; and
// nothing is left in the host's IPC namespace or /dev/shm.
func TestCRI(t *testing.T) {
	ds := readDaemonSet(t)
	n := startContainerd(t)
	image := n.busyboxImage()
	before := hostObjects(t)
	pids := map[string]int{}
	for _, p := range testPods(image) {
		for name, pid := range n.run(p) {
			full := p.namespace + "/" + p.name
			if name != "" {
				full += "/" + name
			}
			pids[full] = pid
		}
	}
	for _, args := range [][]string{{"--scan"}, {"--scan", "--probe", "-k", "all"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := invoke(t, "", append(args, "--json")...)
			var scan jsonScan
			decode(t, r.stdout, &scan, map[string]bool{})
			if r.code != exitOK || !scan.HostSeen {
				t.Fatalf("exit %d, host seen %v\n%s", r.code, scan.HostSeen, r.stderr)
			}
			checkPods(t, &scan, pids)
		})
	}
	t.Run("--scan --probe -k pshm, in words", func(t *testing.T) {
		r := invoke(t, "", "--scan", "--probe", "-k", "pshm")
		rows := map[string]map[string]string{}
		for _, row := range scanTable(r.stdout) {
			rows[strings.ReplaceAll(row["CONTAINER"], " ", "")] = row
		}
		for name, shm := range map[string]string{"default/hostipc-pod": "yes (ro)", "default/hostipc-pod/app": "yes",
			"web/plain-pod/web": "no"} {
			if row := rows[name]; row == nil || row["HOST SHM"] != shm || row["VERDICT"] != map[bool]string{true: "delivered",
				false: "blocked"}[shm != "no"] {
				t.Errorf("%s: %q, want HOST SHM %q", name, row, shm)
			}
		}
		if want := "Sharing the host's /dev/shm, proved by a message: default/hostipc-pod (read-only), " +
			"default/hostipc-pod/app."; !strings.Contains(flat(r.stdout), want) {
			t.Errorf("no %q:\n%s", want, r.stdout)
		}
	})
	t.Run("--target the hostIPC pod's sandbox", func(t *testing.T) {
		// The objects in the host's /dev/shm, PID 2's, which the suite's
		// own hides.
		sandbox := strconv.Itoa(pids["default/hostipc-pod"])
		r := invoke(t, "", "--from", "2", "--target", sandbox, "-k", "pshm", "--json")
		var got jsonRun
		decode(t, r.stdout, &got, map[string]bool{})
		if r.code != exitOK || got.Verdict != "delivered" || !deref(got.SharesDevShm) || len(got.Objects) != 1 ||
			!got.Objects[0].ReadOnly || got.Objects[0].ChildOpen == nil || got.Objects[0].ChildOpen.Result != "read-only" {
			t.Errorf("exit %d: %+v\n%s", r.code, got, r.stderr)
		}
		if want := "could only read the POSIX shared memory object"; !strings.Contains(flat(r.stderr), want) ||
			!strings.Contains(flat(r.stderr), "read-only") {
			t.Errorf("the transcript does not say it is read-only:\n%s", r.stderr)
		}
	})
	t.Run("the DaemonSet's pod", func(t *testing.T) {
		n.importImage(ociImage(t, imageRoot(t), "docker.io/library/invoke_ns:latest", []string{"/invoke_ns"}))
		agent := pod{namespace: "kube-system", name: "invoke-ns-node", uid: "dddddddd-4444-4444-8444-444444444444",
			hostPID: true, containers: []podContainer{{name: "invoke-ns", image: "invoke_ns:latest", args: ds.args,
				env: map[string]string{"NODE_NAME": "cri-node"}, mounts: map[string]string{ds.metrics: t.TempDir()},
				// As a kubelet hands the manifest's securityContext on:
				// capability names without CAP_, ALL dropped.
				security: map[string]any{"capabilities": map[string]any{"add_capabilities": ds.capAdd,
					"drop_capabilities": ds.drop}, "readonly_rootfs": true, "no_new_privs": true,
					"run_as_user": map[string]any{"value": 0}}}}}
		n.run(agent)
		line := criLogLine(t, filepath.Join(n.dir, "logs", agent.uid, "invoke-ns", "0.log"))
		var scan jsonScan
		if err := json.Unmarshal([]byte(line), &scan); err != nil {
			t.Fatalf("not a JSON line: %v\n%s", err, line)
		}
		if scan.Node != "cri-node" || !scan.HostSeen || scan.ExitStatus != 0 {
			t.Errorf("node %q, host seen %v, status %d", scan.Node, scan.HostSeen, scan.ExitStatus)
		}
		checkPods(t, &scan, pids)
		if g := scan.byName()["kube-system/invoke-ns-node/invoke-ns"]; g == nil || deref(g.SharesHostIPC) {
			t.Errorf("the agent itself: %+v", g)
		}
	})
	n.cri("rmp", "-fa")
	if after := hostObjects(t); !slices.Equal(before, after) {
		t.Errorf("the host's IPC objects were %q, and are %q", before, after)
	}
}

// imageRoot is the root of the DaemonSet's image, as deploy/Containerfile
// makes it: the static binary alone.
func imageRoot(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "rootfs")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(imageContext(t), "invoke_ns"), filepath.Join(root, "invoke_ns"))
	return root
}

// invoke_ns as PID 1 of a PID namespace of its own, as in a pod without
// hostPID or docker run of the image: the probe of its own IPC namespace
// is delivered for every kind (the PID the kernel records for a System V
// object is its own as it sees it), and so is a run whose child is in a
// PID namespace of its own below it.
func TestPID1(t *testing.T) {
	needRoot(t, "a PID namespace")
	pid1 := func(args ...string) result {
		cmd := command(t, tool(t, "unshare"), append([]string{"--pid", "--fork", "--mount-proc", binary}, args...)...)
		cmd.Stdin = strings.NewReader("from pid 1\n")
		return finish(t, cmd)
	}
	r := pid1("--scan", "--probe", "-k", "mq,msg,sem,shm", "--json")
	var scan jsonScan
	if err := json.Unmarshal([]byte(r.stdout), &scan); err != nil || r.code != exitOK {
		t.Fatalf("exit %d, %v\n%s\nstderr:\n%s", r.code, err, r.stdout, r.stderr)
	}
	own := slices.IndexFunc(scan.Namespaces, func(n *jsonScanned) bool { return n.Own })
	if own < 0 || scan.Namespaces[own].PID != 1 || scan.Namespaces[own].Verdict == nil || *scan.Namespaces[own].Verdict != "delivered" {
		t.Errorf("its own namespace: %+v", scan.Namespaces)
	}
	if r := pid1("-p", "-i", "no", "-k", "msg,sem,shm", "--key", strconv.Itoa(int(testKey(t)))); r.code != exitOK {
		t.Errorf("-p -i no as PID 1: exit %d\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}
