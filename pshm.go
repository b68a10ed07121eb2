// pshm.go: POSIX shared memory objects (shm_overview(7)), made as
// shm_open(3) makes them, without cgo: a file in the tmpfs on /dev/shm,
// opened O_CREAT|O_EXCL, sized with ftruncate(2) and mapped shared. The
// message goes through it as through a System V segment (mapping.go).
//
// Such an object is found by a path, not by a name of the IPC namespace:
// an IPC namespace does nothing for it, and a mount namespace with a
// /dev/shm of its own does (ipc_namespaces(7)).

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

// CreateShm makes a new object, refusing one that exists already, as the
// caller's alone (mode 0600), and maps it.
func CreateShm(dir, name string) (*PosixShm, error) {
	return openShm(dir, name, unix.O_CREAT|unix.O_EXCL)
}

// OpenShm opens an existing object by name: looked up in the caller's
// mount namespace, in its /dev/shm.
func OpenShm(dir, name string) (*PosixShm, error) {
	return openShm(dir, name, 0)
}

func openShm(dir, name string, flags int) (*PosixShm, error) {
	path := shmPath(dir, name)
	if err := checkQueueName(name); err != nil {
		return nil, pshmErr("shm_open", path, unix.EINVAL)
	}
	// O_NOFOLLOW: another user's symbolic link is no way into a file.
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOFOLLOW|unix.O_CLOEXEC|flags, 0o600)
	if err != nil {
		return nil, pshmErr("shm_open", path, err)
	}
	created := flags&unix.O_CREAT != 0
	fail := func(op string, err error) (*PosixShm, error) {
		if created {
			unix.Unlink(path)
		}
		unix.Close(fd)
		return nil, pshmErr(op, path, err)
	}
	if created {
		if err := unix.Ftruncate(fd, mappingSize); err != nil {
			return fail("ftruncate", err)
		}
	} else {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return fail("fstat", err)
		}
		if st.Size < mappingSize {
			return fail("shm_open", unix.EINVAL) // not one of invoke_ns's
		}
	}
	mem, err := unix.Mmap(fd, 0, mappingSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fail("mmap", err)
	}
	s := &PosixShm{name: name, path: path, fd: fd}
	s.mapping = mapping{mem: mem, wrap: func(op string, err error) error { return pshmErr(op, path, err) }}
	return s, nil
}

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

// shmHolder says who holds the object of that name in dir, as
// queueHolder does for a queue.
func shmHolder(dir, name string) (holder, error) {
	s, err := OpenShm(dir, name)
	if errors.Is(err, unix.EACCES) {
		return holder{live: true, otherUser: true}, nil
	}
	if err != nil {
		return holder{}, err
	}
	defer s.Close()
	if err := s.lock(); errors.Is(err, unix.EWOULDBLOCK) {
		return holder{live: true}, nil
	} else if err != nil {
		return holder{}, err
	}
	return holder{}, nil
}
