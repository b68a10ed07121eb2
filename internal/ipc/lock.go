// lock.go: telling a live run's object from one that an earlier run left
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

package ipc

import (
	"bufio"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Holding is what has an object, or the lock of its name or key.
type Holding int

const (
	Leftover  Holding = iota // the caller's, held by no run: an earlier run's
	LiveRun                  // a live run of invoke_ns
	OtherUser                // another user: the object is theirs
	Squatter                 // the lock's holder is not invoke_ns
	Foreign                  // not an object of this kind at all
)

// Holder is who has an object, as far as it can be told.
type Holder struct {
	State Holding
	PID   int    // the run's or the squatter's PID, where known; 0 otherwise
	UID   int    // the owner's uid (OtherUser), where known
	Known bool   // UID is known
	Comm  string // the squatter's command
}

// Why says what h means for the object it holds.
func (h Holder) Why() string {
	switch h.State {
	case OtherUser:
		if h.Known {
			return fmt.Sprintf("owned by uid %d, another user", h.UID)
		}
		return "owned by another user"
	case LiveRun:
		if h.PID > 0 {
			return fmt.Sprintf("in use by invoke_ns PID %d", h.PID)
		}
		return "in use by another run"
	case Squatter:
		return fmt.Sprintf("its lock is held by process %d (%s), which is not invoke_ns", h.PID, h.Comm)
	case Foreign:
		return "not an object of invoke_ns's (not a regular file)"
	}
	return "left behind by an earlier run"
}

// About is Why, about the object named so.
func (h Holder) About(name string) string {
	if h.State == Leftover {
		return name + " was " + h.Why()
	}
	return name + " is " + h.Why()
}

// OtherOwner is the holder for an object owned by uid, if that is not
// the caller's.
func OtherOwner(uid int) (Holder, bool) {
	return Holder{State: OtherUser, UID: uid, Known: true}, uid != os.Geteuid()
}

// Claim is an object of the name or key a run wanted, made by someone
// else: who holds it, and for a leftover of the caller's, a hold on it
// that keeps any run from taking it, until Release.
type Claim struct {
	Holder
	// Remove removes a leftover, if its name or key is still what was
	// found (ErrReplaced if not).
	Remove  func() error
	Release func()
}

// FlockHolder is the PID that holds an flock on the file st describes,
// from /proc/locks, or 0.
func FlockHolder(st unix.Stat_t) int {
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

// Lock is the lock of one object of this IPC namespace.
type Lock struct{ fd int }

// LockName is the abstract socket's name for t in the calling thread's
// IPC namespace: a hash, so that a name of any length the kernel takes
// fits the 107 bytes of a socket's. Not a cryptographic one: anyone may
// bind any name, so a lock's name proves nothing whatever the hash, and
// two objects that shared one would only each find the other's run
// holding it. crypto/sha256 would bring Go's whole FIPS 140 module into
// the binary (BENCHMARKS.md).
func LockName(o Object) string {
	// The thread's own: with --from, not the process's.
	ns, _ := os.Readlink("/proc/thread-self/ns/ipc")
	if o.Kind.InDevShm {
		// A file's place is its filesystem, whatever the IPC namespace.
		place := shmDirOfObject(o)
		ns = fmt.Sprintf("dev:%d:%d", place.Dev, place.Ino)
	}
	what := fmt.Sprintf("%s/%s/%d", ns, o.Kind.Name, o.Key)
	if o.Kind.ByName {
		what = fmt.Sprintf("%s/%s/%s", ns, o.Kind.Name, o.Name)
	}
	h := fnv.New128a()
	h.Write([]byte(what))
	return fmt.Sprintf("@invoke_ns/%x", h.Sum(nil))
}

// Take takes the lock of o, or says who holds it: a live run, or a
// squatter, a process that is not invoke_ns.
func Take(o Object) (*Lock, Holder, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, Holder{}, fmt.Errorf("socket for the lock of the %s: %w", o, err)
	}
	addr := &unix.SockaddrUnix{Name: LockName(o)}
	if err := unix.Bind(fd, addr); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EADDRINUSE) {
			return nil, lockHolder(addr), nil
		}
		return nil, Holder{}, fmt.Errorf("binding the lock of the %s: %w", o, err)
	}
	// Runs that look at the lock queue up unaccepted, till it goes.
	if err := unix.Listen(fd, 128); err != nil {
		unix.Close(fd)
		return nil, Holder{}, fmt.Errorf("the lock of the %s: %w", o, err)
	}
	return &Lock{fd}, Holder{}, nil
}

// lockHolder says who holds the lock at addr: a run of invoke_ns, or a
// squatter. One that does not answer is taken for a run, since a run
// between its bind and its listen does not either.
func lockHolder(addr *unix.SockaddrUnix) Holder {
	cred, ok := LockPeer(addr)
	switch {
	case !ok:
		return Holder{State: LiveRun}
	case IsInvokeNS(int(cred.Pid)):
		return Holder{State: LiveRun, PID: int(cred.Pid)}
	}
	return Holder{State: Squatter, PID: int(cred.Pid), UID: int(cred.Uid), Known: true, Comm: comm(int(cred.Pid))}
}

// IsInvokeNS says whether process pid runs invoke_ns: this binary, or one
// of that name; where its executable cannot be read (another user's),
// its command's name says.
func IsInvokeNS(pid int) bool {
	exe := fmt.Sprintf("/proc/%d/exe", pid)
	if path, err := os.Readlink(exe); err == nil {
		mine, merr := os.Stat("/proc/self/exe")
		its, ierr := os.Stat(exe)
		return merr == nil && ierr == nil && os.SameFile(mine, its) ||
			filepath.Base(strings.TrimSuffix(path, " (deleted)")) == "invoke_ns"
	}
	return comm(pid) == "invoke_ns"
}

// LockPeer is the credentials of the process listening on addr.
func LockPeer(addr *unix.SockaddrUnix) (*unix.Ucred, bool) {
	fd, cred, ok := dialLock(addr)
	if ok {
		unix.Close(fd)
	}
	return cred, ok
}

// dialLock connects to the process listening on addr, and gives the
// connection and its credentials. A run that has bound its lock but not
// yet listened refuses the connection: it is asked again a few times, a
// millisecond apart, since another process's bind and listen leave
// nothing to wait on (one preempted between them on a busy machine stays
// there for a while).
func dialLock(addr *unix.SockaddrUnix) (int, *unix.Ucred, bool) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return -1, nil, false
	}
	err = unix.Connect(fd, addr)
	for try := 0; errors.Is(err, unix.ECONNREFUSED) && try < 10; try++ {
		LockPeerPause()
		err = unix.Connect(fd, addr)
	}
	var cred *unix.Ucred
	if err == nil {
		cred, err = unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	}
	if err != nil {
		unix.Close(fd)
		return -1, nil, false
	}
	return fd, cred, true
}

// LockPeerPause is LockPeer's wait before it asks again; a test listens
// in it, so as to be the holder that listens late.
var LockPeerPause = func() { time.Sleep(time.Millisecond) }

func (l *Lock) Close() error {
	if l == nil {
		return nil
	}
	return unix.Close(l.fd)
}

// Locked is an object and its lock (nil where a squatter has it), let go
// of once the object is removed.
type Locked struct {
	Receiver
	Lock *Lock
}

func (o Locked) Remove() error {
	err := o.Receiver.Remove()
	o.Lock.Close()
	return err
}

// comm is a process's command name, or "?".
func comm(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}
