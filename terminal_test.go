// terminal_test.go: runs on a pseudo-terminal, as a person at the keyboard
// would see them.

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY returns the master and the slave of a new pseudo-terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("skipped %s: no pseudo-terminal: %v", t.Name(), err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}

// onTerminal runs the binary on a pseudo-terminal, typing each line once
// the transcript shows the text before it, and returns the screen's text
// with the terminal's \r\n made \n.
func onTerminal(t *testing.T, args []string, script ...string) (string, int) {
	t.Helper()
	m, s := openPTY(t)
	defer m.Close()
	cmd := command(t, binary, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s, s, s
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	var screen bytes.Buffer
	buf := make([]byte, 4096)
	for len(script) > 0 || buf != nil {
		n, err := m.Read(buf)
		screen.Write(buf[:n])
		shown := strings.ReplaceAll(screen.String(), "\r\n", "\n")
		if len(script) > 1 && strings.HasSuffix(shown, script[0]) {
			m.Write([]byte(script[1]))
			script = script[2:]
		}
		if err != nil { // EIO once the last process holding the terminal has gone
			if len(script) > 0 {
				t.Errorf("the run ended before %q:\n%s", script[0], screen.String())
			}
			break
		}
	}
	err := cmd.Wait()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	}
	return strings.ReplaceAll(screen.String(), "\r\n", "\n"), code
}

// A piped run prints what a terminal shows, in the same order.
func TestPipedRunReadsAsOnATerminal(t *testing.T) {
	flags := privFlags(t)
	q := testQueue(t)
	args := append(flags, "-i", "no", "-q", q)
	screen, code := onTerminal(t, args, ">> ", pianoRiffs+"\n")
	if code != exitOK {
		t.Fatalf("on a terminal: exit %d\n%s", code, screen)
	}
	piped := invoke(t, pianoRiffs+"\n", args...)
	if piped.stdout != screen {
		t.Errorf("piped stdout:\n%q\nterminal:\n%q", piped.stdout, screen)
	}
}

// On a terminal, a message that does not fit is explained and asked for again.
func TestTerminalAsksAgain(t *testing.T) {
	flags := privFlags(t)
	long := strings.Repeat("ü", 41) // 82 bytes, 41 characters
	screen, code := onTerminal(t, append(flags, "-i", "no", "-q", testQueue(t)),
		">> ", long+"\n", "Try again\n     >> ", "short\n")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, screen)
	}
	if !strings.Contains(screen, "That is 41 characters (82 bytes); at most 80 bytes fit. Try again\n") {
		t.Errorf("no explanation of the limit:\n%s", screen)
	}
	if !strings.Contains(screen, "received from the child\n     >> short\n") || strings.Count(screen, long) != 1 {
		t.Errorf("the second line was not the one sent:\n%s", screen)
	}
}
