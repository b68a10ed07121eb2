package main

import (
	"errors"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"invoke_ns/internal/ipc"
	"invoke_ns/internal/run"

	"golang.org/x/sys/unix"
)

func TestParseOptions(t *testing.T) {
	base := func(c config) *config {
		c.Prog = "./invoke_ns"
		if c.Timeout == 0 {
			c.Timeout = 60 * time.Second
		}
		if c.Queue == "" {
			c.Queue = "/ipc_namespace"
		} else {
			c.QueueGiven = true
		}
		if c.Command == nil {
			c.Command = []string{}
		}
		if c.Kinds == nil {
			c.Kinds = []string{"mq"}
		}
		return &c
	}
	tests := []struct {
		name string
		args []string
		want *config
	}{
		{"nothing", nil, base(config{})},
		{"-vi no bundled", []string{"-vi", "no"}, base(config{Verbose: 1, IPC: true})},
		{"-vpmi yes bundled", []string{"-vpmi", "yes"}, base(config{Verbose: 1, NewPID: true, NewMount: true, IPC: true, NewIPC: true})},
		{"-iyes attached", []string{"-iyes"}, base(config{IPC: true, NewIPC: true})},
		{"long options", []string{"--ipc=no", "--uts", "box", "--net", "--user", "--force", "--queue", "/q", "--timeout", "2m"},
			base(config{IPC: true, Hostname: "box", NewNet: true, NewUser: true, Force: true, Queue: "/q", Timeout: 2 * time.Minute})},
		{"plain seconds", []string{"-t", "30"}, base(config{Timeout: 30 * time.Second})},
		{"fractional seconds", []string{"-t", "0.5"}, base(config{Timeout: 500 * time.Millisecond})},
		{"Go duration", []string{"-t", "500ms"}, base(config{Timeout: 500 * time.Millisecond})},
		{"stops at the command", []string{"-i", "yes", "sh", "-c", "ipcs -q"}, base(config{IPC: true, NewIPC: true, Command: []string{"sh", "-c", "ipcs -q"}})},
		{"-- ends options", []string{"-p", "--", "-v"}, base(config{NewPID: true, Command: []string{"-v"}})},
		{"-k all", []string{"-k", "all", "-i", "no"}, base(config{IPC: true, Kinds: kindNames()})},
		{"-k list, repeats dropped", []string{"--kind=shm,msg,shm", "-i", "no"}, base(config{IPC: true, Kinds: []string{"shm", "msg"}})},
		{"--key decimal", []string{"-k", "msg", "--key", "17118584", "-i", "yes"}, base(config{IPC: true, NewIPC: true, Kinds: []string{"msg"}, Key: 17118584})},
		{"--key hex", []string{"-k", "sem", "--key", "0x01053578", "-i", "no"}, base(config{IPC: true, Kinds: []string{"sem"}, Key: 0x01053578})},
		{"--key above int32", []string{"-k", "shm", "--key", "0xffffffff", "-i", "no"}, base(config{IPC: true, Kinds: []string{"shm"}, Key: -1})},
		{"-c", []string{"-c", "-p"}, base(config{Compare: true, NewPID: true})},
		{"-c -k all", []string{"-ck", "all"}, base(config{Compare: true, Kinds: kindNames()})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseOptions(append([]string{"./invoke_ns"}, tt.args...))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseOptionsRefuses(t *testing.T) {
	for _, args := range [][]string{
		{"-x"}, {"-i"}, {"-i", "maybe"}, {"-u", ""}, {"-u", strings.Repeat("h", 65)},
		{"-q", "nope"}, {"-q", "/a/b"}, {"-q", ""}, {"-t", "0"}, {"-t", "-1"}, {"-t", "soon"}, {"-t", "NaN"},
		{"-k", "pipe", "-i", "no"}, {"-k", "", "-i", "no"}, {"-k", "msg,", "-i", "no"}, {"-k", "msg"},
		{"--key", "1", "-i", "no"}, {"-k", "msg", "--key", "0", "-i", "no"}, {"-k", "msg", "--key", "0x100000000", "-i", "no"},
		{"-k", "msg", "--key", "key", "-i", "no"}, {"-k", "msg", "-q", "/q", "-i", "no"},
		{"-c", "-i", "no"}, {"-c", "sh"},
	} {
		_, err := parseOptions(append([]string{"invoke_ns"}, args...))
		if !errors.As(err, new(*usageError)) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
	if _, err := parseOptions([]string{"invoke_ns", "-v", "--help"}); !errors.Is(err, errHelp) {
		t.Errorf("--help: %v", err)
	}
}

// The statuses --help promises are the ones a result gives, with a
// signal first, then a failure, then the run's verdict, then the child's
// own status.
func TestExitStatus(t *testing.T) {
	exited := func(code int) *syscall.WaitStatus { ws := syscall.WaitStatus(code << 8); return &ws }
	killed := func(sig syscall.Signal) *syscall.WaitStatus { ws := syscall.WaitStatus(sig); return &ws }
	tests := []struct {
		name string
		r    run.Result
		want int
	}{
		{"nothing", run.Result{}, exitOK},
		{"delivered", run.Result{Exchanges: ipcOnly(run.Delivered), Child: exited(0)}, exitOK},
		{"a failure", run.Result{Err: errors.New("anything")}, exitFailure},
		{"a usage error", run.Result{Err: usagef("bad")}, exitUsage},
		{"a failure with a status", run.Result{Err: &codeError{127, errors.New("not found")}}, 127},
		{"blocked", run.Result{Exchanges: ipcOnly(run.Blocked)}, exitBlocked},
		{"timed out", run.Result{Exchanges: ipcOnly(run.TimedOut)}, exitTimeout},
		{"no message", run.Result{Exchanges: ipcOnly(run.NoMessage)}, exitNoMessage},
		{"send failed", run.Result{Exchanges: ipcOnly(run.SendFailed)}, exitFailure},
		{"child killed before it sent", run.Result{Exchanges: []*run.Exchange{{Object: ipc.Object{Kind: mqKind}, Verdict: run.ChildGone,
			Child: killed(syscall.SIGKILL)}}}, 137},
		{"child exited before it sent", run.Result{Exchanges: []*run.Exchange{{Object: ipc.Object{Kind: mqKind}, Verdict: run.ChildGone,
			Child: exited(0)}}}, exitFailure},
		{"the first undelivered decides", run.Result{Exchanges: ipcOnly(run.Delivered, run.TimedOut, run.Blocked)}, exitTimeout},
		{"a verdict before the command", run.Result{Exchanges: ipcOnly(run.Blocked), Child: exited(42)}, exitBlocked},
		{"the command's status", run.Result{Exchanges: ipcOnly(run.Delivered), Child: exited(42)}, 42},
		{"the command killed", run.Result{Child: killed(syscall.SIGTERM)}, 143},
		{"a signal after a verdict", run.Result{Exchanges: ipcOnly(run.Blocked), Signal: unix.SIGINT}, 130},
		{"a signal before a failure", run.Result{Err: errors.New("x"), Signal: unix.SIGTERM}, 143},
		{"taken", run.Result{Exchanges: ipcOnly(run.Taken), Child: exited(0)}, exitTaken},
		{"-k all: the IPC namespace blocked, /dev/shm crossed", run.Result{Exchanges: append(ipcOnly(run.Blocked, run.Blocked),
			pshmOnly(run.Delivered)...)}, exitOK},
		{"-k all: the IPC namespace crossed, /dev/shm blocked", run.Result{Exchanges: append(ipcOnly(run.Delivered),
			pshmOnly(run.Blocked)...)}, exitOK},
		{"-k all: both blocked", run.Result{Exchanges: append(ipcOnly(run.Blocked), pshmOnly(run.Blocked)...)}, exitBlocked},
		{"-k all: a timeout decides first", run.Result{Exchanges: append(ipcOnly(run.Blocked), pshmOnly(run.TimedOut)...)}, exitTimeout},
		{"the budget crossed", run.Result{Exchanges: exchanges(budgetKind, []run.Verdict{run.Delivered})}, exitOK},
		{"the budget unlimited", run.Result{Exchanges: exchanges(budgetKind, []run.Verdict{run.Unlimited})}, exitOK},
		{"the budget kept apart", run.Result{Exchanges: exchanges(budgetKind, []run.Verdict{run.Blocked})}, exitBlocked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exitStatus(&tt.r); got != tt.want {
				t.Errorf("exitStatus() = %d, want %d", got, tt.want)
			}
		})
	}
	for _, tt := range []struct {
		name string
		c    run.Compared
		want int
	}{
		{"isolated", run.Compared{Isolated: true}, exitOK},
		{"not isolated", run.Compared{}, exitExposed},
		{"a signal", run.Compared{Signal: unix.SIGINT}, 130},
	} {
		if got := comparedStatus(&tt.c); got != tt.want {
			t.Errorf("%s: comparedStatus() = %d, want %d", tt.name, got, tt.want)
		}
	}
	for _, code := range []int{exitOK, exitFailure, exitUsage, exitBlocked, exitTimeout, exitNoMessage, exitExposed, exitTaken} {
		if !strings.Contains(usageText, "\n  "+string(rune('0'+code))+"  ") {
			t.Errorf("--help does not explain exit status %d", code)
		}
	}
}

// ipcOnly are exchanges of a kind the IPC namespace isolates, and
// pshmOnly of POSIX shared memory, which it does not.
func ipcOnly(vs ...run.Verdict) []*run.Exchange  { return exchanges(mqKind, vs) }
func pshmOnly(vs ...run.Verdict) []*run.Exchange { return exchanges(ipc.Pshm, vs) }

func exchanges(k *ipc.Kind, vs []run.Verdict) []*run.Exchange {
	xs := make([]*run.Exchange, len(vs))
	for i, v := range vs {
		xs[i] = &run.Exchange{Object: ipc.Object{Kind: k}, Verdict: v}
	}
	return xs
}

func FuzzParseOptions(f *testing.F) {
	for _, s := range []string{"-vi no", "-vpmi yes sh -c x", "-t 30 -q /q", "--ipc=yes -u h", "-t 1e9", "-q /" + strings.Repeat("a", 255),
		"-c -k all", "-k msg,sem --key 0x10 -i no"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if !utf8.ValidString(line) {
			return
		}
		args := append([]string{"invoke_ns"}, strings.Fields(line)...)
		cfg, err := parseOptions(args)
		if err != nil {
			if !errors.Is(err, errHelp) && !errors.Is(err, errVersion) && !errors.As(err, new(*usageError)) {
				t.Fatalf("%q: error %v is not a usage error", line, err)
			}
			return
		}
		if cfg.Timeout <= 0 || ipc.CheckName(cfg.Queue) != nil || len(cfg.Hostname) > hostnameMax {
			t.Fatalf("%q: accepted a bad config %+v", line, cfg)
		}
		if cfg.NewIPC && !cfg.IPC {
			t.Fatalf("%q: a new IPC namespace without the exchange", line)
		}
		if len(cfg.Kinds) == 0 || cfg.Compare && (cfg.IPC || len(cfg.Command) > 0) {
			t.Fatalf("%q: accepted a bad config %+v", line, cfg)
		}
	})
}

// BenchmarkParseOptions times what every run pays before its child can
// start: getopt notes where each option was declared by walking the stack.
func BenchmarkParseOptions(b *testing.B) {
	for b.Loop() {
		if _, err := parseOptions([]string{"invoke_ns", "-i", "no"}); err != nil {
			b.Fatal(err)
		}
	}
}
