// limits_test.go: each IPC namespace's limits, read inside it. In an IPC
// namespace of the test's own, tuned as a host for a database might be,
// the parent's namespace and the -i no child's show the tuned values, and
// the -i yes child's the kernel's defaults: in JSON, keyed by sysctl, and
// in text, marked where they differ.

package main

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

// tuned are the limits the test sets in its namespace, which no kernel
// has by default.
var tuned = map[string]int{"fs.mqueue.queues_max": 300, "kernel.msgmni": 1000}

// inTuned runs the binary with args in an IPC namespace of its own (and,
// without root, a user namespace to own it), whose limits are tuned.
func inTuned(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	unshare := []string{"--ipc"}
	if len(privFlags(t)) > 0 {
		unshare = append(unshare, "--user", "--map-root-user")
	}
	script := ""
	for name, v := range tuned {
		script += "echo " + strconv.Itoa(v) + " > /proc/sys/" + strings.ReplaceAll(name, ".", "/") + " && "
	}
	cmd := command(t, tool(t, "unshare"), append(unshare, "sh", "-c", script+`exec "$0" "$@"`, binary)...)
	cmd.Args = append(cmd.Args, args...)
	cmd.Stdin = strings.NewReader(stdin)
	return finish(t, cmd)
}

// fresh is the value of a sysctl in a new IPC namespace: the kernel's
// default.
func fresh(t *testing.T, name string) int {
	t.Helper()
	unshare := []string{"--ipc"}
	if len(privFlags(t)) > 0 {
		unshare = append(unshare, "--user", "--map-root-user")
	}
	out, err := command(t, tool(t, "unshare"), append(unshare, "cat", "/proc/sys/"+strings.ReplaceAll(name, ".", "/"))...).Output()
	v, perr := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || perr != nil {
		t.Fatalf("%s in a new IPC namespace: %v %v", name, err, perr)
	}
	return v
}

func TestLimits(t *testing.T) {
	flags := privFlags(t)
	r := inTuned(t, "hi\n", append(flags, "-c", "--json")...)
	var got jsonCompare
	decode(t, r.stdout, &got, map[string]bool{})
	if r.code != exitOK || len(got.Runs) != 2 {
		t.Fatalf("exit %d, %+v\n%s", r.code, got, r.stderr)
	}
	var limits jsonLimits
	decode(t, r.stdout, &limits, map[string]bool{})
	for name, v := range tuned {
		def := fresh(t, name)
		if def == v {
			t.Fatalf("%s is %d by default: it tells nothing", name, v)
		}
		for i, want := range map[string][2]int{"shared": {v, v}, "new": {v, def}} {
			run := limits.Runs[slices.IndexFunc(got.Runs, func(r *jsonRun) bool { return r.Run == i })]
			if p, c := run.Parent[name], run.Child[name]; p != float64(want[0]) || c != float64(want[1]) {
				t.Errorf("run %s, %s: parent's %v, child's %v; want %d and %d", i, name, p, c, want[0], want[1])
			}
		}
	}
	if sem, ok := limits.Runs[0].Child["kernel.sem"].([]any); !ok || len(sem) != 4 {
		t.Errorf("kernel.sem: %v, want four numbers", limits.Runs[0].Child["kernel.sem"])
	}
	// In words: --compare's table shows what differs, and -vv each.
	text := inTuned(t, "hi\n", append(flags, "-c")...).stdout
	for name, v := range tuned {
		want := name + " " + strconv.Itoa(v) + " " + strconv.Itoa(v) + " " + strconv.Itoa(fresh(t, name)) + " *"
		if !strings.Contains(flat(text), want) {
			t.Errorf("-c: no %q:\n%s", want, text)
		}
	}
	for _, ipc := range []string{"yes", "no"} {
		text := inTuned(t, "hi\n", append(flags, "-vv", "-i", ipc)...).stdout
		for name, v := range tuned {
			want := name + " " + strconv.Itoa(v) + " " + strconv.Itoa(fresh(t, name)) + " *"
			if ipc == "no" {
				want = name + " " + strconv.Itoa(v) + " " + strconv.Itoa(v) + " "
			}
			if !strings.Contains(flat(text)+" ", want) {
				t.Errorf("-vv -i %s: no %q:\n%s", ipc, want, text)
			}
		}
	}
}

// jsonLimits are the limits of --compare's runs, by sysctl name.
type jsonLimits struct {
	Runs []struct {
		Parent map[string]any `json:"parent_limits"`
		Child  map[string]any `json:"child_limits"`
	} `json:"runs"`
}
