// sysv.go: System V message queues, semaphore sets and shared memory
// segments (sysvipc(7)), the objects besides the POSIX queue that an IPC
// namespace isolates. They are found by a numeric key, not a name, and
// live until IPC_RMID.
//
// Each has the shape of the POSIX queue: the parent creates it and
// waits on it with a deadline that another goroutine can cut short (a
// sticky Interrupt); the child looks it up by key and sends through it.
// x/sys/unix wraps only shared memory, so the rest are raw system calls.

package ipc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The System V kinds, as entries of the table.
var (
	Msg = &Kind{
		Name: "msg", Noun: "System V message queue",
		Lookup: "msgget", SendOp: "msgsnd", WaitOp: "msgrcv", CarriesText: true,
		Created: "created", Limit: "/proc/sys/kernel/msgmni", Owner: "ipcs -q -c",
		New:  func(o Object) (Receiver, error) { return MsgGet(o.Key, createFlags, Identity{}) },
		Look: func(o Object, _ *os.File) (Sender, error) { return MsgGet(o.Key, 0, o.ID) },
		Find: func(o Object) (Claim, error) {
			return findSysV(o, func(want Identity) (Receiver, error) { return MsgGet(o.Key, 0, want) })
		},
		Hints:   sysvHints,
		Removal: func(o Object) string { return fmt.Sprintf("ipcrm -Q 0x%08x", uint32(o.Key)) },
	}
	Sem = &Kind{
		Name: "sem", Noun: "System V semaphore set",
		Lookup: "semget", SendOp: "semop", WaitOp: "semtimedop", CarriesText: false,
		Created: "created", Limit: "the 4th field of /proc/sys/kernel/sem", Owner: "ipcs -s -c",
		New:  func(o Object) (Receiver, error) { return SemGet(o.Key, createFlags, Identity{}) },
		Look: func(o Object, _ *os.File) (Sender, error) { return SemGet(o.Key, 0, o.ID) },
		Find: func(o Object) (Claim, error) {
			return findSysV(o, func(want Identity) (Receiver, error) { return SemGet(o.Key, 0, want) })
		},
		Hints:   sysvHints,
		Removal: func(o Object) string { return fmt.Sprintf("ipcrm -S 0x%08x", uint32(o.Key)) },
	}
	Shm = &Kind{
		Name: "shm", Noun: "System V shared memory segment",
		Lookup: "shmget", SendOp: "shm write", WaitOp: "futex", CarriesText: true,
		Created: "created", Limit: "/proc/sys/kernel/shmmni", Owner: "ipcs -m -c",
		New:  func(o Object) (Receiver, error) { return ShmGet(o.Key, createFlags, Identity{}) },
		Look: func(o Object, _ *os.File) (Sender, error) { return ShmGet(o.Key, 0, o.ID) },
		Find: func(o Object) (Claim, error) {
			return findSysV(o, func(want Identity) (Receiver, error) { return ShmGet(o.Key, 0, want) })
		},
		Hints:   sysvHints,
		Removal: func(o Object) string { return fmt.Sprintf("ipcrm -M 0x%08x", uint32(o.Key)) },
	}
)

// sysvErr names the call and the key, in the style of ipcs(1) (hex),
// keeping the errno for errors.Is.
func sysvErr(op string, key int32, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s key 0x%08x: %w", op, uint32(key), err)
}

// retry repeats a system call that a signal interrupted: the Go runtime
// signals its own threads (SIGURG) to preempt goroutines.
func retry(fn func() (uintptr, unix.Errno)) (uintptr, error) {
	for {
		r, errno := fn()
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return r, errno
		}
		return r, nil
	}
}

// sysvGet is msgget(key, a1) or semget(key, a1, a2).
func sysvGet(nr uintptr, key int32, a1, a2 int) (int, error) {
	r, err := retry(func() (uintptr, unix.Errno) {
		r, _, e := unix.Syscall(nr, uintptr(key), uintptr(a1), uintptr(a2))
		return r, e
	})
	return int(r), err
}

