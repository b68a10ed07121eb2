// pshm.go: POSIX shared memory objects (shm_overview(7)), made as
// shm_open(3) makes them, without cgo: a file in the tmpfs on /dev/shm,
// opened O_CREAT|O_EXCL, given its pages (fallocate(2)) and mapped shared.
// The message goes through it as through a System V segment (mapping.go).
//
// Such an object is found by a path, not by a name of the IPC namespace:
// an IPC namespace does nothing for it, and a mount namespace with a
// /dev/shm of its own does (ipc_namespaces(7)). Another process's
// /dev/shm is looked up within that process's root (openat2(2),
// RESOLVE_IN_ROOT), so that a link in it can never lead out of it.

package ipc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"invoke_ns/internal/inroot"

	"golang.org/x/sys/unix"
)

// ShmDir is where POSIX shared memory objects live.
const ShmDir = "/dev/shm"

// Pshm is POSIX shared memory's entry of the table: a file in /dev/shm,
// not a name of the IPC namespace's own.
var Pshm = &Kind{
	Name: "pshm", Noun: "POSIX shared memory object", ByName: true,
	Lookup: "shm_open", SendOp: "shm write", WaitOp: "futex", CarriesText: true,
	Created: "created", Owner: "ls -l /dev/shm", InDevShm: true,
	New:     func(o Object) (Receiver, error) { return CreateShm(o.Root, o.Name) },
	Look:    func(o Object, root *os.File) (Sender, error) { return OpenShm(root, o.Name, o.ID) },
	Find:    findShm,
	Hints:   shmHints,
	Removal: func(o Object) string { return "rm " + ShmPath(ShmDir, o.Name) },
	Strays: func(o Object, _ bool) []string {
		return NamesIn(o.Root, ShmDir, o.Name[1:]+".", func(_ string, st *unix.Stat_t) bool {
			return st.Mode&unix.S_IFMT == unix.S_IFREG
		})
	},
}

// NamesIn lists the names in dir, within root (nil: the caller's own),
// that begin with prefix and that keep accepts, with what lstat(2) says
// of each; each with a slash before it, as a POSIX queue or shared
// memory object is named.
func NamesIn(root *os.File, dir, prefix string, keep func(name string, st *unix.Stat_t) bool) []string {
	fd, err := inroot.Open(root, dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil
	}
	f := os.NewFile(uintptr(fd), dir)
	defer f.Close()
	all, _ := f.Readdirnames(-1)
	var names []string
	for _, n := range all {
		var st unix.Stat_t
		if strings.HasPrefix(n, prefix) && unix.Fstatat(fd, n, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && keep("/"+n, &st) {
			names = append(names, "/"+n)
		}
	}
	slices.Sort(names)
	return names
}

// PosixShm is a POSIX shared memory object, open and mapped.
type PosixShm struct {
	name string // as -q gives it: "/ipc_namespace"
	path string // the file, for messages: "/dev/shm/ipc_namespace"
	dir  int    // the /dev/shm it is in, open: its name is looked up there
	fd   int
	mapping
}

// ShmPath is the file of the object named name in dir.
func ShmPath(dir, name string) string { return filepath.Join(dir, name[1:]) }

func pshmErr(op, path string, err error) error {
	if err == nil {
		return nil
	}
	return &os.PathError{Op: op, Path: path, Err: err}
}

// ShmDirError is a /dev/shm that cannot be opened at all within another
// process's root: a link that loops, leads nowhere, or to no directory.
type ShmDirError struct{ err error }

func (e *ShmDirError) Error() string { return e.err.Error() }
func (e *ShmDirError) Unwrap() error { return e.err }

// Nowhere says whether err is a /dev/shm that leads nowhere within
// another process's root (it is missing, loops, or is no directory):
// that process has none to share.
func Nowhere(err error) bool {
	var de *ShmDirError
	return errors.As(err, &de) && (errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR))
}

