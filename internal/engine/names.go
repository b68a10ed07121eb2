// names.go: the names the engines show. Docker's come from its API on the
// unix socket of each of its daemons (docker.go), with the pod of a
// Kubernetes container that cri-dockerd runs from its labels; Podman's
// from the command line of the container's conmon; a Kubernetes
// container's from the annotations its runtime keeps with it, in runc's
// state or in the task's bundle (containerd's io.kubernetes.cri.*,
// CRI-O's io.kubernetes.pod.*). Files are looked up within the host's
// root, which a node agent in a container of its own sees through a
// process of the host.

package engine

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"invoke_ns/internal/inroot"

	"golang.org/x/sys/unix"
)

// Kube is a Kubernetes container, as its runtime's annotations say.
type Kube struct {
	Namespace string
	Pod       string
	Container string // "" for the pod's sandbox
	PodUID    string
	// Sandbox says that it is the pod's sandbox, its pause process,
	// which holds the pod's namespaces: no container of the pod's own.
	Sandbox bool
}

// Name is the container as kubectl names it, "namespace/pod/container";
// a pod's sandbox as its pod, "namespace/pod".
func (k *Kube) Name() string {
	if k.Sandbox {
		return k.Namespace + "/" + k.Pod
	}
	return k.Namespace + "/" + k.Pod + "/" + k.Container
}

// Named is what a node says of a container: its name as its engine shows
// it, the engine that runs it where its cgroup path did not say, and for
// a Kubernetes container its pod.
type Named struct {
	Name   string
	Engine string
	Kube   *Kube
}

// Namer names containers as their engines show them.
type Namer struct {
	root *os.File         // the host's root; nil: invoke_ns's own
	byID map[string]Named // Docker's, by full ID
}

// states are where the runtimes keep what they know of a container, by
// the engine that keeps it there: runc's state (ID/state.json in a
// folder of the container's ID: Docker's, containerd's under each of its
// namespaces, "*", whatever its own state folder, CRI-O's), and the
// bundle a container was made from (ID/config.json: containerd's and
// k3s's and rke2's tasks, CRI-O's containers), whose annotations runc's
// state copies.
var states = []struct{ engine, dir, file string }{
	{"docker", "/run/docker/runtime-runc/moby", "state.json"},
	{"containerd", "/run/containerd/runc/*", "state.json"},
	{"crio", "/run/runc", "state.json"},
	{"containerd", "/run/containerd/io.containerd.runtime.v2.task/*", "config.json"},
	{"containerd", "/run/k3s/containerd/io.containerd.runtime.v2.task/*", "config.json"},
	{"crio", "/run/containers/storage/overlay-containers", "userdata/config.json"},
}

// dockerSocket is where Docker listens unless its flags or configuration
// say otherwise.
const dockerSocket = "/var/run/docker.sock"

// NewNamer asks the engines the node has for their containers' names;
// root is the host's root directory (nil: invoke_ns's own), dockerds the
// processes that run dockerd.
func NewNamer(root *os.File, dockerds []int) *Namer {
	n := &Namer{root: root, byID: map[string]Named{}}
	n.dockers(dockerds)
	return n
}

// Name names c, the container of process pid, as its engine does:
// nothing where nothing tells.
func (n *Namer) Name(c Container, pid int) Named {
	if named, ok := n.byID[c.ID]; ok {
		return named
	}
	if named := n.runtime(c.ID); named.Kube != nil {
		return named
	}
	if c.Engine == "podman" {
		return Named{Name: conmonName(c.ID, pid)}
	}
	return Named{}
}

// An engine's answer is bounded as a whole: apiDeadline for connecting,
// asking and reading it to its end, however slowly it trickles, and
// answerMax for its size, read as it comes, never held whole, so that a
// node agent's memory stays well under its limit (128 MiB in
// deploy/kubernetes) whatever an engine's socket answers.
const (
	apiDeadline = 5 * time.Second
	answerMax   = 16 << 20
)

// errTooLong is an answer of more than answerMax bytes.
var errTooLong = fmt.Errorf("an answer of more than %d MiB", answerMax>>20)

// ask asks an API on the unix socket sock for path, in HTTP/1.0, which
// the server answers whole and then closes, and hands the body of a 200
// answer to read as it comes: a client of a few lines, where net/http
// would double invoke_ns's size and the start of every run, and of its
// child, which is the same binary.
func ask(sock, path string, deadline time.Time, read func(*json.Decoder) error) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	// A server whose backlog is full makes connect(2) wait: at most until
	// the deadline (SO_SNDTIMEO bounds a unix socket's connect).
	tv := unix.NsecToTimeval(max(time.Until(deadline), time.Millisecond).Nanoseconds())
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: sock}); err != nil {
		unix.Close(fd)
		return err
	}
	// The rest in the runtime's poller, under the one deadline.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return err
	}
	f := os.NewFile(uintptr(fd), sock)
	defer f.Close()
	if err := f.SetDeadline(deadline); err != nil {
		return err
	}
	if _, err := io.WriteString(f, "GET "+path+" HTTP/1.0\r\nHost: engine\r\n\r\n"); err != nil {
		return err
	}
	in := bufio.NewReader(&capped{r: f, left: answerMax})
	status, err := in.ReadString('\n')
	if err != nil {
		return err
	}
	if fields := strings.Fields(status); len(fields) < 2 || fields[1] != "200" {
		return fmt.Errorf("%s: %q", sock, strings.TrimSpace(status))
	}
	for {
		header, err := in.ReadString('\n')
		if err != nil {
			return err
		}
		if strings.TrimSpace(header) == "" {
			break
		}
	}
	return read(json.NewDecoder(in))
}

