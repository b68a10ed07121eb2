package main

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// options lists the "-x, --long" pairs a text names.
func options(text string) []string {
	var found []string
	for _, m := range regexp.MustCompile(`(?m)^\s*(?:\.BR? )?(?:-([a-zA-Z]), )?--([a-z]+)`).FindAllStringSubmatch(text, -1) {
		found = append(found, m[1]+" "+m[2])
	}
	slices.Sort(found)
	return slices.Compact(found)
}

func TestManPageMatchesHelp(t *testing.T) {
	page, err := os.ReadFile("docs/invoke_ns.1")
	if err != nil {
		t.Fatal(err)
	}
	// troff writes "-" as "\-" and ", " between the bold names.
	roff := strings.NewReplacer(`\-`, "-", ` ", " `, ", ").Replace(string(page))
	help, manual := options(usageText), options(roff)
	if len(help) < 12 || !slices.Equal(help, manual) {
		t.Errorf("--help lists %v\nthe man page lists %v", help, manual)
	}
	for _, code := range []string{"0", "1", "2", "3", "4", "5", "6", "7"} {
		if !strings.Contains(string(page), ".B "+code+"\n") {
			t.Errorf("the man page does not explain exit status %s", code)
		}
	}
}

func TestManPageRenders(t *testing.T) {
	if _, err := exec.LookPath("man"); err != nil {
		t.Skipf("skipped %s: man is not installed (apt-get install man-db)", t.Name())
	}
	cmd := command(t, "man", "--warnings", "-l", "docs/invoke_ns.1")
	cmd.Env = append(os.Environ(), "MANWIDTH=80", "MANPAGER=cat", "PAGER=cat")
	out, err := cmd.Output()
	var stderr string
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = string(ee.Stderr)
	}
	if err != nil || !strings.Contains(string(out), "EXIT STATUS") {
		t.Errorf("man -l: %v\n%s", err, stderr)
	}
}

// The bash completion offers every option --help lists, and no other.
func TestCompletionMatchesHelp(t *testing.T) {
	b, err := os.ReadFile("docs/invoke_ns.bash-completion")
	if err != nil {
		t.Fatal(err)
	}
	_, words, _ := strings.Cut(string(b), "compgen -W '-h")
	words, _, _ = strings.Cut("-h"+words, "'")
	var offered, listed []string
	for _, w := range strings.Fields(words) {
		offered = append(offered, w)
	}
	for _, m := range regexp.MustCompile(`(?m)^\s+(?:(-[a-zA-Z]), )?(--[a-z]+)`).FindAllStringSubmatch(usageText, -1) {
		if m[1] != "" {
			listed = append(listed, m[1])
		}
		listed = append(listed, m[2])
	}
	slices.Sort(offered)
	slices.Sort(listed)
	if !slices.Equal(offered, listed) {
		t.Errorf("completion offers %v\n--help lists %v", offered, listed)
	}
}
