package ipc

import (
	"errors"
	"io"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fakeBudget is a user's queue budget as the kernel keeps it: bytes in
// use, each new queue checked against the maker's soft RLIMIT_MSGQUEUE
// as it is at that moment.
type fakeBudget struct {
	used, queue uint64
	made        int
}

type fakeQueue struct{ b *fakeBudget }

func (q fakeQueue) Close() error { q.b.used -= q.b.queue; return nil }

func (b *fakeBudget) make(string) (io.Closer, error) {
	var rl unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_MSGQUEUE, &rl)
	if b.used+b.queue > rl.Cur {
		return nil, unix.EMFILE
	}
	b.used += b.queue
	b.made++
	return fakeQueue{b}, nil
}

// TestBudgetMeasure: Arm finds the least limit that leaves room for one
// queue, what one takes and what was in use; the try after the child's
// queue says crossed where the child's queue is charged to the same
// budget, apart where it is not; the parent's own limit is as it was
// after each; and a budget used up already is an error, not a verdict.
func TestBudgetMeasure(t *testing.T) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MSGQUEUE, &rl); err != nil || rl.Cur < 1000 {
		t.Skipf("RLIMIT_MSGQUEUE too small to measure under (%d bytes, %v)", rl.Cur, err)
	}
	for _, tc := range []struct {
		name       string
		inUse      uint64
		childSame  bool // the child's queue is charged to the parent's budget
		wantResult error
	}{
		{"crossed, nothing in use", 0, true, nil},
		{"crossed, some in use", 5000, true, nil},
		{"apart", 300, false, ErrApart},
		{"used up", rl.Cur - 50, true, unix.EMFILE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fb := &fakeBudget{used: tc.inUse, queue: 97}
			b := BudgetKind(fb.make).New
			r, _ := b(Object{})
			bud := r.(*Budget)
			defer bud.Close()
			m, err := bud.Arm(false)
			if tc.wantResult == unix.EMFILE {
				if !errors.Is(err, unix.EMFILE) {
					t.Fatalf("Arm with the budget used up: %v, want EMFILE", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Margin != tc.inUse+97 || m.Queue != 97 || m.Limit != rl.Cur {
				t.Errorf("measure %+v, want margin %d, queue 97, limit %d", m, tc.inUse+97, rl.Cur)
			}
			if used, ok := m.InUse(); !ok || used != tc.inUse {
				t.Errorf("in use %d (%v), want %d", used, ok, tc.inUse)
			}
			if fb.used != tc.inUse {
				t.Errorf("after Arm, %d bytes in use, want %d: a queue of the measure's was kept", fb.used, tc.inUse)
			}
			// The child's queue: charged here, or to another budget.
			other := &fakeBudget{queue: 97}
			child := &budgetShare{queue: fb.make}
			if !tc.childSame {
				child.queue = other.make
			}
			if err := child.Send(nil); err != nil {
				t.Fatal(err)
			}
			bud.Interrupt()
			_, err = bud.Receive(nil, time.Now().Add(time.Minute))
			if !errors.Is(err, tc.wantResult) && err != tc.wantResult {
				t.Errorf("the try after the child's queue: %v, want %v", err, tc.wantResult)
			}
			child.Close()
			if fb.used != tc.inUse || other.used != 0 {
				t.Errorf("after the run, %d and %d bytes in use, want %d and 0", fb.used, other.used, tc.inUse)
			}
			var now unix.Rlimit
			unix.Getrlimit(unix.RLIMIT_MSGQUEUE, &now)
			if now != rl {
				t.Errorf("RLIMIT_MSGQUEUE is %+v after the run, was %+v", now, rl)
			}
		})
	}
}

// TestBudgetUnlimited: with CAP_SYS_RESOURCE nothing is measured, no
// queue is made, and the try says so instead of a verdict.
func TestBudgetUnlimited(t *testing.T) {
	fb := &fakeBudget{queue: 97}
	r, _ := BudgetKind(fb.make).New(Object{})
	b := r.(*Budget)
	m, err := b.Arm(true)
	if err != nil || m.Unlimited == "" || fb.made != 0 {
		t.Fatalf("Arm with CAP_SYS_RESOURCE: %+v, %v, %d queues made", m, err, fb.made)
	}
	b.Interrupt()
	if _, err := b.Receive(nil, time.Now().Add(time.Minute)); !errors.Is(err, ErrUnlimited) {
		t.Errorf("the try: %v, want ErrUnlimited", err)
	}
}

// TestBudgetTurns: a second run of the same user waits for the first to
// let go of the budget, and takes its turn as soon as it does, woken by
// the kernel, not by a timer.
func TestBudgetTurns(t *testing.T) {
	first, err := lockBudget(time.Now().Add(time.Second))
	if err != nil || first == nil {
		t.Fatalf("first turn: %v, %v", first, err)
	}
	type turn struct {
		l   *Lock
		err error
	}
	second := make(chan turn, 1)
	go func() {
		l, err := lockBudget(time.Now().Add(budgetLockWait))
		second <- turn{l, err}
	}()
	// The second has connected once the first's socket has a connection
	// queued: from then on it waits for the first.
	fds := []unix.PollFd{{Fd: int32(first.fd), Events: unix.POLLIN}}
	if n, err := unix.Poll(fds, 10_000); n != 1 || err != nil {
		t.Fatalf("the second run never asked for its turn: %d, %v", n, err)
	}
	select {
	case got := <-second:
		t.Fatalf("the second took a turn while the first held it: %+v", got)
	default:
	}
	began := time.Now()
	first.Close()
	got := <-second
	if got.err != nil || got.l == nil {
		t.Fatalf("second turn: %+v", got)
	}
	got.l.Close()
	if waited := time.Since(began); waited > budgetLockWait/2 {
		t.Errorf("the second took %v to notice the first let go", waited)
	}
}
