// invoke_ns shows what a Linux IPC namespace isolates: the parent creates a
// POSIX message queue, starts a child in the namespaces asked for, and the
// child tries to send it a message. Run with -i no the message arrives; run
// with -i yes the child cannot even see the queue.
//
// main reads the options into one config, turns it once into a plan
// (plan.go), and carries it out: the run (internal/run) decides, and what
// it came to is shown (internal/show) and turned into the exit status
// (status.go). The child (child.go) is this same binary re-executed
// (internal/reexec), recognised before any option is parsed.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"invoke_ns/internal/ipc"
	"invoke_ns/internal/node"
	"invoke_ns/internal/reexec"
	"invoke_ns/internal/run"
	"invoke_ns/internal/show"
	"invoke_ns/internal/term"

	"github.com/pborman/getopt/v2"
	"golang.org/x/sys/unix"
)

// defaultQueue is the article's queue, and the name of every object found
// by name unless -q says otherwise.
const defaultQueue = "/ipc_namespace"

// hostnameMax is HOST_NAME_MAX.
const hostnameMax = 64

// config is everything the options say, and nothing else: it is read
// once, by makePlan (plan.go), and by nothing after.
type config struct {
	Prog     string        // argv[0] as typed, for "Finishing up"
	Verbose  int           // -v: the article's lines; -vv: more
	NewPID   bool          // -p
	NewMount bool          // -m
	NewNet   bool          // -n
	NewUser  bool          // -U
	Hostname string        // -u: non-empty means a new UTS namespace
	IPC      bool          // -i given: do the message exchange
	NewIPC   bool          // -i yes
	Timeout  time.Duration // -t
	Queue    string        // -q, or defaultQueue
	// QueueGiven says -q was given: the run then keeps that name, where
	// with the default it takes one of its own if the name is taken.
	QueueGiven bool
	Force      bool          // -f
	JSON       bool          // --json: the transcript to stderr, a verdict object to stdout
	Kinds      []string      // -k: the objects to go through, in order
	Key        int32         // --key; 0: a run draws a free one at random
	Compare    bool          // -c: a run with -i no, then one with -i yes
	Target     string        // --target PID|PATH: the child joins that IPC namespace
	From       string        // --from PID|PATH: the parent's objects are made in that one
	Scan       bool          // --scan: list every IPC namespace on the host
	Probe      bool          // --probe: and try the exchange with each
	Every      time.Duration // --every: --scan again each period, until a signal
	ExitCode   int           // --exit-code: --scan's status where a container shares the host's
	Metrics    string        // --metrics: the file --scan writes its findings to, for Prometheus
	Command    []string      // what the child runs at the end, if anything
}

func main() {
	// The child is told apart before any option is parsed.
	switch l, err := reexec.ChildLink(); {
	case err != nil:
		complain(err.Error())
		os.Exit(exitFailure)
	case l != nil:
		// The child does one thing after another: one P, whatever
		// GOMAXPROCS the user gave (the parent sets 1 where none).
		if runtime.GOMAXPROCS(0) > 1 {
			runtime.GOMAXPROCS(1)
		}
		err := runChild(l)
		if err != nil && err.Error() != "" {
			complain("child: " + err.Error())
		}
		os.Exit(errStatus(err))
	}
	cfg, err := parseOptions(os.Args)
	switch {
	case errors.Is(err, errHelp):
		usage(os.Stdout)
		os.Exit(exitOK)
	case errors.Is(err, errVersion):
		fmt.Println("invoke_ns", buildVersion())
		os.Exit(exitOK)
	case err == nil && !cfg.IPC && !cfg.Compare && !cfg.Scan && len(cfg.Command) == 0:
		complain("nothing to exchange or run: add -i yes|no (with -k), -c, or a command")
		os.Exit(exitOK)
	case err != nil:
		complain(err.Error())
		if errors.As(err, new(*usageError)) {
			fmt.Fprintln(os.Stderr, "Try 'invoke_ns --help' for more information.")
		}
		os.Exit(errStatus(err))
	}
	status, msg := runParent(cfg)
	if msg != "" {
		complain(msg)
	}
	os.Exit(status)
}

