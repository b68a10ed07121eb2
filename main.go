// invoke_ns shows what a Linux IPC namespace isolates: the parent creates a
// POSIX message queue, starts a child in the namespaces asked for, and the
// child tries to send it a message. Run with -i no the message arrives; run
// with -i yes the child cannot even see the queue.
//
// main reads the options into one config and hands it to the parent's side
// (parent.go); the child (child.go) is this same binary re-executed, and is
// recognised before any option is parsed (handshake.go).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pborman/getopt/v2"
)

// Exit statuses. They are listed in --help, the README and the man page.
const (
	exitOK        = 0 // delivered, or nothing to deliver
	exitFailure   = 1 // anything else that went wrong
	exitUsage     = 2 // bad options
	exitBlocked   = 3 // the child could not open the queue
	exitTimeout   = 4 // no message arrived in time
	exitNoMessage = 5 // the child had no message to send
)

// Limits the original program has, kept so its transcripts still hold.
const (
	messageMax  = 80 // bytes of text, as the prompt says
	queueMsgMax = 10 // mq_maxmsg
	hostnameMax = 64 // HOST_NAME_MAX
)

// config is everything the options say. The child receives it whole over
// the handshake pipe, hence the exported fields.
type config struct {
	Prog     string        // argv[0] as typed, for "Finishing up"
	Verbose  bool          // -v
	NewPID   bool          // -p
	NewMount bool          // -m
	NewNet   bool          // -n
	NewUser  bool          // -U
	Hostname string        // -u: non-empty means a new UTS namespace
	IPC      bool          // -i given: do the message exchange
	NewIPC   bool          // -i yes
	Timeout  time.Duration // -t
	Queue    string        // -q
	Force    bool          // -f
	JSON     bool          // --json: the transcript to stderr, a verdict object to stdout
	Command  []string      // what the child runs at the end, if anything
}

func main() {
	if isChild() {
		os.Exit(exitStatus(runChild(), "child: "))
	}
	cfg, err := parseOptions(os.Args)
	if errors.Is(err, errHelp) {
		usage(os.Stdout)
		os.Exit(exitOK)
	}
	if err != nil {
		os.Exit(exitStatus(err, ""))
	}
	os.Exit(exitStatus(runParent(cfg), ""))
}

// exitStatus is the one place where an error becomes a message and a
// status.
func exitStatus(err error, side string) int {
	if msg := errText(err); msg != "" {
		fmt.Fprintf(os.Stderr, "invoke_ns: %s%s\n", side, msg)
	}
	return statusOf(err)
}

// statusOf is the exit status for err.
func statusOf(err error) int {
	var st *statusError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &st):
		return st.code
	case errors.As(err, new(*usageError)):
		return exitUsage
	}
	return exitFailure
}

// errText is what to print for err: nothing for a bare status, such as a
// verdict the transcript has already given.
func errText(err error) string {
	var st *statusError
	if err == nil || errors.As(err, &st) && st.err == nil {
		return ""
	}
	return err.Error()
}

// statusError carries an exit status other than 1, and an optional error
// to print: a verdict such as "blocked" is an outcome, not a failure.
type statusError struct {
	code int
	err  error
}

func (e *statusError) Error() string {
	if e.err == nil {
		return "exit status " + strconv.Itoa(e.code)
	}
	return e.err.Error()
}

func (e *statusError) Unwrap() error { return e.err }

// usageError is a mistake on the command line: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string {
	return e.msg + " — usage: invoke_ns [options] [command [argument...]]; see invoke_ns --help"
}

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// hint appends what to do to an error: "what failed: why — what to do".
func hint(err error, todo string) error {
	return fmt.Errorf("%w — %s", err, todo)
}

var errHelp = errors.New("help requested")

