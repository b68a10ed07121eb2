// docker.go: the Docker daemons of a node, and their containers' names.
// A node may run several (one of root's, and one rootless daemon per
// user on a lab server), each on a socket of its own: $DOCKER_HOST's is
// asked first, then every running dockerd's, as its flags, its
// daemon.json or its defaults say, each reached within that daemon's own
// root, and all at once, each bounded (ask).

package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"invoke_ns/internal/procfs"

	"golang.org/x/sys/unix"
)

// socket is a daemon's unix socket: its path, as root resolves it (nil:
// invoke_ns's own root).
type socket struct {
	root *os.File
	path string
}

// dockers asks every Docker daemon of the node, those of $DOCKER_HOST and
// of the processes pids (dockerd's), for its containers' names, at once,
// and keeps them, $DOCKER_HOST's before the others'.
func (n *Namer) dockers(pids []int) {
	var socks []socket
	if host, ok := strings.CutPrefix(os.Getenv("DOCKER_HOST"), "unix://"); ok {
		socks = append(socks, socket{path: host})
	}
	var roots []*os.File
	for _, pid := range pids {
		root, err := os.OpenFile(fmt.Sprintf("/proc/%d/root", pid), unix.O_PATH|unix.O_DIRECTORY, 0)
		if err != nil {
			continue
		}
		roots = append(roots, root)
		for _, p := range dockerdSockets(pid, root) {
			socks = append(socks, socket{root: root, path: p})
		}
	}
	defer func() {
		for _, r := range roots {
			r.Close()
		}
	}()
	// Where no daemon can be seen (a PID namespace of its own), the
	// host's usual socket, within its root.
	if len(pids) == 0 {
		socks = append(socks, socket{root: n.root, path: dockerSocket})
	}
	found := make([]map[string]Named, len(socks))
	var wg sync.WaitGroup
	for i, s := range socks {
		wg.Go(func() { found[i] = dockerNames(s) })
	}
	wg.Wait()
	for i := range found {
		// The first to name a container names it: $DOCKER_HOST's first.
		for id, named := range found[len(found)-1-i] {
			n.byID[id] = named
		}
	}
}

// dockerdSockets are the unix sockets daemon pid listens on, as paths
// within its root: its -H (--host) flags; else its daemon.json's "hosts"
// (--config-file, else /etc/docker/daemon.json, or for a rootless daemon
// the one in its user's configuration); else its default:
// /var/run/docker.sock, or $XDG_RUNTIME_DIR/docker.sock for a rootless
// daemon. fd:// is systemd's socket, docker.socket's /run/docker.sock.
func dockerdSockets(pid int, root *os.File) []string {
	env := map[string]string{}
	for _, kv := range nulSplit(procfs.Read(fmt.Sprintf("/proc/%d/environ", pid))) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return daemonSockets(nulSplit(procfs.Read(fmt.Sprintf("/proc/%d/cmdline", pid))), env,
		func(name string) ([]byte, error) { return readIn(root, name) })
}

// daemonSockets are the sockets of a dockerd of those arguments and that
// environment, read reading a file within its root.
func daemonSockets(args []string, env map[string]string, read func(string) ([]byte, error)) []string {
	hosts, config := dockerdFlags(args)
	rootless := env["ROOTLESSKIT_STATE_DIR"] != ""
	if len(hosts) == 0 {
		if config == "" {
			config = "/etc/docker/daemon.json"
			if rootless {
				config = filepath.Join(firstOf(env["XDG_CONFIG_HOME"], env["HOME"]+"/.config"), "docker", "daemon.json")
			}
		}
		if b, err := read(config); err == nil {
			var cfg struct {
				Hosts []string `json:"hosts"`
			}
			if json.Unmarshal(b, &cfg) == nil {
				hosts = cfg.Hosts
			}
		}
	}
	if len(hosts) == 0 {
		hosts = []string{"unix://" + dockerSocket}
		if rootless && env["XDG_RUNTIME_DIR"] != "" {
			hosts = []string{"unix://" + filepath.Join(env["XDG_RUNTIME_DIR"], "docker.sock")}
		}
	}
	var socks []string
	for _, h := range hosts {
		switch {
		case strings.HasPrefix(h, "fd://"):
			socks = append(socks, "/run/docker.sock")
		case strings.HasPrefix(h, "unix://"):
			socks = append(socks, strings.TrimPrefix(h, "unix://"))
		}
	}
	return socks
}

// dockerdFlags are the hosts of a dockerd's -H and --host flags, in each
// of the forms its flag parser takes, and its --config-file.
func dockerdFlags(args []string) (hosts []string, config string) {
	for i := 1; i < len(args); i++ {
		a := args[i]
		name, value, inline := strings.Cut(a, "=")
		if !inline && i+1 < len(args) && (a == "-H" || a == "--host" || a == "--config-file") {
			value, i = args[i+1], i+1
		}
		switch {
		case name == "-H" || name == "--host":
			hosts = append(hosts, value)
		case strings.HasPrefix(a, "-H") && len(a) > 2 && !inline:
			hosts = append(hosts, a[2:]) // -Hunix:///run/x.sock
		case name == "--config-file":
			config = value
		}
	}
	return hosts, config
}

// readIn reads a small file within root.
func readIn(root *os.File, name string) ([]byte, error) {
	n := &Namer{root: root}
	return n.read(name)
}

// nulSplit is the NUL-ended strings of a /proc file (cmdline, environ).
func nulSplit(b []byte, err error) []string {
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

// firstOf is the first of values that is not "".
func firstOf(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// dockerNames asks the Docker daemon on s for its containers' names, as
// `docker ps` shows them, and for the pod of each that runs for
// Kubernetes (cri-dockerd's labels): every container's (all=1), since a
// container's first process runs before Docker counts it as running,
// and a scan at that moment (a node agent's first, of its own container)
// would miss its name. Nothing where it does not answer.
func dockerNames(s socket) map[string]Named {
	sock := s.path
	if s.root != nil {
		// Found within the daemon's root, and reached through the
		// descriptor: its path means nothing in invoke_ns's root.
		f, err := openIn(s.root, s.path, unix.O_PATH)
		if err != nil {
			return nil
		}
		defer f.Close()
		sock = fmt.Sprintf("/proc/self/fd/%d", f.Fd())
	}
	names := map[string]Named{}
	err := ask(sock, "/containers/json?all=1", time.Now().Add(apiDeadline), func(body *json.Decoder) error {
		return eachElement(body, func(d *json.Decoder) error {
			var c struct {
				ID     string            `json:"Id"`
				Names  []string          `json:"Names"`
				Labels map[string]string `json:"Labels"`
			}
			if err := d.Decode(&c); err != nil {
				return err
			}
			named := Named{Engine: "docker", Kube: kubeOf(c.Labels)}
			if named.Kube != nil {
				named.Name = named.Kube.Name()
			} else if len(c.Names) > 0 {
				named.Name = strings.TrimPrefix(c.Names[0], "/")
			}
			names[c.ID] = named
			return nil
		})
	})
	if err != nil {
		return nil
	}
	return names
}
