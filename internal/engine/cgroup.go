// Package engine is the containers of a node as their engines know them:
// which container a process belongs to, by its cgroup path (Docker,
// Podman, containerd and CRI-O, Kubernetes pods, LXC, systemd-nspawn),
// and the name its engine shows, asked of Docker's API on its socket, read
// from Podman's state, or from a Kubernetes container's annotations in
// its runtime's state, all without a client library. It knows nothing of
// namespaces, IPC objects or what invoke_ns prints.
package engine

import (
	"fmt"
	"strings"

	"invoke_ns/internal/procfs"
)

// Container is a container a process belongs to.
type Container struct {
	Engine string // "docker", "podman", ...; "" for none
	ID     string // as the cgroup path gives it: a full ID, or a name
	Name   string // as its engine shows it, where the node tells; "" if not
}

// String names the container: its name, or its engine and the start of
// its ID; "-" for none.
func (c Container) String() string {
	switch {
	case c.Engine == "":
		return "-"
	case c.Name != "":
		return c.Name
	}
	return c.Engine + " " + Short(c.ID)
}

// Short is an ID as `docker ps` shows it: its first 12 characters.
func Short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// cgroupPaths are where the container runtimes put a container's
// processes, by cgroup path: the engine, what comes before its ID or
// name, and what the ID is made of ("" for a name, up to a / or .scope).
// Podman's conmon, in libpod-conmon-ID, is not the container.
var cgroupPaths = []struct {
	engine, before, of string
	least              int
}{
	{"podman", "libpod-", hexDigits, 12},
	{"containerd", "cri-containerd-", hexDigits, 12},
	{"crio", "crio-", hexDigits, 12},
	{"docker", "docker-", hexDigits, 64},
	{"docker", "docker/", hexDigits, 64},
	{"k8s pod", "pod", hexDigits + "_-", 36},
	{"lxc", "lxc.payload.", "", 1},
	{"lxc", "lxc/", "", 1},
	{"nspawn", "machine-", "", 1},
}

const hexDigits = "0123456789abcdef"

// Of is the container process pid belongs to, by its cgroup path; the
// zero Container where none is named.
func Of(pid int) Container {
	b, err := procfs.Read(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return Container{}
	}
	return in(string(b))
}

// in is the container a /proc/PID/cgroup text names.
func in(cgroup string) Container {
	for _, c := range cgroupPaths {
		if c.engine == "k8s pod" && !strings.Contains(cgroup, "kubepods") {
			continue
		}
		for rest := cgroup; ; {
			_, after, found := strings.Cut(rest, c.before)
			if !found {
				break
			}
			rest = after
			if c.before == "libpod-" && strings.HasPrefix(after, "conmon-") {
				continue
			}
			id := after
			if c.of != "" {
				id = after[:len(after)-len(strings.TrimLeft(after, c.of))]
			} else if k := strings.IndexAny(after, "/\n"); k >= 0 {
				id = after[:k]
			}
			id = strings.ReplaceAll(strings.TrimSuffix(id, ".scope"), `\x2d`, "-")
			if len(id) >= c.least {
				return Container{Engine: c.engine, ID: id}
			}
		}
	}
	return Container{}
}