// createFlags make a new object and refuse one that exists: a leftover
// from another run may hold its messages. 0600: only the caller's uid.
const createFlags = unix.IPC_CREAT | unix.IPC_EXCL | 0o600

// ---- message queues (msgget(2), msgop(2)) ----

// Message types: the child's message goes first when both are queued,
// since msgrcv with -wakeType takes the lowest type.
const (
	msgType  = 1 // the child's message
	wakeType = 2 // the parent's own, to end its wait
	markType = 3 // the parent's own, at once taken back (MsgGet)
)

// MsgQueue is a System V message queue.
type MsgQueue struct {
	key int32
	id  int
}

// MsgGet is msgget(key, flag): flag 0 looks the queue up in the caller's
// IPC namespace, createFlags makes a new one. A queue looked up is
// refused unless it is want, where that is given.
func MsgGet(key int32, flag int, want Identity) (*MsgQueue, error) {
	id, err := sysvGet(unix.SYS_MSGGET, key, flag, 0)
	if err == nil {
		err = want.Check(SysVIdentity("msg", id))
	}
	if err != nil {
		return nil, sysvErr("msgget", key, err)
	}
	m := &MsgQueue{key, id}
	if flag&unix.IPC_CREAT != 0 {
		// Its last receiver the parent (sysvIdentity): a message of
		// its own, sent and taken back.
		err = m.send(markType, nil)
		if err == nil {
			_, err = m.receive(markType, make([]byte, 0), unix.IPC_NOWAIT)
		}
		if err != nil {
			m.Remove()
			return nil, sysvErr("msgrcv", key, vanished(err))
		}
	}
	return m, nil
}

// ErrVanished is an object that another process removed as it was made,
// before it was ready, or as it was being looked at.
var ErrVanished = errors.New("removed by another process as it was made")

// vanished is err, marked ErrVanished where it says that the object just
// made is gone.
func vanished(err error) error {
	if Removed(err) {
		return fmt.Errorf("%w (%w)", ErrVanished, err)
	}
	return err
}

// Removed says whether err, from a call on a System V object by its id,
// says that the object is gone: EIDRM, or EINVAL for an id no longer
// valid (the calls here give no other cause of EINVAL).
func Removed(err error) bool { return errors.Is(err, unix.EIDRM) || errors.Is(err, unix.EINVAL) }

func (m *MsgQueue) Identity() (Identity, error) { return SysVIdentity("msg", m.id) }

// Token is nil: a queue is never read alone.
func (m *MsgQueue) Token() []byte { return nil }

// Owned says whether the key still gives this queue: an id is never
// given again to a queue made after this one is removed, until the
// sequence numbers of its slot wrap (ipc/util.c), so the key's id is
// the queue.
func (m *MsgQueue) Owned() bool {
	id, err := sysvGet(unix.SYS_MSGGET, m.key, 0, 0)
	return err == nil && id == m.id
}

func (m *MsgQueue) send(typ int, text []byte) error {
	// struct msgbuf: a C long, then the text.
	buf := make([]byte, 8+len(text))
	*(*int)(unsafe.Pointer(&buf[0])) = typ
	copy(buf[8:], text)
	_, err := retry(func() (uintptr, unix.Errno) {
		_, _, e := unix.Syscall6(unix.SYS_MSGSND, uintptr(m.id), uintptr(unsafe.Pointer(&buf[0])),
			uintptr(len(text)), unix.IPC_NOWAIT, 0, 0)
		return 0, e
	})
	return sysvErr("msgsnd", m.key, err)
}

// Send queues msg. It never blocks: a full queue is EAGAIN.
func (m *MsgQueue) Send(msg []byte) error { return m.send(msgType, msg) }

