package main

import (
	"os"
	"slices"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestBuildCmd(t *testing.T) {
	tests := []struct {
		name  string
		cfg   config
		flags uintptr
	}{
		{"no namespaces", config{}, 0},
		{"-i no shares the IPC namespace", config{IPC: true}, 0},
		{"-i yes", config{IPC: true, NewIPC: true}, unix.CLONE_NEWIPC},
		{"-p -m", config{NewPID: true, NewMount: true}, unix.CLONE_NEWPID | unix.CLONE_NEWNS},
		{"-u -n", config{Hostname: "h", NewNet: true}, unix.CLONE_NEWUTS | unix.CLONE_NEWNET},
		{"-U", config{NewUser: true}, unix.CLONE_NEWUSER},
	}
	// Real descriptors: an os.File made up around a number would close
	// that number when collected, whatever it has come to mean by then.
	in, out, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	defer out.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := buildCmd(&tt.cfg, in, out, os.Stderr, 1000, 1001)
			if got := cmd.SysProcAttr.Cloneflags; got != tt.flags {
				t.Errorf("Cloneflags %#x, want %#x", got, tt.flags)
			}
			if cmd.Path != "/proc/self/exe" || !slices.Equal(cmd.Args, []string{childName}) {
				t.Errorf("runs %s %q, want /proc/self/exe with argv[0] %q", cmd.Path, cmd.Args, childName)
			}
			if cmd.Stdin != os.Stdin || cmd.Stdout != os.Stderr || cmd.Stderr != os.Stderr {
				t.Errorf("stdio not wired as asked")
			}
			if !slices.Equal(cmd.ExtraFiles, []*os.File{in, out}) || !slices.Contains(cmd.Env, childEnv+"=3 4") {
				t.Errorf("handshake pipes not announced as fds 3 and 4: %v", cmd.Env)
			}
			if cmd.SysProcAttr.Pdeathsig != syscall.SIGKILL {
				t.Errorf("no Pdeathsig: a killed parent would leave the child at its prompt")
			}
			wantMaps := tt.cfg.NewUser
			uid := cmd.SysProcAttr.UidMappings
			if (len(uid) == 1) != wantMaps || wantMaps && (uid[0] != syscall.SysProcIDMap{ContainerID: 0, HostID: 1000, Size: 1} ||
				cmd.SysProcAttr.GidMappings[0] != syscall.SysProcIDMap{ContainerID: 0, HostID: 1001, Size: 1}) {
				t.Errorf("uid/gid maps %v %v", uid, cmd.SysProcAttr.GidMappings)
			}
		})
	}
}
