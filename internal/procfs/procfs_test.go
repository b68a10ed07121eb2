package procfs

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		size int
	}{
		{"empty", 0},
		{"less than a read", 10},
		{"more than the first buffer", 513},
		{"many times the first buffer", 5000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := bytes.Repeat([]byte("x"), tt.size)
			path := filepath.Join(dir, strconv.Itoa(tt.size))
			if err := os.WriteFile(path, want, 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := Read(path)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("Read: %d bytes, %v; want %d bytes", len(got), err, len(want))
			}
		})
	}
	if _, err := Read(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read of a missing file: %v, want ENOENT", err)
	}
}

func TestNames(t *testing.T) {
	if names := Names("/proc/self/task"); !slices.Contains(names, strconv.Itoa(unix.Gettid())) {
		t.Errorf("Names(/proc/self/task) = %v: this thread is not in it", names)
	}
	dir := t.TempDir()
	var want []string
	for i := range 300 { // more than one getdents(2)
		name := strconv.Itoa(i) + "-a-longer-name-to-fill-the-buffer"
		want = append(want, name)
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got := Names(dir)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Names: %d names, want %d", len(got), len(want))
	}
	if got := Names(filepath.Join(dir, "missing")); got != nil {
		t.Errorf("Names of a missing folder = %v, want none", got)
	}
}

// A file the kernel makes whole at its first read reads whole, with one
// read less: one that fits the first buffer, and one that does not. What
// the two reads give may differ (a count of faults); their shape, by
// lines and fields, may not.
func TestReadMade(t *testing.T) {
	shape := func(b []byte) []int {
		var s []int
		for _, l := range bytes.Split(b, []byte("\n")) {
			s = append(s, len(bytes.Fields(l)))
		}
		return s
	}
	for _, name := range []string{"/proc/self/stat", "/proc/self/cgroup", "/proc/self/status", "/proc/self/comm"} {
		want, err := Read(name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ReadMade(name)
		if err != nil || !slices.Equal(shape(got), shape(want)) || !bytes.HasSuffix(got, []byte("\n")) {
			t.Errorf("%s: %q, %v; want the shape of %q", name, got, err, want)
		}
	}
}
