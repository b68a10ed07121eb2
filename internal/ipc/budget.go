// budget.go: the per-user POSIX queue budget, which the IPC namespace
// does not isolate. Every POSIX queue is charged, in bytes, to the user
// who made it (RLIMIT_MSGQUEUE, mq_overview(7)), and since Linux 5.14 to
// each user up the chain of user namespaces too, whatever IPC namespace
// it is in: a child in a namespace of its own can use up its parent's
// room for queues.
//
// The proof is a before and an after on the same run. The parent finds
// the least RLIMIT_MSGQUEUE under which it can make one queue of the
// smallest size (one message of one byte): what the user's queues hold
// already, and room for one more. The child then makes one such queue,
// in its namespaces, and holds it; the parent tries again under that
// limit. If it cannot, the child's queue took the room: the budget
// crossed. If it still can, the child's queue was charged elsewhere.
//
// Nothing is ever taken from the user's other programs: the lowered
// limit is the parent's own, for the moment of one mq_open, and the
// child takes one queue of some hundred bytes. Every queue is unlinked
// as soon as it is made, so its charge goes with its last descriptor,
// however its holder ends, and no name is ever left behind. Runs of the
// same user take turns (lockBudget), since each counts on the budget
// staying as it found it.

package ipc

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// BudgetQueue makes a POSIX queue of one message of one byte under name,
// in the caller's IPC namespace, and unlinks it at once: it holds its
// charge until it is closed. Set from above, where the mq_* calls are.
type BudgetQueue func(name string) (io.Closer, error)

// Measure is what the parent found of the user's queue budget before the
// child's try.
type Measure struct {
	Limit  uint64 // the soft RLIMIT_MSGQUEUE, in bytes
	Margin uint64 // the limit the parent tries under: what the user's queues hold, and one queue
	Queue  uint64 // the bytes one queue takes; 0 where the budget has no room for two
	// Unlimited says why the parent is not limited at all, if it is not:
	// then nothing is measured, and no verdict is given.
	Unlimited string
}

// InUse is the bytes the user's queues held when measured, where known.
func (m Measure) InUse() (uint64, bool) { return m.Margin - m.Queue, m.Queue > 0 }

// ErrApart is the parent's queue made after the child's: the child's was
// charged to some other budget than the parent's.
var ErrApart = errors.New("the parent could still make a queue: the child's took nothing from its budget")

// ErrUnlimited is a budget that does not limit the parent (Measure.Unlimited).
var ErrUnlimited = errors.New("not limited")

// budgetLockWait bounds the wait for another run of the same user's to
// finish with the budget: a run holds it for milliseconds.
const budgetLockWait = 5 * time.Second

// BudgetKind is the per-user queue budget as an entry of the table of
// kinds, its queues made by queue.
func BudgetKind(queue BudgetQueue) *Kind {
	return &Kind{
		Name: "mqbudget", Noun: "POSIX queue budget", PerUser: true,
		Lookup: "mq_open", SendOp: "mq_open", WaitOp: "mq_open",
		New:     func(Object) (Receiver, error) { return &Budget{queue: queue, interrupt: make(chan struct{})}, nil },
		Look:    func(Object, *os.File) (Sender, error) { return &budgetShare{queue: queue}, nil },
		Hints:   func(error, Object) (string, bool) { return "", false },
		Removal: func(Object) string { return "" },
	}
}

// Budget is the parent's side: the measure, and the try after the
// child's queue.
type Budget struct {
	queue     BudgetQueue
	lock      *Lock
	m         Measure
	mu        sync.Mutex
	interrupt chan struct{} // closed by Interrupt
}

