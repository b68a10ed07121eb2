// live.go: telling a live run's object from one that an earlier run left
// behind, and both from another user's, by what the kernel says and no
// process can fake.
//
// Every object is locked by an abstract unix socket (unix(7)) named after
// a hash of its IPC namespace, kind and name or key, bound before the
// object is made, so that there is no moment when a run's object exists
// unlocked, and held as long as it lives. Abstract names belong to a
// network namespace and anyone in it may bind one, so a lock's holder
// counts as a run only once SO_PEERCRED has named a process that is
// invoke_ns. A POSIX queue or a file in /dev/shm, which has a descriptor,
// is also locked with flock(2), which any run sees and nobody can take
// from its holder: for those, that lock decides.

package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"invoke_ns/internal/ns"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// holding is what has an object, or the lock of its name or key.
type holding int

const (
	leftover  holding = iota // the caller's, held by no run: an earlier run's
	liveRun                  // a live run of invoke_ns
	otherUser                // another user: the object is theirs
	squatter                 // the lock's holder is not invoke_ns
	foreign                  // not an object of this kind at all
)

// holder is who has an object, as far as it can be told.
type holder struct {
	state holding
	pid   int    // the run's or the squatter's PID, where known; 0 otherwise
	uid   int    // the owner's uid (otherUser), where known
	known bool   // uid is known
	comm  string // the squatter's command
}

// why says what h means for the object it holds.
func (h holder) why() string {
	switch h.state {
	case otherUser:
		if h.known {
			return fmt.Sprintf("owned by uid %d, another user", h.uid)
		}
		return "owned by another user"
	case liveRun:
		if h.pid > 0 {
			return fmt.Sprintf("in use by invoke_ns PID %d", h.pid)
		}
		return "in use by another run"
	case squatter:
		return fmt.Sprintf("its lock is held by process %d (%s), which is not invoke_ns", h.pid, h.comm)
	case foreign:
		return "not an object of invoke_ns's (not a regular file)"
	}
	return "left behind by an earlier run"
}

// about is why, about the object named so.
func (h holder) about(name string) string {
	if h.state == leftover {
		return name + " was " + h.why()
	}
	return name + " is " + h.why()
}

// found is an object of the name or key a run wanted, made by someone
// else: who holds it, and for a leftover of the caller's, a hold on it
// that keeps any run from taking it, until release.
type found struct {
	holder
	// remove removes a leftover, if its name or key is still what was
	// found (errReplaced if not).
	remove  func() error
	release func()
}

// otherOwner is the holder for an object owned by uid, if that is not
// the caller's.
func otherOwner(uid int) (holder, bool) {
	return holder{state: otherUser, uid: uid, known: true}, uid != os.Geteuid()
}

// findQueue says who has the queue of that name.
func findQueue(name string) (found, error) {
	q, err := OpenQueue(name, unix.O_RDONLY, identity{})
	if errors.Is(err, unix.EACCES) {
		return found{holder: holder{state: otherUser}}, nil
	}
	if err != nil {
		return found{}, err
	}
	var st unix.Stat_t
	if err := q.control(func(fd uintptr) { err = unix.Fstat(int(fd), &st) }); err != nil {
		q.Close()
		return found{}, err
	}
	if h, other := otherOwner(int(st.Uid)); other {
		q.Close()
		return found{holder: h}, nil
	}
	if err := lockQueue(q); errors.Is(err, unix.EWOULDBLOCK) {
		q.Close()
		return found{holder: holder{state: liveRun, pid: flockHolder(st)}}, nil
	} else if err != nil {
		q.Close()
		return found{}, err
	}
	return found{
		remove: func() error {
			if !q.isNamed(name) {
				return errReplaced
			}
			return UnlinkQueue(name)
		},
		release: func() { q.Close() },
	}, nil
}

// findShm says who has the file of that name in /dev/shm.
func findShm(name string) (found, error) {
	path := shmPath(shmDir, name)
	// O_NONBLOCK: a FIFO of that name must not hold the run.
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		if uid, ok := fileOwner(path); ok && !errors.Is(err, unix.ENOENT) {
			if h, other := otherOwner(uid); other {
				return found{holder: h}, nil
			}
			return found{holder: holder{state: foreign}}, nil
		}
		return found{}, pshmErr("shm_open", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return found{}, pshmErr("fstat", path, err)
	}
	if h, other := otherOwner(int(st.Uid)); other {
		unix.Close(fd)
		return found{holder: h}, nil
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return found{holder: holder{state: foreign}}, nil
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); errors.Is(err, unix.EWOULDBLOCK) {
		unix.Close(fd)
		return found{holder: holder{state: liveRun, pid: flockHolder(st)}}, nil
	} else if err != nil {
		unix.Close(fd)
		return found{}, pshmErr("flock", path, err)
	}
	return found{
		remove: func() error {
			var now unix.Stat_t
			if unix.Lstat(path, &now) != nil || now.Dev != st.Dev || now.Ino != st.Ino {
				return errReplaced
			}
			return pshmErr("shm_unlink", path, unix.Unlink(path))
		},
		release: func() { unix.Close(fd) },
	}, nil
}