// runParent checks the limits, plans the run once, and carries it out.
// The runtime gets no more Ps than a run uses, or than the limits leave
// room for the workers of a scan.
func runParent(cfg *config) (int, string) {
	inherited, open := reexec.OpenFDs()
	procs := reexec.RunProcs
	if cfg.Scan {
		procs = min(runtime.GOMAXPROCS(0), reexec.ScanProcs)
	}
	workers, err := reexec.CheckLimits(open, procs)
	if err != nil {
		return errStatus(err), err.Error()
	}
	if cfg.Scan {
		procs = workers
	}
	if runtime.GOMAXPROCS(0) > procs {
		runtime.GOMAXPROCS(procs)
	}
	p, err := makePlan(cfg, inherited, workers)
	if err != nil && p.json == nil {
		return errStatus(err), err.Error()
	}
	return p.carryOut(err)
}

// carryOut runs the plan as it says (one run, --compare or --scan), shows
// what it came to, and gives the exit status and the error to print. A
// plan that failed (err) is shown as a run that did. A reader of the
// transcript that goes away ends the run as SIGPIPE would.
func (p *plan) carryOut(err error) (int, string) {
	sigs := run.Catch()
	out := &term.Transcript{W: p.out, Broken: func() { sigs.Raise(unix.SIGPIPE) }}
	obs := &show.Transcript{Out: out, Stderr: os.Stderr, Verbose: p.run.Verbose, Prog: p.run.Prog}
	var status int
	var msg string
	switch {
	case err != nil && p.compare:
		c := &run.Compared{Err: err}
		status, msg = comparedStatus(c), failure(0, err)
		status, msg = p.writeJSON(show.ComparedRecord(p.json, c, status, msg, nil), status, msg)
	case err != nil:
		r := &run.Result{Where: &run.Where{}, Exchange: p.run.Exchange, Err: err}
		status, msg = exitStatus(r), failure(0, err)
		status, msg = p.writeJSON(show.RunRecord(p.json, r, status, msg), status, msg)
	case p.node != nil:
		status, msg = p.scanNode(out, sigs)
	case p.compare:
		status, msg = p.compareRuns(out, obs, sigs)
	default:
		r := run.Single(p.run, obs, sigs)
		status, msg = exitStatus(r), failure(r.Signal, r.Err)
		if p.json != nil {
			status, msg = p.writeJSON(show.RunRecord(p.json, r, status, msg), status, msg)
		}
	}
	if out.Err != nil && msg == "" && status < 128 {
		return written(out.Err, "writing the transcript", "check where it goes")
	}
	return status, msg
}

// written is the status and error of output that could not be written:
// a reader that has gone (EPIPE) ends invoke_ns quietly, as SIGPIPE ends
// a command in a pipeline (128+13); anything else is a failure.
func written(err error, what, todo string) (int, string) {
	if errors.Is(err, unix.EPIPE) {
		return 128 + int(unix.SIGPIPE), ""
	}
	err = hint(fmt.Errorf("%s: %w", what, err), todo)
	return errStatus(err), err.Error()
}

// compareRuns runs --compare, and shows its table, or its JSON.
func (p *plan) compareRuns(out io.Writer, obs *show.Transcript, sigs *run.Signals) (int, string) {
	quiet := p.run.Verbose == 0
	var o run.Observer = obs
	if quiet {
		o = run.Silent{}
	}
	ask := run.Ask{
		Read: func() ([]byte, error) { return term.Prompt(os.Stdin, out, comparePrompt, ipc.MessageMax) },
		Cut:  func() { io.WriteString(out, "\n") },
	}
	c := run.Compare(p.run, o, ask, quiet, sigs)
	if errors.As(c.Err, new(*run.ErrNoMessage)) {
		c.Err = &codeError{exitNoMessage, hint(c.Err, fmt.Sprintf("give one line of at most %d bytes", ipc.MessageMax))}
	}
	if c.Err == nil && c.Signal == 0 {
		show.Compare(out, c, p.run.Verbose)
	}
	obs.Finished()
	status, msg := comparedStatus(c), failure(c.Signal, c.Err)
	if p.json == nil {
		return status, msg
	}
	each := func(r *run.Result) (int, string) { return exitStatus(r), failure(r.Signal, r.Err) }
	return p.writeJSON(show.ComparedRecord(p.json, c, status, msg, each), status, msg)
}

// comparePrompt is --compare's: the parent reads the message for both
// children.
const comparePrompt = "\n     Parent: enter a message for both children to send (MAX 80 chars)\n     >> "

