// mqueue.go: the article's object, the POSIX message queue
// (mq_overview(7)), over the raw mq_* system calls, so that the binary
// needs neither cgo nor librt; its entry of the table of kinds, which
// heads the table; how a run locks one as its own and tells who has one;
// and what to do when the kernel refuses one.
//
// Every queue is opened O_NONBLOCK and handed to the Go runtime's poller:
// a receive then waits in the poller, not in the kernel, and can be given a
// deadline or cut short from another goroutine without leaving a thread
// blocked in mq_timedreceive(2).

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"invoke_ns/internal/ipc"

	"golang.org/x/sys/unix"
)

// queueMsgMax is the most messages a queue of a run holds (mq_maxmsg),
// as in the original program.
const queueMsgMax = 10

// mqKind is the article's queue, as an entry of the table of kinds.
var mqKind = &ipc.Kind{
	Name: "mq", Noun: "message queue", ByName: true,
	Lookup: "mq_open", SendOp: "mq_send", WaitOp: "mq_timedreceive", CarriesText: true,
	Created: "opening", CloseLine: true, Owner: "ls -l /dev/mqueue",
	New: func(o ipc.Object) (ipc.Receiver, error) {
		q, err := CreateQueue(o.Name, 0o600, queueMsgMax, ipc.MessageMax+1)
		if err != nil {
			return nil, err
		}
		return ownQueue{q}, nil
	},
	Look:    func(o ipc.Object, _ *os.File) (ipc.Sender, error) { return OpenQueue(o.Name, unix.O_WRONLY, o.ID) },
	Find:    func(o ipc.Object) (ipc.Claim, error) { return findQueue(o.Name) },
	Hints:   queueHints,
	Removal: func(o ipc.Object) string { return "invoke_ns -f" + queueOption(o.Name) + " -i no" },
	Strays:  strayQueues,
}

// strayQueues lists the queues named o.Name, a dot, then more, in the
// calling thread's IPC namespace, as the /dev/mqueue of o.Root (nil: the
// caller's own) shows them. An mqueue mount shows the queues of the
// namespace that mounted it, which may be another's: each is kept only
// if the name, opened here, is the very queue listed. Where that shows
// none (no /dev/mqueue, or another namespace's) and mount allows, an
// mqueue filesystem of this namespace's is mounted on /dev for the
// calling thread alone, in a mount namespace of its own, private, which
// goes with the thread (mq_overview(7)).
func strayQueues(o ipc.Object, mount bool) []string {
	prefix := o.Name[1:] + "."
	ours := func(name string, st *unix.Stat_t) bool {
		q, err := OpenQueue(name, unix.O_RDONLY, ipc.Identity{Dev: st.Dev, Ino: st.Ino})
		if err != nil {
			return false
		}
		q.Close()
		return true
	}
	if names := ipc.NamesIn(o.Root, "/dev/mqueue", prefix, ours); names != nil || !mount {
		return names
	}
	if unix.Unshare(unix.CLONE_NEWNS) != nil || unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, "") != nil ||
		unix.Mount("mqueue", "/dev", "mqueue", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "") != nil {
		return nil
	}
	return ipc.NamesIn(nil, "/dev", prefix, ours)
}

// budgetKind is the per-user budget of POSIX queues, which the IPC
// namespace does not isolate.
var budgetKind = ipc.BudgetKind(budgetQueue)

// budgetQueue makes a queue of one message of one byte, the least a
// queue takes of the budget, and unlinks its name at once: the charge
// stays until the descriptor is closed, and goes with it however its
// holder ends.
func budgetQueue(name string) (io.Closer, error) {
	q, err := CreateQueue(name, 0o600, 1, 1)
	if err != nil {
		return nil, err
	}
	if q.IsNamed(name) {
		// What the name names now is not removed unless it is this queue.
		UnlinkQueue(name)
	}
	return q, nil
}

// kinds are every kind of object, in the order -k all goes through them:
// the article's queue first, then what else the IPC namespace isolates,
// then what it does not.
var kinds = []*ipc.Kind{mqKind, ipc.Msg, ipc.Sem, ipc.Shm, ipc.Pshm, budgetKind}

func init() { ipc.Register(mqKind, budgetKind) }

