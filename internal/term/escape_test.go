package term

import (
	"testing"
	"unicode/utf8"
)

func TestEscape(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"plain", "sleep", "sleep"},
		{"unicode letters", "café-größe", "café-größe"},
		{"an erasing sequence", "\x1b[9A\x1b[J\x1b[8m", `\x1b[9A\x1b[J\x1b[8m`},
		{"carriage return and bell", "a\rb\x07", `a\rb\x07`},
		{"newline and tab", "a\nb\tc", `a\nb\tc`},
		{"DEL", "a\x7f", `a\x7f`},
		{"a C1 CSI as a character", "a\u009b2J", `a\u009b2J`},
		{"a C1 CSI as a lone byte", "a\x9b2J", `a\x9b2J`},
		{"a right-to-left override", "evil\u202etxt", `evil\u202etxt`},
		{"a backslash", `a\x1b`, `a\\x1b`},
		{"a cut UTF-8 sequence", "ab\xc3", `ab\xc3`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := Escape(tt.in)
			if got != tt.want {
				t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
			}
			for _, r := range got {
				if r < 0x20 || r == 0x7f || r >= 0x80 && unsafeRune(r) || !utf8.ValidString(got) {
					t.Errorf("Escape(%q) = %q keeps %U", tt.in, got, r)
				}
			}
		})
	}
}

func FuzzEscape(f *testing.F) {
	f.Add("\x1b[2J\r\x9b\u009b\u202e\\")
	f.Fuzz(func(t *testing.T, s string) {
		got := Escape(s)
		if !utf8.ValidString(got) {
			t.Fatalf("Escape(%q) = %q is not UTF-8", s, got)
		}
		for _, r := range got {
			if r < 0x20 || r == 0x7f || r >= 0x80 && unsafeRune(r) {
				t.Fatalf("Escape(%q) = %q keeps %U", s, got, r)
			}
		}
	})
}
