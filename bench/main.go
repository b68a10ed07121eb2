// Command bench is what make bench runs: it times invoke_ns beside
// `unshare --ipc true` and the floor program, in runs interleaved one by
// one as bench/pairs runs them, measures peak resident memory with GNU
// time and the binary's size, prints one table with every figure as a
// ratio, and checks the targets of BENCHMARKS.md. It exits 1 if a target
// fails. Timing belongs here, not in go test.
package main

import (
	"debug/elf"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

var (
	binary = flag.String("bin", "./invoke_ns", "the invoke_ns binary")
	phases = flag.String("phases", "./bench/invoke_ns-phases", "invoke_ns built with -tags benchphase")
	floor  = flag.String("floor", "./bench/floor/floor", "the floor program")
	rounds = flag.Int("rounds", 200, "rounds, each one run of every command in a shuffled order")
	scans  = flag.Int("scans", 100, "rounds of the --scan --probe timings")
	spaces = flag.Int("namespaces", 300, "IPC namespaces for --scan --probe to prove")
	warmup = flag.Int("warmup", 5, "untimed runs of each command first")
)

// The floor fed by printf, as invoke_ns is; and invoke_ns given its
// message without a pipeline, as the floor runs.
const (
	pipedFloor = "printf 'hello\\n' | floor"
	fileFed    = "invoke_ns -i no < file"
)

// timing is one command's times over all rounds, in seconds.
type timing struct {
	Median, Min, Max float64
	Runs             int
}

// command is one command timed: a program (copied afresh before each run
// when copy is set) and its arguments, fed "hello" by printf through a
// pipe as a shell pipeline would, or from a file; and the exit status it
// must end with.
type command struct {
	name  string
	prog  string
	args  []string
	copy  bool
	piped bool
	want  int
}

func main() {
	flag.Parse()
	if err := bench(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func bench() error {
	if *rounds < 2 {
		return fmt.Errorf("-rounds %d: at least 2", *rounds)
	}
	bin, err := filepath.Abs(*binary)
	if err != nil {
		return err
	}
	fl, err := filepath.Abs(*floor)
	if err != nil {
		return err
	}
	q := fmt.Sprintf("/invoke_ns_bench_%d", os.Getpid())
	dir, err := os.MkdirTemp("", "invoke_ns-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	hello := filepath.Join(dir, "hello")
	if err := os.WriteFile(hello, []byte("hello\n"), 0o644); err != nil {
		return err
	}
	commands := []command{
		{name: "unshare --ipc true", prog: "unshare", args: []string{"--ipc", "true"}},
		{name: "floor", prog: fl, copy: true},
		// The same pipeline as invoke_ns's commands: its fork for printf
		// costs as much as a fifth of the floor, and is no work of
		// invoke_ns's, so the -i no target compares like with like.
		{name: pipedFloor, prog: fl, copy: true, piped: true},
		{name: "invoke_ns -i no", prog: bin, args: []string{"-i", "no", "-q", q}, copy: true, piped: true},
		// The other way to compare like with like: no pipeline on either
		// side.
		{name: fileFed, prog: bin, args: []string{"-i", "no", "-q", q}, copy: true},
		{name: "invoke_ns -i yes", prog: bin, args: []string{"-i", "yes", "-q", q}, copy: true, piped: true, want: 3},
		{name: "invoke_ns --compare", prog: bin, args: []string{"--compare", "-q", q}, copy: true, piped: true},
	}
	for _, c := range commands {
		for range *warmup {
			if _, err := c.time(dir, hello); err != nil {
				return err
			}
		}
	}
	// Run by run, each round every command once in a shuffled order: a
	// machine whose speed drifts within a minute slows them alike, where
	// a block of one command's runs after another's drifts more than the
	// margins checked (BENCHMARKS.md).
	pooled := map[string][]float64{}
	for range *rounds {
		rand.Shuffle(len(commands), func(i, j int) { commands[i], commands[j] = commands[j], commands[i] })
		for _, c := range commands {
			d, err := c.time(dir, hello)
			if err != nil {
				return err
			}
			pooled[c.name] = append(pooled[c.name], d.Seconds())
		}
	}
	t := map[string]timing{}
	for name, times := range pooled {
		t[name] = summarize(times)
	}
	rssNo, err := peakRSS(bin, "-i", "no", "-q", q)
	if err != nil {
		return err
	}
	rssYes, err := peakRSS(bin, "-i", "yes", "-q", q)
	if err != nil {
		return err
	}
	ph, err := filepath.Abs(*phases)
	if err != nil {
		return err
	}
	scan, err := scanTimes(bin, ph, q)
	if err != nil {
		return err
	}
	return report(t, scan, rssNo, rssYes, bin)
}

// The --scan --probe timings: one worker per CPU, as invoke_ns runs them;
// one worker, everything one after another, as GOMAXPROCS=1 makes it;
// the probes one after another and the rest one per CPU, as -q makes it;
// and one worker per CPU with one CPU. And the probes' own time, one per
// CPU and with one worker, as the build for make bench reports it.
const (
	scanParallel     = "--scan --probe"
	scanSequential   = "GOMAXPROCS=1 --scan --probe"
	scanFixedName    = "--scan --probe -q"
	scanOneCPU       = "taskset -c 0 --scan --probe"
	probesParallel   = "the probes of `--scan --probe`"
	probesSequential = "the probes of `GOMAXPROCS=1 --scan --probe`"
	scanPlain        = "--scan"
	lsns             = "lsns -t ipc"
)

// scanTimes times --scan --probe over -namespaces IPC namespaces of its
// own, each a sleep in a new one, started first and ended after; and its
// probes, as phases (invoke_ns built with -tags benchphase) says.
func scanTimes(bin, phases, q string) (map[string]timing, error) {
	var sleepers []*exec.Cmd
	defer func() {
		for _, c := range sleepers {
			c.Process.Kill()
			c.Wait()
		}
	}()
	own, err := os.Readlink("/proc/self/ns/ipc")
	if err != nil {
		return nil, err
	}
	for range *spaces {
		c := exec.Command("unshare", "--ipc", "sleep", "600")
		if err := c.Start(); err != nil {
			return nil, err
		}
		sleepers = append(sleepers, c)
	}
	// Each is proved only once it is in its namespace.
	deadline := time.Now().Add(30 * time.Second)
	for _, c := range sleepers {
		for {
			id, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/ipc", c.Process.Pid))
			if err == nil && id != own {
				break
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("process %d is not in an IPC namespace of its own after 30 s", c.Process.Pid)
			}
			time.Sleep(time.Millisecond)
		}
	}
	variants := []struct {
		name string
		env  []string
		prog string
		args []string
	}{
		{scanParallel, nil, bin, []string{"--scan", "--probe"}},
		{scanSequential, []string{"GOMAXPROCS=1"}, bin, []string{"--scan", "--probe"}},
		{scanFixedName, nil, bin, []string{"--scan", "--probe", "-q", q}},
		{scanOneCPU, nil, "taskset", []string{"-c", "0", bin, "--scan", "--probe"}},
		{probesParallel, nil, phases, []string{"--scan", "--probe"}},
		{probesSequential, []string{"GOMAXPROCS=1"}, phases, []string{"--scan", "--probe"}},
		// The cost of a scan against util-linux's list of the same
		// namespaces, which reads no container's and proves nothing.
		{scanPlain, nil, bin, []string{"--scan"}},
		{lsns, nil, "lsns", []string{"-t", "ipc"}},
	}
	pooled := map[string][]float64{}
	for round := range *scans + 1 {
		rand.Shuffle(len(variants), func(i, j int) { variants[i], variants[j] = variants[j], variants[i] })
		for _, v := range variants {
			cmd := exec.Command(v.prog, v.args...)
			cmd.Env = append(os.Environ(), v.env...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			began := time.Now()
			out, err := cmd.Output()
			d := time.Since(began)
			if err != nil {
				return nil, fmt.Errorf("%s: %v: %s", v.name, err, stderr.String())
			}
			if n := strings.Count(string(out), " blocked\n"); n < *spaces && strings.Contains(v.name, "--probe") {
				return nil, fmt.Errorf("%s: %d namespaces blocked, not %d", v.name, n, *spaces)
			}
			if n := strings.Count(string(out), "\n"); n < *spaces {
				return nil, fmt.Errorf("%s: %d lines, for %d namespaces", v.name, n, *spaces)
			}
			if v.prog == phases {
				var µs int
				if _, err := fmt.Sscanf(stderr.String(), "invoke_ns: the probes took %d µs", &µs); err != nil {
					return nil, fmt.Errorf("%s: %q: not a build with -tags benchphase", v.name, stderr.String())
				}
				d = time.Duration(µs) * time.Microsecond
			}
			if round > 0 { // the first, a warm-up
				pooled[v.name] = append(pooled[v.name], d.Seconds())
			}
		}
	}
	t := map[string]timing{}
	for name, times := range pooled {
		t[name] = summarize(times)
	}
	return t, nil
}

// time runs c once and says how long the run took, from its start to the
// end of its last process. Each run is of a fresh copy of its program:
// two byte-identical binaries, each timed from its own file, differ by up
// to 0.7 ms a run here, by where the kernel put the file's pages
// (BENCHMARKS.md).
func (c command) time(dir, hello string) (time.Duration, error) {
	prog := c.prog
	if c.copy {
		prog = filepath.Join(dir, "prog")
		b, err := os.ReadFile(c.prog)
		if err == nil {
			err = os.WriteFile(prog, b, 0o755)
		}
		if err != nil {
			return 0, err
		}
		defer os.Remove(prog)
	}
	cmd := exec.Command(prog, c.args...)
	var printf *exec.Cmd
	var w *os.File
	if c.piped {
		r, pw, err := os.Pipe()
		if err != nil {
			return 0, err
		}
		defer r.Close()
		printf, w, cmd.Stdin = exec.Command("printf", `hello\n`), pw, r
		printf.Stdout = w
	} else {
		in, err := os.Open(hello)
		if err != nil {
			return 0, err
		}
		defer in.Close()
		cmd.Stdin = in
	}
	began := time.Now()
	if printf != nil {
		err := printf.Start()
		w.Close() // printf has its copy: the reader sees its end
		if err != nil {
			return 0, err
		}
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	err := cmd.Wait()
	if printf != nil {
		printf.Wait()
	}
	d := time.Since(began)
	if code := cmd.ProcessState.ExitCode(); code != c.want {
		return 0, fmt.Errorf("%s: exit %d, want %d (%v)", c.name, code, c.want, err)
	}
	return d, nil
}

// summarize is the median, least and most of a command's times.
func summarize(times []float64) timing {
	s := slices.Sorted(slices.Values(times))
	median := s[len(s)/2]
	if len(s)%2 == 0 {
		median = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return timing{Median: median, Min: s[0], Max: s[len(s)-1], Runs: len(s)}
}

// peakRSS is the largest maximum resident set size, in KiB, that GNU time
// reports for five runs: the larger of invoke_ns and its child, since the
// kernel counts a waited-for child in its parent's children's figure.
func peakRSS(bin string, args ...string) (int, error) {
	most := 0
	for range 5 {
		cmd := exec.Command("/usr/bin/time", append([]string{"-f", "%M", bin}, args...)...)
		cmd.Stdin = strings.NewReader("hello\n")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		kib, perr := strconv.Atoi(lines[len(lines)-1])
		if perr != nil {
			return 0, fmt.Errorf("GNU time on %v: %v %v: %s", args, err, perr, stderr.String())
		}
		most = max(most, kib)
	}
	return most, nil
}

// report prints the table and the targets, and fails if one is missed.
func report(t, scan map[string]timing, rssNo, rssYes int, bin string) error {
	ref, fl, flp := t["unshare --ipc true"].Median, t["floor"].Median, t[pipedFloor].Median
	fmt.Printf("\nMachine: %d cores, Linux %s, %s. Each command timed %d times, run by run in shuffled rounds.\n\n",
		runtime.NumCPU(), kernel(), goVersion(bin), t["floor"].Runs)
	fmt.Println("| command | median | min – max | × unshare --ipc true | × floor | × floor in the pipeline |")
	fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: |")
	for _, name := range []string{"unshare --ipc true", "floor", pipedFloor, "invoke_ns -i no", fileFed, "invoke_ns -i yes", "invoke_ns --compare"} {
		r := t[name]
		fmt.Printf("| `%s` | %.2f ms | %.2f – %.2f ms | %.2f | %.2f | %.2f |\n",
			strings.ReplaceAll(name, "|", `\|`), r.Median*1e3, r.Min*1e3, r.Max*1e3, r.Median/ref, r.Median/fl, r.Median/flp)
	}
	fi, err := os.Stat(bin)
	if err != nil {
		return err
	}
	static, stripped := elfKind(bin)
	fmt.Printf("\nPeak resident memory: -i no %.1f MiB, -i yes %.1f MiB. Binary: %.3f MiB, static %v, stripped %v.\n\n",
		float64(rssNo)/1024, float64(rssYes)/1024, float64(fi.Size())/(1<<20), static, stripped)

	fmt.Printf("--scan --probe of %d IPC namespaces of their own, each timed %d times, in shuffled rounds:\n\n",
		*spaces, scan[scanParallel].Runs)
	fmt.Println("| command | median | min – max | × one after another |")
	fmt.Println("| --- | ---: | ---: | ---: |")
	for _, row := range [][2]string{{scanParallel, scanSequential}, {scanSequential, scanSequential},
		{scanFixedName, scanSequential}, {scanOneCPU, scanSequential},
		{probesParallel, probesSequential}, {probesSequential, probesSequential}} {
		r, name := scan[row[0]], row[0]
		if !strings.HasPrefix(name, "the ") {
			name = "`" + name + "`"
		}
		fmt.Printf("| %s | %.1f ms | %.1f – %.1f ms | %.2f |\n", name, r.Median*1e3, r.Min*1e3, r.Max*1e3, r.Median/scan[row[1]].Median)
	}
	fmt.Println()
	fmt.Println("| command | median | min – max | × lsns -t ipc |")
	fmt.Println("| --- | ---: | ---: | ---: |")
	for _, name := range []string{scanPlain, lsns} {
		r := scan[name]
		fmt.Printf("| `%s` | %.1f ms | %.1f – %.1f ms | %.2f |\n", name, r.Median*1e3, r.Min*1e3, r.Max*1e3, r.Median/scan[lsns].Median)
	}
	fmt.Println()
	probesPar, probesSeq := scan[probesParallel].Median, scan[probesSequential].Median
	no, yes, noFile, cmp := t["invoke_ns -i no"].Median, t["invoke_ns -i yes"].Median, t[fileFed].Median, t["invoke_ns --compare"].Median
	targets := []struct {
		what   string
		figure string
		ok     bool
	}{
		{"-i no at most 1.35 × the floor, both fed by printf", fmt.Sprintf("%.2f ×", no/flp), no <= 1.35*flp},
		{"-i no at most 1.35 × the floor, no pipeline: the message from a file", fmt.Sprintf("%.2f ×", noFile/fl), noFile <= 1.35*fl},
		{"-i yes at most 1.5 × -i no", fmt.Sprintf("%.2f ×", yes/no), yes <= 1.5*no},
		{"--compare at most 1.25 × -i no", fmt.Sprintf("%.2f ×", cmp/no), cmp <= 1.25*no},
		{"peak RSS under 12 MiB, -i no", fmt.Sprintf("%.1f MiB", float64(rssNo)/1024), rssNo < 12*1024},
		{"peak RSS under 12 MiB, -i yes", fmt.Sprintf("%.1f MiB", float64(rssYes)/1024), rssYes < 12*1024},
		{"binary static and stripped", fmt.Sprintf("static %v, stripped %v", static, stripped), static && stripped},
		// Three places: two would show 3.00 for a binary a few KiB under.
		{"binary under 3 MiB", fmt.Sprintf("%.3f MiB", float64(fi.Size())/(1<<20)), fi.Size() < 3<<20},
		{fmt.Sprintf("--scan of %d IPC namespaces at most 1.2 × lsns -t ipc", *spaces),
			fmt.Sprintf("%.2f ×", scan[scanPlain].Median/scan[lsns].Median), scan[scanPlain].Median <= 1.2*scan[lsns].Median},
	}
	if runtime.NumCPU() >= 2 {
		targets = append(targets, struct {
			what   string
			figure string
			ok     bool
		}{fmt.Sprintf("%d namespaces proved in at most 0.65 × the time of one after another", *spaces),
			fmt.Sprintf("%.2f ×", probesPar/probesSeq), probesPar <= 0.65*probesSeq})
	}
	failed := 0
	fmt.Println("| target | measured | |")
	fmt.Println("| --- | ---: | --- |")
	for _, tg := range targets {
		verdict := "PASS"
		if !tg.ok {
			verdict, failed = "FAIL", failed+1
		}
		fmt.Printf("| %s | %s | %s |\n", tg.what, tg.figure, verdict)
	}
	fmt.Printf("\nFor the record: -i no is %.2f × unshare --ipc true, and fed by printf %.2f × the floor run bare; the floor is %.2f × unshare --ipc true. The whole of `--scan --probe` is %.2f × one after another.\n",
		no/ref, no/fl, fl/ref, scan[scanParallel].Median/scan[scanSequential].Median)
	if failed > 0 {
		return fmt.Errorf("%d of %d targets failed", failed, len(targets))
	}
	return nil
}

// elfKind says whether the binary has no program interpreter (static) and
// no symbol table (stripped).
func elfKind(path string) (static, stripped bool) {
	f, err := elf.Open(path)
	if err != nil {
		return false, false
	}
	defer f.Close()
	static = !slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP })
	return static, f.Section(".symtab") == nil
}

func kernel() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return strings.TrimSpace(string(b))
}

func goVersion(bin string) string {
	out, err := exec.Command("go", "version", bin).Output()
	if err != nil {
		return runtime.Version()
	}
	_, v, _ := strings.Cut(strings.TrimSpace(string(out)), ": ")
	return v
}
