// Package engine is the containers of a node as their engines know them:
// which container a process belongs to, by its cgroup path (Docker,
// Podman, containerd and CRI-O, Kubernetes pods under any of them, with
// the cgroupfs or the systemd driver, LXC, systemd-nspawn), and the name
// its engine shows, asked of Docker's API on its socket, read from
// Podman's state, or from a Kubernetes container's annotations in its
// runtime's state, all without a client library. It knows nothing of
// namespaces, IPC objects or what invoke_ns prints.
package engine

import (
	"fmt"
	"strings"

	"invoke_ns/internal/procfs"
)

// Container is a container a process belongs to, as its cgroup path
// names it: comparable, so that the processes of one are told together.
type Container struct {
	// Engine is "docker", "podman", "containerd", "crio", "lxc" or
	// "nspawn"; "kubernetes" for a pod's container whose path does not
	// say which runtime runs it (the cgroupfs driver: the Namer tells);
	// "" for none.
	Engine string
	ID     string // as the cgroup path gives it: a full ID, or a name
	PodUID string // the Kubernetes pod's UID, where the path names one
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
	case c.ID == "":
		return "k8s pod " + c.PodUID
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

// scopes are the folders of a cgroup path in which a runtime puts a
// container's processes, by the engine, what comes before its ID or name
// (a systemd unit of the systemd driver, or a folder of the cgroupfs
// one), and what the ID is made of ("" for a name). A runtime's monitor
// (Podman's and CRI-O's conmon) has a unit of its own, and is not the
// container.
var scopes = []struct {
	engine, before, of string
	least              int
}{
	{"podman", "libpod-", hexDigits, 12},
	{"containerd", "cri-containerd-", hexDigits, 12},
	{"crio", "crio-", hexDigits, 12},
	{"docker", "docker-", hexDigits, 64},
	{"lxc", "lxc.payload.", "", 1},
	{"nspawn", "machine-", "", 1},
}

// monitors are the units of a runtime's monitor, not of a container.
var monitors = []string{"libpod-conmon-", "crio-conmon-"}

const hexDigits = "0123456789abcdef"

// Of is the container process pid belongs to, by its cgroup path; the
// zero Container where none is named.
func Of(pid int) Container {
	b, err := procfs.ReadMade(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return Container{}
	}
	return in(string(b))
}

// in is the container a /proc/PID/cgroup text names: the first of its
// lines (one a hierarchy: cgroup v1 has several, v2 one) whose path
// names one.
func in(cgroup string) Container {
	for _, line := range strings.Split(cgroup, "\n") {
		// "hierarchy:controllers:path": a path may hold ":".
		f := strings.SplitN(line, ":", 3)
		if len(f) < 3 {
			continue
		}
		if c := ofPath(strings.Split(strings.Trim(f[2], "/"), "/")); c.Engine != "" {
			return c
		}
	}
	return Container{}
}

// ofPath is the container the folders of a cgroup path name.
func ofPath(dirs []string) Container {
	var c Container
	for i, d := range dirs {
		switch {
		case strings.HasPrefix(d, "kubepods"):
			// The systemd driver's kubepods-besteffort-pod<uid>.slice,
			// with _ for -; the cgroupfs driver's pod<uid> below it.
			if _, uid, ok := strings.Cut(strings.TrimSuffix(d, ".slice"), "-pod"); ok {
				c.PodUID = strings.ReplaceAll(uid, "_", "-")
			}
		case c.PodUID == "" && strings.HasPrefix(d, "pod") && i > 0 && strings.HasPrefix(dirs[i-1], "kubepods") ||
			c.PodUID == "" && strings.HasPrefix(d, "pod") && i > 1 && strings.HasPrefix(dirs[i-2], "kubepods"):
			c.PodUID = d[len("pod"):]
		case d == "docker" && i+1 < len(dirs) && idOf(dirs[i+1], hexDigits, 64) != "":
			return Container{Engine: "docker", ID: dirs[i+1], PodUID: c.PodUID}
		case d == "lxc" && i+1 < len(dirs):
			return Container{Engine: "lxc", ID: dirs[i+1]}
		default:
			s, monitor := scopeOf(d)
			if monitor {
				return Container{}
			}
			if s.Engine != "" {
				s.PodUID = c.PodUID
				return s
			}
			// The cgroupfs driver: kubepods[/qos]/pod<uid>/<id>.
			if c.PodUID != "" && idOf(d, hexDigits, 64) != "" {
				return Container{Engine: "kubernetes", ID: d, PodUID: c.PodUID}
			}
		}
	}
	if c.PodUID != "" {
		// In the pod's cgroup itself: the pod's, no container's.
		c.Engine = "kubernetes"
	}
	return c
}

// scopeOf is the container one folder of a cgroup path names as a
// runtime's unit, or none; monitor says it is a runtime's monitor's.
func scopeOf(d string) (c Container, monitor bool) {
	for _, m := range monitors {
		if strings.HasPrefix(d, m) {
			return Container{}, true
		}
	}
	for _, s := range scopes {
		rest, ok := strings.CutPrefix(d, s.before)
		if !ok {
			continue
		}
		rest = strings.TrimSuffix(rest, ".scope")
		if s.of == "" {
			if id := strings.ReplaceAll(rest, `\x2d`, "-"); len(id) >= s.least {
				return Container{Engine: s.engine, ID: id}, false
			}
			continue
		}
		if id := idOf(rest, s.of, s.least); id != "" {
			return Container{Engine: s.engine, ID: id}, false
		}
	}
	return Container{}, false
}

// idOf is s if it is made of the characters of and is least long at the
// least, else "".
func idOf(s, of string, least int) string {
	if len(s) < least || strings.Trim(s, of) != "" {
		return ""
	}
	return s
}