// shmDirOf opens /dev/shm: the caller's own, with root nil, or as root
// resolves it, every link on the way taken within root, as the process
// whose root it is would take them. where names it for messages.
func shmDirOf(root *os.File) (fd int, where string, err error) {
	fd, err = inroot.Open(root, ShmDir, unix.O_PATH|unix.O_DIRECTORY)
	where = ShmDir
	if root != nil {
		where = root.Name() + ShmDir
		if err != nil {
			err = &ShmDirError{err}
		}
	}
	return fd, where, err
}

// shmCreate makes name, read and write, in the /dev/shm of root (the
// caller's own with root nil), as shm_open(3) with O_CREAT|O_EXCL would:
// the folder, the file, and its path for the words. O_EXCL makes a new
// file or fails, whatever has the name: a link, a FIFO or a device node
// is never opened.
func shmCreate(root *os.File, name string, mode uint32) (dir, fd int, path string, err error) {
	dir, where, err := shmDirOf(root)
	if err != nil {
		return -1, -1, "", err
	}
	path = ShmPath(where, name)
	fd, err = unix.Openat(dir, name[1:], unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
	if err != nil {
		unix.Close(dir)
		return -1, -1, path, pshmErr("shm_open", path, err)
	}
	return dir, fd, path, nil
}

// CreateShm makes a new object in the /dev/shm of root (the caller's own
// with root nil), refusing one that exists already, as the caller's alone
// (mode 0600), with all its pages, and maps it.
func CreateShm(root *os.File, name string) (*PosixShm, error) {
	if err := CheckName(name); err != nil {
		return nil, pshmErr("shm_open", ShmPath(ShmDir, name), unix.EINVAL)
	}
	dir, fd, path, err := shmCreate(root, name, 0o600)
	if err != nil {
		return nil, err
	}
	// The pages are taken now: on a full tmpfs, a page first touched
	// through the mapping would be SIGBUS, here it is ENOSPC.
	if err := unix.Fallocate(fd, 0, 0, MappingSize); err != nil {
		unix.Unlinkat(dir, name[1:], 0)
		unix.Close(fd)
		unix.Close(dir)
		return nil, pshmErr("fallocate", path, err)
	}
	s, err := mapShm(name, path, dir, fd, true, false)
	if err == nil {
		err = s.stamp()
		if err != nil {
			s.Remove()
			s.Close()
			s = nil
		}
	}
	return s, err
}

// OpenShm opens an existing object by name, if it is want (where that is
// given): in the /dev/shm of the root that root is a descriptor of (the
// target's), or with root nil in the caller's own. What has the name is
// looked at before it is opened for I/O, through a descriptor that only
// names it (O_PATH): a FIFO or a device node planted under the name is
// never opened, since a device's open alone can act (a watchdog's arms
// it), nor is another user's file or another file of the caller's.
func OpenShm(root *os.File, name string, want Identity) (*PosixShm, error) {
	if err := CheckName(name); err != nil {
		return nil, pshmErr("shm_open", ShmPath(ShmDir, name), unix.EINVAL)
	}
	dir, where, err := shmDirOf(root)
	if err != nil {
		return nil, err
	}
	path := ShmPath(where, name)
	check := func(st *unix.Stat_t) error {
		if want == (Identity{}) {
			return nil
		}
		if int(st.Uid) != os.Geteuid() {
			return ErrNotOurs
		}
		return want.Check(Identity{Dev: st.Dev, Ino: st.Ino}, nil)
	}
	fd, err := reopen(dir, name[1:], unix.O_RDWR, check)
	readOnly := errors.Is(err, unix.EROFS)
	if readOnly {
		// A /dev/shm mounted read-only (a pod's sandbox has the host's
		// so): what the parent wrote can still be read.
		fd, err = reopen(dir, name[1:], unix.O_RDONLY, check)
	}
	if err != nil {
		unix.Close(dir)
		return nil, pshmErr("shm_open", path, err)
	}
	s, err := mapShm(name, path, dir, fd, false, readOnly)
	return s, err
}

// reopen opens the file name in dir with flags, once it is known to be a
// regular file, not a link, that check accepts: it is looked up first
// through a descriptor that opens nothing (O_PATH), and then that very
// file is opened again through /proc/self/fd, the way runc reopens what
// it has checked. What is not a regular file is ErrNotOurs, unopened.
func reopen(dir int, name string, flags int, check func(*unix.Stat_t) error) (int, error) {
	pfd, err := unix.Openat(dir, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	defer unix.Close(pfd)
	var st unix.Stat_t
	if err := unix.Fstat(pfd, &st); err != nil {
		return -1, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return -1, ErrNotOurs
	}
	if err := check(&st); err != nil {
		return -1, err
	}
	// The magic link leads to that file, whatever has the name by now.
	fd, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", pfd), flags|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return -1, fmt.Errorf("reopening through /proc/self/fd: %w — is proc mounted on /proc?", err)
	}
	return fd, err
}

// FileIdentity is the device and inode of an open file.
func FileIdentity(fd int) (Identity, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return Identity{}, err
	}
	return Identity{Dev: st.Dev, Ino: st.Ino}, nil
}

