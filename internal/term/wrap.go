// Package term keeps what invoke_ns prints within 80 columns, for a
// terminal or a projector, and reads the line a person types. It knows
// nothing of namespaces or IPC objects: it wraps sentences, lays out
// tables, keeps a transcript's first failed write, and reads one line.
package term

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"unicode/utf8"
)

// Columns is the width everything fits.
const Columns = 80

// Wrap breaks text at spaces into lines of at most width columns, the
// first starting with first and the others with indent. A word longer
// than a line is cut.
func Wrap(first, indent, text string, width int) []string {
	var lines []string
	line := first
	room := func(s string) int { return width - utf8.RuneCountInString(s) }
	for _, word := range strings.Fields(text) {
		fresh := line == first || line == indent
		switch {
		case fresh && utf8.RuneCountInString(word) <= room(line):
			line += word
		case !fresh && utf8.RuneCountInString(word)+1 <= room(line):
			line += " " + word
		default:
			if !fresh {
				lines = append(lines, line)
				line = indent
			}
			for utf8.RuneCountInString(word) > room(line) && room(line) > 0 {
				cut := breakAt(word, room(line))
				lines = append(lines, line+word[:cut])
				line, word = indent, word[cut:]
			}
			line += word
		}
	}
	return append(lines, line)
}

// breakAt is where a word too long for a line of n columns is broken:
// after the last "/" or "-" within them, as a path or a name reads best
// (default/ hostipc-pod), or else after n runes.
func breakAt(word string, n int) int {
	cut := CutAt(word, n)
	if i := strings.LastIndexAny(word[:cut], "/-"); i > 0 {
		return i + 1
	}
	return cut
}

// CutAt is the byte offset of the first n runes of s.
func CutAt(s string, n int) int {
	for i := range s {
		if n == 0 {
			return i
		}
		n--
	}
	return len(s)
}

// Sentence writes text as lines of at most Columns, each after the first
// indented to line up with the text after prefix.
func Sentence(w io.Writer, prefix, text string) {
	for _, l := range Wrap(prefix, strings.Repeat(" ", len(prefix)), text, Columns) {
		fmt.Fprintln(w, l)
	}
}

func total(ws []int) int {
	n := 0
	for _, w := range ws {
		n += w
	}
	return n
}

// Table writes rows of cells in columns of at most Columns in all: each
// column as wide as its widest cell, the widest of those after the first
// made narrower while they do not fit, and a cell too wide for its column
// broken onto further lines.
func Table(w io.Writer, rows [][]string) {
	const gap = 2
	if len(rows) == 0 {
		return
	}
	n := len(rows[0])
	widths := make([]int, n)
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	// Too wide in all: the widest column but the first gives up a column
	// at a time, down to eight.
	for total(widths)+gap*(n-1) > Columns {
		widest := 0
		for i := 1; i < n; i++ {
			if widest == 0 || widths[i] > widths[widest] {
				widest = i
			}
		}
		if widest == 0 || widths[widest] <= 8 {
			break
		}
		widths[widest]--
	}
	for _, r := range rows {
		cells := make([][]string, n)
		height := 1
		for i, c := range r {
			cells[i] = []string{c} // a label keeps its indent, and its width
			if i > 0 {
				cells[i] = Wrap("", "", c, widths[i])
			}
			height = max(height, len(cells[i]))
		}
		for l := 0; l < height; l++ {
			var b strings.Builder
			for i := range n {
				part := ""
				if l < len(cells[i]) {
					part = cells[i][l]
				}
				if i < n-1 {
					part += strings.Repeat(" ", widths[i]-utf8.RuneCountInString(part)+gap)
				}
				b.WriteString(part)
			}
			fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		}
	}
}

// Transcript is where a side's lines go. It keeps the first error of a
// write, so that a run whose lines were lost does not end as a success,
// and calls Broken, if set, when it is that the reader has gone (EPIPE).
type Transcript struct {
	W      io.Writer
	Err    error
	Broken func()
}

func (t *Transcript) Write(b []byte) (int, error) {
	n, err := t.W.Write(b)
	if err != nil && t.Err == nil {
		t.Err = err
		if t.Broken != nil && errors.Is(err, syscall.EPIPE) {
			t.Broken()
		}
	}
	return n, err
}
