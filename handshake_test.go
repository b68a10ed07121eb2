package main

import (
	"io"
	"os"
	"strings"
	"testing"
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
		{"one object, then mounts", config{NewMount: true}, 1, 1},
		{"one object, then a hostname", config{Hostname: "h"}, 1, 1},
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
		c := &child{link: newLink(nil, w), acks: acks}
		for range acks + 2 {
			c.ack()
		}
		w.Close()
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.Repeat(string(encodeMessage(message{Step: stepAck})), acks); string(got) != want {
			t.Errorf("with %d acks wanted, %d calls wrote %q, want %q", acks, acks+2, got, want)
		}
	}
}
