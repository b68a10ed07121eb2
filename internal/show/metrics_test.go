package show

import "testing"

// TestLabel: a label's value escaped as Prometheus' text format reads it
// back, so that no container's name can end a label or a line early.
func TestLabel(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{"web", `pod="web"`},
		{`a"b`, `pod="a\"b"`},
		{`back\slash`, `pod="back\\slash"`},
		{"two\nlines", `pod="two\nlines"`},
		{"ünïcode\t", "pod=\"ünïcode\t\""},
	} {
		if got := label("pod", tc.value); got != tc.want {
			t.Errorf("label(pod, %q) = %s, want %s", tc.value, got, tc.want)
		}
	}
}
