// message.go: reading the child's message. It is one line of stdin, read a
// byte at a time so that nothing after the newline is taken: the child's
// command may read the rest. Nothing is cut or changed: a line that does
// not fit is refused whole, and what is left of it is read in large pieces
// and dropped, up to a bound, so that even an endless line is refused at
// once.

package main

import (
	"bytes"
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

// discardMax bounds how much of a line that does not fit is read: one
// with no newline within it (</dev/zero) is refused as endless.
const discardMax = 1 << 20

// tooLongError is a line longer than the queue's messages can hold.
type tooLongError struct {
	size    int  // its bytes, without the newline
	chars   int  // its characters, as UTF-8 counts them
	endless bool // no newline within discardMax bytes: size is a floor
}

func (e *tooLongError) Error() string {
	if e.endless {
		return fmt.Sprintf("the message goes on past %d bytes, far more than the %d that fit", discardMax, messageMax)
	}
	return fmt.Sprintf("the message is %d bytes, more than the %d that fit", e.size, messageMax)
}

// readLine reads up to a newline, which it drops, or up to the end of
// input. It returns errNoMessage when the input ends before any byte, and
// a *tooLongError when the line has more than max bytes: up to max+1 bytes
// are read one at a time, and the rest of a longer line in large reads,
// which may take some of what follows it too.
func readLine(r io.Reader, max int) ([]byte, error) {
	line := make([]byte, 0, max+1)
	b := make([]byte, 1)
	for len(line) <= max {
		n, err := r.Read(b)
		switch {
		case n == 1 && b[0] == '\n':
			return line, nil
		case n == 1:
			line = append(line, b[0])
		case errors.Is(err, io.EOF) && len(line) == 0:
			return nil, errNoMessage
		case errors.Is(err, io.EOF):
			return line, nil
		case err != nil:
			return nil, err
		}
	}
	tl := &tooLongError{size: len(line), chars: chars(line)}
	buf := make([]byte, 64<<10)
	for tl.size < discardMax {
		n, err := r.Read(buf)
		chunk, _, found := bytes.Cut(buf[:n], []byte{'\n'})
		tl.size += len(chunk)
		tl.chars += chars(chunk)
		if found || errors.Is(err, io.EOF) {
			return nil, tl
		}
		if err != nil {
			return nil, err
		}
	}
	tl.endless = true
	return nil, tl
}

// chars counts the characters of UTF-8 text as the bytes that start one,
// so that a count over pieces cut anywhere adds up.
func chars(b []byte) int {
	n := 0
	for _, c := range b {
		if c&0xc0 != 0x80 {
			n++
		}
	}
	return n
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
			fmt.Fprintf(out, "     That is %d characters (%d bytes); at most %d bytes fit. Try again\n     >> ",
				tl.chars, tl.size, messageMax)
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
