// handshake.go: how the parent and the re-executed child find and talk to
// each other.
//
// The child is this binary run again through /proc/self/exe, with the
// hidden variable _INVOKE_NS_CHILD naming two pipes it inherits, by
// descriptor and inode, and with --target and pshm a third descriptor,
// the target's root directory, in which it looks up /dev/shm. It unsets
// the variable at once, so neither its lines nor its command see it. The
// descriptors come above every one the caller gave invoke_ns, which the
// command gets at their own numbers.
//
// The steps, one JSON object per line, in this order:
//
//	parent                                    child
//	starts the child first, so that its       starts the Go runtime,
//	runtime starts meanwhile                  blocks reading its pipe
//	creates the objects, prints its lines
//	stepConfig: its options and the run ----->  reads them
//	stepGo: the checkpoint            ----->  prints its lines; mounts and
//	                                          hostname; tries an object
//	                                  <-----  stepReport: what happened (-i only)
//	prints the verdict
//	stepAck                           ----->  (report and ack again for each
//	                                          further object, with -k)
//	                                          then its command
//	                                          its pipes are close-on-exec: exec
//	                                          or exit is EOF for the parent
//
// After its last report, a child with nothing more to do (no command)
// exits without waiting for the ack, and the parent sends none
// (acksWanted).
//
// The checkpoint is the one of the reference articles: the child reads until
// the parent has said its own lines, so the two never interleave. EOF in
// either direction means the other side is gone.

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"invoke_ns/internal/ipc"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

const childEnv = "_INVOKE_NS_CHILD"

// maxProcsEnv is the variable by which the child's runtime runs on one P.
// Its name after the descriptors in childEnv says that the parent set it,
// for the child's runtime alone (childEnviron).
const maxProcsEnv = "GOMAXPROCS"

// Steps of the handshake.
const (
	stepConfig = "config"
	stepGo     = "go"
	stepReport = "report"
	stepAck    = "ack"
)

// message is one line of the handshake.
type message struct {
	Step   string        `json:"step"`
	Config *childOptions `json:"config,omitempty"`
	Run    *runSpec      `json:"run,omitempty"`
	Report *report       `json:"report,omitempty"`
}

// childOptions are the options the child acts on: what it prints, its
// mounts, hostname and command. The rest stays with the parent, and a
// small type is quick to encode the first time (BENCHMARKS.md).
type childOptions struct {
	Verbose  int      `json:"verbose,omitempty"`
	NewPID   bool     `json:"pid,omitempty"`
	NewMount bool     `json:"mount,omitempty"`
	NewNet   bool     `json:"net,omitempty"`
	NewUser  bool     `json:"user,omitempty"`
	Hostname string   `json:"uts,omitempty"`
	Command  []string `json:"command,omitempty"`
}

// forChild is what the child is told of cfg.
func forChild(cfg *config) *childOptions {
	return &childOptions{Verbose: cfg.Verbose, NewPID: cfg.NewPID, NewMount: cfg.NewMount, NewNet: cfg.NewNet,
		NewUser: cfg.NewUser, Hostname: cfg.Hostname, Command: cfg.Command}
}

// config is the child's view of the options, from what it was told.
func (o *childOptions) config() *config {
	return &config{Verbose: o.Verbose, NewPID: o.NewPID, NewMount: o.NewMount, NewNet: o.NewNet,
		NewUser: o.NewUser, Hostname: o.Hostname, Command: o.Command}
}

// runSpec is what one run is given besides the user's options: --compare
// makes two runs of one config with different specs.
type runSpec struct {
	IPC       bool         `json:"ipc"`                  // do the exchange
	NewIPC    bool         `json:"new_ipc"`              // the child in a new IPC namespace
	Objects   []ipc.Object `json:"objects"`              // what the child tries, in order
	Message   *string      `json:"message,omitempty"`    // read by the parent: no prompt
	TryCreate bool         `json:"try_create,omitempty"` // the child also makes its own
	Quiet     bool         `json:"quiet,omitempty"`      // no transcript, no perror
}

// Outcomes the child reports after its try at an object.
const (
	outcomeSent       = "sent"        // the message is in the object
	outcomeOpenFailed = "open-failed" // the lookup failed: Errno says why
	outcomeNoMessage  = "no-message"  // end of input before a message
	outcomeTooLong    = "too-long"    // the message did not fit: Size says how big
	outcomeSendFailed = "send-failed" // the send failed: Errno says why
	outcomeNotOurs    = "not-ours"    // what has the name or key is not the parent's
)

