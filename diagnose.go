// diagnose.go: turning an errno into the words a person at the terminal
// needs: perror(3)'s text, and for a failed create the kernel limit that
// was hit (mq_overview(7) "/proc interfaces", sysvipc(7)) and what to do.

package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// strerror is perror(3)'s text for err: Go's errno text with a capital.
func strerror(err error) string {
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

// errnoOf returns the errno inside err, or 0.
func errnoOf(err error) unix.Errno {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return 0
}

// mqueueSysctl reads one of /proc/sys/fs/mqueue's values, or "?".
func mqueueSysctl(name string) string {
	b, err := os.ReadFile("/proc/sys/fs/mqueue/" + name)
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// queueHints says what to do when mq_open(O_CREAT) fails.
func queueHints(err error, _ *kind, t target) (string, bool) {
	switch errnoOf(err) {
	case unix.ENOSPC:
		return fmt.Sprintf("the limit on message queues is reached (/proc/sys/fs/mqueue/queues_max = %s): "+
			"remove unused queues or raise the limit", mqueueSysctl("queues_max")), true
	case unix.EINVAL:
		return fmt.Sprintf("this queue needs %d messages of %d bytes, and the kernel allows "+
			"/proc/sys/fs/mqueue/msg_max = %s, msgsize_max = %s: raise them",
			queueMsgMax, messageMax+1, mqueueSysctl("msg_max"), mqueueSysctl("msgsize_max")), true
	case unix.EMFILE:
		var rl unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_MSGQUEUE, &rl)
		return fmt.Sprintf("your RLIMIT_MSGQUEUE (ulimit -q) of %d bytes is used up by other queues, "+
			"or the limit on open files is reached: remove unused queues or raise the limit", rl.Cur), true
	case unix.EACCES:
		return "you may not create or replace " + t.Name + ": choose another name with -q", true
	}
	return "", false
}

// sysvHints says what to do when msgget, semget or shmget with IPC_CREAT
// fails.
func sysvHints(err error, k *kind, t target) (string, bool) {
	switch errnoOf(err) {
	case unix.ENOSPC:
		return "the limit on these objects is reached (" + k.limit + "): " +
			"remove unused ones (ipcs, ipcrm) or raise the limit", true
	case unix.EINVAL, unix.ENOMEM:
		return "the kernel's size limits do not allow it (/proc/sys/kernel/shmmax, shmall, msgmnb): raise them", true
	case unix.EACCES:
		return fmt.Sprintf("key %d is taken by an object you may not use: choose another with --key", t.Key), true
	}
	return "", false
}

// shmHints says what to do when making a file in /dev/shm fails.
func shmHints(err error, _ *kind, t target) (string, bool) {
	if errnoOf(err) == unix.ENOSPC {
		return "the filesystem on " + shmDir + " is full (df " + shmDir + "): remove what is not needed there, " +
			"or make it larger", true
	}
	return "", false
}
