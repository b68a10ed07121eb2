// line.go: reading the message a person types. It is one line of
// standard input, read a byte at a time so that nothing after the newline
// is taken: the child's command may read the rest. Nothing is cut or
// changed: a line that does not fit is refused whole, and what is left of
// it is read in large pieces and dropped, up to a bound, so that even an
// endless line is refused at once.

package term

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// ErrNoMessage is an input that ends before a line.
var ErrNoMessage = errors.New("no message was given (end of input)")

// DiscardMax bounds how much of a line that does not fit is read: one
// with no newline within it (</dev/zero) is refused as endless.
const DiscardMax = 1 << 20

// TooLongError is a line longer than the objects' messages can hold.
type TooLongError struct {
	Size    int  // its bytes, without the newline
	Chars   int  // its characters, as UTF-8 counts them
	Endless bool // no newline within DiscardMax bytes: Size is a floor
	Max     int  // the bytes that fit
}

func (e *TooLongError) Error() string {
	if e.Endless {
		return fmt.Sprintf("the message goes on past %d bytes, far more than the %d that fit", DiscardMax, e.Max)
	}
	return fmt.Sprintf("the message is %d bytes, more than the %d that fit", e.Size, e.Max)
}

// ReadLine reads up to a newline, which it drops, or up to the end of
// input. It returns ErrNoMessage when the input ends before any byte, and
// a *TooLongError when the line has more than max bytes: up to max+1 bytes
// are read one at a time, and the rest of a longer line in large reads,
// which may take some of what follows it too.
func ReadLine(r io.Reader, max int) ([]byte, error) {
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
			return nil, ErrNoMessage
		case errors.Is(err, io.EOF):
			return line, nil
		case err != nil:
			return nil, err
		}
	}
	tl := &TooLongError{Size: len(line), Chars: chars(line), Max: max}
	buf := make([]byte, 64<<10)
	for tl.Size < DiscardMax {
		n, err := r.Read(buf)
		chunk, _, found := bytes.Cut(buf[:n], []byte{'\n'})
		tl.Size += len(chunk)
		tl.Chars += chars(chunk)
		if found || errors.Is(err, io.EOF) {
			return nil, tl
		}
		if err != nil {
			return nil, err
		}
	}
	tl.Endless = true
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

// IsTerminal says whether f is a terminal.
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// Prompt shows the prompt on out and reads a line of at most max bytes
// from in. On
// a terminal a line that is too long is explained and asked for again;
// elsewhere it is refused. When in is not a terminal, the line read is
// echoed after the prompt, so that the transcript reads as on a terminal.
func Prompt(in *os.File, out io.Writer, prompt string, max int) ([]byte, error) {
	tty := IsTerminal(in)
	io.WriteString(out, prompt)
	for {
		line, err := ReadLine(in, max)
		var tl *TooLongError
		if tty && errors.As(err, &tl) {
			fmt.Fprintf(out, "     That is %d characters (%d bytes); at most %d bytes fit. Try again\n     >> ",
				tl.Chars, tl.Size, max)
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
