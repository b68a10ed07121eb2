// exchange_test.go: the program end to end, as the article runs it: the
// real binary, real namespaces, the message through a real queue.

package main

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"invoke_ns/internal/term"

	"golang.org/x/sys/unix"
)

const pianoRiffs = "I will return to haunt you with peculiar piano riffs"

// transcriptRE turns an expected transcript into a pattern in which every
// PID is a number.
func transcriptRE(lines ...string) *regexp.Regexp {
	quoted := regexp.QuoteMeta(strings.Join(lines, "\n") + "\n")
	return regexp.MustCompile("^" + strings.ReplaceAll(quoted, "<n>", "[0-9]+") + "$")
}

func TestIPCNoDeliversTheMessage(t *testing.T) {
	flags := privFlags(t)
	q := testQueue(t)
	r := invoke(t, pianoRiffs+"\n", append(flags, "-vi", "no", "-q", q)...)
	if r.code != exitOK {
		t.Fatalf("exit status %d, want 0; stderr:\n%s", r.code, r.stderr)
	}
	want := transcriptRE(
		"Parent: PID of parent is <n>",
		"Parent: opening message queue "+q,
		"Parent: PID of child is <n>",
		" Child: PID of child is <n>",
		" Child: opening message queue "+q,
		"",
		"     Child: enter a message to send to the parent process (MAX 80 chars)",
		"     >> "+pianoRiffs,
		"",
		" Child: sending message to parent",
		" Child: closing message queue "+q,
		"Parent: received message from child",
		"",
		"    Parent: the following message was received from the child",
		"     >> "+pianoRiffs,
		"",
		"Parent: closing message queue "+q,
		"Parent: Removing message queue "+q,
		"Parent: "+binary+" - Finishing up",
	)
	if !want.MatchString(r.stdout) {
		t.Errorf("transcript differs from the article's:\n%s", r.stdout)
	}
	if r.stderr != "" {
		t.Errorf("unexpected stderr: %q", r.stderr)
	}
}

func TestIPCNoMessageIsExact(t *testing.T) {
	flags := privFlags(t)
	for _, msg := range []string{"x", "  spaces kept  ", "tab\there", "ünïcödé ✓", strings.Repeat("é", 40), ""} {
		t.Run(fmt.Sprintf("%q", msg), func(t *testing.T) {
			r := invoke(t, msg+"\n", append(flags, "-i", "no", "-q", testQueue(t))...)
			if r.code != exitOK {
				t.Fatalf("exit status %d; stderr:\n%s", r.code, r.stderr)
			}
			got := regexp.MustCompile(`(?m)^    Parent: the following message was received from the child\n     >> (.*)\n`).FindStringSubmatch(r.stdout)
			if got == nil || got[1] != msg {
				t.Errorf("received %q, sent %q; transcript:\n%s", got, msg, r.stdout)
			}
		})
	}
}

func TestIPCYesIsBlockedAtOnce(t *testing.T) {
	flags := privFlags(t)
	q := testQueue(t)
	r := invoke(t, pianoRiffs+"\n", append(flags, "-vi", "yes", "-q", q)...)
	if r.code != exitBlocked {
		t.Fatalf("exit status %d, want %d; stderr:\n%s", r.code, exitBlocked, r.stderr)
	}
	if !strings.Contains(r.stderr, " Child: mq_open: No such file or directory\n") {
		t.Errorf("stderr lacks the child's mq_open error:\n%s", r.stderr)
	}
	if !strings.Contains(flat(r.stdout), "Parent: no message can arrive: the new IPC namespace has no "+q+" ") {
		t.Errorf("no verdict in:\n%s", r.stdout)
	}
	if strings.Contains(r.stdout, "enter a message") {
		t.Errorf("the child prompted although it has no queue:\n%s", r.stdout)
	}
	// A bound on a wait, not a speed target: the default timeout is 60 s.
	if r.elapsed > 5*time.Second {
		t.Errorf("verdict after %v: the parent sat out the timeout", r.elapsed)
	}
}

func TestTimeoutWithASilentChild(t *testing.T) {
	flags := privFlags(t)
	q := testQueue(t)
	s := start(t, append(flags, "-vi", "no", "-t", "1s", "-q", q)...)
	pid := s.childPID()
	r := s.wait() // stdin stays open and silent until the parent gives up
	if r.code != exitTimeout {
		t.Fatalf("exit status %d, want %d; stderr:\n%s", r.code, exitTimeout, r.stderr)
	}
	if !strings.Contains(r.stderr, "Parent: mq_timedreceive: Connection timed out\n") {
		t.Errorf("stderr lacks the timeout:\n%s", r.stderr)
	}
	if !strings.Contains(r.stdout, "Parent: Removing message queue "+q) {
		t.Errorf("the queue was not removed:\n%s", r.stdout)
	}
	waitGone(t, pid, 5*time.Second)
}

