package main

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
	"unsafe"

	"invoke_ns/internal/ipc"

	"golang.org/x/sys/unix"
)

func TestQueueRoundTrip(t *testing.T) {
	name := testQueue(t)
	q, err := CreateQueue(name, 0o600, queueMsgMax, ipc.MessageMax+1)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		q.Close()
		if err := UnlinkQueue(name); err != nil {
			t.Error(err)
		}
	}()
	attr, err := q.Attr()
	if err != nil {
		t.Fatal(err)
	}
	if attr.Maxmsg != queueMsgMax || attr.Msgsize != ipc.MessageMax+1 || attr.Curmsgs != 0 {
		t.Errorf("attributes %+v, want maxmsg %d msgsize %d", attr, queueMsgMax, ipc.MessageMax+1)
	}
	w, err := OpenQueue(name, unix.O_WRONLY, ipc.Identity{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Send([]byte("hello\x00")); err != nil {
		t.Fatal(err)
	}
	if attr, _ := q.Attr(); attr.Curmsgs != 1 {
		t.Errorf("curmsgs %d after one send", attr.Curmsgs)
	}
	buf := make([]byte, ipc.MessageMax+1)
	n, err := q.Receive(buf, time.Now().Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if got := buf[:n]; !bytes.Equal(got, []byte("hello\x00")) {
		t.Errorf("received %q", got)
	}
}

func TestQueueErrors(t *testing.T) {
	name := testQueue(t)
	q, err := CreateQueue(name, 0o600, 1, 8)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { q.Close(); UnlinkQueue(name) }()

	var pe *os.PathError
	_, err = CreateQueue(name, 0o600, 1, 8)
	if !errors.Is(err, unix.EEXIST) || !errors.As(err, &pe) || pe.Op != "mq_open" || pe.Path != name {
		t.Errorf("second create: %v, want mq_open %s: EEXIST", err, name)
	}
	if err := q.Send([]byte("123456789")); !errors.Is(err, unix.EMSGSIZE) {
		t.Errorf("message longer than mq_msgsize: %v, want EMSGSIZE", err)
	}
	if err := q.Send([]byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := q.Send([]byte("2")); !errors.Is(err, unix.EAGAIN) {
		t.Errorf("send to a full queue: %v, want EAGAIN, never a wait", err)
	}
	if _, err := q.Receive(make([]byte, 4), time.Now().Add(time.Second)); !errors.Is(err, unix.EMSGSIZE) {
		t.Errorf("receive into a buffer smaller than mq_msgsize: %v, want EMSGSIZE", err)
	}
	if _, err := OpenQueue(name+"_none", unix.O_WRONLY, ipc.Identity{}); !errors.Is(err, unix.ENOENT) {
		t.Errorf("opening a missing queue: %v, want ENOENT", err)
	}
	if err := UnlinkQueue(name + "_none"); !errors.Is(err, unix.ENOENT) {
		t.Errorf("unlinking a missing queue: %v, want ENOENT", err)
	}
}

func TestQueueReceiveTimesOut(t *testing.T) {
	name := testQueue(t)
	q, err := CreateQueue(name, 0o600, 1, 8)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { q.Close(); UnlinkQueue(name) }()
	began := time.Now()
	_, err = q.Receive(make([]byte, 8), began.Add(100*time.Millisecond))
	if !errors.Is(err, unix.ETIMEDOUT) {
		t.Fatalf("receive from an empty queue: %v, want ETIMEDOUT", err)
	}
	if waited := time.Since(began); waited < 100*time.Millisecond {
		t.Errorf("gave up after %v, before its deadline", waited)
	}
	// Interrupt ends a receive that waits in another goroutine, whether it
	// has begun to wait or not. The 30 s deadline only bounds the test: a
	// lost interrupt shows as a wait of seconds, not as a hung test.
	done := make(chan error)
	go func() {
		_, err := q.Receive(make([]byte, 8), time.Now().Add(30*time.Second))
		done <- err
	}()
	began = time.Now()
	q.Interrupt()
	if err := <-done; !errors.Is(err, unix.ETIMEDOUT) {
		t.Errorf("interrupted receive: %v", err)
	}
	if waited := time.Since(began); waited > 5*time.Second {
		t.Errorf("the interrupted receive went on for %v", waited)
	}
	if _, err := q.Receive(make([]byte, 8), time.Now().Add(30*time.Second)); !errors.Is(err, unix.ETIMEDOUT) {
		t.Errorf("receive after Interrupt: %v", err)
	}
}

func TestQueueNames(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"/ipc_namespace", true},
		{"/" + strings.Repeat("n", 255), true},
		{"/" + strings.Repeat("n", 256), false},
		{"ipc_namespace", false},
		{"/a/b", false},
		{"//a", false},
		{"/", false},
		{"", false},
		{"/.", false},
		{"/..", false},
	}
	for _, tt := range tests {
		err := ipc.CheckName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("ipc.CheckName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if !tt.ok {
			if _, err := OpenQueue(tt.name, unix.O_RDONLY, ipc.Identity{}); !errors.Is(err, unix.EINVAL) {
				t.Errorf("OpenQueue(%q): %v, want EINVAL before any system call", tt.name, err)
			}
		}
	}
}

// BenchmarkRoundTrip is one send and one receive through the wrapper: a
// change to mqueue.go that adds allocations or system calls shows here.
func BenchmarkRoundTrip(b *testing.B) {
	name := "/invoke_ns_bench_" + strings.Repeat("x", 4)
	UnlinkQueue(name)
	q, err := CreateQueue(name, 0o600, queueMsgMax, ipc.MessageMax+1)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { q.Close(); UnlinkQueue(name) }()
	msg := []byte(pianoRiffs + "\x00")
	buf := make([]byte, ipc.MessageMax+1)
	deadline := time.Now().Add(time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if err := q.Send(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := q.Receive(buf, deadline); err != nil {
			b.Fatal(err)
		}
	}
}

// Attr returns the queue's attributes (mq_getattr(3)): for the tests,
// which check what a queue is made with.
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
