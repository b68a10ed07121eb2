// container.go: the container a process belongs to, where its cgroup
// path tells.

package ns

import (
	"fmt"
	"os"
	"strings"
)

// containerPaths are where the container runtimes put a container's
// processes, by cgroup path: the runtime, what comes before its id or
// name, and what the id is made of ("" for a name, up to a / or .scope).
var containerPaths = []struct {
	runtime, before, of string
	least               int
}{
	{"podman", "libpod-conmon-", hexDigits, 12},
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

// ContainerOf names the container of process pid from its cgroup path,
// or "-".
func ContainerOf(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "-"
	}
	return containerIn(string(b))
}

// containerIn names the container a /proc/PID/cgroup text tells, or "-".
func containerIn(cgroup string) string {
	for _, c := range containerPaths {
		if c.runtime == "k8s pod" && !strings.Contains(cgroup, "kubepods") {
			continue
		}
		for rest := cgroup; ; {
			_, after, found := strings.Cut(rest, c.before)
			if !found {
				break
			}
			rest = after
			id := after
			if c.of != "" {
				id = after[:len(after)-len(strings.TrimLeft(after, c.of))]
			} else if k := strings.IndexAny(after, "/\n"); k >= 0 {
				id = after[:k]
			}
			id = strings.ReplaceAll(strings.TrimSuffix(id, ".scope"), `\x2d`, "-")
			if len(id) >= c.least {
				if len(id) > 12 {
					id = id[:12]
				}
				return c.runtime + " " + id
			}
		}
	}
	return "-"
}
