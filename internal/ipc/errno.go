// errno.go: turning an errno into the words a person at the terminal
// needs: perror(3)'s text, and for a failed create the kernel limit that
// was hit (sysvipc(7), shm_overview(7)) and what to do.

package ipc

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// Strerror is perror(3)'s text for err: Go's errno text with a capital.
func Strerror(err error) string {
	var errno unix.Errno
	if errors.As(err, &errno) {
		err = errno
	}
	s := err.Error()
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// ErrnoWords is perror(3)'s text for e and its name, and what to do
// where the errno says: "Too many open files (EMFILE) — ...".
func ErrnoWords(e unix.Errno) string {
	s := fmt.Sprintf("%s (%s)", Strerror(e), unix.ErrnoName(e))
	switch e {
	case unix.EMFILE:
		var rl unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_NOFILE, &rl)
		return s + fmt.Sprintf(" — the limit on open files is reached (RLIMIT_NOFILE, ulimit -n: %d): raise it", rl.Cur)
	case unix.ENFILE:
		return s + " — the system's limit on open files is reached (fs.file-max): close some, or raise it"
	case unix.EACCES, unix.EPERM:
		return s + " — what has the name or key is another user's, or a security module refused the call"
	case unix.ENOMEM:
		return s + " — the kernel had no memory for it"
	}
	return s
}

// ErrnoOf returns the errno inside err, or 0.
func ErrnoOf(err error) unix.Errno {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return 0
}

// sysvHints says what to do when msgget, semget or shmget with IPC_CREAT
// fails.
func sysvHints(err error, o Object) (string, bool) {
	switch ErrnoOf(err) {
	case unix.ENOSPC:
		return "the limit on these objects is reached (" + o.Kind.Limit + "): " +
			"remove unused ones (ipcs, ipcrm) or raise the limit", true
	case unix.EINVAL, unix.ENOMEM:
		return "the kernel's size limits do not allow it (/proc/sys/kernel/shmmax, shmall, msgmnb): raise them", true
	case unix.EACCES:
		return fmt.Sprintf("key %d is taken by an object you may not use: choose another with --key", o.Key), true
	}
	return "", false
}

// shmHints says what to do when making a file in /dev/shm fails.
func shmHints(err error, _ Object) (string, bool) {
	if ErrnoOf(err) == unix.ENOENT {
		return "there is no " + ShmDir + " here: mount a tmpfs on it (mount -t tmpfs -o mode=1777 tmpfs " + ShmDir +
			"), or leave pshm out of -k", true
	}
	if ErrnoOf(err) == unix.ENOSPC {
		return "the filesystem on " + ShmDir + " is full (df " + ShmDir + "): remove what is not needed there, " +
			"or make it larger", true
	}
	return "", false
}

// NameMax is NAME_MAX: the kernel's limit for a name after its slash.
const NameMax = 255

// CheckName applies the rules glibc applies to the name of a POSIX queue
// or shared memory object before mq_open(3) or shm_open(3) reaches the
// kernel: one leading slash, no other, and a name the kernel accepts.
func CheckName(name string) error {
	switch rest, ok := strings.CutPrefix(name, "/"); {
	case name == "":
		return errors.New("the name is empty")
	case !ok:
		return errors.New("the name must start with /")
	case rest == "" || rest == "." || rest == "..":
		return errors.New("the name needs a character after / (not . or ..)")
	case strings.Contains(rest, "/"):
		return errors.New("the name may hold no / after the first")
	case len(rest) > NameMax:
		return errors.New("the name is over 255 bytes after the /")
	}
	return nil
}