// findSysV says who has the System V object t names by key; get looks
// it up by key if it is want. A System V object has no descriptor to
// lock: one of the caller's whose lock was free is a leftover.
func findSysV(t target, get func(want identity) (object, error)) (found, error) {
	row := sysvRow(t.Kind, "key", strconv.Itoa(int(t.Key)))
	id, ierr := strconv.Atoi(row[idColumn(t.Kind)])
	uid, uerr := strconv.Atoi(row["uid"])
	if ierr != nil || uerr != nil {
		return found{}, sysvErr(t.Kind+"get", t.Key, unix.ENOENT)
	}
	if h, other := otherOwner(uid); other {
		return found{holder: h}, nil
	}
	was, err := sysvIdentity(t.Kind, id)
	if err != nil {
		return found{}, err
	}
	return found{
		remove: func() error {
			// What has the key now, if it is still what was found.
			o, err := get(was)
			if errors.Is(err, errNotOurs) || errors.Is(err, unix.ENOENT) {
				return errReplaced
			}
			return removeSysV(o, err)
		},
		release: func() {},
	}, nil
}

// lockQueue marks q as this run's for as long as the descriptor is open.
func lockQueue(q *Queue) error {
	var err error
	if cerr := q.control(func(fd uintptr) { err = unix.Flock(int(fd), unix.LOCK_EX|unix.LOCK_NB) }); cerr != nil {
		return cerr
	}
	return err
}

// flockHolder is the PID that holds an flock on the file st describes,
// from /proc/locks, or 0.
func flockHolder(st unix.Stat_t) int {
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
	mine, err := q.identity()
	named, nerr := fileIdentity(int(fd))
	return err == nil && nerr == nil && named == mine
}

// runLock is the lock of one object of this IPC namespace.
type runLock struct{ fd int }

// lockName is the abstract socket's name for t in the calling thread's
// IPC namespace: a hash, so that a name of any length the kernel takes
// fits the 107 bytes of a socket's.
func lockName(t target) string {
	// The thread's own: with --from, not the process's.
	ns, _ := os.Readlink("/proc/thread-self/ns/ipc")
	if t.kind().isolation == "mnt" {
		// A file's place is its filesystem, whatever the IPC namespace.
		var st unix.Stat_t
		unix.Stat(shmDir, &st)
		ns = fmt.Sprintf("dev:%d", st.Dev)
	}
	what := fmt.Sprintf("%s/%s/%d", ns, t.Kind, t.Key)
	if t.kind().byName {
		what = fmt.Sprintf("%s/%s/%s", ns, t.Kind, t.Name)
	}
	sum := sha256.Sum256([]byte(what))
	return "@invoke_ns/" + hex.EncodeToString(sum[:])
}

// lockTarget takes the lock of t, or says who holds it: a live run, or a
// squatter, a process that is not invoke_ns.
func lockTarget(t target) (*runLock, holder, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, holder{}, fmt.Errorf("socket for the lock of the %s: %w", t, err)
	}
	addr := &unix.SockaddrUnix{Name: lockName(t)}
	if err := unix.Bind(fd, addr); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EADDRINUSE) {
			return nil, lockHolder(addr), nil
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

// lockHolder says who holds the lock at addr: a run of invoke_ns, or a
// squatter. One that does not answer is taken for a run, since a run
// between its bind and its listen does not either.
func lockHolder(addr *unix.SockaddrUnix) holder {
	cred, ok := lockPeer(addr)
	switch {
	case !ok:
		return holder{state: liveRun}
	case isInvokeNS(int(cred.Pid)):
		return holder{state: liveRun, pid: int(cred.Pid)}
	}
	return holder{state: squatter, pid: int(cred.Pid), uid: int(cred.Uid), known: true, comm: ns.Comm(int(cred.Pid))}
}

// isInvokeNS says whether process pid runs invoke_ns: this binary, or one
// of that name; where its executable cannot be read (another user's),
// its command's name says.
func isInvokeNS(pid int) bool {
	exe := fmt.Sprintf("/proc/%d/exe", pid)
	if path, err := os.Readlink(exe); err == nil {
		mine, merr := os.Stat("/proc/self/exe")
		its, ierr := os.Stat(exe)
		return merr == nil && ierr == nil && os.SameFile(mine, its) ||
			filepath.Base(strings.TrimSuffix(path, " (deleted)")) == "invoke_ns"
	}
	return ns.Comm(pid) == "invoke_ns"
}

// lockPeer is the credentials of the process listening on addr. A run
// that has bound its lock but not yet listened refuses the connection: it
// is asked again a few times, a millisecond apart, since another
// process's bind and listen leave nothing to wait on (one preempted
// between them on a busy machine stays there for a while).
func lockPeer(addr *unix.SockaddrUnix) (*unix.Ucred, bool) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, false
	}
	defer unix.Close(fd)
	err = unix.Connect(fd, addr)
	for try := 0; errors.Is(err, unix.ECONNREFUSED) && try < 10; try++ {
		lockPeerPause()
		err = unix.Connect(fd, addr)
	}
	if err != nil {
		return nil, false
	}
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	return cred, err == nil
}

// lockPeerPause is lockPeer's wait before it asks again; a test listens
// in it, so as to be the holder that listens late.
var lockPeerPause = func() { time.Sleep(time.Millisecond) }

func (l *runLock) Close() error {
	if l == nil {
		return nil
	}
	return unix.Close(l.fd)
}

// lockedObject is an object and its lock (nil where a squatter has it),
// let go of once the object is removed.
type lockedObject struct {
	object
	lock *runLock
}

func (o lockedObject) Remove() error {
	err := o.object.Remove()
	o.lock.Close()
	return err
}
