// spawn.go: how the parent starts the child. A Go program cannot clone(2)
// and go on running Go code in the new process, so the child is this binary
// re-executed with SysProcAttr.Cloneflags, which is clone(2) with those
// flags followed by execve(2).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// childName is argv[0] of the re-executed child, so that ps shows what it is.
const childName = "invoke_ns: child"

// cloneFlags are the namespaces the options ask for.
func cloneFlags(cfg *config) uintptr {
	var flags uintptr
	for _, f := range []struct {
		on   bool
		flag uintptr
	}{
		{cfg.NewUser, unix.CLONE_NEWUSER},
		{cfg.NewIPC, unix.CLONE_NEWIPC},
		{cfg.NewPID, unix.CLONE_NEWPID},
		{cfg.NewMount, unix.CLONE_NEWNS},
		{cfg.Hostname != "", unix.CLONE_NEWUTS},
		{cfg.NewNet, unix.CLONE_NEWNET},
	} {
		if f.on {
			flags |= f.flag
		}
	}
	return flags
}

// buildCmd describes the child without starting it. in and out are the
// child's ends of the handshake pipes; stdout is where its lines go.
func buildCmd(cfg *config, in, out *os.File, stdout io.Writer, uid, gid int) *exec.Cmd {
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{childName},
		Env:        append(os.Environ(), childEnv+"=3 4"),
		Stdin:      os.Stdin,
		Stdout:     stdout,
		Stderr:     os.Stderr,
		ExtraFiles: []*os.File{in, out},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: cloneFlags(cfg),
			// Ends the child if the parent is killed outright. It is tied
			// to the thread that starts the child: runParent locks it.
			Pdeathsig: syscall.SIGKILL,
		},
	}
	if cfg.NewUser {
		// As unshare --map-root-user: root inside is the caller outside.
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 1}}
		cmd.SysProcAttr.GidMappingsEnableSetgroups = false
	}
	return cmd
}

// child is a started child and the parent's end of the handshake.
type child struct {
	cmd     *exec.Cmd
	link    *link
	exited  chan struct{} // closed once the child is reaped
	waitErr error         // cmd.Wait's result, once exited is closed
}

// startChild starts the child and hands it the config.
func startChild(cfg *config, stdout io.Writer) (*child, error) {
	toChildR, toChildW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("pipe: %w", err)
	}
	fromChildR, fromChildW, err := os.Pipe()
	if err != nil {
		toChildR.Close()
		toChildW.Close()
		return nil, fmt.Errorf("pipe: %w", err)
	}
	cmd := buildCmd(cfg, toChildR, fromChildW, stdout, os.Getuid(), os.Getgid())
	err = cmd.Start()
	// The child has its copies now; holding ours would hide its EOF.
	toChildR.Close()
	fromChildW.Close()
	if err != nil {
		toChildW.Close()
		fromChildR.Close()
		return nil, cloneError(cfg, err)
	}
	c := &child{cmd: cmd, link: newLink(fromChildR, toChildW), exited: make(chan struct{})}
	// One waiter only: a second would steal the status (rootlesskit #129).
	go func() {
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	if err := c.link.send(message{Step: stepConfig, Config: cfg}); err != nil {
		c.kill()
		return nil, err
	}
	return c, nil
}

// cloneError says why the kernel refused the child, and what to do.
func cloneError(cfg *config, err error) error {
	err = fmt.Errorf("starting the child in new namespaces: %w", err)
	denied := errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES)
	switch {
	case cfg.NewUser && (denied || errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EUSERS)):
		return hint(err, "this host does not let you create a user namespace; "+
			"look at sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone "+
			"and kernel.apparmor_restrict_unprivileged_userns, or run as root without -U")
	case denied:
		return hint(err, "creating namespaces needs root or CAP_SYS_ADMIN: run with sudo, or add -U to run without root")
	}
	return err
}

// wait blocks until the child is reaped and returns cmd.Wait's result.
func (c *child) wait() error {
	<-c.exited
	return c.waitErr
}

// gone says whether the child has been reaped.
func (c *child) gone() bool {
	select {
	case <-c.exited:
		return true
	default:
		return false
	}
}

// reports delivers the child's reports, one per object, and is closed at
// EOF: the child has ended, or its end of the pipe has. Started once per
// child, so that no report is read by a reader nobody listens to.
func (c *child) reports() <-chan report {
	ch := make(chan report, 1)
	go func() {
		defer close(ch)
		for {
			m, err := c.link.next(stepReport)
			if err != nil || m.Report == nil {
				return
			}
			ch <- *m.Report
		}
	}()
	return ch
}

// kill ends the child and reaps it.
func (c *child) kill() {
	c.cmd.Process.Kill()
	c.wait()
}

// waitStatus digs the wait status out of cmd.Wait's result; ok is false
// when the error is not about how the child ended.
func waitStatus(err error) (ws syscall.WaitStatus, ok bool) {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		ws, ok = ee.Sys().(syscall.WaitStatus)
	}
	return ws, ok
}

// childStatus turns the child's end into invoke_ns's exit status, as
// unshare(1) does: its own status, or 128+N for signal N.
func childStatus(err error) error {
	if err == nil {
		return nil
	}
	ws, ok := waitStatus(err)
	if !ok {
		return fmt.Errorf("waiting for the child: %w", err)
	}
	if ws.Signaled() {
		return &statusError{code: 128 + int(ws.Signal())}
	}
	return &statusError{code: ws.ExitStatus()}
}
