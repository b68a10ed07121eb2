// walkthrough_test.go: docs/walkthrough.md is runnable as written. Each
// command in it is run, and its output must match the captured one, up to
// the numbers (PIDs, keys, namespace identities) and column widths.

package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// example is one command of the walkthrough and the output shown for it.
type example struct {
	command string
	asUser  bool // "$ ": an ordinary user; "# ": root
	output  string
}

// examples reads the indented blocks: a line "    # cmd" or "    $ cmd",
// then the indented lines that follow it, up to the next command.
func examples(doc string) []example {
	var exs []example
	var cur *example
	for _, line := range strings.Split(doc, "\n") {
		body, indented := strings.CutPrefix(line, "    ")
		switch {
		case indented && (strings.HasPrefix(body, "# ") || strings.HasPrefix(body, "$ ")):
			exs = append(exs, example{command: body[2:], asUser: body[0] == '$'})
			cur = &exs[len(exs)-1]
		case cur != nil && (indented || line == ""):
			cur.output += body + "\n"
		default:
			cur = nil
		}
	}
	return exs
}

// normalize hides what differs from run to run and machine to machine.
// A sentence broken within 80 columns breaks elsewhere with numbers of
// other widths: a line that continues one (indented under its text) is
// joined to it first.
func normalize(s string) string {
	s = regexp.MustCompile(`\n {8,}(\S)`).ReplaceAllString(s, " $1")
	s = regexp.MustCompile(`0x[0-9a-f]+|[0-9]+`).ReplaceAllString(s, "N")
	s = regexp.MustCompile(`[ \t]+`).ReplaceAllString(s, " ")
	s = regexp.MustCompile(`(?m) +$`).ReplaceAllString(s, "")
	return strings.TrimSpace(s)
}

func TestWalkthrough(t *testing.T) {
	needRealRoot(t, "the walkthrough's root commands, and switching to uid 65534 for its others,")
	// What its commands run besides invoke_ns and the shell.
	for _, name := range []string{"runc", "busybox", "ps", "ip", "hostname", "ipcs", "unshare", "sysctl"} {
		tool(t, name)
	}
	doc, err := os.ReadFile("docs/walkthrough.md")
	if err != nil {
		t.Fatal(err)
	}
	exs := examples(string(doc))
	if len(exs) < 15 {
		t.Fatalf("found %d commands in docs/walkthrough.md", len(exs))
	}
	host, _ := os.Hostname()
	// The containers of section 10 live in a directory of this test's
	// own, and go whatever becomes of the commands.
	env := append(os.Environ(), "PATH="+filepath.Dir(binary)+":"+os.Getenv("PATH"),
		"CONTAINER_SH_STATE="+filepath.Join(t.TempDir(), "containers"))
	t.Cleanup(func() {
		stop := command(t, "docs/container.sh", "stop", "web", "hostipc", "sidecar")
		stop.Env = env
		stop.Run()
	})
	repo, _ := os.Getwd()
	for _, ex := range exs {
		t.Run(ex.command, func(t *testing.T) {
			cmd := command(t, "bash", "-c", ex.command)
			cmd.Dir = "/"
			if !ex.asUser {
				cmd.Dir = repo // where docs/container.sh is
			}
			cmd.Env = env
			if ex.asUser {
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			}
			out, _ := cmd.CombinedOutput()
			// The captures were taken on a host named vm.
			got := regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(host)+`$`).ReplaceAllString(string(out), "vm")
			if normalize(got) != normalize(ex.output) {
				t.Errorf("output differs from docs/walkthrough.md\ngot:\n%s\nwant:\n%s", got, ex.output)
			}
		})
	}
}
