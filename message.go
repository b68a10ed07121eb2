// message.go: reading the child's message. It is one line of stdin, read a
// byte at a time so that nothing after the newline is taken: the child's
// command may read the rest. Nothing is cut or changed: a line that does
// not fit is refused whole.

package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// The article's prompt, to the byte.
const promptText = "\n     Child: enter a message to send to the parent process (MAX 80 chars)\n     >> "

// comparePrompt is --compare's: the parent reads the message for both
// children.
const comparePrompt = "\n     Parent: enter a message for both children to send (MAX 80 chars)\n     >> "

var errNoMessage = errors.New("no message was given (end of input)")

// tooLongError is a line longer than the queue's messages can hold.
type tooLongError struct{ size int }

func (e *tooLongError) Error() string {
	return fmt.Sprintf("the message is %d bytes, more than the %d that fit", e.size, messageMax)
}

// readLine reads up to a newline, which it drops, or up to the end of
// input. It returns errNoMessage when the input ends before any byte, and
// a *tooLongError, after taking the whole line, when the line has more
// than max bytes.
func readLine(r io.Reader, max int) ([]byte, error) {
	var line []byte
	size := 0
	b := make([]byte, 1)
	for {
		n, err := r.Read(b)
		if n == 1 {
			if b[0] == '\n' {
				break
			}
			if size < max {
				line = append(line, b[0])
			}
			size++
			continue
		}
		if errors.Is(err, io.EOF) {
			if size == 0 {
				return nil, errNoMessage
			}
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if size > max {
		return nil, &tooLongError{size}
	}
	if line == nil {
		line = []byte{}
	}
	return line, nil
}

// isTerminal says whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// promptMessage shows the prompt on out and reads the message from in. On
// a terminal a line that is too long is explained and asked for again;
// elsewhere it is refused. When in is not a terminal, the line read is
// echoed after the prompt, so that the transcript reads as on a terminal.
func promptMessage(in *os.File, out io.Writer, prompt string) ([]byte, error) {
	tty := isTerminal(in)
	io.WriteString(out, prompt)
	for {
		line, err := readLine(in, messageMax)
		var tl *tooLongError
		if tty && errors.As(err, &tl) {
			fmt.Fprintf(out, "     That is %d bytes; at most %d fit. Try again\n     >> ", tl.size, messageMax)
			continue
		}
		switch {
		case err == nil && !tty:
			fmt.Fprintf(out, "%s\n\n", line)
		case err == nil: // the terminal has echoed the line and its newline
			io.WriteString(out, "\n")
		default: // the cursor is still after ">> "
			io.WriteString(out, "\n\n")
		}
		return line, err
	}
}
