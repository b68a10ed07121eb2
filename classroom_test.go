// classroom_test.go: invoke_ns as an instructor uses it in front of a
// class: the article's transcripts line for line, 80 columns, a tidy
// terminal, the make targets under sudo, --version, and the hint for a
// bare invocation.

package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"invoke_ns/internal/hermetic"
	"invoke_ns/internal/term"
)

// The article's transcripts (the reference articles' invoke_ns, run with
// -vi no and -vi yes), PIDs as <n>; only the verdict of -i yes differs,
// given at once instead of the timeout line.
var articleTranscripts = map[string][]string{
	"no": {
		"Parent: PID of parent is <n>",
		"Parent: opening message queue <q>",
		"Parent: PID of child is <n>",
		" Child: PID of child is <n>",
		" Child: opening message queue <q>",
		"",
		"     Child: enter a message to send to the parent process (MAX 80 chars)",
		"     >> " + pianoRiffs,
		"",
		" Child: sending message to parent",
		" Child: closing message queue <q>",
		"Parent: received message from child",
		"",
		"    Parent: the following message was received from the child",
		"     >> " + pianoRiffs,
		"",
		"Parent: closing message queue <q>",
		"Parent: Removing message queue <q>",
		"Parent: <prog> - Finishing up",
	},
	"yes": {
		"Parent: PID of parent is <n>",
		"Parent: opening message queue <q>",
		"Parent: PID of child is <n>",
		" Child: PID of child is <n>",
		" Child: opening message queue <q>",
		" Child: mq_open: No such file or directory",
		"Parent: no message can arrive: the new IPC namespace has no <q>",
		"Parent: closing message queue <q>",
		"Parent: Removing message queue <q>",
		"Parent: <prog> - Finishing up",
	},
}

// matchLines says whether got holds exactly the lines of want, in order,
// each <n> standing for a number.
func matchLines(got string, want []string, q string) bool {
	pattern := regexp.QuoteMeta(strings.Join(want, "\n") + "\n")
	pattern = strings.NewReplacer("<n>", "[0-9]+", "<q>", regexp.QuoteMeta(q), "<prog>", regexp.QuoteMeta(binary)).Replace(pattern)
	return regexp.MustCompile("^" + pattern + "$").MatchString(got)
}

// articleQueue is the article's queue name, which the suite's own IPC
// namespace has free; outside it, a name of the test's own.
func articleQueue(t *testing.T) string {
	if hermetic.On() {
		return defaultQueue
	}
	return testQueue(t)
}

// -v prints the article's lines and no others, on a pipe (where the
// perror line goes to stderr) and on a terminal (where it is in place).
func TestArticleTranscripts(t *testing.T) {
	flags := privFlags(t)
	for _, ipc := range []string{"no", "yes"} {
		want := articleTranscripts[ipc]
		t.Run("-vi "+ipc+" on a pipe", func(t *testing.T) {
			q := articleQueue(t)
			r := invoke(t, pianoRiffs+"\n", append(flags, "-vi", ipc, "-q", q)...)
			var stdout []string
			for _, l := range want {
				if !strings.HasPrefix(l, " Child: mq_open:") {
					stdout = append(stdout, l)
				}
			}
			if !matchLines(r.stdout, stdout, q) {
				t.Errorf("stdout is not the article's transcript:\n%s", r.stdout)
			}
		})
		t.Run("-vi "+ipc+" on a terminal", func(t *testing.T) {
			q := articleQueue(t)
			script := []string{">> ", pianoRiffs + "\n"}
			if ipc == "yes" {
				script = nil // no prompt: the child cannot open the queue
			}
			screen, _ := onTerminal(t, append(flags, "-vi", ipc, "-q", q), script...)
			if !matchLines(screen, want, q) {
				t.Errorf("the screen is not the article's transcript:\n%s", screen)
			}
		})
	}
	t.Run("-vvi yes shows two IPC namespaces", func(t *testing.T) {
		r := invoke(t, pianoRiffs+"\n", append(flags, "-vvi", "yes", "-q", testQueue(t))...)
		ids := regexp.MustCompile(`(?m)^(?:Parent| Child): namespaces (ipc:\[\d+\])`).FindAllStringSubmatch(r.stdout, -1)
		if len(ids) != 2 || ids[0][1] == ids[1][1] {
			t.Errorf("want two different ipc identities:\n%s", r.stdout)
		}
	})
}

