package term

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestWrap(t *testing.T) {
	tests := []struct {
		name, first, indent, text string
		width                     int
		want                      []string
	}{
		{"fits", "P: ", "   ", "a b c", 20, []string{"P: a b c"}},
		{"breaks at spaces", "P: ", "   ", "one two three four", 12, []string{"P: one two", "   three", "   four"}},
		{"a word too long is cut", "", "", "abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"a name too long is broken after a slash", "", "", "default/hostipc-pod/app", 12, []string{"default/", "hostipc-pod/", "app"}},
		{"or a dash", "", "", "kube-system/coredns", 8, []string{"kube-", "system/", "coredns"}},
		{"runes, not bytes", "", "", "éééé éé", 4, []string{"éééé", "éé"}},
		{"empty", "P: ", "   ", "", 10, []string{"P: "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Wrap(tt.first, tt.indent, tt.text, tt.width)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			for _, l := range got {
				if utf8.RuneCountInString(l) > tt.width {
					t.Errorf("%q is wider than %d", l, tt.width)
				}
			}
		})
	}
}

func TestTable(t *testing.T) {
	var b strings.Builder
	Table(&b, [][]string{
		{"", "shared (-i no)", "new (-i yes)"},
		{"  child's mq_open", "ok", "ENOENT (No such file or directory) and then some more words to wrap"},
	})
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[1], "  child's mq_open  ok") {
		t.Fatalf("table:\n%s", b.String())
	}
	for _, l := range lines {
		if utf8.RuneCountInString(l) > Columns {
			t.Errorf("%q is wider than %d", l, Columns)
		}
	}
	// A continuation line keeps the column's place.
	col := strings.Index(lines[0], "new (-i yes)")
	if strings.TrimSpace(lines[2][:col]) != "" || lines[2][col] == ' ' {
		t.Errorf("continuation not in its column:\n%s", b.String())
	}
}
