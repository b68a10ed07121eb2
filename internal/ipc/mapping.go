// mapping.go: a message through memory that processes share, as both the
// System V segment (shm) and the POSIX shared memory object (pshm) carry
// it. The layout: a state word, which the parent waits on with futex(2),
// the text's length, the text, and a token of the parent's, which a
// sender that may only read (a /dev/shm mounted read-only) reads back in
// place of a message. Not FUTEX_PRIVATE: the word is shared between
// processes, and for a file's mapping the kernel keys the wait by the
// file and offset, wherever each process mapped it.

package ipc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"runtime/debug"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// futex(2) operations.
const (
	futexWait = 0
	futexWake = 1
)

// The states of the word, and the layout: MappingSize is the bytes an
// object of shared memory has, its word, length, text and token.
const (
	shmEmpty    = 0 // nothing written yet
	shmWritten  = 1 // the child has written the message
	shmWoken    = 2 // the parent's own wake-up
	shmText     = 8
	shmToken    = 96
	tokenSize   = 16
	MappingSize = shmToken + tokenSize
)

// mapping is the shared memory of one object, and how its errors are named.
type mapping struct {
	mem      []byte
	wrap     func(op string, err error) error
	readOnly bool // mapped for reading alone: its /dev/shm is read-only
}

// ReadOnlyError is a send through an object that the sender may only
// read, its /dev/shm being mounted read-only, as a pod's sandbox has the
// host's: Read is the parent's token as the sender read it, which the
// parent holds against what it wrote.
type ReadOnlyError struct{ Read []byte }

func (e *ReadOnlyError) Error() string {
	return "the object can only be read here (its filesystem is read-only): its token was read back"
}

// ReadOnly says that the object may only be read here.
func (m *mapping) ReadOnly() bool { return m.readOnly }

// Token is what the parent wrote into the object, for a sender that may
// only read it.
func (m *mapping) Token() []byte { return m.mem[shmToken : shmToken+tokenSize] }

// stamp writes a token of the parent's, drawn at random, into the object
// it made.
func (m *mapping) stamp() error {
	return m.guarded("shm write", func() error {
		for i := range tokenSize / 8 {
			binary.LittleEndian.PutUint64(m.mem[shmToken+8*i:], rand.Uint64())
		}
		return nil
	})
}

func (m *mapping) state() *uint32 { return (*uint32)(unsafe.Pointer(&m.mem[0])) }

// futex wakes, or waits while the state is still val, for at most timeout.
func (m *mapping) futex(op int, val uint32, timeout *unix.Timespec) unix.Errno {
	_, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(m.state())), uintptr(op),
		uintptr(val), uintptr(unsafe.Pointer(timeout)), 0, 0)
	return e
}

// ErrFault is a page of the mapping that the kernel could not provide.
var ErrFault = errors.New("a page of the shared memory could not be had (SIGBUS): is its filesystem full?")

// guarded runs fn with a fault on the memory turned into ErrFault. The
// pages of a file in a full tmpfs are SIGBUS when first touched, which
// the runtime otherwise makes a crash with a trace of every goroutine;
// invoke_ns takes its own pages beforehand (CreateShm), and this is for
// what still faults.
func (m *mapping) guarded(op string, fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if _, fault := r.(interface{ Addr() uintptr }); !fault {
				panic(r)
			}
			err = m.wrap(op, ErrFault)
		}
	}()
	return fn()
}

// Send writes msg, then marks it written and wakes the parent; a
// mapping it may only read gives back the parent's token instead, as a
// ReadOnlyError.
func (m *mapping) Send(msg []byte) error {
	if m.readOnly {
		var token []byte
		err := m.guarded("shm read", func() error { token = bytes.Clone(m.Token()); return nil })
		if err != nil {
			return err
		}
		return &ReadOnlyError{Read: token}
	}
	if len(msg) > shmToken-shmText {
		return m.wrap("shm write", unix.EMSGSIZE)
	}
	return m.guarded("shm write", func() error {
		copy(m.mem[shmText:], msg)
		*(*uint32)(unsafe.Pointer(&m.mem[4])) = uint32(len(msg))
		if !atomic.CompareAndSwapUint32(m.state(), shmEmpty, shmWritten) {
			return m.wrap("shm write", unix.EAGAIN)
		}
		m.futex(futexWake, 1, nil)
		return nil
	})
}

// Receive waits until the child has written, or the deadline passes
// (ETIMEDOUT), and copies the message out.
func (m *mapping) Receive(buf []byte, deadline time.Time) (n int, err error) {
	err = m.guarded("shm read", func() error {
		for {
			switch atomic.LoadUint32(m.state()) {
			case shmWritten:
				size := min(int(*(*uint32)(unsafe.Pointer(&m.mem[4]))), shmToken-shmText)
				n = copy(buf, m.mem[shmText:shmText+size])
				return nil
			case shmWoken:
				return m.wrap("futex", unix.ETIMEDOUT)
			}
			left := time.Until(deadline)
			if left <= 0 {
				return m.wrap("futex", unix.ETIMEDOUT)
			}
			ts := unix.NsecToTimespec(left.Nanoseconds())
			// EAGAIN (the state changed first) and EINTR go round again.
			m.futex(futexWait, shmEmpty, &ts)
		}
	})
	return n, err
}

// Interrupt ends a Receive, now or to come, unless the message is there.
func (m *mapping) Interrupt() {
	m.guarded("shm write", func() error {
		if atomic.CompareAndSwapUint32(m.state(), shmEmpty, shmWoken) {
			m.futex(futexWake, 1, nil)
		}
		return nil
	})
}

// Reset marks the memory empty again.
func (m *mapping) Reset() {
	m.guarded("shm write", func() error { atomic.StoreUint32(m.state(), shmEmpty); return nil })
}