// Arm measures the budget right before the child is let go to it, and
// holds it for this run until Reset or Close. sysResource says that the
// caller has CAP_SYS_RESOURCE, with which it may raise its own limit at
// will: it is not limited.
func (b *Budget) Arm(sysResource bool) (Measure, error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MSGQUEUE, &rl); err != nil {
		return Measure{}, fmt.Errorf("getrlimit RLIMIT_MSGQUEUE: %w", err)
	}
	switch {
	case sysResource:
		b.m = Measure{Unlimited: "invoke_ns has CAP_SYS_RESOURCE, with which it may raise its own RLIMIT_MSGQUEUE at will"}
		return b.m, nil
	case rl.Max == unix.RLIM_INFINITY:
		b.m = Measure{Unlimited: "RLIMIT_MSGQUEUE may be raised without end here (ulimit -Hq: unlimited)"}
		return b.m, nil
	}
	lock, err := lockBudget(time.Now().Add(budgetLockWait))
	if err != nil {
		return Measure{}, err
	}
	b.lock = lock
	m := Measure{Limit: rl.Cur}
	if m.Margin, err = b.least(0, rl.Cur, nil); err != nil {
		return Measure{}, err
	}
	// With one queue held, the least limit for a second tells what one
	// takes, and so what the user's queues held.
	held, err := b.under(m.Margin)
	if err == nil && held != nil {
		second, err := b.least(m.Margin, rl.Cur, held)
		if err == nil {
			m.Queue = second - m.Margin
		}
		held.Close()
	}
	b.m = m
	return m, nil
}

// least is the least limit in (lo, hi] under which a queue can be made,
// where hi allows one; held is kept open meanwhile, for a second.
func (b *Budget) least(lo, hi uint64, held io.Closer) (uint64, error) {
	q, err := b.under(hi)
	if err != nil {
		return 0, err
	}
	if q == nil {
		if held != nil {
			return 0, unix.EMFILE // no room for two: not an error of the run's
		}
		return 0, fmt.Errorf("measuring your POSIX queue budget: mq_open: %w — your queues use all of "+
			"RLIMIT_MSGQUEUE (%d bytes): remove those you no longer need (ls /dev/mqueue), or raise it (ulimit -q)",
			unix.EMFILE, hi)
	}
	q.Close()
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		q, err := b.under(mid)
		if err != nil {
			return 0, err
		}
		if q != nil {
			q.Close()
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, nil
}

// under tries to make a queue while the parent's own soft limit is
// limit, and gives it back open, or nil where the limit leaves no room
// (EMFILE). The limit is the process's, and only this goroutine makes
// queues meanwhile; it is restored at once.
func (b *Budget) under(limit uint64) (io.Closer, error) {
	var old unix.Rlimit
	if err := unix.Prlimit(0, unix.RLIMIT_MSGQUEUE, nil, &old); err != nil {
		return nil, fmt.Errorf("getrlimit RLIMIT_MSGQUEUE: %w", err)
	}
	lowered := unix.Rlimit{Cur: limit, Max: old.Max}
	if err := unix.Prlimit(0, unix.RLIMIT_MSGQUEUE, &lowered, nil); err != nil {
		return nil, fmt.Errorf("setrlimit RLIMIT_MSGQUEUE: %w", err)
	}
	q, err := makeBudgetQueue(b.queue)
	if rerr := unix.Prlimit(0, unix.RLIMIT_MSGQUEUE, &old, nil); rerr != nil {
		if q != nil {
			q.Close()
		}
		return nil, fmt.Errorf("setrlimit RLIMIT_MSGQUEUE: %w", rerr)
	}
	if errors.Is(err, unix.EMFILE) {
		return nil, nil
	}
	return q, err
}

// makeBudgetQueue makes a queue of the budget's under a name of its own:
// one that exists (another's, in a shared namespace) is passed over.
func makeBudgetQueue(queue BudgetQueue) (io.Closer, error) {
	var err error
	for try := 0; try < 8; try++ {
		var q io.Closer
		q, err = queue(fmt.Sprintf("/invoke_ns.budget.%d.%d", os.Getpid(), try))
		if !errors.Is(err, unix.EEXIST) {
			return q, err
		}
	}
	return nil, err
}

// Measured is what Arm found.
func (b *Budget) Measured() Measure { return b.m }

// Receive waits for Interrupt, which comes once the child says it holds
// its queue, and then tries again under the margin: nil where the
// parent cannot make a queue now (the budget crossed), ErrApart where it
// still can, ErrUnlimited where nothing limits it.
func (b *Budget) Receive(_ []byte, deadline time.Time) (int, error) {
	b.mu.Lock()
	interrupt := b.interrupt
	b.mu.Unlock()
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-interrupt:
	case <-t.C:
		return 0, unix.ETIMEDOUT
	}
	switch {
	case b.m.Unlimited != "":
		return 0, ErrUnlimited
	case b.m.Margin == 0:
		return 0, unix.ETIMEDOUT // not armed: nothing to try
	}
	q, err := b.under(b.m.Margin)
	switch {
	case err != nil:
		return 0, err
	case q != nil:
		q.Close()
		return 0, ErrApart
	}
	return 0, nil
}

