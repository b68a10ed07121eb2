// namespaces.go: the identities of the namespaces in play, as the links in
// /proc/PID/ns show them (namespaces(7)): "ipc:[4026531839]". Two processes
// share a namespace exactly when their links read the same.

package main

import (
	"os"
	"strings"
)

// shownNamespaces are the namespaces worth showing for a run: ipc for the
// exchange, and each one the options ask for, in a fixed order.
func shownNamespaces(cfg *config, ipc bool) []string {
	var names []string
	for _, n := range []struct {
		on   bool
		name string
	}{
		{ipc, "ipc"},
		{cfg.NewPID, "pid"},
		{cfg.NewMount, "mnt"},
		{cfg.Hostname != "", "uts"},
		{cfg.NewNet, "net"},
		{cfg.NewUser, "user"},
	} {
		if n.on {
			names = append(names, n.name)
		}
	}
	return names
}

// nsIDs reads the identities of process pid ("self" for this one).
func nsIDs(pid string, names []string) map[string]string {
	ids := make(map[string]string, len(names))
	for _, n := range names {
		id, err := os.Readlink("/proc/" + pid + "/ns/" + n)
		if err != nil {
			id = "unknown (" + strerror(err) + ")"
		}
		ids[n] = id
	}
	return ids
}

// nsLine is the identities in the order of names, for a verbose line.
func nsLine(ids map[string]string, names []string) string {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = ids[n]
	}
	return strings.Join(parts, " ")
}
