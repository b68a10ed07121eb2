// Command pairs times programs against each other in interleaved runs, to
// measure a change of a few tenths of a millisecond on a machine whose speed
// drifts by more than that within a minute (BENCHMARKS.md). Each round runs
// every program once, in a shuffled order, so that a drift slows them alike;
// it prints each program's median time, and the median of its differences
// from the first program within the rounds.
//
// Two copies of one binary can differ by 0.7 ms a run here, the same
// bytes in different files: where the kernel happened to put each file's
// pages counts. So every run is of a fresh copy of its program, written just
// before and removed after, and what is the files' and not the code's
// averages out over the rounds.
//
//	go run ./bench/pairs [-n rounds] [-input file] old new ... [-- args]
//
// A program given with words after its path, in one argument ("./invoke_ns
// --compare"), is run with those words first: so one binary can be timed
// against itself with other options. Every program gets the same args, the input file as its standard input
// ("hello\n" if none is given), and /dev/null as its output. Exit statuses
// are not checked: `-i yes` ends with 3.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

var (
	rounds = flag.Int("n", 400, "rounds: runs of each program")
	warmup = flag.Int("warmup", 10, "untimed runs of each program first")
	input  = flag.String("input", "", "standard input of each run (default: a file holding hello)")
)

func main() {
	flag.Parse()
	if err := pairs(flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "pairs:", err)
		os.Exit(1)
	}
}

func pairs(args []string) error {
	progs, progArgs := args, []string(nil)
	if i := slices.Index(args, "--"); i >= 0 {
		progs, progArgs = args[:i], args[i+1:]
	}
	if len(progs) < 2 || *rounds < 1 {
		return fmt.Errorf("usage: pairs [-n rounds] [-input file] old new ... [-- args]")
	}
	dir, err := os.MkdirTemp("", "invoke_ns-pairs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bins := make([][]byte, len(progs))
	own := make([][]string, len(progs))
	for i, p := range progs {
		words := strings.Fields(p)
		if len(words) == 0 {
			return fmt.Errorf("an empty program")
		}
		if bins[i], err = os.ReadFile(words[0]); err != nil {
			return err
		}
		own[i] = append(words[1:len(words):len(words)], progArgs...)
	}
	in := *input
	if in == "" {
		in = filepath.Join(dir, "hello")
		if err := os.WriteFile(in, []byte("hello\n"), 0o644); err != nil {
			return err
		}
	}
	exe := filepath.Join(dir, "exe")
	for i, b := range bins {
		for range *warmup {
			if _, err := timeRun(exe, b, own[i], in); err != nil {
				return err
			}
		}
	}
	times := make([][]time.Duration, len(progs))
	order := make([]int, len(progs))
	for i := range order {
		order[i] = i
	}
	for range *rounds {
		rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, i := range order {
			d, err := timeRun(exe, bins[i], own[i], in)
			if err != nil {
				return err
			}
			times[i] = append(times[i], d)
		}
	}
	for i, p := range progs {
		diffs := make([]time.Duration, *rounds)
		for r := range diffs {
			diffs[r] = times[i][r] - times[0][r]
		}
		fmt.Printf("%8.3f ms median, %+.3f ms paired with the first  %s\n", ms(median(times[i])), ms(median(diffs)), p)
	}
	return nil
}

// timeRun writes bin to exe, runs it once, removes it, and says how long
// the run took, from start to reaped.
func timeRun(exe string, bin []byte, args []string, input string) (time.Duration, error) {
	if err := os.WriteFile(exe, bin, 0o755); err != nil {
		return 0, err
	}
	defer os.Remove(exe)
	in, err := os.Open(input)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	cmd := exec.Command(exe, args...)
	cmd.Stdin = in
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	cmd.Wait()
	return time.Since(began), nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Sorted(slices.Values(ds))
	return (s[(len(s)-1)/2] + s[len(s)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