// kindNames are the names of every kind, in order.
func kindNames() []string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.Name
	}
	return names
}

// kindNamed is the entry for name, or nil.
func kindNamed(name string) *ipc.Kind {
	for _, k := range kinds {
		if k.Name == name {
			return k
		}
	}
	return nil
}

// queueOption is -q NAME, or nothing for the default name.
func queueOption(name string) string {
	if name == defaultQueue {
		return ""
	}
	return " -q " + name
}

// ownQueue is a Queue as the parent holds it, locked as this run's:
// removing it unlinks its name, if the name is still its own.
type ownQueue struct{ *Queue }

// Owned says whether the name still names this queue.
func (q ownQueue) Owned() bool { return q.IsNamed(q.Name()) }

// Token is nil: a queue is never read alone.
func (q ownQueue) Token() []byte { return nil }

func (q ownQueue) Remove() error {
	if !q.IsNamed(q.Name()) {
		return ipc.ErrReplaced
	}
	return UnlinkQueue(q.Name())
}

// mqAttr is struct mq_attr. C long is Go int on every Linux port.
type mqAttr struct {
	Flags   int // 0 or O_NONBLOCK
	Maxmsg  int // most messages the queue holds
	Msgsize int // largest message, in bytes
	Curmsgs int // messages now in the queue
	_       [4]int
}

// Queue is an open message queue descriptor.
type Queue struct {
	name        string
	f           *os.File
	interrupted atomic.Bool // set by Interrupt, for good
}

// mqErr keeps the errno, as os.PathError does for files, so that callers
// decide with errors.Is(err, unix.ENOENT).
func mqErr(op, name string, err error) error {
	if err == nil {
		return nil
	}
	return &os.PathError{Op: op, Path: name, Err: err}
}

// CreateQueue makes a new queue, refusing one that exists already
// (O_EXCL): a queue left behind by another run may hold its messages.
func CreateQueue(name string, mode uint32, maxmsg, msgsize int) (*Queue, error) {
	attr := mqAttr{Maxmsg: maxmsg, Msgsize: msgsize}
	return openQueue(name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL, mode, &attr)
}

// OpenQueue opens an existing queue by name, with O_RDONLY, O_WRONLY or
// O_RDWR; it is looked up in the caller's IPC namespace, and refused
// unless it is want, where that is given.
func OpenQueue(name string, flag int, want ipc.Identity) (*Queue, error) {
	q, err := openQueue(name, flag, 0, nil)
	if err != nil {
		return nil, err
	}
	if err := want.Check(q.Identity()); err != nil {
		q.Close()
		return nil, mqErr("mq_open", name, err)
	}
	return q, nil
}

// Identity is the queue's device and inode: every IPC namespace has an
// mqueue filesystem of its own (mq_overview(7)), so a queue of the same
// name in another namespace is on another device.
func (q *Queue) Identity() (ipc.Identity, error) {
	var st unix.Stat_t
	var err error
	if cerr := q.control(func(fd uintptr) { err = unix.Fstat(int(fd), &st) }); cerr != nil {
		err = cerr
	}
	if err != nil {
		return ipc.Identity{}, mqErr("fstat", q.name, err)
	}
	return ipc.Identity{Dev: st.Dev, Ino: st.Ino}, nil
}

func openQueue(name string, flag int, mode uint32, attr *mqAttr) (*Queue, error) {
	if err := ipc.CheckName(name); err != nil {
		return nil, mqErr("mq_open", name, unix.EINVAL)
	}
	// The system call takes the name without its slash; glibc strips it.
	p, err := unix.BytePtrFromString(name[1:])
	if err != nil {
		return nil, mqErr("mq_open", name, unix.EINVAL)
	}
	flag |= unix.O_NONBLOCK | unix.O_CLOEXEC
	fd, _, errno := unix.Syscall6(unix.SYS_MQ_OPEN, uintptr(unsafe.Pointer(p)),
		uintptr(flag), uintptr(mode), uintptr(unsafe.Pointer(attr)), 0, 0)
	if errno != 0 {
		return nil, mqErr("mq_open", name, errno)
	}
	return &Queue{name: name, f: os.NewFile(fd, name)}, nil
}

