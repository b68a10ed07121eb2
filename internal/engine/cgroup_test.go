package engine

import "testing"

// The cgroup paths of the container runtimes name their containers.
func TestOf(t *testing.T) {
	tests := []struct{ cgroup, want string }{
		{"0::/system.slice/docker-4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b.scope", "docker 4a3b2c1d0e9f"},
		{"9:name=systemd:/docker/4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b", "docker 4a3b2c1d0e9f"},
		{"0::/machine.slice/libpod-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope", "podman 0123456789ab"},
		{"0::/machine.slice/libpod-conmon-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope", "-"},
		{"0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1234.slice/cri-containerd-abcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcd.scope", "containerd abcdefabcdef"},
		{"0::/lxc.payload.web/init.scope", "lxc web"},
		{"0::/machine.slice/machine-box.scope", "nspawn box"},
		{"0::/user.slice/user-1000.slice/session-2.scope", "-"},
	}
	for _, tt := range tests {
		if got := in(tt.cgroup).String(); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.cgroup, got, tt.want)
		}
	}
}
