// live.go: telling a live run's object from one that an earlier run left
// behind, by locks the kernel lets go of when their holder dies, even by
// SIGKILL. Every object is locked by an abstract unix socket (unix(7))
// named after its IPC namespace, kind and name or key, bound before the
// object is made, so that there is no moment when a run's object exists
// unlocked, and held as long as it lives. Abstract names belong to a
// network namespace, and runs on one host share one; a POSIX queue, which
// has a descriptor, is also locked with flock(2), which any run sees.

package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// holder is what is known of the run that holds an object.
type holder struct {
	live      bool   // a live run holds it
	pid       int    // that run's PID, where it can be known; 0 otherwise
	otherUser bool   // it belongs to someone this user may not open
	owner     string // who that is ("uid 1001"), where it can be told
}

// why says what h means for the object it holds.
func (h holder) why() string {
	switch {
	case h.otherUser && h.owner != "":
		return "owned by " + h.owner + ", another user"
	case h.otherUser:
		return "owned by another user"
	case h.live && h.pid > 0:
		return fmt.Sprintf("in use by invoke_ns PID %d", h.pid)
	case h.live:
		return "in use by another run"
	}
	return "left behind by an earlier run"
}

// about is why, about the object named so.
func (h holder) about(name string) string {
	if !h.live {
		return name + " was " + h.why()
	}
	return name + " is " + h.why()
}

// lockQueue marks q as this run's for as long as the descriptor is open.
func lockQueue(q *Queue) error {
	var err error
	if cerr := q.control(func(fd uintptr) { err = unix.Flock(int(fd), unix.LOCK_EX|unix.LOCK_NB) }); cerr != nil {
		return cerr
	}
	return err
}

// queueHolder says who holds the queue of that name: a live run holds its
// lock; a leftover's lock is free, and taking it for a moment says so.
func queueHolder(name string) (holder, error) {
	q, err := OpenQueue(name, unix.O_RDONLY)
	if errors.Is(err, unix.EACCES) {
		return holder{live: true, otherUser: true}, nil
	}
	if err != nil {
		return holder{}, err
	}
	defer q.Close()
	err = lockQueue(q)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return holder{live: true, pid: q.lockHolder()}, nil
	}
	return holder{}, err
}

// lockHolder is the PID that holds an flock on q, from /proc/locks, or 0.
func (q *Queue) lockHolder() int {
	var st unix.Stat_t
	if err := q.control(func(fd uintptr) { unix.Fstat(int(fd), &st) }); err != nil {
		return 0
	}
	id := fmt.Sprintf("%02x:%02x:%d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	f, err := os.Open("/proc/locks")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "1: FLOCK  ADVISORY  WRITE 4242 00:1a:5678 0 EOF"
		if fs := strings.Fields(sc.Text()); len(fs) >= 6 && fs[1] == "FLOCK" && fs[5] == id {
			pid, _ := strconv.Atoi(fs[4])
			return pid
		}
	}
	return 0
}

// isNamed says whether name still names q itself, and not a queue made
// since by someone else under the same name. Plain system calls: a
// descriptor open for a moment needs no poller.
func (q *Queue) isNamed(name string) bool {
	p, err := unix.BytePtrFromString(strings.TrimPrefix(name, "/"))
	if err != nil {
		return false
	}
	fd, _, errno := unix.Syscall6(unix.SYS_MQ_OPEN, uintptr(unsafe.Pointer(p)),
		uintptr(unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK), 0, 0, 0, 0)
	if errno != 0 {
		return false
	}
	defer unix.Close(int(fd))
	var named, mine unix.Stat_t
	if unix.Fstat(int(fd), &named) != nil {
		return false
	}
	var err2 error
	if err := q.control(func(own uintptr) { err2 = unix.Fstat(int(own), &mine) }); err != nil || err2 != nil {
		return false
	}
	return named.Dev == mine.Dev && named.Ino == mine.Ino
}

// runLock is the lock of one object of this IPC namespace.
type runLock struct{ fd int }

// lockName is the abstract socket's name for t in the caller's IPC
// namespace.
func lockName(t target) string {
	// The thread's own: with --from, not the process's.
	ns, _ := os.Readlink("/proc/thread-self/ns/ipc")
	if t.kind().isolation == "mnt" {
		// A file's place is its filesystem, whatever the IPC namespace.
		var st unix.Stat_t
		unix.Stat(shmDir, &st)
		ns = fmt.Sprintf("dev:%d", st.Dev)
	}
	if t.kind().byName {
		return fmt.Sprintf("@invoke_ns/%s/%s/%s", ns, t.Kind, t.Name)
	}
	return fmt.Sprintf("@invoke_ns/%s/%s/%d", ns, t.Kind, t.Key)
}

// lockTarget takes the lock of t, or says who holds it.
func lockTarget(t target) (*runLock, holder, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, holder{}, fmt.Errorf("socket for the lock of the %s: %w", t, err)
	}
	addr := &unix.SockaddrUnix{Name: lockName(t)}
	if err := unix.Bind(fd, addr); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EADDRINUSE) {
			return nil, holder{live: true, pid: lockPeer(addr)}, nil
		}
		return nil, holder{}, fmt.Errorf("binding the lock of the %s: %w", t, err)
	}
	// Runs that look at the lock queue up unaccepted, till it goes.
	if err := unix.Listen(fd, 128); err != nil {
		unix.Close(fd)
		return nil, holder{}, fmt.Errorf("the lock of the %s: %w", t, err)
	}
	return &runLock{fd}, holder{}, nil
}

// lockPeer is the PID of the process listening on addr, or 0. A run that
// has bound its lock but not yet listened refuses the connection: it is
// asked again a few times, a millisecond apart, since another process's
// bind and listen leave nothing to wait on (one preempted between them on
// a busy machine stays there for a while).
func lockPeer(addr *unix.SockaddrUnix) int {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return 0
	}
	defer unix.Close(fd)
	err = unix.Connect(fd, addr)
	for try := 0; errors.Is(err, unix.ECONNREFUSED) && try < 10; try++ {
		lockPeerPause()
		err = unix.Connect(fd, addr)
	}
	if err != nil {
		return 0
	}
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return 0
	}
	return int(cred.Pid)
}

// lockPeerPause is lockPeer's wait before it asks again; a test listens
// in it, so as to be the holder that listens late.
var lockPeerPause = func() { time.Sleep(time.Millisecond) }

func (l *runLock) Close() error { return unix.Close(l.fd) }

// lockedObject is an object and its lock, let go of once the object is
// removed.
type lockedObject struct {
	object
	lock *runLock
}

func (o lockedObject) Remove() error {
	err := o.object.Remove()
	o.lock.Close()
	return err
}
