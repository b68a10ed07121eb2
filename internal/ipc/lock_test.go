package ipc

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A run between binding its lock and listening on it still names its PID
// to another that finds the name taken: the holder refuses connections in
// that window, and is asked again.
func TestLockPeerWaitsForListen(t *testing.T) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	addr := &unix.SockaddrUnix{Name: fmt.Sprintf("@invoke_ns_test/lock/%d", os.Getpid())}
	if err := unix.Bind(fd, addr); err != nil {
		t.Fatal(err)
	}
	// The holder listens only once it has been asked and has refused, as
	// one preempted between the two would.
	pauses, listenErr := 0, error(nil)
	defer func(pause func()) { LockPeerPause = pause }(LockPeerPause)
	LockPeerPause = func() {
		if pauses++; pauses == 1 {
			listenErr = unix.Listen(fd, 1)
		}
	}
	if cred, ok := LockPeer(addr); !ok || int(cred.Pid) != os.Getpid() {
		t.Errorf("lockPeer gave %+v, want PID %d (the holder's)", cred, os.Getpid())
	}
	if listenErr != nil {
		t.Fatal(listenErr)
	}
	if pauses != 1 {
		t.Errorf("lockPeer asked again %d times, want once: it was refused once", pauses)
	}
}

// A lock's name is the same for the same object, and tells apart objects
// that differ in kind, name, key or IPC namespace; and the longest name
// the kernel takes (NAME_MAX) still gives one that fits an abstract
// socket's 107 bytes.
func TestLockName(t *testing.T) {
	objects := []Object{
		{Kind: Msg, Key: 1}, {Kind: Msg, Key: 2}, {Kind: Sem, Key: 1}, {Kind: Shm, Key: 1},
		{Kind: Pshm, Name: "/a"}, {Kind: Pshm, Name: "/b"}, {Kind: Pshm, Name: "/" + strings.Repeat("n", 254)},
	}
	named := map[string]Object{}
	for _, o := range objects {
		name := LockName(o)
		if again := LockName(o); again != name {
			t.Errorf("%v: %q, then %q", o, name, again)
		}
		if len(name) > 107 {
			t.Errorf("%v: %q is %d bytes, over 107", o, name, len(name))
		}
		if other, ok := named[name]; ok {
			t.Errorf("%v and %v both %q", other, o, name)
		}
		named[name] = o
	}
	// The same key in another IPC namespace, on a thread that is thrown
	// away after.
	o := Object{Kind: Msg, Key: 1}
	done := make(chan error)
	var inOther string
	go func() {
		runtime.LockOSThread()
		err := unix.Unshare(unix.CLONE_NEWIPC)
		inOther = LockName(o)
		done <- err
	}()
	if err := <-done; err != nil {
		t.Fatalf("a new IPC namespace: %v", err)
	}
	if inOther == LockName(o) {
		t.Errorf("%v: %q in two IPC namespaces", o, inOther)
	}
}