// UnlinkQueue removes the name; the queue itself goes when its last
// descriptor is closed.
func UnlinkQueue(name string) error {
	if err := ipc.CheckName(name); err != nil {
		return mqErr("mq_unlink", name, unix.EINVAL)
	}
	p, err := unix.BytePtrFromString(name[1:])
	if err != nil {
		return mqErr("mq_unlink", name, unix.EINVAL)
	}
	_, _, errno := unix.Syscall(unix.SYS_MQ_UNLINK, uintptr(unsafe.Pointer(p)), 0, 0)
	if errno != 0 {
		return mqErr("mq_unlink", name, errno)
	}
	return nil
}

// Name is the queue's name, with its slash.
func (q *Queue) Name() string { return q.name }

// Send queues msg at priority 0. It never blocks: a full queue is EAGAIN.
func (q *Queue) Send(msg []byte) error {
	var err error
	cerr := q.control(func(fd uintptr) {
		_, _, errno := unix.Syscall6(unix.SYS_MQ_TIMEDSEND, fd,
			uintptr(unsafe.Pointer(unsafe.SliceData(msg))), uintptr(len(msg)), 0, 0, 0)
		if errno != 0 {
			err = errno
		}
	})
	if cerr != nil {
		return mqErr("mq_timedsend", q.name, cerr)
	}
	return mqErr("mq_timedsend", q.name, err)
}

// Receive waits until a message arrives or the deadline passes, and copies
// it into buf, which must hold the queue's mq_msgsize bytes. A deadline that
// passes is ETIMEDOUT; after Interrupt, a message already in the queue is
// still taken, and an empty queue is ETIMEDOUT.
func (q *Queue) Receive(buf []byte, deadline time.Time) (int, error) {
	if err := q.f.SetReadDeadline(deadline); err != nil {
		return 0, mqErr("mq_timedreceive", q.name, err)
	}
	// Checked after the deadline is set: an Interrupt that came before it
	// would otherwise be overwritten, and the receive would wait in full.
	if q.interrupted.Load() {
		return q.receiveNow(buf)
	}
	rc, err := q.f.SyscallConn()
	if err != nil {
		return 0, mqErr("mq_timedreceive", q.name, err)
	}
	var n uintptr
	var errno unix.Errno
	err = rc.Read(func(fd uintptr) bool {
		n, _, errno = unix.Syscall6(unix.SYS_MQ_TIMEDRECEIVE, fd,
			uintptr(unsafe.Pointer(unsafe.SliceData(buf))), uintptr(len(buf)), 0, 0, 0)
		return errno != unix.EAGAIN
	})
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded) && q.interrupted.Load():
		return q.receiveNow(buf)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return 0, mqErr("mq_timedreceive", q.name, unix.ETIMEDOUT)
	case err != nil:
		return 0, mqErr("mq_timedreceive", q.name, err)
	case errno != 0:
		return 0, mqErr("mq_timedreceive", q.name, errno)
	}
	return int(n), nil
}

// receiveNow takes a message that is in the queue, without waiting: an
// empty queue is ETIMEDOUT. The descriptor is non-blocking.
func (q *Queue) receiveNow(buf []byte) (int, error) {
	var n uintptr
	var errno unix.Errno
	if err := q.control(func(fd uintptr) {
		n, _, errno = unix.Syscall6(unix.SYS_MQ_TIMEDRECEIVE, fd,
			uintptr(unsafe.Pointer(unsafe.SliceData(buf))), uintptr(len(buf)), 0, 0, 0)
	}); err != nil {
		return 0, mqErr("mq_timedreceive", q.name, err)
	}
	switch errno {
	case 0:
		return int(n), nil
	case unix.EAGAIN:
		errno = unix.ETIMEDOUT
	}
	return 0, mqErr("mq_timedreceive", q.name, errno)
}

// Interrupt makes a Receive waiting in another goroutine, and every later
// one, return at once: with a message the queue holds by then, or with
// ETIMEDOUT.
func (q *Queue) Interrupt() {
	q.interrupted.Store(true)
	q.f.SetReadDeadline(time.Now())
}

