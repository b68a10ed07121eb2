// Package ns is the namespaces of Linux as invoke_ns sees them: the
// types it can make a child in, one table; the identities of a process's
// namespaces, as /proc/PID/ns shows them (namespaces(7)); a handle on an
// IPC namespace that exists already, which a thread joins (setns(2)); and
// the scan of /proc for every IPC namespace a process is in. It knows
// nothing of IPC objects, of the child's protocol, or of what invoke_ns
// prints.
package ns

import (
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Type is one kind of namespace: its name in /proc/PID/ns, and the
// clone(2) flag that makes a new one.
type Type struct {
	Name string
	Flag uintptr
}

// Types are every type a child can be made in, in the order they are
// shown: the IPC namespace first, for the exchange.
var Types = []Type{
	{"ipc", unix.CLONE_NEWIPC},
	{"pid", unix.CLONE_NEWPID},
	{"mnt", unix.CLONE_NEWNS},
	{"uts", unix.CLONE_NEWUTS},
	{"net", unix.CLONE_NEWNET},
	{"user", unix.CLONE_NEWUSER},
}

// Set is a set of types, as the clone(2) flags of the new ones.
type Set uintptr

// Has says whether s holds the type of flag.
func (s Set) Has(flag uintptr) bool { return uintptr(s)&flag != 0 }

// Names are the names of the types in s, in the order of Types.
func (s Set) Names() []string {
	var names []string
	for _, t := range Types {
		if uintptr(s)&t.Flag != 0 {
			names = append(names, t.Name)
		}
	}
	return names
}

// IDs reads the identities of process pid ("self" for this one), such as
// "ipc:[4026531839]". Two processes share a namespace exactly when their
// links read the same.
func IDs(pid string, names []string) map[string]string {
	ids := make(map[string]string, len(names))
	for _, n := range names {
		id, err := os.Readlink("/proc/" + pid + "/ns/" + n)
		if err != nil {
			id = "unknown (" + err.Error() + ")"
		}
		ids[n] = id
	}
	return ids
}

// Line is the identities in the order of names, for a verbose line.
func Line(ids map[string]string, names []string) string {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = ids[n]
	}
	return strings.Join(parts, " ")
}
