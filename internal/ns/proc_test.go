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
	task, err := ReadTask(sleep.Process.Pid, 0)
	if err != nil || task.Start == 0 {
		t.Fatalf("ReadTask: %+v, %v", task, err)
	}
	// A thread of the test's own, locked to this goroutine meanwhile.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	thread, err := ReadTask(os.Getpid(), unix.Gettid())
	if err != nil {
		t.Fatal(err)
	}
	later := task
	later.Start++
	for _, tt := range []struct {
		name string
		task Task
		id   string
		gone bool
	}{
		{"as found", task, own, false},
		{"a thread as found", thread, own, false},
		{"another start time: its PID taken over", later, own, true},
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

// The command and start time come from stat, whatever the name holds.
func TestReadTask(t *testing.T) {
	task, err := ReadTask(os.Getpid(), 0)
	if err != nil || task.PID != os.Getpid() || task.Start == 0 || task.Comm != Comm(os.Getpid()) {
		t.Errorf("ReadTask: %+v, %v", task, err)
	}
	if _, err := ReadTask(-1, 0); err == nil {
		t.Error("no such task, no error")
	}
}