// Reset takes back an Interrupt and empties the queue.
func (q *Queue) Reset() {
	q.interrupted.Store(false)
	q.f.SetReadDeadline(time.Time{})
	buf := make([]byte, ipc.MessageMax+1)
	for {
		if _, err := q.receiveNow(buf); err != nil {
			return
		}
	}
}

// Close is mq_close(3): on Linux a queue descriptor is a file descriptor.
func (q *Queue) Close() error {
	return mqErr("mq_close", q.name, q.f.Close())
}

// control runs fn on the descriptor while the os.File keeps it open.
func (q *Queue) control(fn func(fd uintptr)) error {
	rc, err := q.f.SyscallConn()
	if err != nil {
		return err
	}
	return rc.Control(fn)
}

// findQueue says who has the queue of that name.
func findQueue(name string) (ipc.Claim, error) {
	q, err := OpenQueue(name, unix.O_RDONLY, ipc.Identity{})
	if errors.Is(err, unix.EACCES) {
		return ipc.Claim{Holder: ipc.Holder{State: ipc.OtherUser}}, nil
	}
	if err != nil {
		return ipc.Claim{}, err
	}
	var st unix.Stat_t
	if err := q.control(func(fd uintptr) { err = unix.Fstat(int(fd), &st) }); err != nil {
		q.Close()
		return ipc.Claim{}, err
	}
	if h, other := ipc.OtherOwner(int(st.Uid)); other {
		q.Close()
		return ipc.Claim{Holder: h}, nil
	}
	if err := q.Lock(); errors.Is(err, unix.EWOULDBLOCK) {
		q.Close()
		return ipc.Claim{Holder: ipc.Holder{State: ipc.LiveRun, PID: ipc.FlockHolder(st)}}, nil
	} else if err != nil {
		q.Close()
		return ipc.Claim{}, err
	}
	return ipc.Claim{
		Remove: func() error {
			if !q.IsNamed(name) {
				return ipc.ErrReplaced
			}
			return UnlinkQueue(name)
		},
		Release: func() { q.Close() },
	}, nil
}

// Lock marks q as this run's for as long as the descriptor is open.
func (q *Queue) Lock() error {
	var err error
	if cerr := q.control(func(fd uintptr) { err = unix.Flock(int(fd), unix.LOCK_EX|unix.LOCK_NB) }); cerr != nil {
		return cerr
	}
	return err
}

// IsNamed says whether name still names q itself, and not a queue made
// since by someone else under the same name. Plain system calls: a
// descriptor open for a moment needs no poller.
func (q *Queue) IsNamed(name string) bool {
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
	mine, err := q.Identity()
	named, nerr := ipc.FileIdentity(int(fd))
	return err == nil && nerr == nil && named == mine
}

// mqueueSysctl reads one of /proc/sys/fs/mqueue's values, or "?".
func mqueueSysctl(name string) string {
	b, err := os.ReadFile("/proc/sys/fs/mqueue/" + name)
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// queueHints says what to do when mq_open(O_CREAT) fails, with the kernel
// limit that was hit (mq_overview(7) "/proc interfaces").
func queueHints(err error, o ipc.Object) (string, bool) {
	switch ipc.ErrnoOf(err) {
	case unix.ENOSPC:
		return fmt.Sprintf("the limit on message queues is reached (/proc/sys/fs/mqueue/queues_max = %s): "+
			"remove unused queues or raise the limit", mqueueSysctl("queues_max")), true
	case unix.EINVAL:
		return fmt.Sprintf("this queue needs %d messages of %d bytes, and the kernel allows "+
			"/proc/sys/fs/mqueue/msg_max = %s, msgsize_max = %s: raise them",
			queueMsgMax, ipc.MessageMax+1, mqueueSysctl("msg_max"), mqueueSysctl("msgsize_max")), true
	case unix.EMFILE:
		var rl unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_MSGQUEUE, &rl)
		return fmt.Sprintf("your RLIMIT_MSGQUEUE (ulimit -q) of %d bytes is used up by other queues, "+
			"or the limit on open files is reached: remove unused queues or raise the limit", rl.Cur), true
	case unix.EACCES:
		return "you may not create or replace " + o.Name + ": choose another name with -q", true
	}
	return "", false
}
