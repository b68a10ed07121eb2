package engine

import (
	"strings"
	"testing"
)

// The cgroup paths of the container runtimes and of the kubelet's two
// drivers name their containers, on cgroup v1 (a line a hierarchy) and
// v2 (one line): real paths of each, the IDs cut to their kind.
func TestOf(t *testing.T) {
	const id = "4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b"
	const uid = "3f2a1b0c-9d8e-4f7a-b6c5-d4e3f2a1b0c9"
	uid_ := strings.ReplaceAll(uid, "-", "_")
	v1 := func(path string) string {
		return "12:pids:" + path + "\n11:memory:" + path + "\n1:name=systemd:" + path + "\n0::/\n"
	}
	tests := []struct {
		name, cgroup string
		want         Container
	}{
		{"Docker, cgroupfs, v1", v1("/docker/" + id), Container{Engine: "docker", ID: id}},
		{"Docker, systemd, v2", "0::/system.slice/docker-" + id + ".scope\n", Container{Engine: "docker", ID: id}},
		{"Podman", "0::/machine.slice/libpod-" + id + ".scope\n", Container{Engine: "podman", ID: id}},
		{"Podman, split", "0::/machine.slice/libpod-" + id + ".scope/container\n", Container{Engine: "podman", ID: id}},
		{"Podman's conmon", "0::/machine.slice/libpod-conmon-" + id + ".scope\n", Container{}},
		{"Kubernetes, cgroupfs, v1 (containerd, k3s, rke2)", v1("/kubepods/besteffort/pod" + uid + "/" + id),
			Container{Engine: "kubernetes", ID: id, PodUID: uid}},
		{"Kubernetes, cgroupfs, guaranteed", v1("/kubepods/pod" + uid + "/" + id), Container{Engine: "kubernetes", ID: id, PodUID: uid}},
		{"Kubernetes, cgroupfs, v2", "0::/kubepods/burstable/pod" + uid + "/" + id + "\n",
			Container{Engine: "kubernetes", ID: id, PodUID: uid}},
		{"Kubernetes, a process of the pod's own cgroup", v1("/kubepods/besteffort/pod" + uid),
			Container{Engine: "kubernetes", PodUID: uid}},
		{"containerd, systemd, v2", "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uid_ +
			".slice/cri-containerd-" + id + ".scope\n", Container{Engine: "containerd", ID: id, PodUID: uid}},
		{"containerd, systemd, v1", v1("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uid_ +
			".slice/cri-containerd-" + id + ".scope"), Container{Engine: "containerd", ID: id, PodUID: uid}},
		{"CRI-O, systemd", "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uid_ +
			".slice/crio-" + id + ".scope\n", Container{Engine: "crio", ID: id, PodUID: uid}},
		{"CRI-O's conmon", "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uid_ +
			".slice/crio-conmon-" + id + ".scope\n", Container{}},
		{"cri-dockerd, systemd, guaranteed", "0::/kubepods.slice/kubepods-pod" + uid_ + ".slice/docker-" + id + ".scope\n",
			Container{Engine: "docker", ID: id, PodUID: uid}},
		{"LXC, v2", "0::/lxc.payload.web/init.scope\n", Container{Engine: "lxc", ID: "web"}},
		{"LXC, v1", v1("/lxc/web"), Container{Engine: "lxc", ID: "web"}},
		{"systemd-nspawn", "0::/machine.slice/machine-my\\x2dbox.scope\n", Container{Engine: "nspawn", ID: "my-box"}},
		{"a session", "0::/user.slice/user-1000.slice/session-2.scope\n", Container{}},
		{"init", "0::/init.scope\n", Container{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := in(tt.cgroup); got != tt.want {
				t.Errorf("%+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestContainerString(t *testing.T) {
	for _, tt := range []struct {
		c    Container
		want string
	}{
		{Container{}, "-"},
		{Container{Engine: "docker", ID: "4a3b2c1d0e9f8a7b"}, "docker 4a3b2c1d0e9f"},
		{Container{Engine: "kubernetes", PodUID: "3f2a"}, "k8s pod 3f2a"},
		{Container{Engine: "containerd", ID: "4a3b", Name: "default/web/app"}, "default/web/app"},
	} {
		if got := tt.c.String(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.c, got, tt.want)
		}
	}
}
