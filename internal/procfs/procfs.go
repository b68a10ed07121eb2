// Package procfs reads the files and folders of /proc in plain system
// calls: an os.File costs several more for each (the poller's fcntl(2) and
// epoll_ctl(2)), and --scan reads a few for every process of a node. It
// knows nothing of what the files say.
package procfs

import (
	"os"
	"slices"

	"golang.org/x/sys/unix"
)

// Read reads a file of /proc whole.
func Read(name string) ([]byte, error) { return read(name, false) }

// ReadMade reads a file of /proc that the kernel makes whole when it is
// first read (single_open(): a process's stat, status, comm, cgroup),
// which so gives all of itself then if it fits: a read that leaves room
// is its end. Asking again for the end would cost a system call for each
// of a node's thousands of processes.
func ReadMade(name string) ([]byte, error) { return read(name, true) }

func read(name string, short bool) ([]byte, error) {
	fd, err := unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	defer unix.Close(fd)
	b := make([]byte, 0, 1024)
	for {
		if len(b) == cap(b) {
			b = slices.Grow(b, cap(b))
		}
		n, err := unix.Read(fd, b[len(b):cap(b)])
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return nil, &os.PathError{Op: "read", Path: name, Err: err}
		case n == 0:
			return b, nil
		}
		b = b[:len(b)+n]
		if short && len(b) < cap(b) {
			return b, nil
		}
	}
}

// Names lists a directory of /proc: nothing where it cannot be read.
func Names(name string) []string {
	fd, err := unix.Open(name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	var names []string
	buf := make([]byte, 8192)
	for {
		n, err := unix.ReadDirent(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			return names
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}