// writeJSONLine writes the --json object as one line: JSON Lines, one
// object a report, for --every.
func (p *plan) writeJSONLine(v any, status int, msg string) (int, string) {
	b, err := json.Marshal(v)
	if err == nil {
		_, err = os.Stdout.Write(append(b, '\n'))
	}
	if err != nil && status < 128 {
		return written(err, "writing the --json object", "check where standard output goes")
	}
	return status, msg
}

// writeJSON writes the --json object on standard output. The object is
// what the run produces: if it cannot be written, the run failed,
// whatever its verdict; only a signal goes before that.
func (p *plan) writeJSON(v any, status int, msg string) (int, string) {
	if err := show.Write(os.Stdout, v); err != nil && status < 128 {
		return written(err, "writing the --json object", "check where standard output goes")
	}
	return status, msg
}

// scanNode runs --scan: once, or with --every each period until a
// signal, or until the reader of its reports has gone; each report a
// JSON line with --json, and with --metrics its findings in a file.
func (p *plan) scanNode(out io.Writer, sigs *run.Signals) (int, string) {
	sigs.Ready()
	for report := 0; ; report++ {
		n, sig, err := node.Collect(p.node, sigs)
		if err != nil {
			return errStatus(err), err.Error()
		}
		status, msg := scanStatus(n, sig, p.exitCode), failure(sig, nil)
		if p.metrics != "" && sig == 0 {
			if err := show.WriteFile(p.metrics, show.Metrics(n, p.node.Probe != nil)); err != nil {
				err = hint(fmt.Errorf("writing the metrics: %w", err), "check the folder of --metrics, and its room")
				status, msg = errStatus(err), err.Error()
			}
		}
		switch {
		case p.json != nil && p.every > 0:
			status, msg = p.writeJSONLine(show.ScanJSON(n, status, msg), status, msg)
		case p.json != nil:
			return p.writeJSON(show.ScanJSON(n, status, msg), status, msg)
		default:
			// One write for the report: a line at a time would cost a
			// system call for each row of a node's hundreds.
			var b bytes.Buffer
			if report > 0 {
				fmt.Fprintf(&b, "\n%s\n", n.Time.UTC().Format(time.RFC3339))
			}
			show.Scan(&b, n, p.node.Probe != nil, p.run.Verbose)
			if _, err := out.Write(b.Bytes()); err != nil && status < 128 {
				status, msg = written(err, "writing the report", "check where standard output goes")
			}
		}
		if status != 0 || p.every == 0 {
			return status, msg
		}
		// A signal between reports is how --every is meant to end: its
		// status says so, and there is nothing to add.
		select {
		case s := <-sigs.C:
			return 128 + int(s.(unix.Signal)), ""
		case <-time.After(p.every):
		}
	}
}

// arg quotes what the user gave for a message, shortened so that the
// message keeps to one line.
func arg(s string) string {
	if utf8.RuneCountInString(s) > 24 {
		s = s[:term.CutAt(s, 20)] + "..."
	}
	return strconv.Quote(s)
}

// complain prints msg on standard error as one error of invoke_ns's,
// within 80 columns: the lines after the first are indented.
func complain(msg string) {
	for _, l := range term.Wrap("invoke_ns: ", "  ", msg, term.Columns) {
		fmt.Fprintln(os.Stderr, l)
	}
}

var (
	errHelp    = errors.New("help requested")
	errVersion = errors.New("version requested")
)

// version is set by the Makefile (-ldflags -X main.version=...); without
// it, the build's own record says what it can.
var version string

// buildVersion is version, or the module's version, or the VCS revision
// the binary was built from, or "devel".
func buildVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}

