package reexec

import (
	"bytes"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	"invoke_ns/internal/ipc"

	"golang.org/x/sys/unix"
)

func TestAcksWanted(t *testing.T) {
	held := &ipc.Kind{Name: "held", PerUser: true}
	objs := func(kinds ...*ipc.Kind) []ipc.Object {
		var o []ipc.Object
		for _, k := range kinds {
			o = append(o, ipc.Object{Kind: k})
		}
		return o
	}
	tests := []struct {
		name    string
		command bool
		objs    []ipc.Object
		want    int
	}{
		{"no objects", false, nil, 0},
		{"one object, nothing after it", false, objs(ipc.Msg), 0},
		{"four objects, nothing after them", false, objs(ipc.Msg, ipc.Sem, ipc.Shm, ipc.Pshm), 3},
		{"four objects, then a command", true, objs(ipc.Msg, ipc.Sem, ipc.Shm, ipc.Pshm), 4},
		{"no objects, then a command", true, nil, 0},
		{"the last held until the verdict", false, objs(ipc.Msg, held), 2},
		{"one held before the last", false, objs(held, ipc.Msg), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AcksWanted(tt.command, tt.objs); got != tt.want {
				t.Errorf("AcksWanted(%d objects) = %d, want %d", len(tt.objs), got, tt.want)
			}
		})
	}
}

// The parent writes no more acks than the child reads: an ack beyond them
// would go into a pipe whose reader may have exited.
func TestAckSendsOnlyWhatTheChildReads(t *testing.T) {
	for _, acks := range []int{0, 1, 3} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		c := &Child{link: newLink(nil, w), acks: acks}
		for range acks + 2 {
			c.Ack()
		}
		w.Close()
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		ack, err := encodeStep(Step{Name: StepAck})
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.Repeat(string(ack), acks); string(got) != want {
			t.Errorf("with %d acks wanted, %d calls wrote %q, want %q", acks, acks+2, got, want)
		}
	}
}

// Every step, as each side writes it, reads back the same.
func TestStepRoundTrip(t *testing.T) {
	msg := "a \"quoted\" message\x00\n\t✓"
	for _, m := range []Step{
		{Name: StepSetup, Setup: &Setup{New: unix.CLONE_NEWNS | unix.CLONE_NEWIPC, Verbose: 1, Hostname: "h",
			Command: []string{"sh", "-c", "echo $$"}, IPC: true,
			Objects: []ipc.Object{{Kind: ipc.Pshm, Name: "/q"}, {Kind: ipc.Sem, Key: -5}},
			Message: &msg, TryCreate: true, Quiet: true}},
		{Name: StepGo},
		{Name: StepReport, Report: &Report{Kind: "msg", Tried: OpenFailed, Errno: unix.ENOENT, CreateTried: true}},
		{Name: StepAck},
	} {
		b, err := encodeStep(m)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Count(b, []byte("\n")) != 1 || b[len(b)-1] != '\n' {
			t.Fatalf("%q is not one line", b)
		}
		got, err := decodeStep(b)
		if err != nil || !reflect.DeepEqual(got, m) {
			t.Errorf("%s: read back %+v (%v), want %+v", m.Name, got, err, m)
		}
	}
	for _, bad := range []string{"", "{", `{"step":"go","nosuch":1}`, `{"step":"go"} {"step":"ack"}`, `[1]`} {
		if _, err := decodeStep([]byte(bad)); err == nil {
			t.Errorf("decodeStep(%q) accepted it", bad)
		}
	}
}

// Whatever a line holds, decoding fails cleanly or gives a step that
// encodes and decodes to itself.
func FuzzDecodeStep(f *testing.F) {
	for _, s := range []string{`{"step":"go"}`, `{"step":"report","report":{"kind":"msg","tried":"sent"}}`,
		`{"step":"setup","setup":{"verbose":1,"command":["sh"],"ipc":true,"objects":[{"kind":"pshm","name":"/q"}]}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		m, err := decodeStep(line)
		if err != nil {
			return
		}
		b, err := encodeStep(m)
		if err != nil {
			t.Fatalf("%q decoded, but does not encode: %v", line, err)
		}
		again, err := decodeStep(b)
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("%q: %+v encodes as %q, which reads back as %+v (%v)", line, m, b, again, err)
		}
	})
}