// Receive waits for the child's message until the deadline. msgrcv has no
// timeout of its own: a timer, or Interrupt, queues a wake-up message of a
// higher type, which the receive takes only when no message of the child's
// is there. Both come back as ETIMEDOUT.
func (m *MsgQueue) Receive(buf []byte, deadline time.Time) (int, error) {
	t := time.AfterFunc(time.Until(deadline), m.Interrupt)
	defer t.Stop()
	// The lowest type up to wakeType: the child's first.
	typ, err := m.receive(-wakeType, buf, 0)
	if err != nil {
		return 0, sysvErr("msgrcv", m.key, err)
	}
	if typ.typ == wakeType {
		return 0, sysvErr("msgrcv", m.key, unix.ETIMEDOUT)
	}
	return typ.n, nil
}

// received is what msgrcv took: its type, and how many bytes of text.
type receivedMsg struct{ typ, n int }

// receive is msgrcv(typ, flags) into buf.
func (m *MsgQueue) receive(typ int, buf []byte, flags int) (receivedMsg, error) {
	raw := make([]byte, 8+len(buf))
	n, err := retry(func() (uintptr, unix.Errno) {
		n, _, e := unix.Syscall6(unix.SYS_MSGRCV, uintptr(m.id), uintptr(unsafe.Pointer(&raw[0])),
			uintptr(len(buf)), uintptr(typ), uintptr(flags), 0)
		return n, e
	})
	if err != nil {
		return receivedMsg{}, err
	}
	return receivedMsg{*(*int)(unsafe.Pointer(&raw[0])), copy(buf, raw[8:8+n])}, nil
}

// Interrupt ends a Receive, now or to come. If the queue is full the
// child's messages are there to be taken, so a failure does not matter.
func (m *MsgQueue) Interrupt() { m.send(wakeType, nil) }

// Reset empties the queue: the child's messages and the wake-ups alike.
func (m *MsgQueue) Reset() {
	raw := make([]byte, 8+MessageMax+1)
	for {
		_, _, e := unix.Syscall6(unix.SYS_MSGRCV, uintptr(m.id), uintptr(unsafe.Pointer(&raw[0])),
			uintptr(len(raw)-8), 0, unix.IPC_NOWAIT|msgNoError, 0)
		if e != 0 && e != unix.EINTR {
			return
		}
	}
}

// msgNoError is MSG_NOERROR: a message too long is cut, not kept.
const msgNoError = 0o10000

func (m *MsgQueue) Close() error { return nil }

// Remove is IPC_RMID: the queue and its messages go at once.
func (m *MsgQueue) Remove() error {
	_, _, e := unix.Syscall(unix.SYS_MSGCTL, uintptr(m.id), unix.IPC_RMID, 0)
	return sysvErr("msgctl IPC_RMID", m.key, errnoErr(e))
}

// ---- semaphore sets (semget(2), semop(2)) ----

// sembuf is struct sembuf.
type sembuf struct {
	num uint16
	op  int16
	flg int16
}

// SemSet is a System V semaphore set of one semaphore, starting at 0.
type SemSet struct {
	key         int32
	id          int
	interrupted atomic.Bool
}

// SemGet is semget(key, 1, flag), as MsgGet.
func SemGet(key int32, flag int, want Identity) (*SemSet, error) {
	id, err := sysvGet(unix.SYS_SEMGET, key, 1, flag)
	if err == nil {
		err = want.Check(SysVIdentity("sem", id))
	}
	if err != nil {
		return nil, sysvErr("semget", key, err)
	}
	s := &SemSet{key: key, id: id}
	if flag&unix.IPC_CREAT != 0 {
		// Its last operator the parent (sysvIdentity): up and down.
		if _, err := retry(func() (uintptr, unix.Errno) { return 0, s.semop(1, unix.IPC_NOWAIT, nil) }); err != nil {
			s.Remove()
			return nil, sysvErr("semop", key, vanished(err))
		}
		s.Reset()
	}
	return s, nil
}

func (s *SemSet) Identity() (Identity, error) { return SysVIdentity("sem", s.id) }

