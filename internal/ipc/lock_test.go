package ipc

import (
	"fmt"
	"os"
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