// parseOptions turns argv into a config, checking everything before
// anything is created.
func parseOptions(args []string) (*config, error) {
	// Flags go straight into cfg, the rest into locals checked below.
	cfg := &config{Prog: args[0]}
	var help, showVersion bool
	kind, key, host, ipcOpt, timeout, queue, every, exitCode := kinds[0].Name, "", "", "", "60s", defaultQueue, "", ""
	set := getopt.New()
	set.FlagLong(&help, "help", 'h')
	set.FlagLong(&showVersion, "version", 'V')
	verbose := set.CounterLong("verbose", 'v')
	set.FlagLong(&cfg.NewPID, "pid", 'p')
	set.FlagLong(&cfg.NewMount, "mount", 'm')
	set.FlagLong(&cfg.NewNet, "net", 'n')
	set.FlagLong(&cfg.NewUser, "user", 'U')
	set.FlagLong(&cfg.Force, "force", 'f')
	set.FlagLong(&cfg.JSON, "json", 0)
	set.FlagLong(&cfg.Compare, "compare", 'c')
	set.FlagLong(&kind, "kind", 'k')
	set.FlagLong(&key, "key", 0)
	set.FlagLong(&host, "uts", 'u')
	set.FlagLong(&ipcOpt, "ipc", 'i')
	set.FlagLong(&timeout, "timeout", 't')
	set.FlagLong(&queue, "queue", 'q')
	set.FlagLong(&cfg.Target, "target", 0)
	set.FlagLong(&cfg.From, "from", 0)
	set.FlagLong(&cfg.Scan, "scan", 0)
	set.FlagLong(&cfg.Probe, "probe", 0)
	set.FlagLong(&every, "every", 0)
	set.FlagLong(&exitCode, "exit-code", 0)
	set.FlagLong(&cfg.Metrics, "metrics", 0)
	if err := set.Getopt(args, nil); err != nil {
		return nil, getoptError(err)
	}
	if help {
		return nil, errHelp
	}
	if showVersion {
		return nil, errVersion
	}
	cfg.Verbose = *verbose
	cfg.Queue, cfg.QueueGiven, cfg.Command = queue, set.IsSet('q'), set.Args()
	if set.IsSet('u') {
		if err := checkHostname(host); err != nil {
			return nil, usagef("-u %s: %v", arg(host), err)
		}
		cfg.Hostname = host
	}
	if set.IsSet('i') {
		switch ipcOpt {
		case "yes":
			cfg.IPC, cfg.NewIPC = true, true
		case "no":
			cfg.IPC = true
		default:
			return nil, usagef("-i %s: give yes or no", arg(ipcOpt))
		}
	}
	if set.IsSet("target") {
		switch {
		case cfg.Target == "":
			return nil, usagef("--target: give a PID, or a namespace file such as /proc/PID/ns/ipc")
		case set.IsSet('i'):
			return nil, usagef("--target joins an IPC namespace that exists: leave out -i")
		}
		cfg.IPC = true // the exchange, with the target's namespace
	}
	switch {
	case set.IsSet("from") && cfg.From == "":
		return nil, usagef("--from: give a PID, or a namespace file such as /proc/PID/ns/ipc")
	case cfg.From != "" && !cfg.IPC && !cfg.Compare && !cfg.Scan:
		return nil, usagef("--from is for the exchange: add --target, -i yes, -i no, -c or --scan")
	case cfg.Probe && !cfg.Scan:
		return nil, usagef("--probe tries what --scan finds: add --scan")
	case set.IsSet("every") && !cfg.Scan:
		return nil, usagef("--every repeats --scan: add --scan")
	case (set.IsSet("exit-code") || set.IsSet("metrics")) && !cfg.Scan:
		return nil, usagef("--exit-code and --metrics are for --scan: add --scan")
	case set.IsSet("metrics") && cfg.Metrics == "":
		return nil, usagef("--metrics: give a file, such as /var/lib/node_exporter/textfile_collector/invoke_ns.prom")
	case set.IsSet("exit-code") && set.IsSet("every"):
		return nil, usagef("--exit-code gives one scan's status, which --every has not: leave one out " +
			"(--metrics gives each report's findings)")
	case cfg.Scan && (set.IsSet('i') || cfg.Compare || cfg.Target != "" || len(set.Args()) > 0):
		return nil, usagef("--scan goes alone: leave out -i, -c, --target and any command")
	}
	if err := parseObjects(set, cfg, kind, key); err != nil {
		return nil, err
	}
	d, err := parseDuration(timeout)
	if err != nil {
		return nil, usagef("-t %s: %v", arg(timeout), err)
	}
	cfg.Timeout = d
	if set.IsSet("every") {
		if cfg.Every, err = parseDuration(every); err != nil {
			return nil, usagef("--every %s: %v", arg(every), err)
		}
	}
	if set.IsSet("exit-code") {
		// 126 and above are the shell's: not found, not executable, a signal.
		n, err := strconv.Atoi(exitCode)
		if err != nil || n < 1 || n > 125 {
			return nil, usagef("--exit-code %s: give a status from 1 to 125", arg(exitCode))
		}
		cfg.ExitCode = n
	}
	if err := ipc.CheckName(queue); err != nil {
		return nil, usagef("-q %s: %v", arg(queue), err)
	}
	return cfg, nil
}