// childRuns runs a command in the child and returns its stdout, less the
// line saying it is executed.
func childRuns(t *testing.T, args ...string) string {
	t.Helper()
	r := invoke(t, "", append(privFlags(t), args...)...)
	if r.code != 0 {
		t.Fatalf("invoke_ns %q: exit status %d; stderr:\n%s", args, r.code, r.stderr)
	}
	_, out, ok := strings.Cut(r.stdout, " ...\n")
	if !ok {
		t.Fatalf("no 'Executing command' line in:\n%s", r.stdout)
	}
	return out
}

func TestNamespaces(t *testing.T) {
	host, _ := os.Hostname()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"-p makes the child PID 1", []string{"-p", "sh", "-c", "echo $$"}, "1\n"},
		{"without -p the child is not PID 1", []string{"sh", "-c", "test $$ != 1 && echo other"}, "other\n"},
		{"-u sets the child's hostname", []string{"-u", "invoke-ns-test", "uname", "-n"}, "invoke-ns-test\n"},
		{"-n leaves only lo", []string{"-n", "sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '"}, "lo\n"},
		{"-p -m gives the child its own /proc", []string{"-p", "-m", "sh", "-c", "echo /proc/[0-9]*"}, "/proc/1\n"},
		{"arguments reach the command untouched", []string{"sh", "-c", `printf '%s|' "$@"`, "sh", "-v", "--", "a b", "", "-i", "yes"}, "-v|--|a b||-i|yes|"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := childRuns(t, tt.args...); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if now, _ := os.Hostname(); now != host {
		t.Errorf("the host's hostname changed from %q to %q", host, now)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", os.Getpid())); err != nil {
		t.Errorf("the test's /proc no longer shows the test: %v", err)
	}
}

// The child's runtime gets GOMAXPROCS=1 unless the user set GOMAXPROCS,
// and the command the child runs gets the user's environment either way.
func TestChildEnvironment(t *testing.T) {
	flags := privFlags(t)
	tests := []struct {
		name      string
		user      string // the user's GOMAXPROCS, "" for none
		child     string // what the child's runtime is given
		inCommand string // what its command sees
	}{
		{"GOMAXPROCS unset", "", "GOMAXPROCS=1", "unset"},
		{"GOMAXPROCS set", "3", "GOMAXPROCS=3", "3"},
	}
	script := `echo "GOMAXPROCS=${GOMAXPROCS-unset} handshake=$(env | grep -c ^_INVOKE_NS_CHILD)"`
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := command(t, binary, append(flags, "-vi", "no", "-q", testQueue(t), "sh", "-c", script)...)
			cmd.Env = slices.DeleteFunc(os.Environ(), func(e string) bool { return strings.HasPrefix(e, "GOMAXPROCS=") })
			if tt.user != "" {
				cmd.Env = append(cmd.Env, "GOMAXPROCS="+tt.user)
			}
			s := startCmd(t, cmd)
			pid := s.childPID()
			s.waitForPrompt()
			// The child's environment as execve(2) gave it, read while it
			// waits at its prompt.
			environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range strings.Split(string(environ), "\x00") {
				if strings.HasPrefix(e, "GOMAXPROCS=") {
					got = append(got, e)
				}
			}
			if !slices.Equal(got, []string{tt.child}) {
				t.Errorf("the child started with %q, want %s alone", got, tt.child)
			}
			io.WriteString(s.stdin, "hello\n")
			r := s.wait()
			want := "\nGOMAXPROCS=" + tt.inCommand + " handshake=0\n"
			if r.code != 0 || !strings.Contains(r.stdout, want) {
				t.Errorf("exit status %d, want the command to print %q:\n%s\nstderr:\n%s", r.code, want[1:], r.stdout, r.stderr)
			}
		})
	}
}

