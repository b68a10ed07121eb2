// Command floor is the least a Go program can do to give invoke_ns's
// verdict: start the Go runtime, re-execute itself in a new IPC namespace,
// start the runtime again there, and wait for that child to end. make bench
// measures it as the floor that invoke_ns's timings are compared with.
//
// It calls syscall.ForkExec and Wait4 directly, as invoke_ns does: os/exec
// would add a probe process of its own (see BENCHMARKS.md). Its child's
// runtime runs on one P, as invoke_ns's child does, so that the floor is
// what a Go program at its leanest pays.
package main

import (
	"fmt"
	"os"
	"syscall"
)

const childEnv = "_FLOOR_CHILD"

func main() {
	if os.Getenv(childEnv) != "" {
		return
	}
	env := append(os.Environ(), childEnv+"=1")
	if _, set := os.LookupEnv("GOMAXPROCS"); !set {
		env = append(env, "GOMAXPROCS=1")
	}
	pid, err := syscall.ForkExec("/proc/self/exe", []string{"floor: child"}, &syscall.ProcAttr{
		Env:   env,
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWIPC},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor: starting the child in a new IPC namespace:", err)
		os.Exit(1)
	}
	var ws syscall.WaitStatus
	for {
		_, err = syscall.Wait4(pid, &ws, 0, nil)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil || ws.ExitStatus() != 0 {
		fmt.Fprintln(os.Stderr, "floor: the child failed:", err, ws)
		os.Exit(1)
	}
}