// parseObjects reads -k, --key and -c, and refuses what would be ignored.
func parseObjects(set *getopt.Set, cfg *config, kind, key string) error {
	kinds, err := parseKinds(kind)
	if err != nil {
		return usagef("-k %s: %v", arg(kind), err)
	}
	// The budget is the user's: another namespace's processes have
	// their own, which invoke_ns's queues could only take from.
	if cfg.Target != "" || cfg.Probe {
		if kind != "all" && slices.Contains(kinds, budgetKind.Name) {
			return usagef("-k mqbudget is your own budget: leave it out of --target and --probe")
		}
		kinds = slices.DeleteFunc(kinds, func(k string) bool { return k == budgetKind.Name })
	}
	cfg.Kinds = kinds
	switch {
	case cfg.Compare && set.IsSet('i'):
		return usagef("-c runs both -i no and -i yes: leave out -i")
	case cfg.Compare && len(cfg.Command) > 0:
		return usagef("-c runs two children, and no command (%s) in them", arg(cfg.Command[0]))
	case !cfg.IPC && !cfg.Compare && !cfg.Probe && (set.IsSet('k') || set.IsSet("key")):
		return usagef("-k and --key are for the exchange: add -i yes, -i no or -c")
	case set.IsSet("key") && !ipc.HasSysV(objects(cfg)):
		return usagef("--key is for the System V kinds: add -k msg, sem, shm or all")
	case set.IsSet('q') && !slices.ContainsFunc(kinds, func(k string) bool { return kindNamed(k).ByName }):
		return usagef("-q names a queue, which -k %s leaves out: add mq to -k", arg(kind))
	}
	if set.IsSet("key") {
		k, err := parseKey(key)
		if err != nil {
			return usagef("--key %s: %v", arg(key), err)
		}
		cfg.Key = k
	}
	return nil
}