// mapShm maps the object open on fd, in dir, for reading alone where
// readOnly; one that was made here is removed again if that fails.
func mapShm(name, path string, dir, fd int, created, readOnly bool) (*PosixShm, error) {
	fail := func(op string, err error) (*PosixShm, error) {
		if created {
			unix.Unlinkat(dir, name[1:], 0)
		}
		unix.Close(fd)
		unix.Close(dir)
		return nil, pshmErr(op, path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fail("fstat", err)
	}
	if st.Size < MappingSize {
		return fail("shm_open", unix.EINVAL) // not one of invoke_ns's
	}
	prot := unix.PROT_READ | unix.PROT_WRITE
	if readOnly {
		prot = unix.PROT_READ
	}
	mem, err := unix.Mmap(fd, 0, MappingSize, prot, unix.MAP_SHARED)
	if err != nil {
		return fail("mmap", err)
	}
	s := &PosixShm{name: name, path: path, dir: dir, fd: fd}
	s.mapping = mapping{mem: mem, readOnly: readOnly, wrap: func(op string, err error) error { return pshmErr(op, path, err) }}
	return s, nil
}

func (s *PosixShm) Identity() (Identity, error) { return FileIdentity(s.fd) }

// Lock marks the object as this run's for as long as it is open (lock.go).
func (s *PosixShm) Lock() error { return unix.Flock(s.fd, unix.LOCK_EX|unix.LOCK_NB) }

// IsNamed says whether the object's name in its /dev/shm is still this
// object's file.
func (s *PosixShm) IsNamed(string) bool {
	var a, b unix.Stat_t
	return unix.Fstat(s.fd, &a) == nil && unix.Fstatat(s.dir, s.name[1:], &b, unix.AT_SYMLINK_NOFOLLOW) == nil &&
		a.Dev == b.Dev && a.Ino == b.Ino
}

// Owned says whether the name in its /dev/shm is still this object's.
func (s *PosixShm) Owned() bool { return s.IsNamed(s.name) }

// Remove unlinks the file, if its name is still this object's.
func (s *PosixShm) Remove() error {
	if !s.IsNamed(s.name) {
		return ErrReplaced
	}
	return pshmErr("shm_unlink", s.path, unix.Unlinkat(s.dir, s.name[1:], 0))
}

// Close unmaps the object and closes its descriptors.
func (s *PosixShm) Close() error {
	return pshmErr("close", s.path, errors.Join(unix.Munmap(s.mem), unix.Close(s.fd), unix.Close(s.dir)))
}

// UnlinkShm removes the object named name in dir: shm_unlink(3).
func UnlinkShm(dir, name string) error {
	path := ShmPath(dir, name)
	return pshmErr("shm_unlink", path, unix.Unlink(path))
}

// FileOwner is the uid of the file at path, itself if it is a link.
func FileOwner(path string) (int, bool) {
	var st unix.Stat_t
	if unix.Lstat(path, &st) != nil {
		return 0, false
	}
	return int(st.Uid), true
}

// findShm says who has the file of o's name in its /dev/shm. What is
// not a regular file (a FIFO, a device node, a link) is never opened.
func findShm(o Object) (Claim, error) {
	dir, where, err := shmDirOf(o.Root)
	if err != nil {
		return Claim{}, err
	}
	path, name := ShmPath(where, o.Name), o.Name[1:]
	keep := false
	defer func() {
		if !keep {
			unix.Close(dir)
		}
	}()
	var st unix.Stat_t
	var holder *Holder
	fd, err := reopen(dir, name, unix.O_RDONLY, func(s *unix.Stat_t) error {
		st = *s
		if h, other := OtherOwner(int(s.Uid)); other {
			holder = &h
			return ErrNotOurs
		}
		return nil
	})
	switch {
	case holder != nil:
		return Claim{Holder: *holder}, nil
	case errors.Is(err, ErrNotOurs):
		// Not a regular file: a FIFO, a device node or a link.
		if unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
			if h, other := OtherOwner(int(st.Uid)); other {
				return Claim{Holder: h}, nil
			}
		}
		return Claim{Holder: Holder{State: Foreign}}, nil
	case err != nil:
		return Claim{}, pshmErr("shm_open", path, err)
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); errors.Is(err, unix.EWOULDBLOCK) {
		unix.Close(fd)
		return Claim{Holder: Holder{State: LiveRun, PID: FlockHolder(st)}}, nil
	} else if err != nil {
		unix.Close(fd)
		return Claim{}, pshmErr("flock", path, err)
	}
	keep = true
	return Claim{
		Remove: func() error {
			var now unix.Stat_t
			if unix.Fstatat(dir, name, &now, unix.AT_SYMLINK_NOFOLLOW) != nil || now.Dev != st.Dev || now.Ino != st.Ino {
				return ErrReplaced
			}
			return pshmErr("shm_unlink", path, unix.Unlinkat(dir, name, 0))
		},
		Release: func() { unix.Close(fd); unix.Close(dir) },
	}, nil
}

