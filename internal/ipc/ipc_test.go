// ipc_test.go: the System V kinds and shared memory through the Go API,
// with real objects, in an IPC and a mount namespace of the tests' own.

package ipc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"invoke_ns/internal/hermetic"

	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { os.Exit(hermetic.Main(m, nil)) }

var sysvKinds = map[string]*Kind{"msg": Msg, "sem": Sem, "shm": Shm}

var keySeq atomic.Int32

// testKey is a System V key of this test alone; at the end, no object of
// any kind may have it.
func testKey(t *testing.T) int32 {
	t.Helper()
	key := 0x7d000000 | int32(os.Getpid()&0xffff)<<8 | keySeq.Add(1)&0xff
	t.Cleanup(func() {
		for name, k := range sysvKinds {
			if r, err := k.Look(Object{Kind: k, Key: key}, nil); err == nil {
				RemoveSysV(r.(Receiver), nil)
				t.Errorf("a %s object with key %d was left behind", name, key)
			}
		}
	})
	return key
}

func TestSysVRoundTrip(t *testing.T) {
	for _, kind := range []string{"msg", "sem", "shm"} {
		t.Run(kind, func(t *testing.T) {
			tg := Object{Kind: sysvKinds[kind], Key: testKey(t)}
			if _, err := tg.Open(nil); !errors.Is(err, unix.ENOENT) {
				t.Fatalf("lookup before create: %v, want ENOENT", err)
			}
			o, err := tg.Create()
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := errors.Join(o.Close(), o.Remove()); err != nil {
					t.Error(err)
				}
				if _, err := tg.Open(nil); !errors.Is(err, unix.ENOENT) {
					t.Errorf("lookup after remove: %v, want ENOENT", err)
				}
			}()
			if _, err := tg.Create(); !errors.Is(err, unix.EEXIST) {
				t.Errorf("second create: %v, want EEXIST", err)
			}
			e, err := tg.Open(nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Send([]byte("round trip\x00")); err != nil {
				t.Fatal(err)
			}
			e.Close()
			buf := make([]byte, MessageMax+1)
			n, err := o.Receive(buf, time.Now().Add(30*time.Second))
			want := "round trip\x00"
			if kind == "sem" {
				want = "" // a semaphore carries no text
			}
			if err != nil || string(buf[:n]) != want {
				t.Errorf("received %q, %v; want %q", buf[:n], err, want)
			}
		})
	}
}

// A receive gives up at its deadline, and Interrupt ends one at once,
// before or while it waits; 30 s deadlines only bound the test.
func TestSysVReceiveTimesOut(t *testing.T) {
	for _, kind := range []string{"msg", "sem", "shm"} {
		t.Run(kind, func(t *testing.T) {
			o, err := Object{Kind: sysvKinds[kind], Key: testKey(t)}.Create()
			if err != nil {
				t.Fatal(err)
			}
			defer func() { o.Close(); o.Remove() }()
			buf := make([]byte, MessageMax+1)
			began := time.Now()
			if _, err := o.Receive(buf, began.Add(100*time.Millisecond)); !errors.Is(err, unix.ETIMEDOUT) {
				t.Fatalf("receive with nothing sent: %v, want ETIMEDOUT", err)
			}
			if waited := time.Since(began); waited < 100*time.Millisecond {
				t.Errorf("gave up after %v, before its deadline", waited)
			}
			done := make(chan error)
			go func() {
				_, err := o.Receive(buf, time.Now().Add(30*time.Second))
				done <- err
			}()
			began = time.Now()
			o.Interrupt()
			if err := <-done; !errors.Is(err, unix.ETIMEDOUT) {
				t.Errorf("interrupted receive: %v", err)
			}
			if waited := time.Since(began); waited > 5*time.Second {
				t.Errorf("the interrupted receive went on for %v", waited)
			}
		})
	}
}

// A mapping whose page cannot be had (a sparse file on a full tmpfs) is
// an error, not a crash.
func TestMappingFaultIsAnError(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skipf("skipped %s: mounting a tmpfs needs root", t.Name())
	}
	mnt := t.TempDir()
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=8k"); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(mnt, unix.MNT_DETACH)
	f, err := os.Create(filepath.Join(mnt, "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(MappingSize); err == nil {
		os.WriteFile(filepath.Join(mnt, "fill"), make([]byte, 64<<10), 0o600)
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, MappingSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	m := &mapping{mem: mem, wrap: func(op string, err error) error { return fmt.Errorf("%s: %w", op, err) }}
	if err := m.Send([]byte("into a full tmpfs")); !errors.Is(err, ErrFault) {
		t.Errorf("Send: %v, want %v", err, ErrFault)
	}
	if _, err := m.Receive(make([]byte, 8), time.Now()); !errors.Is(err, ErrFault) {
		t.Errorf("Receive: %v, want %v", err, ErrFault)
	}
}