// parseOptions turns argv into a config, checking everything before
// anything is created.
func parseOptions(args []string) (*config, error) {
	set := getopt.New()
	help := set.BoolLong("help", 'h')
	verbose := set.BoolLong("verbose", 'v')
	pid := set.BoolLong("pid", 'p')
	mount := set.BoolLong("mount", 'm')
	net := set.BoolLong("net", 'n')
	user := set.BoolLong("user", 'U')
	force := set.BoolLong("force", 'f')
	jsonOut := set.BoolLong("json", 0)
	host := set.StringLong("uts", 'u', "")
	ipc := set.StringLong("ipc", 'i', "")
	timeout := set.StringLong("timeout", 't', "60s")
	queue := set.StringLong("queue", 'q', "/ipc_namespace")
	if err := set.Getopt(args, nil); err != nil {
		return nil, getoptError(err)
	}
	if *help {
		return nil, errHelp
	}
	cfg := &config{
		Prog: args[0], Verbose: *verbose, NewPID: *pid, NewMount: *mount,
		NewNet: *net, NewUser: *user, Force: *force, JSON: *jsonOut, Queue: *queue,
		Command: set.Args(),
	}
	if set.IsSet('u') {
		if err := checkHostname(*host); err != nil {
			return nil, usagef("-u %q: %v", *host, err)
		}
		cfg.Hostname = *host
	}
	if set.IsSet('i') {
		switch *ipc {
		case "yes":
			cfg.IPC, cfg.NewIPC = true, true
		case "no":
			cfg.IPC = true
		default:
			return nil, usagef("-i %q: the argument must be yes or no", *ipc)
		}
	}
	d, err := parseTimeout(*timeout)
	if err != nil {
		return nil, usagef("-t %q: %v", *timeout, err)
	}
	cfg.Timeout = d
	if err := checkQueueName(*queue); err != nil {
		return nil, usagef("-q %q: %v", *queue, err)
	}
	return cfg, nil
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

// parseTimeout accepts a Go duration ("500ms", "2m") or plain seconds ("30").
func parseTimeout(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		secs, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || secs != secs || secs > 1e9 {
			return 0, errors.New("not a duration: give seconds (30) or a Go duration (500ms, 2m)")
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d <= 0 {
		return 0, errors.New("the timeout must be more than zero")
	}
	return d, nil
}

func checkHostname(h string) error {
	switch {
	case h == "":
		return errors.New("the hostname is empty")
	case len(h) > hostnameMax:
		return fmt.Errorf("the hostname is %d bytes, more than the %d the kernel allows", len(h), hostnameMax)
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
Option parsing stops at the first argument that is not an option; that
argument and those after it are the command the child runs at the end.

Options:
  -h, --help               show this help and exit
  -v, --verbose            print each step, as in the article's transcripts
  -i, --ipc yes|no         do the message exchange; yes puts the child in a
                           new IPC namespace, no leaves it in the parent's
  -p, --pid                new PID namespace (the child is PID 1)
  -m, --mount              new mount namespace (with -p: a fresh /proc)
  -u, --uts HOSTNAME       new UTS namespace with that hostname
  -n, --net                new network namespace (only lo)
  -U, --user               new user namespace with your uid and gid mapped to
                           root, so that no privilege is needed
  -t, --timeout DURATION   how long the parent waits for the message
                           (default 60s; 30 means seconds; 500ms, 2m)
  -q, --queue NAME         queue name (default /ipc_namespace)
  -f, --force              remove a queue of that name left by an earlier run
      --json               print the verdict as one JSON object on stdout
                           (docs/json.md); the transcript goes to stderr

Exit status:
  0  the message was delivered, or there was nothing to deliver
  1  some other failure
  2  a mistake on the command line
  3  blocked: the child could not open the queue
  4  timed out: no message arrived in time
  5  the child had no message to send (end of input, or too long)
  With a command: once the exchange is over (or without -i), the
  command's own status (127 not found, 126 not executable, 128+N
  killed by signal N); statuses 3 to 5 come first.
  The child killed by signal N before it sent, or invoke_ns ended by
  signal N while it waited for the message: 128+N.
`

func usage(w io.Writer) { io.WriteString(w, usageText) }