// Token is nil: a semaphore carries nothing to read.
func (s *SemSet) Token() []byte { return nil }

// Owned says whether the key still gives this set, as MsgQueue.Owned.
func (s *SemSet) Owned() bool {
	id, err := sysvGet(unix.SYS_SEMGET, s.key, 0, 0)
	return err == nil && id == s.id
}

// semop does one operation, waiting at most timeout (nil: no limit).
func (s *SemSet) semop(op int16, flg int16, timeout *unix.Timespec) unix.Errno {
	sb := sembuf{op: op, flg: flg}
	_, _, e := unix.Syscall6(unix.SYS_SEMTIMEDOP, uintptr(s.id), uintptr(unsafe.Pointer(&sb)), 1,
		uintptr(unsafe.Pointer(timeout)), 0, 0)
	return e
}

// Send posts the semaphore: a signal, with no text (msg is ignored).
func (s *SemSet) Send([]byte) error {
	_, err := retry(func() (uintptr, unix.Errno) { return 0, s.semop(1, unix.IPC_NOWAIT, nil) })
	return sysvErr("semop", s.key, err)
}

// Receive waits until the semaphore is posted, or the deadline passes
// (ETIMEDOUT). It copies nothing: a semaphore carries no text.
func (s *SemSet) Receive(_ []byte, deadline time.Time) (int, error) {
	for {
		left := max(time.Until(deadline), 0)
		ts := unix.NsecToTimespec(left.Nanoseconds())
		switch e := s.semop(-1, 0, &ts); {
		case e == unix.EINTR:
			continue
		case e == unix.EAGAIN:
			return 0, sysvErr("semtimedop", s.key, unix.ETIMEDOUT)
		case e != 0:
			return 0, sysvErr("semtimedop", s.key, e)
		}
		if s.interrupted.Load() {
			// One of the posts may be Interrupt's: the child's, if it
			// came, is the other, and is there to be taken now.
			if e := s.semop(-1, unix.IPC_NOWAIT, nil); e != 0 {
				return 0, sysvErr("semtimedop", s.key, unix.ETIMEDOUT)
			}
		}
		return 0, nil
	}
}

// Interrupt posts the semaphore itself, marked as not the child's: a
// waiting Receive, and every later one, returns, with the child's post if
// it is there by then.
func (s *SemSet) Interrupt() {
	s.interrupted.Store(true)
	s.semop(1, unix.IPC_NOWAIT, nil)
}

// Reset takes back an Interrupt and takes the semaphore down to 0 again,
// by semop: SETVAL would change its time of change, which is part of its
// identity (sysvIdentity).
func (s *SemSet) Reset() {
	s.interrupted.Store(false)
	for {
		if e := s.semop(-1, unix.IPC_NOWAIT, nil); e != 0 && e != unix.EINTR {
			return
		}
	}
}

func (s *SemSet) Close() error { return nil }

func (s *SemSet) Remove() error {
	_, _, e := unix.Syscall6(unix.SYS_SEMCTL, uintptr(s.id), 0, unix.IPC_RMID, 0, 0, 0)
	return sysvErr("semctl IPC_RMID", s.key, errnoErr(e))
}

// ---- shared memory (shmget(2), shmop(2)) ----

// ShmSegment is a System V shared memory segment, attached; the message
// goes through it as mapping.go lays it out.
type ShmSegment struct {
	key int32
	id  int
	mapping
}

// ShmGet is shmget(key, MappingSize, flag), as MsgGet, and attaches the
// segment, once it is known to be want.
func ShmGet(key int32, flag int, want Identity) (*ShmSegment, error) {
	id, err := unix.SysvShmGet(int(key), MappingSize, flag)
	if err == nil {
		err = want.Check(SysVIdentity("shm", id))
	}
	if err != nil {
		return nil, sysvErr("shmget", key, err)
	}
	mem, err := unix.SysvShmAttach(id, 0, 0)
	if err != nil {
		if flag&unix.IPC_CREAT != 0 {
			unix.SysvShmCtl(id, unix.IPC_RMID, nil)
			err = vanished(err)
		}
		return nil, sysvErr("shmat", key, err)
	}
	s := &ShmSegment{key: key, id: id}
	s.mapping = mapping{mem: mem, wrap: func(op string, err error) error { return sysvErr(op, key, err) }}
	return s, nil
}

