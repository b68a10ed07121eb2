package main

import (
	"bytes"
	"invoke_ns/internal/ipc"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestAcksWanted(t *testing.T) {
	tests := []struct {
		name string
		cfg  config
		n    int
		want int
	}{
		{"no objects", config{}, 0, 0},
		{"one object, nothing after it", config{}, 1, 0},
		{"four objects, nothing after them", config{}, 4, 3},
		{"one object, mounts before it", config{NewMount: true}, 1, 0},
		{"one object, a hostname before it", config{Hostname: "h"}, 1, 0},
		{"four objects, then a command", config{Command: []string{"true"}}, 4, 4},
		{"no objects, then a command", config{Command: []string{"true"}}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := acksWanted(&tt.cfg, tt.n); got != tt.want {
				t.Errorf("acksWanted(%d objects) = %d, want %d", tt.n, got, tt.want)
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
		c := &childProc{link: newLink(nil, w), acks: acks}
		for range acks + 2 {
			c.ack()
		}
		w.Close()
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		ack, err := encodeMessage(message{Step: stepAck})
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.Repeat(string(ack), acks); string(got) != want {
			t.Errorf("with %d acks wanted, %d calls wrote %q, want %q", acks, acks+2, got, want)
		}
	}
}

// Every step, as each side writes it, reads back the same.
func TestMessageRoundTrip(t *testing.T) {
	msg := "a \"quoted\" message\x00\n\t✓"
	for _, m := range []message{
		{Step: stepConfig, Config: &childOptions{Verbose: 1, NewMount: true, Hostname: "h", Command: []string{"sh", "-c", "echo $$"}},
			Run: &runSpec{IPC: true, NewIPC: true, Objects: []ipc.Object{{Kind: mqKind, Name: "/q"}, {Kind: ipc.Sem, Key: -5}},
				Message: &msg, TryCreate: true, Quiet: true}},
		{Step: stepGo},
		{Step: stepReport, Report: &report{Kind: "msg", Outcome: outcomeOpenFailed, Errno: unix.ENOENT, CreateTried: true}},
		{Step: stepAck},
	} {
		b, err := encodeMessage(m)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Count(b, []byte("\n")) != 1 || b[len(b)-1] != '\n' {
			t.Fatalf("%q is not one line", b)
		}
		got, err := decodeMessage(b)
		if err != nil || !reflect.DeepEqual(got, m) {
			t.Errorf("%s: read back %+v (%v), want %+v", m.Step, got, err, m)
		}
	}
	for _, bad := range []string{"", "{", `{"step":"go","nosuch":1}`, `{"step":"go"} {"step":"ack"}`, `[1]`} {
		if _, err := decodeMessage([]byte(bad)); err == nil {
			t.Errorf("decodeMessage(%q) accepted it", bad)
		}
	}
}

// Whatever a line holds, decoding fails cleanly or gives a message that
// encodes and decodes to itself.
func FuzzDecodeMessage(f *testing.F) {
	for _, s := range []string{`{"step":"go"}`, `{"step":"report","report":{"kind":"mq","outcome":"sent"}}`,
		`{"step":"config","config":{"verbose":1,"command":["sh"]},"run":{"ipc":true,"new_ipc":false,"objects":[{"kind":"mq","name":"/q"}]}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		m, err := decodeMessage(line)
		if err != nil {
			return
		}
		b, err := encodeMessage(m)
		if err != nil {
			t.Fatalf("%q decoded, but does not encode: %v", line, err)
		}
		again, err := decodeMessage(b)
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("%q: %+v encodes as %q, which reads back as %+v (%v)", line, m, b, again, err)
		}
	})
}
