package main

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
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

// The bash completion, driven as bash drives it: COMP_WORDS and
// COMP_CWORD set, the function called, COMPREPLY read. Once as a bare
// bash, once with the bash-completion package loaded.
func TestCompletion(t *testing.T) {
	const pkg = "/usr/share/bash-completion/bash_completion"
	// compopt works only while bash itself completes: outside, it only
	// fails, and it changes how results show, not which.
	script := `[ "$1" = package ] && . ` + pkg + `
compopt() { :; }
. docs/invoke_ns.bash-completion
COMP_CWORD=$2; shift 2
COMP_WORDS=("$@")
COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
_invoke_ns
printf '%s\n' "${COMPREPLY[@]}"`
	tests := []struct {
		name    string
		words   []string
		want    []string // exactly these, when set
		has     string   // one of them, when set
		hasNone string   // none of them starts so
	}{
		{"-vi: yes or no", []string{"invoke_ns", "-vi", ""}, []string{"yes", "no"}, "", ""},
		{"-vpmi: yes or no", []string{"invoke_ns", "-vpmi", ""}, []string{"yes", "no"}, "", ""},
		{"-i y", []string{"invoke_ns", "-i", "y"}, []string{"yes"}, "", ""},
		{"-k: the kinds", []string{"invoke_ns", "-k", ""}, append(kindNames(), "all"), "", ""},
		{"-k a list", []string{"invoke_ns", "-k", "msg,s"}, []string{"msg,sem", "msg,shm"}, "", ""},
		{"-u: nothing", []string{"invoke_ns", "-u", ""}, []string{}, "", ""},
		{"--ipc=, split at =", []string{"invoke_ns", "--ipc", "=", "n"}, []string{"no"}, "", ""},
		{"long options after an option's argument", []string{"invoke_ns", "-vi", "yes", "--k"}, []string{"--kind", "--key"}, "", ""},
		{"options after -t's argument", []string{"invoke_ns", "-t", "30", "-"}, nil, "--json", ""},
		{"the command", []string{"invoke_ns", "-vi", "yes", "ech"}, nil, "echo", "-"},
		{"the command's own arguments", []string{"invoke_ns", "-i", "no", "sh", "--"}, nil, "", "--kind"},
		{"after --, a command", []string{"invoke_ns", "-p", "--", "ech"}, nil, "echo", ""},
	}
	for _, setup := range []string{"bare", "package"} {
		if setup == "package" {
			if _, err := os.Stat(pkg); err != nil {
				t.Fatalf("%s is missing (apt-get install bash-completion): %v", pkg, err)
			}
		}
		for _, tt := range tests {
			t.Run(setup+"/"+tt.name, func(t *testing.T) {
				cmd := command(t, "bash", append([]string{"-c", script, "bash", setup, strconv.Itoa(len(tt.words) - 1)}, tt.words...)...)
				var stderr strings.Builder
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				got := strings.Fields(string(out))
				switch {
				case err != nil || stderr.Len() > 0:
					t.Fatalf("%v\n%s", err, stderr.String())
				case tt.want != nil && !slices.Equal(got, tt.want):
					t.Errorf("offers %q, want %q", got, tt.want)
				case tt.has != "" && !slices.Contains(got, tt.has):
					t.Errorf("offers %q, none of them %q", got, tt.has)
				case tt.hasNone != "" && slices.ContainsFunc(got, func(w string) bool { return strings.HasPrefix(w, tt.hasNone) }):
					t.Errorf("offers %q, some of them %q...", got, tt.hasNone)
				}
			})
		}
	}
}