// Every line fits 80 columns (a message the user typed excepted).
func TestEightyColumns(t *testing.T) {
	flags := privFlags(t)
	for _, args := range [][]string{{"-vi", "no"}, {"-vi", "yes"}, {"-vvi", "yes"}, {"-c"}, {"-k", "all", "-c"},
		{"-k", "all", "-vvi", "yes"}, {"-k", "all", "-vi", "no"}, {"-c", "-p", "-m", "-u", "box", "-n", "-U"}, {"--help"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := invoke(t, "hello\n", append(append(flags, "-q", testQueue(t)), args...)...)
			if r.code != exitOK && r.code != exitBlocked {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			for _, l := range strings.Split(r.stdout+r.stderr, "\n") {
				if utf8.RuneCountInString(l) > term.Columns {
					t.Errorf("%d columns: %q", utf8.RuneCountInString(l), l)
				}
			}
		})
	}
	// argv[0] is in the last line of -v: a long path typed in full is
	// wrapped, as a sentence.
	t.Run("a long path", func(t *testing.T) {
		long := filepath.Join(t.TempDir(), strings.Repeat("d", 70), "invoke_ns")
		if err := os.MkdirAll(filepath.Dir(long), 0o755); err != nil {
			t.Fatal(err)
		}
		copyFile(t, binary, long)
		cmd := command(t, long, append(flags, "-q", testQueue(t), "-vi", "no")...)
		cmd.Stdin = strings.NewReader("hello\n")
		r := finish(t, cmd)
		// Broken where it must be: read again without the breaks.
		joined := strings.Join(strings.Fields(r.stdout), "")
		if r.code != exitOK || !strings.HasSuffix(joined, "Parent:"+long+"-Finishingup") {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		for _, l := range strings.Split(r.stdout, "\n") {
			if utf8.RuneCountInString(l) > term.Columns {
				t.Errorf("%d columns: %q", utf8.RuneCountInString(l), l)
			}
		}
	})
}

// Ctrl-C at a prompt, the child's or --compare's, on a terminal: the
// half-typed line ends before anything else is printed, and nothing is
// left behind.
func TestCtrlCAtThePrompt(t *testing.T) {
	flags := privFlags(t)
	for _, tt := range []struct {
		name  string
		args  []string
		after string // what must start the next line
	}{
		{"the child's", []string{"-vi", "no"}, "Parent: closing message queue "},
		{"--compare's", []string{"-c"}, "invoke_ns: interrupted by SIGINT"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, s := openPTY(t)
			defer m.Close()
			cmd := command(t, binary, append(append(flags, "-q", testQueue(t)), tt.args...)...)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = s, s, s
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			s.Close()
			m.SetReadDeadline(time.Now().Add(runLimit))
			var screen strings.Builder
			buf := make([]byte, 4096)
			typed := false
			for {
				n, err := m.Read(buf)
				screen.Write(buf[:n])
				if !typed && strings.HasSuffix(screen.String(), ">> ") {
					m.Write([]byte("half typed"))
					typed = true
				}
				if typed && strings.HasSuffix(screen.String(), "half typed") {
					m.Write([]byte{3}) // the terminal's intr character, Ctrl-C
				}
				if err != nil {
					break
				}
			}
			err := cmd.Wait()
			shown := strings.ReplaceAll(screen.String(), "\r\n", "\n")
			if code := cmd.ProcessState.ExitCode(); code != 130 {
				t.Errorf("exit %d (%v), want 130:\n%s", code, err, shown)
			}
			// The terminal echoes ^C; what follows starts on a line of its own.
			if !regexp.MustCompile(`>> half typed(\^C)?\n` + regexp.QuoteMeta(tt.after)).MatchString(shown) {
				t.Errorf("the half-typed line was not ended first:\n%q", shown)
			}
		})
	}
}

// make demo and make install use the built binary as it is: no Go.
func TestMakeTargetsNeedNoGoOnceBuilt(t *testing.T) {
	if _, err := os.Stat("Makefile"); err != nil {
		t.Fatal(err)
	}
	// A copy of the tree, so that the checkout's own binary is not touched.
	tree := t.TempDir()
	for _, f := range []string{"Makefile", "go.mod", "go.sum"} {
		copyFile(t, f, filepath.Join(tree, f))
	}
	matches, _ := filepath.Glob("*.go")
	for _, f := range matches {
		copyFile(t, f, filepath.Join(tree, f))
	}
	copyFile(t, binary, filepath.Join(tree, "invoke_ns"))
	// The binary newer than every source, as make build leaves it.
	later := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(tree, "invoke_ns"), later, later)
	for _, target := range []string{"demo", "install", "build"} {
		cmd := command(t, "make", "-n", "-C", tree, target)
		out, err := cmd.CombinedOutput()
		if err != nil || regexp.MustCompile(`(?m)^\S*go (build|run|install)`).Match(out) {
			t.Errorf("make -n %s (%v) would call Go:\n%s", target, err, out)
		}
	}
	// And a source newer than the binary rebuilds it.
	os.Chtimes(filepath.Join(tree, "invoke_ns"), time.Unix(0, 0), time.Unix(0, 0))
	if out, _ := command(t, "make", "-n", "-C", tree, "build").CombinedOutput(); !strings.Contains(string(out), "go build") {
		t.Errorf("make -n build with a stale binary does not build:\n%s", out)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err == nil {
		err = os.WriteFile(to, b, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestVersion(t *testing.T) {
	for _, arg := range []string{"-V", "--version"} {
		r := invoke(t, "", arg)
		if r.code != exitOK || !regexp.MustCompile(`^invoke_ns \S+\n$`).MatchString(r.stdout) || r.stderr != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", arg, r.code, r.stdout, r.stderr)
		}
	}
	// Set by the Makefile, it is what the build was told.
	if os.Getenv(binaryEnv) != "" {
		t.Skipf("skipped the rest of %s: the binary was built outside the suite (%s)", t.Name(), binaryEnv)
	}
	out := filepath.Join(t.TempDir(), "invoke_ns")
	build := command(t, "go", "build", "-ldflags=-X main.version=1.2.3-test", "-o", out, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if got, err := command(t, out, "--version").Output(); err != nil || string(got) != "invoke_ns 1.2.3-test\n" {
		t.Errorf("%q, %v", got, err)
	}
}

// With nothing to exchange or run, one line says what to add; exit 0.
func TestNothingToDo(t *testing.T) {
	for _, args := range [][]string{nil, {"-p"}, {"-v", "-m"}} {
		r := invoke(t, "", args...)
		lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
		if r.code != exitOK || r.stdout != "" || len(lines) != 1 || !strings.Contains(lines[0], "add -i yes|no") ||
			!strings.Contains(lines[0], "-c, or a command") || utf8.RuneCountInString(lines[0]) > term.Columns {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
}