// capped reads from r, and fails once more than left bytes come.
type capped struct {
	r    io.Reader
	left int
}

func (c *capped) Read(b []byte) (int, error) {
	if c.left < 0 {
		return 0, errTooLong
	}
	n, err := c.r.Read(b[:min(len(b), c.left+1)])
	c.left -= n
	if c.left < 0 {
		return n, errTooLong
	}
	return n, err
}

// eachElement reads a JSON array, handing each element to one, as it
// comes.
func eachElement(d *json.Decoder, one func(*json.Decoder) error) error {
	if t, err := d.Token(); err != nil {
		return err
	} else if t != json.Delim('[') {
		return errors.New("not a JSON array")
	}
	for d.More() {
		if err := one(d); err != nil {
			return err
		}
	}
	_, err := d.Token()
	return err
}

// runtime is what the runtimes' state says of the container of that ID:
// its pod and name, and the engine whose state it is; nothing where no
// state of a Kubernetes container is found.
func (n *Namer) runtime(id string) Named {
	if id == "" || strings.ContainsAny(id, "/.") {
		return Named{}
	}
	for _, st := range states {
		parent, pattern, ok := strings.Cut(st.dir, "/*")
		dirs := []string{st.dir}
		if ok && pattern == "" {
			dirs = n.subdirs(parent)
		}
		for _, d := range dirs {
			b, err := n.read(d + "/" + id + "/" + st.file)
			if err != nil {
				continue
			}
			if k := kubeOf(annotations(b)); k != nil {
				return Named{Name: k.Name(), Engine: st.engine, Kube: k}
			}
			return Named{Engine: st.engine}
		}
	}
	return Named{}
}

// read reads a small file within the host's root.
func (n *Namer) read(path string) ([]byte, error) {
	f, err := openIn(n.root, path, unix.O_RDONLY|unix.O_NONBLOCK)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	return io.ReadAll(io.LimitReader(f, 16<<20))
}

// subdirs lists the folders in dir, within the host's root.
func (n *Namer) subdirs(dir string) []string {
	f, err := openIn(n.root, dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil
	}
	defer f.Close()
	entries, _ := f.ReadDir(-1)
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, dir+"/"+e.Name())
		}
	}
	return dirs
}

// openIn opens path as root resolves it: a symbolic link in it, such as
// /var/run, stays within root.
func openIn(root *os.File, path string, flags int) (*os.File, error) {
	return inroot.File(root, path, flags)
}

// annotations are the annotations of a container that b, runc's state
// or an OCI bundle's config.json, keeps: the bundle's, or runc's copy of
// them as "key=value" labels.
func annotations(b []byte) map[string]string {
	var st struct {
		Annotations map[string]string `json:"annotations"`
		Config      struct {
			Labels []string `json:"labels"`
		} `json:"config"`
	}
	if json.Unmarshal(b, &st) != nil {
		return nil
	}
	a := st.Annotations
	if a == nil {
		a = map[string]string{}
	}
	for _, l := range st.Config.Labels {
		if k, v, ok := strings.Cut(l, "="); ok {
			a[k] = v
		}
	}
	return a
}

// kubeOf is the Kubernetes container that a container's annotations (or
// Docker labels) name: containerd's io.kubernetes.cri.*, CRI-O's and
// cri-dockerd's io.kubernetes.pod.* and io.kubernetes.container.name;
// nil where they name none.
func kubeOf(a map[string]string) *Kube {
	first := func(keys ...string) string {
		for _, k := range keys {
			if v := a[k]; v != "" {
				return v
			}
		}
		return ""
	}
	k := &Kube{
		Namespace: first("io.kubernetes.cri.sandbox-namespace", "io.kubernetes.pod.namespace"),
		Pod:       first("io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name"),
		Container: first("io.kubernetes.cri.container-name", "io.kubernetes.container.name"),
		PodUID:    first("io.kubernetes.cri.sandbox-uid", "io.kubernetes.pod.uid"),
	}
	// The sandbox: containerd's and CRI-O's type, cri-dockerd's, and the
	// name the kubelet gives it ("POD").
	switch first("io.kubernetes.cri.container-type", "io.kubernetes.cri-o.ContainerType", "io.kubernetes.docker.type") {
	case "sandbox", "podsandbox":
		k.Sandbox = true
	}
	if k.Container == "POD" {
		k.Sandbox = true
	}
	if k.Sandbox {
		k.Container = ""
	}
	if k.Pod == "" || k.Container == "" && !k.Sandbox {
		return nil
	}
	return k
}

// conmonName is the name Podman gave container id, of which pid is a
// process: Podman starts each container under a conmon of its own, told
// the container's ID (-c) and name (-n) on its command line.
func conmonName(id string, pid int) string {
	// A process of the container is conmon's child, or its child's.
	for range 8 {
		pid = parentOf(pid)
		if pid <= 1 {
			return ""
		}
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if string(bytes.TrimSpace(comm)) != "conmon" {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			return ""
		}
		return conmonArgs(strings.Split(string(b), "\x00"), id)
	}
	return ""
}

// conmonArgs is the name in conmon's arguments, if they are for id: the
// command it runs on exit, after --exit-command, is not its own.
func conmonArgs(args []string, id string) string {
	var cid, name string
	for i := 1; i+1 < len(args); i++ {
		switch args[i] {
		case "-c", "--cid":
			cid = args[i+1]
		case "-n", "--name":
			name = args[i+1]
		case "--exit-command":
			i = len(args)
		}
	}
	if cid != id {
		return ""
	}
	return name
}

// parentOf is the parent of process pid, 0 where it cannot be read.
func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The name, in parentheses, may hold anything: the fields after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	// State, then the parent.
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}
