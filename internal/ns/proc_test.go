package ns

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// A task is opened pinned only while it is what it was found as: the
// same start time under its PID, in the namespace found, not ended; a
// thread too. Anything else is ErrGone.
func TestOpenPinned(t *testing.T) {
	own, err := os.Readlink("/proc/self/ns/ipc")
	if err != nil {
		t.Fatal(err)
	}
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleep.Process.Kill(); sleep.Wait() }()
	task, err := Identify(sleep.Process.Pid, 0)
	if err != nil || task.Ident == 0 {
		t.Fatalf("Identify: %+v, %v", task, err)
	}
	// A thread of the test's own, locked to this goroutine meanwhile.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	thread, err := Identify(os.Getpid(), unix.Gettid())
	if err != nil {
		t.Fatal(err)
	}
	later := task
	later.Ident++
	for _, tt := range []struct {
		name string
		task Task
		id   string
		gone bool
	}{
		{"as found", task, own, false},
		{"a thread as found", thread, own, false},
		{"told apart from it: its PID taken over", later, own, true},
		{"in another namespace", task, "ipc:[1]", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, err := OpenPinned("--probe", tt.task, tt.id, true)
			if h != nil {
				defer h.Close()
			}
			if errors.Is(err, ErrGone) != tt.gone || !tt.gone && (err != nil || h.ID != own || h.Root == nil) {
				t.Errorf("OpenPinned: %+v, %v; want gone: %v", h, err, tt.gone)
			}
		})
	}
	sleep.Process.Kill()
	sleep.Wait()
	if _, err := OpenPinned("--probe", task, own, false); !errors.Is(err, ErrGone) {
		t.Errorf("an ended task: %v, want it gone", err)
	}
	if _, err := RootOfTask(task); !errors.Is(err, ErrGone) {
		t.Errorf("the root of an ended task: %v, want it gone", err)
	}
}

// A task is told apart from another by what identifies it, the same for
// the same task, and its command read apart; with pidfs or before it.
func TestIdentify(t *testing.T) {
	a, err := Identify(os.Getpid(), 0)
	b, berr := Identify(os.Getpid(), 0)
	if err != nil || berr != nil || a != b || a.Ident == 0 || a.Comm != "" {
		t.Errorf("Identify: %+v, %+v, %v, %v", a, b, err, berr)
	}
	if s, err := startTime(a); err != nil || s == 0 {
		t.Errorf("startTime: %d, %v", s, err)
	}
	a.ReadComm()
	if a.Comm != Comm(os.Getpid()) {
		t.Errorf("ReadComm: %q", a.Comm)
	}
	if _, err := Identify(-1, 0); err == nil {
		t.Error("no such task, no error")
	}
	if n := threads(os.Getpid()); n < 1 {
		t.Errorf("threads: %d", n)
	}
}
