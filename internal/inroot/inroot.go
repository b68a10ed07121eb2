// Package inroot opens a path as another process's root resolves it: every
// link on the way is taken within that root, as the process would take
// it, so that a link in a container's files can never lead out of the
// container (openat2(2), RESOLVE_IN_ROOT, as runc does through
// filepath-securejoin). It knows nothing of what the files are.
package inroot

import (
	"os"

	"golang.org/x/sys/unix"
)

// Open opens path within root, with flags (O_CLOEXEC added), and gives
// its descriptor; with root nil, as the caller resolves it. A magic link
// of /proc on the way is refused: it would lead anywhere.
func Open(root *os.File, path string, flags int) (int, error) {
	if root == nil {
		fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0)
		return fd, pathErr(path, err)
	}
	how := &unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	fd, err := unix.Openat2(int(root.Fd()), path, how)
	return fd, pathErr(root.Name()+path, err)
}

// File is Open as an *os.File.
func File(root *os.File, path string, flags int) (*os.File, error) {
	fd, err := Open(root, path, flags)
	if err != nil {
		return nil, err
	}
	name := path
	if root != nil {
		name = root.Name() + path
	}
	return os.NewFile(uintptr(fd), name), nil
}

func pathErr(path string, err error) error {
	if err == nil {
		return nil
	}
	return &os.PathError{Op: "open", Path: path, Err: err}
}