func (b *Budget) Interrupt() {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-b.interrupt:
	default:
		close(b.interrupt)
	}
}

// Reset lets go of the budget, to be measured again for the next run.
func (b *Budget) Reset() {
	b.mu.Lock()
	b.interrupt = make(chan struct{})
	b.mu.Unlock()
	b.lock.Close()
	b.lock, b.m = nil, Measure{}
}

func (b *Budget) Close() error {
	b.lock.Close()
	b.lock = nil
	return nil
}

// Remove has nothing to remove: every queue went with its descriptor.
func (b *Budget) Remove() error               { return nil }
func (b *Budget) Identity() (Identity, error) { return Identity{}, nil }
func (b *Budget) Owned() bool                 { return true }
func (b *Budget) Token() []byte               { return nil }

// budgetShare is the child's side: one queue of its own, held from Send
// until Close.
type budgetShare struct {
	queue BudgetQueue
	held  io.Closer
}

func (s *budgetShare) Send([]byte) error {
	q, err := makeBudgetQueue(s.queue)
	s.held = q
	return err
}

func (s *budgetShare) Close() error {
	if s.held == nil {
		return nil
	}
	return s.held.Close()
}

// lockBudget takes the turn of the caller's user at the budget: an
// abstract socket named after its uid. A live run of the same user's
// that holds it is waited for, until deadline, by a connection that the
// kernel resets when the holder lets go. Anyone may bind the name, but
// only the user's own processes change its budget: one that is not
// invoke_ns, or is another user's, is no turn to wait for (nil Lock).
func lockBudget(deadline time.Time) (*Lock, error) {
	addr := &unix.SockaddrUnix{Name: fmt.Sprintf("@invoke_ns/mqbudget/%d", os.Getuid())}
	for refused := 0; ; {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("socket for the budget's lock: %w", err)
		}
		err = unix.Bind(fd, addr)
		if err == nil {
			err = unix.Listen(fd, 128)
		}
		if err == nil {
			return &Lock{fd}, nil
		}
		unix.Close(fd)
		if !errors.Is(err, unix.EADDRINUSE) {
			return nil, fmt.Errorf("the budget's lock: %w", err)
		}
		conn, cred, ok := dialLock(addr)
		if !ok {
			// Gone meanwhile, or bound by one that never listens:
			// bound again, or else gone without.
			if refused++; refused > 1 {
				return nil, nil
			}
			continue
		}
		if int(cred.Uid) != os.Getuid() || !IsInvokeNS(int(cred.Pid)) {
			unix.Close(conn)
			return nil, nil
		}
		wait := time.Until(deadline)
		fds := []unix.PollFd{{Fd: int32(conn), Events: unix.POLLIN | unix.POLLRDHUP}}
		n, err := unix.Poll(fds, int(wait.Milliseconds()))
		unix.Close(conn)
		if n == 0 && err == nil {
			return nil, fmt.Errorf("waiting for your POSIX queue budget: invoke_ns PID %d has held it for %v "+
				"— let it finish, or end it", cred.Pid, budgetLockWait)
		}
		if err != nil && !errors.Is(err, unix.EINTR) {
			return nil, fmt.Errorf("waiting for your POSIX queue budget: poll: %w", err)
		}
	}
}
