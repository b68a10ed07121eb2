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

package main

import (
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// shmDir is where POSIX shared memory objects live.
const shmDir = "/dev/shm"

// PosixShm is a POSIX shared memory object, open and mapped.
type PosixShm struct {
	name string // as -q gives it: "/ipc_namespace"
	path string // the file: "/dev/shm/ipc_namespace"
	fd   int
	mapping
}

// shmPath is the file of the object named name in dir.
func shmPath(dir, name string) string { return filepath.Join(dir, name[1:]) }

func pshmErr(op, path string, err error) error {
	if err == nil {
		return nil
	}
	return &os.PathError{Op: op, Path: path, Err: err}
}

// shmDirError is a /dev/shm that cannot be opened at all within another
// process's root: a link that loops, leads nowhere, or to no directory.
type shmDirError struct{ err error }

func (e *shmDirError) Error() string { return e.err.Error() }
func (e *shmDirError) Unwrap() error { return e.err }

// CreateShm makes a new object, refusing one that exists already, as the
// caller's alone (mode 0600), with all its pages, and maps it.
func CreateShm(dir, name string) (*PosixShm, error) {
	path := shmPath(dir, name)
	if err := checkQueueName(name); err != nil {
		return nil, pshmErr("shm_open", path, unix.EINVAL)
	}
	// O_NOFOLLOW: another user's symbolic link is no way into a file.
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, pshmErr("shm_open", path, err)
	}
	// The pages are taken now: on a full tmpfs, a page first touched
	// through the mapping would be SIGBUS, here it is ENOSPC.
	if err := unix.Fallocate(fd, 0, 0, mappingSize); err != nil {
		unix.Unlink(path)
		unix.Close(fd)
		return nil, pshmErr("fallocate", path, err)
	}
	return mapShm(name, path, fd, true)
}

// OpenShm opens an existing object by name, if it is want (where that is
// given): in the /dev/shm of the root that root is a descriptor of (the
// target's), or with root nil in the caller's own.
func OpenShm(root *os.File, name string, want identity) (*PosixShm, error) {
	path := shmPath(shmDir, name)
	if err := checkQueueName(name); err != nil {
		return nil, pshmErr("shm_open", path, unix.EINVAL)
	}
	const flags = unix.O_RDWR | unix.O_NOFOLLOW | unix.O_CLOEXEC
	var fd int
	var err error
	if root == nil {
		fd, err = unix.Open(path, flags, 0)
	} else {
		path = root.Name() + path
		fd, err = openInRoot(root, name)
	}
	if err != nil {
		var de *shmDirError
		if errors.As(err, &de) {
			return nil, &shmDirError{pshmErr("open", root.Name()+shmDir, de.err)}
		}
		return nil, pshmErr("shm_open", path, err)
	}
	// What it is, before a byte of it is touched.
	if err := want.check(fileIdentity(fd)); err != nil {
		unix.Close(fd)
		return nil, pshmErr("shm_open", path, err)
	}
	return mapShm(name, path, fd, false)
}

// openInRoot opens the file of name in /dev/shm as root resolves it:
// /dev/shm and every link on the way taken within root, as the process
// whose root it is would take them.
func openInRoot(root *os.File, name string) (int, error) {
	how := &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	dir, err := unix.Openat2(int(root.Fd()), shmDir, how)
	if err != nil {
		return -1, &shmDirError{err}
	}
	defer unix.Close(dir)
	return unix.Openat(dir, name[1:], unix.O_RDWR|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
}

// fileIdentity is the device and inode of an open file.
func fileIdentity(fd int) (identity, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return identity{}, err
	}
	return identity{Dev: st.Dev, Ino: st.Ino}, nil
}

// mapShm maps the object open on fd; one that was made here is removed
// again if that fails.
func mapShm(name, path string, fd int, created bool) (*PosixShm, error) {
	fail := func(op string, err error) (*PosixShm, error) {
		if created {
			unix.Unlink(path)
		}
		unix.Close(fd)
		return nil, pshmErr(op, path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fail("fstat", err)
	}
	if st.Size < mappingSize {
		return fail("shm_open", unix.EINVAL) // not one of invoke_ns's
	}
	mem, err := unix.Mmap(fd, 0, mappingSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fail("mmap", err)
	}
	s := &PosixShm{name: name, path: path, fd: fd}
	s.mapping = mapping{mem: mem, wrap: func(op string, err error) error { return pshmErr(op, path, err) }}
	return s, nil
}

func (s *PosixShm) identity() (identity, error) { return fileIdentity(s.fd) }

// lock marks the object as this run's for as long as it is open (live.go).
func (s *PosixShm) lock() error { return unix.Flock(s.fd, unix.LOCK_EX|unix.LOCK_NB) }

// isNamed says whether the object's path is still this object's file.
func (s *PosixShm) isNamed(string) bool {
	var a, b unix.Stat_t
	return unix.Fstat(s.fd, &a) == nil && unix.Lstat(s.path, &b) == nil && a.Dev == b.Dev && a.Ino == b.Ino
}

// Remove unlinks the file, if its path is still this object's.
func (s *PosixShm) Remove() error {
	if !s.isNamed(s.name) {
		return errReplaced
	}
	return pshmErr("shm_unlink", s.path, unix.Unlink(s.path))
}

// Close unmaps the object and closes its descriptor.
func (s *PosixShm) Close() error {
	return pshmErr("close", s.path, errors.Join(unix.Munmap(s.mem), unix.Close(s.fd)))
}

// UnlinkShm removes the object named name in dir: shm_unlink(3).
func UnlinkShm(dir, name string) error {
	path := shmPath(dir, name)
	return pshmErr("shm_unlink", path, unix.Unlink(path))
}

// fileOwner is the uid of the file at path, itself if it is a link.
func fileOwner(path string) (int, bool) {
	var st unix.Stat_t
	if unix.Lstat(path, &st) != nil {
		return 0, false
	}
	return int(st.Uid), true
}