// The command run in the child sees the descriptors invoke_ns was given,
// and none of its own: the handshake pipes are close-on-exec.
func TestCommandDescriptors(t *testing.T) {
	flags := privFlags(t)
	// What this test process inherited without close-on-exec reaches its
	// children too, and so the command.
	inherited := []string{"0", "1", "2"}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if flags, ferr := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && fd > 2 && fd != 5 && ferr == nil && flags&unix.FD_CLOEXEC == 0 {
			inherited = append(inherited, e.Name())
		}
	}
	listing := func(fds ...string) string {
		all := append(slices.Clone(inherited), fds...)
		slices.Sort(all) // as ls sorts them
		return strings.Join(all, "\n") + "\n"
	}
	for _, tt := range []struct {
		name   string
		script string // a shell around invoke_ns, as "$0"
		want   string
	}{
		{"the standard three", `"$0" "$@"`, listing()},
		{"one the caller passed", `"$0" "$@" 5</dev/null`, listing("5")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// The shell's own table, not ls's, which has a directory open.
			args := append(flags, "-i", "no", "-q", testQueue(t), "sh", "-c", `ls /proc/$$/fd`)
			cmd := command(t, "sh", append([]string{"-c", tt.script, binary}, args...)...)
			cmd.Stdin = strings.NewReader("hello\n")
			r := finish(t, cmd)
			if r.code != exitOK || !strings.HasSuffix(r.stdout, " Child: Executing command sh ...\n"+tt.want) {
				t.Errorf("exit %d, want the command to see fds %s:\n%s\nstderr:\n%s", r.code, tt.want, r.stdout, r.stderr)
			}
		})
	}
}

func TestExitStatusPassesThrough(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"zero", []string{"true"}, 0},
		{"42", []string{"sh", "-c", "exit 42"}, 42},
		{"killed by SIGTERM", []string{"sh", "-c", "kill -TERM $$"}, 128 + 15},
		{"not found", []string{"invoke_ns-no-such-command"}, 127},
		{"not executable", []string{"/dev/null"}, 126},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := invoke(t, "", tt.args...)
			if r.code != tt.want {
				t.Errorf("exit status %d, want %d; stderr:\n%s", r.code, tt.want, r.stderr)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown option", []string{"-x"}, "unknown option -x"},
		{"unknown long option", []string{"--bogus"}, "unknown option --bogus"},
		{"-i without argument", []string{"-i"}, "option -i needs an argument"},
		{"-i maybe", []string{"-i", "maybe"}, "give yes or no"},
		{"hostname too long", []string{"-u", strings.Repeat("h", 65)}, "65 bytes, more than the kernel's 64"},
		{"empty hostname", []string{"-u", ""}, "the hostname is empty"},
		{"queue without slash", []string{"-i", "no", "-q", "q"}, "must start with /"},
		{"queue with two slashes", []string{"-i", "no", "-q", "/a/b"}, "no / after the first"},
		{"queue too long", []string{"-i", "no", "-q", "/" + strings.Repeat("q", 256)}, "over 255 bytes"},
		{"empty queue", []string{"-i", "no", "-q", ""}, "the name is empty"},
		{"zero timeout", []string{"-i", "no", "-t", "0"}, "more than zero"},
		{"negative timeout", []string{"-i", "no", "-t", "-5s"}, "more than zero"},
		{"unparsable timeout", []string{"-i", "no", "-t", "soon"}, "not a duration"},
		{"--every without --scan", []string{"-i", "no", "--every", "5m"}, "--every repeats --scan"},
		{"zero period", []string{"--scan", "--every", "0"}, "--every \"0\": it must be more than zero"},
		{"unparsable period", []string{"--scan", "--every", "often"}, "not a duration"},
		{"-c with -i", []string{"-c", "-i", "no"}, "-c runs both"},
		{"-c with a command", []string{"-c", "true"}, "-c runs two children"},
		{"-k without the exchange", []string{"-k", "msg"}, "-k and --key are for the exchange"},
		{"--key without System V", []string{"--key", "7", "-i", "no"}, "--key is for the System V kinds"},
		{"-q without mq", []string{"-k", "msg", "-q", "/q", "-i", "no"}, "which -k \"msg\" leaves out"},
		{"a bad kind", []string{"-k", "pipe", "-i", "no"}, "give mq, msg"},
		{"a bad key", []string{"-k", "msg", "--key", "0", "-i", "no"}, "IPC_PRIVATE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := invoke(t, "", tt.args...)
			if r.code != exitUsage {
				t.Errorf("exit status %d, want 2", r.code)
			}
			// util-linux's form: what is wrong, then where to look.
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			if len(lines) != 2 || !strings.HasPrefix(lines[0], "invoke_ns: ") || !strings.Contains(lines[0], tt.want) ||
				lines[1] != "Try 'invoke_ns --help' for more information." || utf8.RuneCountInString(lines[0]) > term.Columns {
				t.Errorf("stderr is not two lines, the first within 80 columns holding %q:\n%s", tt.want, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout: %q", r.stdout)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "--help"} {
		r := invoke(t, "", arg)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "Usage: invoke_ns") || r.stderr != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", arg, r.code, r.stdout, r.stderr)
		}
	}
}
