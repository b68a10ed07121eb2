// escape.go: text from outside (a process's name, a container's, what an
// engine answers, a path) shown so that nobody can forge the output with
// it: every control character, the terminal's and Unicode's, escaped as
// ls(1) and lsns(8) escape it, never written raw.

package term

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Escape is s with every byte or character that could act on a terminal
// or change how a line reads escaped: C0 and C1 controls and DEL ("\x1b",
// "\r", "\u009b"), Unicode's formatting characters (a right-to-left
// override, "\u202e") and line separators, and bytes that are not UTF-8
// ("\x9b"); a backslash is doubled, so that what is escaped reads apart
// from what was typed so. Plain text comes back as it was.
func Escape(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// needsEscape says whether s holds anything Escape changes.
func needsEscape(s string) bool {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return true
			}
		}
		if r < 0x20 || r == 0x7f || r == '\\' || r >= 0x80 && unsafeRune(r) {
			return true
		}
	}
	return false
}

// unsafeRune is a character beyond ASCII that a terminal may act on, or
// that changes how the text around it reads: a C1 control (0x9b is CSI),
// a formatting character (Cf: the bidirectional overrides, zero widths),
// a line or paragraph separator.
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}