func (s *ShmSegment) Identity() (Identity, error) { return SysVIdentity("shm", s.id) }

// Owned says whether the key still gives this segment, as MsgQueue.Owned.
func (s *ShmSegment) Owned() bool {
	id, err := unix.SysvShmGet(int(s.key), 0, 0)
	return err == nil && id == s.id
}

// Close detaches the segment.
func (s *ShmSegment) Close() error {
	return sysvErr("shmdt", s.key, unix.SysvShmDetach(s.mem))
}

// Remove is IPC_RMID: the segment goes once the last process detaches.
func (s *ShmSegment) Remove() error {
	_, err := unix.SysvShmCtl(s.id, unix.IPC_RMID, nil)
	return sysvErr("shmctl IPC_RMID", s.key, err)
}

// errnoErr is e as an error, nil for 0.
func errnoErr(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// SysVCounts is the number of each kind of System V object in the
// caller's IPC namespace: the entries in /proc/sysvipc/*, which show the
// reader's namespace.
func SysVCounts() string {
	s := ""
	for i, k := range []string{"msg", "sem", "shm"} {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %s", k, countLines("/proc/sysvipc/"+k))
	}
	return s
}

// countLines is the number of entries in a /proc/sysvipc file: its lines
// after the header, or "?" when it cannot be read.
func countLines(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "?"
	}
	return strconv.Itoa(max(bytes.Count(b, []byte("\n"))-1, 0))
}

