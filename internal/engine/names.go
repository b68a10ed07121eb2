// names.go: the names the engines show. Docker's come from its API on its
// unix socket ($DOCKER_HOST, else /var/run/docker.sock); Podman's from the
// command line of the container's conmon; a Kubernetes container's from
// the io.kubernetes annotations its runtime keeps in its state (runc's
// state.json). Files are looked up within the host's root, which a node
// agent in a container of its own sees through a process of the host.

package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Namer names containers as their engines show them.
type Namer struct {
	root *os.File          // the host's root; nil: invoke_ns's own
	byID map[string]string // Docker's, by full ID
}

// runcStates are where runc keeps a container's state (ID.json in a
// folder of the container's ID), by engine: Docker's (moby), containerd's
// (a folder for each of its namespaces, "*"), and CRI-O's.
var runcStates = []string{
	"/run/docker/runtime-runc/moby",
	"/run/containerd/runc/*",
	"/run/runc",
}

// dockerSocket is where Docker listens unless $DOCKER_HOST says.
const dockerSocket = "/var/run/docker.sock"

// NewNamer asks the engines the node has for their containers' names;
// root is the host's root directory (nil: invoke_ns's own).
func NewNamer(root *os.File) *Namer {
	n := &Namer{root: root, byID: map[string]string{}}
	n.docker()
	return n
}

// Name names c, the container of process pid: "" where nothing tells.
func (n *Namer) Name(c Container, pid int) string {
	if name := n.byID[c.ID]; name != "" {
		return name
	}
	if name := n.kubernetes(c.ID); name != "" {
		return name
	}
	if c.Engine == "podman" {
		return conmonName(c.ID, pid)
	}
	return ""
}

// docker asks Docker's API for its containers' names, as `docker ps`
// shows them: every container's (all=1), since a container's first process
// runs before Docker counts it as running, and a scan at that moment (a
// node agent's first, of its own container) would miss its name.
func (n *Namer) docker() {
	sock := dockerSocket
	if host, ok := strings.CutPrefix(os.Getenv("DOCKER_HOST"), "unix://"); ok {
		sock = host
	} else if n.root != nil {
		// The host's socket, found within its root, is reached through
		// the descriptor: its path means nothing in invoke_ns's root.
		f, err := openIn(n.root, dockerSocket, unix.O_PATH)
		if err != nil {
			return
		}
		defer f.Close()
		sock = fmt.Sprintf("/proc/self/fd/%d", f.Fd())
	}
	body, err := get(sock, "/containers/json?all=1")
	if err != nil {
		return
	}
	var list []struct {
		ID    string   `json:"Id"`
		Names []string `json:"Names"`
	}
	if json.Unmarshal(body, &list) != nil {
		return
	}
	for _, c := range list {
		if len(c.Names) > 0 {
			n.byID[c.ID] = strings.TrimPrefix(c.Names[0], "/")
		}
	}
}

// apiTimeout bounds each step of a request to an engine's API.
const apiTimeout = 2 * time.Second

// get asks an API on the unix socket sock for path, in HTTP/1.0, which
// the server answers whole and then closes: a client of a few lines,
// where net/http would double invoke_ns's size and the start of every
// run, and of its child, which is the same binary.
func get(sock, path string) ([]byte, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), sock)
	defer f.Close()
	// Connecting, writing and reading wait at most apiTimeout each.
	tv := unix.NsecToTimeval(apiTimeout.Nanoseconds())
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: sock}); err != nil {
		return nil, err
	}
	if _, err := unix.Write(fd, []byte("GET "+path+" HTTP/1.0\r\nHost: engine\r\n\r\n")); err != nil {
		return nil, err
	}
	var resp []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(fd, buf)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return nil, err
		case n == 0:
		case len(resp) > 64<<20:
			return nil, fmt.Errorf("%s: an answer of over 64 MiB", sock)
		default:
			resp = append(resp, buf[:n]...)
			continue
		}
		break
	}
	head, body, ok := bytes.Cut(resp, []byte("\r\n\r\n"))
	status, _, _ := bytes.Cut(head, []byte("\r\n"))
	if fields := bytes.Fields(status); !ok || len(fields) < 2 || string(fields[1]) != "200" {
		return nil, fmt.Errorf("%s: %q", sock, status)
	}
	return body, nil
}

// kubernetes is "namespace/pod/container" for the Kubernetes container
// of that ID, from the annotations its runtime keeps in its state
// (CRI-O's and the kubelet's io.kubernetes.pod.*, containerd's
// io.kubernetes.cri.*); "" where there are none.
func (n *Namer) kubernetes(id string) string {
	if id == "" || strings.ContainsAny(id, "/.") {
		return ""
	}
	for _, dir := range runcStates {
		parent, pattern, ok := strings.Cut(dir, "/*")
		dirs := []string{dir}
		if ok && pattern == "" {
			dirs = n.subdirs(parent)
		}
		for _, d := range dirs {
			if b, err := n.read(d + "/" + id + "/state.json"); err == nil {
				return kubernetesState(b)
			}
		}
	}
	return ""
}

// read reads a small file within the host's root.
func (n *Namer) read(path string) ([]byte, error) {
	f, err := openIn(n.root, path, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
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
	if root == nil {
		fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, err
		}
		return os.NewFile(uintptr(fd), path), nil
	}
	how := &unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	fd, err := unix.Openat2(int(root.Fd()), path, how)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

// kubernetesState is the name in runc's state of a container: its
// io.kubernetes annotations, "" where it has none.
func kubernetesState(b []byte) string {
	var st struct {
		Config struct {
			Labels []string `json:"labels"`
		} `json:"config"`
	}
	if json.Unmarshal(b, &st) != nil {
		return ""
	}
	labels := map[string]string{}
	for _, l := range st.Config.Labels {
		if k, v, ok := strings.Cut(l, "="); ok {
			labels[k] = v
		}
	}
	first := func(keys ...string) string {
		for _, k := range keys {
			if v := labels[k]; v != "" {
				return v
			}
		}
		return ""
	}
	namespace := first("io.kubernetes.pod.namespace", "io.kubernetes.cri.sandbox-namespace")
	pod := first("io.kubernetes.pod.name", "io.kubernetes.cri.sandbox-name")
	container := first("io.kubernetes.container.name", "io.kubernetes.cri.container-name")
	if pod == "" || container == "" {
		return ""
	}
	return fmt.Sprintf("%s/%s/%s", namespace, pod, container)
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
