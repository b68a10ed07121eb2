// namespaces.go: the identities of the namespaces in play, as the links in
// /proc/PID/ns show them (namespaces(7)): "ipc:[4026531839]". Two processes
// share a namespace exactly when their links read the same.
package main

import (
	"os"
	"strings"
)

// nsKinds are the namespaces worth showing for cfg: ipc for the exchange,
// and each one the options ask for, in a fixed order.
func nsKinds(cfg *config) []string {
	var kinds []string
	for _, k := range []struct {
		on   bool
		name string
	}{
		{cfg.IPC, "ipc"},
		{cfg.NewPID, "pid"},
		{cfg.NewMount, "mnt"},
		{cfg.Hostname != "", "uts"},
		{cfg.NewNet, "net"},
		{cfg.NewUser, "user"},
	} {
		if k.on {
			kinds = append(kinds, k.name)
		}
	}
	return kinds
}

// nsIDs reads the identities of process pid ("self" for this one).
func nsIDs(pid string, kinds []string) map[string]string {
	ids := make(map[string]string, len(kinds))
	for _, k := range kinds {
		id, err := os.Readlink("/proc/" + pid + "/ns/" + k)
		if err != nil {
			id = "unknown (" + strerror(err) + ")"
		}
		ids[k] = id
	}
	return ids
}

// nsLine is the identities in the order of kinds, for a verbose line.
func nsLine(ids map[string]string, kinds []string) string {
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = ids[k]
	}
	return strings.Join(parts, " ")
}
