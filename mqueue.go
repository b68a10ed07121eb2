// mqueue.go: POSIX message queues (mq_overview(7)) over the raw mq_*
// system calls, so that the binary needs neither cgo nor librt.
//
// Every queue is opened O_NONBLOCK and handed to the Go runtime's poller:
// a receive then waits in the poller, not in the kernel, and can be given a
// deadline or cut short from another goroutine without leaving a thread
// blocked in mq_timedreceive(2).

package main

import (
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mqAttr is struct mq_attr. C long is Go int on every Linux port.
type mqAttr struct {
	Flags   int // 0 or O_NONBLOCK
	Maxmsg  int // most messages the queue holds
	Msgsize int // largest message, in bytes
	Curmsgs int // messages now in the queue
	_       [4]int
}

// queueNameMax is NAME_MAX: the kernel's limit for the name after its slash.
const queueNameMax = 255

// Queue is an open message queue descriptor.
type Queue struct {
	name        string
	f           *os.File
	interrupted atomic.Bool // set by Interrupt, for good
}

// checkQueueName applies the rules glibc applies before mq_open(3) reaches
// the kernel: one leading slash, no other, and a name the kernel accepts.
func checkQueueName(name string) error {
	switch rest, ok := strings.CutPrefix(name, "/"); {
	case name == "":
		return errors.New("the name is empty")
	case !ok:
		return errors.New("the name must start with /")
	case rest == "" || rest == "." || rest == "..":
		return errors.New("the name needs a character after / (not . or ..)")
	case strings.Contains(rest, "/"):
		return errors.New("the name may hold no / after the first")
	case len(rest) > queueNameMax:
		return errors.New("the name is over 255 bytes after the /")
	}
	return nil
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
func OpenQueue(name string, flag int, want identity) (*Queue, error) {
	q, err := openQueue(name, flag, 0, nil)
	if err != nil {
		return nil, err
	}
	if err := want.check(q.identity()); err != nil {
		q.Close()
		return nil, mqErr("mq_open", name, err)
	}
	return q, nil
}

// identity is the queue's device and inode: every IPC namespace has an
// mqueue filesystem of its own (mq_overview(7)), so a queue of the same
// name in another namespace is on another device.
func (q *Queue) identity() (identity, error) {
	var st unix.Stat_t
	var err error
	if cerr := q.control(func(fd uintptr) { err = unix.Fstat(int(fd), &st) }); cerr != nil {
		err = cerr
	}
	if err != nil {
		return identity{}, mqErr("fstat", q.name, err)
	}
	return identity{Dev: st.Dev, Ino: st.Ino}, nil
}

func openQueue(name string, flag int, mode uint32, attr *mqAttr) (*Queue, error) {
	if err := checkQueueName(name); err != nil {
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
	if err := checkQueueName(name); err != nil {
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
	buf := make([]byte, messageMax+1)
	for {
		if _, err := q.receiveNow(buf); err != nil {
			return
		}
	}
}

// Attr returns the queue's attributes (mq_getattr(3)).
func (q *Queue) Attr() (mqAttr, error) {
	var attr mqAttr
	var err error
	cerr := q.control(func(fd uintptr) {
		_, _, errno := unix.Syscall(unix.SYS_MQ_GETSETATTR, fd, 0, uintptr(unsafe.Pointer(&attr)))
		if errno != 0 {
			err = errno
		}
	})
	if cerr != nil {
		err = cerr
	}
	return attr, mqErr("mq_getattr", q.name, err)
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