// report is what the child tells the parent about its try at an object.
type report struct {
	Kind    string     `json:"kind"`
	Outcome string     `json:"outcome"`
	Errno   unix.Errno `json:"errno,omitempty"`
	Size    int        `json:"size,omitempty"`
	Endless bool       `json:"endless,omitempty"` // too long, with no end in sight
	// ShmDir says that the failed lookup was of the target's /dev/shm
	// itself, not of the file in it.
	ShmDir bool `json:"shm_dir,omitempty"`
	// With TryCreate: whether the child could make an object of the
	// same name or key itself (CreateErrno 0), and if not, why.
	CreateTried bool       `json:"create_tried,omitempty"`
	CreateErrno unix.Errno `json:"create_errno,omitempty"`
}

// acksWanted is how many acks the child reads when it reports on n
// objects: one after each report, so that what it says next comes after
// the parent's verdict, but none after the last if it has nothing more to
// do (no command, which prints a line and runs). Both sides count with
// it, so that the parent never writes an ack into a pipe whose reader may
// be gone.
func acksWanted(cfg *config, n int) int {
	if n > 0 && len(cfg.Command) == 0 {
		return n - 1
	}
	return n
}

// link is one side's end of the two handshake pipes, and on the child's
// side the target's root, where it was given one.
type link struct {
	r    *os.File
	w    *os.File
	buf  *bufio.Reader
	root *os.File
}

func newLink(r, w *os.File) *link {
	return &link{r: r, w: w, buf: bufio.NewReader(r)}
}

// childLink picks up the pipes the parent announced in childEnv, if it is
// set, and makes them close-on-exec so that the child's command inherits
// neither; without childEnv it returns nil. The marker names each pipe's
// descriptor and inode: a variable set by someone else, by mistake, is
// refused at once instead of waiting on descriptors invoke_ns never made.
// The command's environment is the user's: childEnv goes, and GOMAXPROCS
// too if the parent added it (the runtime has read it already).
func childLink() (*link, error) {
	val, ok := os.LookupEnv(childEnv)
	if !ok {
		return nil, nil
	}
	os.Unsetenv(childEnv)
	notOurs := fmt.Errorf("%s=%q is set, but invoke_ns did not start this process "+
		"— unset it (unset %s), since it is for invoke_ns's own use", childEnv, val, childEnv)
	f := strings.Fields(val)
	if len(f) > 0 && f[len(f)-1] == maxProcsEnv {
		os.Unsetenv(maxProcsEnv)
		f = f[:len(f)-1]
	}
	if len(f) != 2 && len(f) != 3 {
		return nil, notOurs
	}
	var fds []int
	for i, s := range f {
		fdText, inoText, _ := strings.Cut(s, ":")
		fd, err := strconv.Atoi(fdText)
		ino, ierr := strconv.ParseUint(inoText, 10, 64)
		want := uint32(unix.S_IFIFO)
		if i == 2 {
			want = unix.S_IFDIR // the target's root
		}
		var st unix.Stat_t
		if err != nil || ierr != nil || fd < 3 || unix.Fstat(fd, &st) != nil ||
			st.Mode&unix.S_IFMT != want || st.Ino != ino {
			return nil, notOurs
		}
		unix.CloseOnExec(fd)
		fds = append(fds, fd)
	}
	l := newLink(os.NewFile(uintptr(fds[0]), "handshake-in"), os.NewFile(uintptr(fds[1]), "handshake-out"))
	if len(fds) == 3 {
		l.root = os.NewFile(uintptr(fds[2]), "the target's root")
	}
	return l, nil
}

// encodeMessage is m as one line, newline included.
func encodeMessage(m message) ([]byte, error) {
	b, err := json.Marshal(m)
	return append(b, '\n'), err
}

// decodeMessage reads one line written by encodeMessage, newline removed.
// A field it does not know is an error: both sides are one binary.
func decodeMessage(line []byte) (message, error) {
	var m message
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return message{}, err
	}
	if dec.More() {
		return message{}, errors.New("more than one object on a line")
	}
	return m, nil
}

// send writes one step.
func (l *link) send(m message) error {
	b, err := encodeMessage(m)
	if err == nil {
		_, err = l.w.Write(b)
	}
	if err != nil {
		return fmt.Errorf("handshake: sending %q: %w", m.Step, err)
	}
	return nil
}

// next reads the next step and checks that it is the one expected.
// io.EOF means the other side has gone.
func (l *link) next(want string) (message, error) {
	line, err := l.buf.ReadBytes('\n')
	if errors.Is(err, io.EOF) {
		// A line cut short is the other side gone too.
		return message{}, io.EOF
	}
	if err != nil {
		return message{}, fmt.Errorf("handshake: reading %q: %w", want, err)
	}
	m, err := decodeMessage(line)
	if err != nil {
		return m, fmt.Errorf("handshake: reading %q: %w", want, err)
	}
	if m.Step != want {
		return m, fmt.Errorf("handshake: got %q, expected %q", m.Step, want)
	}
	return m, nil
}

func (l *link) close() {
	if l.r != nil {
		l.r.Close()
	}
	if l.w != nil {
		l.w.Close()
	}
}
