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
	for _, m := range regexp.MustCompile(`(?m)^\s*(?:\.BR? )?(?:-([a-zA-Z]), )?--([a-z][a-z-]*[a-z])`).FindAllStringSubmatch(text, -1) {
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
	for _, code := range []string{"0", "1", "2", "3", "4", "5", "6", "7", "8"} {
		if !strings.Contains(string(page), ".B "+code+"\n") {
			t.Errorf("the man page does not explain exit status %s", code)
		}
	}
}

func TestManPageRenders(t *testing.T) {
	cmd := command(t, tool(t, "man"), "--warnings", "-l", "docs/invoke_ns.1")
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
	offered := strings.Fields(words)
	slices.Sort(offered)
	if listed := helpWords(); !slices.Equal(offered, listed) {
		t.Errorf("completion offers %v\n--help lists %v", offered, listed)
	}
}

// helpWords are the options --help lists, short and long, sorted.
func helpWords() []string {
	var listed []string
	for _, m := range regexp.MustCompile(`(?m)^\s+(?:(-[a-zA-Z]), )?(--[a-z][a-z-]*[a-z])`).FindAllStringSubmatch(usageText, -1) {
		if m[1] != "" {
			listed = append(listed, m[1])
		}
		listed = append(listed, m[2])
	}
	slices.Sort(listed)
	return listed
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
			tool(t, pkg)
		}
		for _, tt := range tests {
			t.Run(setup+"/"+tt.name, func(t *testing.T) {
				cmd := command(t, "bash", append([]string{"-c", script, "bash", setup, strconv.Itoa(len(tt.words) - 1)}, tt.words...)...)
				var stderr strings.Builder
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				if err != nil || stderr.Len() > 0 {
					t.Fatalf("%v\n%s", err, stderr.String())
				}
				checkOffers(t, strings.Fields(string(out)), tt.want, tt.has, tt.hasNone)
			})
		}
	}
}

// checkOffers fails unless a completion offered exactly want, when it is
// set; has among them, when set; and none that starts with hasNone.
func checkOffers(t *testing.T, got, want []string, has, hasNone string) {
	t.Helper()
	switch {
	case want != nil && !slices.Equal(got, want):
		t.Errorf("offers %q, want %q", got, want)
	case has != "" && !slices.Contains(got, has):
		t.Errorf("offers %q, none of them %q", got, has)
	case hasNone != "" && slices.ContainsFunc(got, func(w string) bool { return strings.HasPrefix(w, hasNone) }):
		t.Errorf("offers %q, some of them %q...", got, hasNone)
	}
}

// zshCapture prints, one per line, the matches zsh's completion system
// offers for the command line $2 with the cursor at its end, with the
// completion functions of the directory $1 first in fpath. It types the
// line into an interactive zsh on a pseudo-terminal (zpty), and compadd,
// wrapped, prints each match between two NUL lines; the shell then exits.
const zshCapture = `zmodload zsh/zpty || exit 1
init=$(mktemp) || exit 1
trap 'rm -f $init; zpty -d z 2>/dev/null' EXIT
cat >$init <<INIT
PS1= PS2= RPROMPT=
fpath=($1 \$fpath)
autoload -Uz compinit && compinit -u -D
zstyle ':completion:*' list-grouped false
zstyle ':completion:*' insert-tab false
bindkey '^I' complete-word
null-line() { print -rn -- \$'\0\n' }
compprefuncs=(null-line)
comppostfuncs=(null-line exit)
compadd() {
  if [[ \${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then
    builtin compadd "\$@"
    return
  fi
  local -a __hits
  builtin compadd -A __hits "\$@"
  local -A apre hpre asuf hsuf
  zparseopts -E P:=apre p:=hpre S:=asuf s:=hsuf
  local h
  for h in \$__hits; do
    print -r -- "\$IPREFIX\${apre[-P]}\${hpre[-p]}\$h\${hsuf[-s]}\${asuf[-S]}"
  done
  builtin compadd "\$@"
}
print ready
INIT
zpty z zsh -f -i
zpty -w z "source $init"
repeat 100; do
  zpty -r z line || exit 2
  [[ $line == ready* ]] && break
done
zpty -w -n z "$2"$'\t'
integer nul=0
while zpty -r z line; do
  line=${line//$'\r'/}
  line=${line%$'\n'}
  if [[ $line == *$'\0'* ]]; then
    (( nul++ )) && exit 0
    continue
  fi
  (( nul )) && print -r -- $line
done
exit 2`

// zshOffers is what the zsh completion offers for line, sorted. zsh
// finds it in fpath under the name make install gives it, _invoke_ns.
func zshOffers(t *testing.T, line string) []string {
	t.Helper()
	b, err := os.ReadFile("docs/invoke_ns.zsh-completion")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/_invoke_ns", b, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := command(t, tool(t, "zsh"), "-f", "-c", zshCapture, "zsh", dir, line)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("%q: %v\n%s", line, err, stderr.String())
	}
	got := strings.Fields(string(out))
	slices.Sort(got)
	return slices.Compact(got)
}

// The zsh completion offers every option --help lists, and no other.
func TestZshCompletionMatchesHelp(t *testing.T) {
	if got, listed := zshOffers(t, "invoke_ns -"), helpWords(); !slices.Equal(got, listed) {
		t.Errorf("zsh completion offers %v\n--help lists %v", got, listed)
	}
}

// The zsh completion, driven by zsh itself: the line typed, then a tab.
func TestZshCompletion(t *testing.T) {
	kinds := append(kindNames(), "all")
	slices.Sort(kinds)
	for _, tt := range []struct {
		name, line string
		want       []string // exactly these, when set
		has        string   // one of them, when set
		hasNone    string   // none of them starts so
	}{
		{"-vi: yes or no", "invoke_ns -vi ", []string{"no", "yes"}, "", ""},
		{"-vpmi: yes or no", "invoke_ns -vpmi ", []string{"no", "yes"}, "", ""},
		{"-i y", "invoke_ns -i y", []string{"yes"}, "", ""},
		{"-k: the kinds", "invoke_ns -k ", kinds, "", ""},
		{"-k a list", "invoke_ns -k msg,s", []string{"msg,sem", "msg,shm"}, "", ""},
		{"-u: nothing", "invoke_ns -u ", []string{}, "", ""},
		{"--ipc=", "invoke_ns --ipc=n", []string{"--ipc=no"}, "", ""},
		{"long options after an option's argument", "invoke_ns -vi yes --k", []string{"--key", "--kind"}, "", ""},
		{"options after -t's argument", "invoke_ns -t 30 -", nil, "--json", ""},
		{"the command", "invoke_ns -vi yes ech", nil, "echo", "-"},
		{"the command's own arguments", "invoke_ns -i no sh --", nil, "", "--kind"},
		{"after --, a command", "invoke_ns -p -- ech", nil, "echo", ""},
		{"--target: a namespace file", "invoke_ns --target /proc/sel", nil, "/proc/self", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			checkOffers(t, zshOffers(t, tt.line), tt.want, tt.has, tt.hasNone)
		})
	}
}
