// live.go: telling a live run's object from one that an earlier run left
// behind, by a lock the kernel lets go of when its holder dies, even by
// SIGKILL. A POSIX queue is locked with flock(2) on its own descriptor; a
// System V object, which has no descriptor, by an abstract unix socket
// (unix(7)) named after its IPC namespace, kind and key, bound before the
// object is made and held as long as it lives. Abstract names belong to a
// network namespace: runs see each other's System V locks when they share
// one, as runs on one host do.

package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// holder is what is known of the run that holds an object.
type holder struct {
	live      bool // a live run holds it
	pid       int  // that run's PID, where it can be known; 0 otherwise
	otherUser bool // it belongs to someone this user may not open
}

// about says what h means for the object it holds, named so.
func (h holder) about(name string) string {
	switch {
	case h.otherUser:
		return name + " belongs to another user"
	case h.live && h.pid > 0:
		return fmt.Sprintf("%s is in use by invoke_ns PID %d", name, h.pid)
	case h.live:
		return name + " is in use by another run"
	}
	return name + " was left behind by an earlier run"
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
// since by someone else under the same name.
func (q *Queue) isNamed(name string) bool {
	other, err := OpenQueue(name, unix.O_RDONLY)
	if err != nil {
		return false
	}
	defer other.Close()
	a, aerr := q.f.Stat()
	b, berr := other.f.Stat()
	return aerr == nil && berr == nil && os.SameFile(a, b)
}

// sysvLock is the lock of one System V object of this IPC namespace.
type sysvLock struct{ fd int }

// sysvLockName is the abstract socket's name for t in the caller's IPC
// namespace.
func sysvLockName(t target) string {
	ns, _ := os.Readlink("/proc/self/ns/ipc")
	return fmt.Sprintf("@invoke_ns/%s/%s/%d", ns, t.Kind, t.Key)
}

// lockSysV takes the lock of t, or says who holds it.
func lockSysV(t target) (*sysvLock, holder, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, holder{}, fmt.Errorf("socket for the lock of key %d: %w", t.Key, err)
	}
	addr := &unix.SockaddrUnix{Name: sysvLockName(t)}
	if err := unix.Bind(fd, addr); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EADDRINUSE) {
			return nil, holder{live: true, pid: lockPeer(addr)}, nil
		}
		return nil, holder{}, fmt.Errorf("binding the lock of key %d: %w", t.Key, err)
	}
	if err := unix.Listen(fd, 1); err != nil {
		unix.Close(fd)
		return nil, holder{}, fmt.Errorf("the lock of key %d: %w", t.Key, err)
	}
	return &sysvLock{fd}, holder{}, nil
}

// lockPeer is the PID of the process listening on addr, or 0.
func lockPeer(addr *unix.SockaddrUnix) int {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0
	}
	defer unix.Close(fd)
	if unix.Connect(fd, addr) != nil {
		return 0
	}
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return 0
	}
	return int(cred.Pid)
}

func (l *sysvLock) Close() error { return unix.Close(l.fd) }

// lockedObject is a System V object and its lock, let go of once the
// object is removed.
type lockedObject struct {
	object
	lock *sysvLock
}

func (o lockedObject) Remove() error {
	err := o.object.Remove()
	o.lock.Close()
	return err
}
