package reexec

import (
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestBuildCmd(t *testing.T) {
	tests := []struct {
		name  string
		flags uintptr
	}{
		{"no namespaces", 0},
		{"a new IPC namespace", unix.CLONE_NEWIPC},
		{"PID and mount", unix.CLONE_NEWPID | unix.CLONE_NEWNS},
		{"UTS and network", unix.CLONE_NEWUTS | unix.CLONE_NEWNET},
		{"a user namespace: mapped", unix.CLONE_NEWUSER},
	}
	var pidfd int
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, argv, attr := BuildCmd(tt.flags, [3]uintptr{0, 7, 2}, nil, []pipeEnd{{10, 100}, {11, 110}}, &pidfd, 1000, 1001)
			sys := attr.Sys
			if got := sys.Cloneflags; got != tt.flags {
				t.Errorf("Cloneflags %#x, want %#x", got, tt.flags)
			}
			if path != "/proc/self/exe" || !slices.Equal(argv, []string{childName}) {
				t.Errorf("runs %s %q, want /proc/self/exe with argv[0] %q", path, argv, childName)
			}
			// Descriptors 0 to 2 as given, then the handshake pipes as 3 and 4.
			// (TestChildEnviron checks what the environment holds.)
			if !slices.Equal(attr.Files, []uintptr{0, 7, 2, 10, 11}) || !slices.Equal(attr.Env, childEnviron("3:100 4:110")) {
				t.Errorf("files %v, env %v: stdio and the handshake pipes not wired and announced as 3 and 4", attr.Files, attr.Env)
			}
			if sys.Pdeathsig != syscall.SIGKILL {
				t.Errorf("no Pdeathsig: a killed parent would leave the child at its prompt")
			}
			if sys.PidFD != &pidfd {
				t.Errorf("no pidfd asked for: signals could reach a process that reused the PID")
			}
			wantMaps := tt.flags&unix.CLONE_NEWUSER != 0
			uid := sys.UidMappings
			if (len(uid) == 1) != wantMaps || wantMaps && (uid[0] != syscall.SysProcIDMap{ContainerID: 0, HostID: 1000, Size: 1} ||
				sys.GidMappings[0] != syscall.SysProcIDMap{ContainerID: 0, HostID: 1001, Size: 1}) {
				t.Errorf("uid/gid maps %v %v", uid, sys.GidMappings)
			}
		})
	}
}

// The caller's descriptors keep their numbers, and the handshake pipes
// take the lowest free ones.
func TestBuildCmdPassesTheCallersDescriptors(t *testing.T) {
	tests := []struct {
		name      string
		inherited []int
		files     []uintptr
		marker    string
	}{
		{"none", nil, []uintptr{0, 1, 2, 20, 21}, "3:8 4:9"},
		{"3 and 4", []int{3, 4}, []uintptr{0, 1, 2, 3, 4, 20, 21}, "5:8 6:9"},
		{"4 alone", []int{4}, []uintptr{0, 1, 2, 20, 4, 21}, "3:8 5:9"},
		{"above the pipes: open across exec already", []int{9}, []uintptr{0, 1, 2, 20, 21}, "3:8 4:9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GOMAXPROCS", "")
			os.Unsetenv("GOMAXPROCS") // the marker is followed by a word then
			_, _, attr := BuildCmd(0, [3]uintptr{0, 1, 2}, tt.inherited, []pipeEnd{{20, 8}, {21, 9}}, new(int), 0, 0)
			announced := slices.ContainsFunc(attr.Env, func(e string) bool { return strings.HasPrefix(e, ChildEnv+"="+tt.marker+" ") })
			if !slices.Equal(attr.Files, tt.files) || !announced {
				t.Errorf("files %v, env %v; want files %v, marker %s", attr.Files, attr.Env, tt.files, tt.marker)
			}
		})
	}
}

func TestChildEnviron(t *testing.T) {
	tests := []struct {
		name      string
		user      string // the user's GOMAXPROCS, "" for none
		maxprocs  string
		handshake string
	}{
		{"GOMAXPROCS unset: one P, marked for removal", "", "GOMAXPROCS=1", ChildEnv + "=3:1 4:2 " + maxProcsEnv},
		{"GOMAXPROCS set: the user's, unmarked", "4", "GOMAXPROCS=4", ChildEnv + "=3:1 4:2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GOMAXPROCS", tt.user)
			if tt.user == "" {
				os.Unsetenv("GOMAXPROCS")
			}
			var maxprocs, handshake []string
			for _, e := range childEnviron("3:1 4:2") {
				if strings.HasPrefix(e, "GOMAXPROCS=") {
					maxprocs = append(maxprocs, e)
				}
				if strings.HasPrefix(e, ChildEnv+"=") {
					handshake = append(handshake, e)
				}
			}
			if !slices.Equal(maxprocs, []string{tt.maxprocs}) || !slices.Equal(handshake, []string{tt.handshake}) {
				t.Errorf("GOMAXPROCS %q and %q, want %s and %s", maxprocs, handshake, tt.maxprocs, tt.handshake)
			}
		})
	}
}

// reap waits in the poller on the pidfd, and in wait4 when the descriptor
// it is given cannot be polled; either way it reaps the child once it has
// ended, with its status.
func TestReap(t *testing.T) {
	tests := []struct {
		name     string
		pollable bool
	}{
		{"through the pidfd in the poller", true},
		{"in wait4, the descriptor not pollable", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The child ends with status 3 once its stdin is closed: a
			// reap that did not wait would see no status.
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			pidfd := -1
			pid, err := syscall.ForkExec("/bin/sh", []string{"sh", "-c", "read x; exit 3"}, &syscall.ProcAttr{
				Files: []uintptr{r.Fd(), 1, 2},
				Sys:   &syscall.SysProcAttr{PidFD: &pidfd},
			})
			if err != nil {
				w.Close()
				t.Fatal(err)
			}
			var f *os.File
			if tt.pollable {
				unix.SetNonblock(pidfd, true)
				f = os.NewFile(uintptr(pidfd), "pidfd")
			} else {
				defer unix.Close(pidfd)
				// epoll refuses a regular file.
				if f, err = os.CreateTemp(t.TempDir(), "not-pollable"); err != nil {
					w.Close()
					t.Fatal(err)
				}
			}
			defer f.Close()
			c := &Child{PID: pid, pidfd: f}
			done := make(chan struct{})
			go func() { c.reap(); close(done) }()
			w.Close()
			<-done
			if c.waitErr != nil || !c.status.Exited() || c.status.ExitStatus() != 3 {
				t.Errorf("status %v, error %v; want exit status 3", c.status, c.waitErr)
			}
			if err := unix.Kill(pid, 0); err != unix.ESRCH {
				t.Errorf("kill(%d, 0) = %v after reap, want ESRCH: the child was not reaped", pid, err)
			}
		})
	}
}

func TestCutShort(t *testing.T) {
	tests := []struct {
		name    string
		exited  bool
		status  syscall.WaitStatus
		waitErr error
		want    bool
	}{
		{"still running", false, 0, nil, false},
		{"exited 0 after its last report", true, 0, nil, false},
		{"exited 1", true, 1 << 8, nil, true},
		{"killed", true, syscall.WaitStatus(syscall.SIGKILL), nil, true},
		{"not waited for", true, 0, syscall.ECHILD, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Child{exited: make(chan struct{}), status: tt.status, waitErr: tt.waitErr}
			if tt.exited {
				close(c.exited)
			}
			if got := c.CutShort(); got != tt.want {
				t.Errorf("CutShort() = %v, want %v", got, tt.want)
			}
		})
	}
}
