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
	"os"
	"path/filepath"

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

// shmDirOf opens /dev/shm: the caller's own, with root nil, or as root
// resolves it, every link on the way taken within root, as the process
// whose root it is would take them. where names it for messages.
func shmDirOf(root *os.File) (fd int, where string, err error) {
	if root == nil {
		fd, err = unix.Open(ShmDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		return fd, ShmDir, pshmErr("open", ShmDir, err)
	}
	where = root.Name() + ShmDir
	how := &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	fd, err = unix.Openat2(int(root.Fd()), ShmDir, how)
	if err != nil {
		return -1, where, &ShmDirError{pshmErr("open", where, err)}
	}
	return fd, where, nil
}

// shmOpen opens name, read and write, in the /dev/shm of root (the
// caller's own with root nil), with flags added, as shm_open(3) would:
// the folder, the file, and its path for the words. O_NOFOLLOW: another
// user's symbolic link is no way into a file.
func shmOpen(root *os.File, name string, flags int, mode uint32) (dir, fd int, path string, err error) {
	dir, where, err := shmDirOf(root)
	if err != nil {
		return -1, -1, "", err
	}
	path = ShmPath(where, name)
	fd, err = unix.Openat(dir, name[1:], unix.O_RDWR|unix.O_NOFOLLOW|unix.O_CLOEXEC|flags, mode)
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
	dir, fd, path, err := shmOpen(root, name, unix.O_CREAT|unix.O_EXCL, 0o600)
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
	return mapShm(name, path, dir, fd, true)
}

// OpenShm opens an existing object by name, if it is want (where that is
// given): in the /dev/shm of the root that root is a descriptor of (the
// target's), or with root nil in the caller's own.
func OpenShm(root *os.File, name string, want Identity) (*PosixShm, error) {
	if err := CheckName(name); err != nil {
		return nil, pshmErr("shm_open", ShmPath(ShmDir, name), unix.EINVAL)
	}
	dir, fd, path, err := shmOpen(root, name, 0, 0)
	if err != nil {
		return nil, err
	}
	// What it is, before a byte of it is touched.
	if err := want.Check(FileIdentity(fd)); err != nil {
		unix.Close(fd)
		unix.Close(dir)
		return nil, pshmErr("shm_open", path, err)
	}
	return mapShm(name, path, dir, fd, false)
}

// FileIdentity is the device and inode of an open file.
func FileIdentity(fd int) (Identity, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return Identity{}, err
	}
	return Identity{Dev: st.Dev, Ino: st.Ino}, nil
}

// mapShm maps the object open on fd, in dir; one that was made here is
// removed again if that fails.
func mapShm(name, path string, dir, fd int, created bool) (*PosixShm, error) {
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
	mem, err := unix.Mmap(fd, 0, MappingSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fail("mmap", err)
	}
	s := &PosixShm{name: name, path: path, dir: dir, fd: fd}
	s.mapping = mapping{mem: mem, wrap: func(op string, err error) error { return pshmErr(op, path, err) }}
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

// findShm says who has the file of o's name in its /dev/shm.
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
	// O_NONBLOCK: a FIFO of that name must not hold the run.
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		var st unix.Stat_t
		if unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && !errors.Is(err, unix.ENOENT) {
			if h, other := OtherOwner(int(st.Uid)); other {
				return Claim{Holder: h}, nil
			}
			return Claim{Holder: Holder{State: Foreign}}, nil
		}
		return Claim{}, pshmErr("shm_open", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return Claim{}, pshmErr("fstat", path, err)
	}
	if h, other := OtherOwner(int(st.Uid)); other {
		unix.Close(fd)
		return Claim{Holder: h}, nil
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return Claim{Holder: Holder{State: Foreign}}, nil
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
	dir, _, err := shmDirOf(root)
	if err != nil {
		return Place{}, err
	}
	defer unix.Close(dir)
	var st unix.Statx_t
	if err := unix.Statx(dir, "", unix.AT_EMPTY_PATH|unix.AT_STATX_DONT_SYNC, unix.STATX_INO, &st); err != nil {
		return Place{}, err
	}
	return Place{unix.Mkdev(st.Dev_major, st.Dev_minor), st.Ino}, nil
}
