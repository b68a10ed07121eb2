// diagnose.go: turning an errno into the words a person at the terminal
// needs: perror(3)'s text, and for the queue the kernel limit that was hit
// (mq_overview(7), "/proc interfaces").
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

// queueLimitError explains a failed mq_open(O_CREAT) and says what to do.
func queueLimitError(err error, name string) error {
	switch errnoOf(err) {
	case unix.EEXIST:
		return hint(err, "another invoke_ns may be using "+name+", or an interrupted run left it behind; "+
			"wait for the other run, choose another name with -q, or remove it with -f")
	case unix.ENOSPC:
		return hint(err, fmt.Sprintf("the limit on message queues is reached (/proc/sys/fs/mqueue/queues_max = %s): "+
			"remove unused queues or raise the limit", mqueueSysctl("queues_max")))
	case unix.EINVAL:
		return hint(err, fmt.Sprintf("this queue needs %d messages of %d bytes, and the kernel allows "+
			"/proc/sys/fs/mqueue/msg_max = %s, msgsize_max = %s: raise them",
			queueMsgMax, messageMax+1, mqueueSysctl("msg_max"), mqueueSysctl("msgsize_max")))
	case unix.EMFILE:
		var rl unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_MSGQUEUE, &rl)
		return hint(err, fmt.Sprintf("your RLIMIT_MSGQUEUE (ulimit -q) of %d bytes is used up by other queues, "+
			"or the limit on open files is reached: remove unused queues or raise the limit", rl.Cur))
	case unix.EACCES:
		return hint(err, "you may not create or replace "+name+": choose another name with -q")
	}
	return err
}

// createError explains a failed create of t and says what to do.
func createError(err error, t target) error {
	if t.kind == kindMQ {
		return queueLimitError(err, t.queue)
	}
	limit := map[string]string{kindMsg: "/proc/sys/kernel/msgmni", kindSem: "the 4th field of /proc/sys/kernel/sem",
		kindShm: "/proc/sys/kernel/shmmni"}[t.kind]
	switch errnoOf(err) {
	case unix.EEXIST:
		return hint(err, fmt.Sprintf("another program, or an interrupted run, holds key %d (see ipcs); "+
			"choose another with --key, or remove it with -f", t.key))
	case unix.ENOSPC:
		return hint(err, "the limit on these objects is reached ("+limit+"): "+
			"remove unused ones (ipcs, ipcrm) or raise the limit")
	case unix.EINVAL, unix.ENOMEM:
		return hint(err, "the kernel's size limits do not allow it (/proc/sys/kernel/shmmax, shmall, msgmnb): raise them")
	case unix.EACCES:
		return hint(err, fmt.Sprintf("key %d is taken by an object you may not use: choose another with --key", t.key))
	}
	return err
}
