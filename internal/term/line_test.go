package term

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

// lineMax is the article's 80 bytes.
const lineMax = 80

func TestReadLine(t *testing.T) {
	tests := []struct {
		name, in, want, rest string
		err                  error
		size                 int
	}{
		{"a line", "hello\nnext\n", "hello", "next\n", nil, 0},
		{"no newline at the end", "hello", "hello", "", nil, 0},
		{"empty line", "\nrest", "", "rest", nil, 0},
		{"nothing at all", "", "", "", ErrNoMessage, 0},
		{"exactly 80 bytes", strings.Repeat("a", 80) + "\n", strings.Repeat("a", 80), "", nil, 0},
		{"81 bytes, and what follows in the same read", strings.Repeat("a", 81) + "\nnext", "", "", &TooLongError{}, 81},
		{"40 two-byte characters fit", strings.Repeat("é", 40) + "\n", strings.Repeat("é", 40), "", nil, 0},
		{"41 two-byte characters do not", strings.Repeat("é", 41) + "\n", "", "", &TooLongError{}, 82},
		{"carriage return kept", "dos\r\n", "dos\r", "", nil, 0},
		{"a line of 100 kB, refused", strings.Repeat("z", 100000) + "\n", "", "", &TooLongError{}, 100000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := strings.NewReader(tt.in)
			got, err := ReadLine(r, lineMax)
			var tl *TooLongError
			switch {
			case tt.err == nil && err != nil:
				t.Fatalf("error %v", err)
			case errors.Is(tt.err, ErrNoMessage) && !errors.Is(err, ErrNoMessage):
				t.Fatalf("error %v, want ErrNoMessage", err)
			case tt.size > 0 && (!errors.As(err, &tl) || tl.Size != tt.size):
				t.Fatalf("error %v, want a line of %d bytes refused", err, tt.size)
			}
			if string(got) != tt.want {
				t.Errorf("line %q, want %q", got, tt.want)
			}
			if rest, _ := io.ReadAll(r); string(rest) != tt.rest {
				t.Errorf("left %q for the command, want %q", rest, tt.rest)
			}
		})
	}
}

func FuzzReadLine(f *testing.F) {
	for _, s := range []string{"hello\n", "", "\n", strings.Repeat("é", 41) + "\n", "a\x00b\n", strings.Repeat("x", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r := strings.NewReader(in)
		line, err := ReadLine(r, lineMax)
		first, _, hadNewline := strings.Cut(in, "\n")
		var tl *TooLongError
		switch {
		case errors.Is(err, ErrNoMessage):
			if in != "" {
				t.Fatalf("%q: no message, but the input had one", in)
			}
		case errors.As(err, &tl):
			if tl.Size != len(first) || len(first) <= lineMax || tl.Chars != utf8.RuneCountInString(first) && utf8.ValidString(first) {
				t.Fatalf("%q: refused as %d bytes, %d characters", in, tl.Size, tl.Chars)
			}
			return // the rest of a long line is read in large pieces
		case err != nil:
			t.Fatal(err)
		default:
			// What is read is the first line, whole and unchanged.
			if !bytes.Equal(line, []byte(first)) {
				t.Fatalf("%q: read %q, want %q", in, line, first)
			}
		}
		if hadNewline && r.Len() != len(in)-len(first)-1 {
			t.Fatalf("%q: took more than the first line", in)
		}
	})
}

// An endless line is refused after DiscardMax bytes, not read forever.
func TestReadLineEndless(t *testing.T) {
	var zero endlessReader
	_, err := ReadLine(&zero, lineMax)
	var tl *TooLongError
	if !errors.As(err, &tl) || !tl.Endless || zero.n > DiscardMax+64<<10 {
		t.Errorf("error %v after %d bytes, want an endless line refused within %d", err, zero.n, DiscardMax)
	}
}

// endlessReader is /dev/zero, counting what it gives.
type endlessReader struct{ n int }

func (z *endlessReader) Read(b []byte) (int, error) {
	clear(b)
	z.n += len(b)
	return len(b), nil
}