// SysVTable is /proc/sysvipc/KIND (msg, sem or shm), an entry a map by
// the names of its header. It lists every object of the reading thread's
// IPC namespace whatever its permissions, with the uids as the reader's
// user namespace maps them, and is the same on every architecture, where
// IPC_STAT's layout is not.
func SysVTable(kind string) []map[string]string {
	b, err := os.ReadFile("/proc/sysvipc/" + kind)
	if err != nil {
		return nil
	}
	lines := strings.Split(string(b), "\n")
	names := strings.Fields(lines[0])
	var rows []map[string]string
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) == len(names) {
			row := make(map[string]string, len(names))
			for i, n := range names {
				row[n] = f[i]
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// SysVRow is the entry of /proc/sysvipc/KIND whose column col reads val.
func SysVRow(kind, col, val string) map[string]string {
	for _, row := range SysVTable(kind) {
		if row[col] == val {
			return row
		}
	}
	return nil
}

// IDColumn is the name of the id's column in /proc/sysvipc/k.
func IDColumn(k string) string {
	return map[string]string{"msg": "msqid", "sem": "semid", "shm": "shmid"}[k]
}

// SysVIdentity is what the kernel says of the System V object of kind k
// with that id: its key, its creation time, whether the caller's uid
// created it, and the process the kernel records for it (By): a segment's
// creator; a queue's last receiver, and a semaphore's last operator,
// which the parent makes itself at once (mark) and stays, since the child
// only sends. Another IPC namespace may have an object of the same key,
// id, second and uid, made to look the same; but no other process can be
// the parent, whose PID the kernel gives in the reader's PID namespace.
func SysVIdentity(k string, id int) (Identity, error) {
	row := SysVRow(k, IDColumn(k), strconv.Itoa(id))
	key, kerr := strconv.ParseInt(row["key"], 10, 32)
	ctime, cerr := strconv.ParseInt(row["ctime"], 10, 64)
	by, berr := strconv.Atoi(row[map[string]string{"msg": "lrpid", "shm": "cpid"}[k]])
	if k == "sem" {
		var r uintptr
		r, berr = retry(func() (uintptr, unix.Errno) {
			r, _, e := unix.Syscall6(unix.SYS_SEMCTL, uintptr(id), 0, semGetPID, 0, 0, 0)
			return r, e
		})
		by = int(r)
	}
	if row == nil || kerr != nil || cerr != nil || berr != nil {
		return Identity{}, fmt.Errorf("/proc/sysvipc/%s has no entry for id %d: %w", k, id, ErrVanished)
	}
	return Identity{ID: id, Key: int32(key), Ctime: ctime, Mine: row["cuid"] == strconv.Itoa(os.Geteuid()), By: by}, nil
}

// semGetPID is GETPID: the PID of the last semop(2) on a semaphore.
const semGetPID = 11

// findSysV says who has the System V object o names by key; get looks it
// up by key if it is want. A System V object has no descriptor to lock:
// one of the caller's whose lock was free, and that no live run of
// invoke_ns uses (SysVRun), is a leftover.
func findSysV(o Object, get func(want Identity) (Receiver, error)) (Claim, error) {
	row := SysVRow(o.Kind.Name, "key", strconv.Itoa(int(o.Key)))
	id, ierr := strconv.Atoi(row[IDColumn(o.Kind.Name)])
	uid, uerr := strconv.Atoi(row["uid"])
	if ierr != nil || uerr != nil {
		return Claim{}, sysvErr(o.Kind.Lookup, o.Key, unix.ENOENT)
	}
	if h, other := OtherOwner(uid); other {
		return Claim{Holder: h}, nil
	}
	if pid, live := SysVRun(o.Kind.Name, row); live {
		return Claim{Holder: Holder{State: LiveRun, PID: pid}}, nil
	}
	was, err := SysVIdentity(o.Kind.Name, id)
	if err != nil {
		return Claim{}, err
	}
	return Claim{
		Remove: func() error {
			// What has the key now, if it is still what was found.
			r, err := get(was)
			if errors.Is(err, ErrNotOurs) || errors.Is(err, unix.ENOENT) {
				return ErrReplaced
			}
			return RemoveSysV(r, err)
		},
		Release: func() {},
	}, nil
}

// SysVRun says whether a live process uses the System V object of kind k
// that row of /proc/sysvipc/k lists, as a run of invoke_ns would, and
// gives its PID where it is one of invoke_ns's: a segment attached
// anywhere, or a process of invoke_ns's among those the kernel records
// for the object (a queue's last sender and receiver, a segment's creator
// and last user, a set's last operator). A run marks each object it makes
// (MsgGet, SemGet), so its PID is among them for as long as it lives,
// whatever build of invoke_ns made it and whatever its locks are named.
func SysVRun(k string, row map[string]string) (pid int, live bool) {
	var pids []int
	for _, col := range map[string][]string{"msg": {"lrpid", "lspid"}, "shm": {"cpid", "lpid"}}[k] {
		if p, err := strconv.Atoi(row[col]); err == nil && p > 0 {
			pids = append(pids, p)
		}
	}
	if id, err := strconv.Atoi(row[IDColumn(k)]); err == nil && k == "sem" {
		r, _, e := unix.Syscall6(unix.SYS_SEMCTL, uintptr(id), 0, semGetPID, 0, 0, 0)
		if e == 0 && r > 0 {
			pids = append(pids, int(r))
		}
	}
	for _, p := range pids {
		if unix.Kill(p, 0) != unix.ESRCH && IsInvokeNS(p) {
			return p, true
		}
	}
	if n, err := strconv.Atoi(row["nattch"]); err == nil && n > 0 {
		return 0, true
	}
	return 0, false
}

// RemoveSysV removes a System V object found by key: each System V type
// is both the parent's side and the child's.
func RemoveSysV(r Receiver, err error) error {
	if err != nil {
		return err
	}
	return errors.Join(r.Remove(), r.Close())
}