// parseKinds reads "mq", "all", or a list such as "msg,shm".
func parseKinds(s string) ([]string, error) {
	if s == "all" {
		return kindNames(), nil
	}
	var kinds []string
	for _, k := range strings.Split(s, ",") {
		if kindNamed(k) == nil {
			return nil, errors.New("give mq, msg, sem, shm, pshm, mqbudget, all, or a list")
		}
		if !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	return kinds, nil
}

// parseKey reads a System V key as ipcs shows it (0x0105a4b8) or as
// /proc/sysvipc does (17118584, or below zero).
func parseKey(s string) (int32, error) {
	v, err := strconv.ParseInt(s, 0, 64)
	switch {
	case err != nil:
		return 0, errors.New("not a number: give decimal, or 0x and hex digits")
	case v == 0:
		return 0, errors.New("0 is IPC_PRIVATE, which nobody can look up: choose another")
	case v < math.MinInt32 || v > math.MaxUint32:
		return 0, errors.New("a key has 32 bits: -2147483648 to 0xffffffff")
	}
	return int32(uint32(v)), nil
}

// getoptError rewords getopt's errors in this program's style.
func getoptError(err error) error {
	var ge *getopt.Error
	if errors.As(err, &ge) {
		switch ge.ErrorCode {
		case getopt.UnknownOption:
			return usagef("unknown option %s", ge.Name)
		case getopt.MissingParameter:
			return usagef("option %s needs an argument", ge.Name)
		}
	}
	return &usageError{err.Error()}
}

// parseDuration, for -t and --every, accepts a Go duration ("500ms", "2m")
// or plain seconds ("30").
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		secs, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || secs != secs || secs > 1e9 {
			return 0, errors.New("not a duration: give seconds (30), or 500ms, 2m")
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d <= 0 {
		return 0, errors.New("it must be more than zero")
	}
	return d, nil
}

func checkHostname(h string) error {
	switch {
	case h == "":
		return errors.New("the hostname is empty")
	case len(h) > hostnameMax:
		return fmt.Errorf("%d bytes, more than the kernel's %d", len(h), hostnameMax)
	case strings.ContainsRune(h, 0):
		return errors.New("the hostname holds a NUL byte")
	}
	return nil
}

// usageText is what --help prints; docs/invoke_ns.1 lists the same options
// and a test keeps the two in step.
const usageText = `Usage: invoke_ns [options] [command [argument...]]

Create the POSIX message queue /ipc_namespace, start a child in the
namespaces asked for, and let the child send a message through the queue:
with -i no it arrives, with -i yes the child cannot even see the queue.
With -k the same goes for System V objects, and POSIX shared memory shows
what the IPC namespace does not isolate.
Option parsing stops at the first argument that is not an option; that
argument and those after it are the command the child runs at the end.

Options:
  -h, --help               show this help and exit
  -V, --version            show the version and exit
  -v, --verbose            print each step, as in the article's transcripts;
                           twice (-vv) for more: namespaces, /proc/sysvipc
  -i, --ipc yes|no         do the message exchange; yes puts the child in a
                           new IPC namespace, no leaves it in the parent's
  -p, --pid                new PID namespace (the child is PID 1)
  -m, --mount              new mount namespace, with a /dev/shm of its own
                           (with -p: a fresh /proc)
  -u, --uts HOSTNAME       new UTS namespace with that hostname
  -n, --net                new network namespace (only lo)
  -U, --user               new user namespace with your uid and gid mapped to
                           root, so that no privilege is needed
  -t, --timeout DURATION   how long the parent waits for the message, or
                           a probe may take (default 60s; 30 means seconds;
                           500ms, 2m)
  -k, --kind KIND          the object the message goes through: mq, the POSIX
                           queue (default); msg, sem or shm, the System V
                           message queue, semaphore set or shared memory;
                           pshm, POSIX shared memory in /dev/shm, which the
                           IPC namespace does not isolate (-m does); mqbudget,
                           your budget of POSIX queues (ulimit -q), which no
                           namespace isolates; all of them in turn; or a list
                           such as msg,shm
  -q, --queue NAME         queue name (default /ipc_namespace, or while that
                           is taken /ipc_namespace.PID, said so)
      --key KEY            System V key, as 17118584 or 0x01053578 (default:
                           a free one drawn at random)
  -f, --force              remove an object of that name or key that an
                           earlier run of yours left behind (never a live
                           run's, nor another user's)
  -c, --compare            read the message once, run a child with -i no and
                           one with -i yes, and show both side by side
      --target PID|PATH    do the exchange with the child in the IPC
                           namespace of process PID (a running container),
                           or of the namespace file PATH: delivered means
                           it shares this one, blocked that it is isolated
      --from PID|PATH      make the parent's objects, and wait, in that IPC
                           namespace instead of its own: with --target, one
                           container checked against another; with --scan,
                           hold the containers against it, not the host
      --scan               list the node's containers, and the IPC namespaces
                           no container owns, and which share the host's IPC
                           namespace (PID 2's) or its /dev/shm
      --probe              with --scan: prove each against the host's by the
                           exchange (with -k as given), one per CPU at once
      --every DURATION     with --scan: again each period, until a signal;
                           with --json, one JSON object a line
      --exit-code N        with --scan: exit N where a container shares the
                           host's IPC namespace or /dev/shm (0 otherwise)
      --metrics FILE       with --scan: after each report, write its findings
                           to FILE for Prometheus (node_exporter's textfile
                           collector), whole: never half of one
      --json               print the verdict as one JSON object on stdout
                           (its fields: JSON in invoke_ns(1)); the
                           transcript goes to stderr

Exit status:
  0  the message was delivered (for mqbudget: the budget crossed, or
     does not limit you), or there was nothing to deliver
  1  some other failure
  2  a mistake on the command line
  3  blocked: the child is in an IPC namespace (or /dev/shm) of its own,
     where it found nothing of the parent's; with kinds on both sides of
     the line (-k all), only when nothing got through
  4  timed out: no message arrived in time
  5  the child had no message to send (end of input, or too long)
  6  --compare: the runs did not show what each namespace isolates
     (delivered with -i no, blocked with -i yes; pshm delivered in both,
     or with -m blocked in both; mqbudget crossed in both)
  7  taken: the child sent the message, and another process took it
  8  interfered: the kernel says the child's namespace (or /dev/shm) is
     the parent's, and the message did not cross, or another process
     removed or replaced the objects: no verdict
  N  --scan --exit-code N: a container shares the host's IPC namespace
     or /dev/shm (--scan is 0 otherwise, whatever it finds)
  With a command: once the exchange is over (or without -i), the
  command's own status (127 not found, 126 not executable, 128+N
  killed by signal N); statuses 3 to 5, 7 and 8 come first.
  The child killed by signal N before it sent, or invoke_ns ended by
  signal N: 128+N. With -p, SIGTERM and SIGHUP go to the command, which
  is killed if it has not ended 2 s later. A reader of the output that
  goes away (| head): 141, quietly, as SIGPIPE would.
`

func usage(w io.Writer) { io.WriteString(w, usageText) }
