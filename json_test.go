package main

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// jsonFields lists the field paths of a decoded object: "options.ipc".
func jsonFields(prefix string, v any, into map[string]bool) {
	obj, ok := v.(map[string]any)
	if !ok {
		return
	}
	for k, sub := range obj {
		path := prefix + k
		into[path] = true
		if !strings.HasSuffix(path, "namespaces") {
			jsonFields(path+".", sub, into)
		}
	}
}

func TestJSON(t *testing.T) {
	flags := privFlags(t)
	doc, err := os.ReadFile("docs/json.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_.]+)` \\|").FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = true
	}
	tests := []struct {
		name      string
		args      []string
		code      int
		verdict   string
		delivered bool
		open      string
		sameIPC   bool
	}{
		{"-i no", []string{"-i", "no"}, exitOK, "delivered", true, "ok", true},
		{"-i yes", []string{"-i", "yes", "-p", "-u", "box"}, exitBlocked, "blocked", false, "ENOENT", false},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := testQueue(t)
			r := run(t, "json hello\n", append(append(flags, "--json", "-q", q), tt.args...)...)
			var raw map[string]any
			if err := json.Unmarshal([]byte(r.stdout), &raw); err != nil {
				t.Fatalf("stdout is not one JSON object: %v\n%s", err, r.stdout)
			}
			jsonFields("", raw, seen)
			var got record
			json.Unmarshal([]byte(r.stdout), &got)
			if got.ExitStatus != r.code || r.code != tt.code {
				t.Errorf("exit_status %d, process %d, want %d", got.ExitStatus, r.code, tt.code)
			}
			if got.Verdict != tt.verdict || got.Delivered != tt.delivered || got.Queue != q || got.Options.Queue != q {
				t.Errorf("verdict %q delivered %v queue %q", got.Verdict, got.Delivered, got.Queue)
			}
			if tt.delivered != (got.Message != nil && *got.Message == "json hello") {
				t.Errorf("message %v", got.Message)
			}
			if got.ChildOpen == nil || (got.ChildOpen.Result != tt.open && got.ChildOpen.Errno != tt.open) {
				t.Errorf("child_open %+v, want %s", got.ChildOpen, tt.open)
			}
			if (got.ParentNS["ipc"] == got.ChildNS["ipc"]) != tt.sameIPC || !strings.HasPrefix(got.ChildNS["ipc"], "ipc:[") {
				t.Errorf("ipc namespaces %q and %q", got.ParentNS["ipc"], got.ChildNS["ipc"])
			}
			for _, k := range []string{"pid", "uts"} {
				if slices.Contains(tt.args, "-p") && got.ParentNS[k] == got.ChildNS[k] {
					t.Errorf("%s namespace not new: %q", k, got.ChildNS[k])
				}
			}
			if got.ElapsedMS <= 0 {
				t.Errorf("elapsed_ms %v", got.ElapsedMS)
			}
			if !strings.Contains(r.stderr, "enter a message") && tt.delivered {
				t.Errorf("the transcript did not go to stderr:\n%s", r.stderr)
			}
		})
	}
	seen["error"] = true // only on failures; checked below
	for f := range seen {
		if !documented[f] {
			t.Errorf("field %q is not in docs/json.md", f)
		}
	}
	for f := range documented {
		if !seen[f] && !strings.HasPrefix(f, "child_open.e") {
			t.Errorf("docs/json.md lists %q, which no run printed", f)
		}
	}
	// A failure carries its error: here, a queue that exists already.
	q := testQueue(t)
	held, err := CreateQueue(q, 0o600, 1, 8)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { held.Close(); UnlinkQueue(q) }()
	r := run(t, "", append(flags, "--json", "-i", "no", "-q", q)...)
	var got record
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.ExitStatus != exitFailure ||
		got.Verdict != "failed" || !strings.Contains(got.Error, "file exists") || !strings.Contains(r.stderr, got.Error) {
		t.Errorf("exit %d, object %+v (%v)\nstderr: %s", r.code, got, err, r.stderr)
	}
}