// shmDirOfObject is the /dev/shm o's file is in: the place its name means
// something.
func shmDirOfObject(o Object) Place {
	place, _ := ShmDirIn(o.Root)
	return place
}

// Place is where a directory is: two paths, in any mount namespace, name
// the same directory exactly when they give the same device and inode.
type Place struct{ Dev, Ino uint64 }

// ShmDirIn is the /dev/shm of root, as root resolves it. Two processes
// share a /dev/shm exactly when theirs are at one Place: the device alone
// would take a bind mount of a folder of the host's /dev/shm for the
// host's own. Its device and inode are what the kernel holds already
// (AT_STATX_DONT_SYNC): a filesystem that does not answer (FUSE, NFS)
// would hold up a stat(2) of it without end.
func ShmDirIn(root *os.File) (Place, error) {
	place, _, err := ShmDirMount(root)
	return place, err
}

// ShmDirMount is ShmDirIn, and the ID of the mount (as mountinfo numbers
// them) that /dev/shm is on there, read in the same system call.
func ShmDirMount(root *os.File) (Place, uint64, error) {
	dir, _, err := shmDirOf(root)
	if err != nil {
		return Place{}, 0, err
	}
	defer unix.Close(dir)
	var st unix.Statx_t
	if err := unix.Statx(dir, "", unix.AT_EMPTY_PATH|unix.AT_STATX_DONT_SYNC, unix.STATX_INO|unix.STATX_MNT_ID, &st); err != nil {
		return Place{}, 0, err
	}
	var mount uint64
	if st.Mask&unix.STATX_MNT_ID != 0 {
		mount = st.Mnt_id
	}
	return Place{unix.Mkdev(st.Dev_major, st.Dev_minor), st.Ino}, mount, nil
}
