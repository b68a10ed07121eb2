// plan.go: the run, planned once from the options. Everything that can be
// refused before anything is made is refused here, and the namespaces of
// --target and --from are opened here; nothing reads the options after.

package main

import (
	"os"
	"slices"
	"time"

	"invoke_ns/internal/ipc"
	"invoke_ns/internal/node"
	"invoke_ns/internal/ns"
	"invoke_ns/internal/run"
	"invoke_ns/internal/show"

	"golang.org/x/sys/unix"
)

// plan is all that invoke_ns does, settled once from the options.
type plan struct {
	run      *run.Plan
	compare  bool          // -c
	node     *node.Plan    // --scan
	every    time.Duration // --every: --scan again each period
	exitCode int           // --exit-code: --scan's status where a container shares the host's
	metrics  string        // --metrics: the file of each report's findings
	out      *os.File      // the transcript: stdout, or stderr with --json
	json     *show.Options // with --json: the options as it shows them
}

// makePlan turns the options into the plan; inherited are the caller's
// descriptors above 2, workers how many probes of a scan the limits
// leave room for at once. A plan that cannot be made is still returned,
// for its --json object.
func makePlan(cfg *config, inherited []int, workers int) (*plan, error) {
	out := os.Stdout
	if cfg.JSON {
		out = os.Stderr
	}
	pl := &plan{compare: cfg.Compare, every: cfg.Every, exitCode: cfg.ExitCode, metrics: cfg.Metrics, out: out}
	if cfg.JSON {
		pl.json = jsonOptions(cfg)
	}
	var err error
	pl.run, err = runPlan(cfg, out, inherited)
	if cfg.Scan {
		pl.node = &node.Plan{FixedName: cfg.QueueGiven || cfg.Key != 0, From: pl.run.From, Workers: workers}
		if cfg.Probe {
			pl.node.Probe = pl.run
		}
	}
	return pl, err
}

// runPlan is the plan of the run the options ask for; stdout is the
// child's standard output.
func runPlan(cfg *config, stdout *os.File, inherited []int) (*run.Plan, error) {
	p := &run.Plan{
		Prog: cfg.Prog, Verbose: cfg.Verbose, New: asked(cfg), Hostname: cfg.Hostname, Command: cfg.Command,
		Exchange: cfg.IPC || cfg.Compare || cfg.Probe, NewIPC: cfg.NewIPC, OwnName: !cfg.QueueGiven, Force: cfg.Force,
		Timeout: cfg.Timeout, IDs: cfg.Verbose >= 2 || cfg.JSON || cfg.Compare, Stdout: stdout, Inherited: inherited,
	}
	if p.Exchange {
		p.Objects = objects(cfg)
	}
	pshm := slices.ContainsFunc(p.Objects, func(o ipc.Object) bool { return o.Kind.InDevShm })
	var err error
	if cfg.From != "" {
		if p.From, err = ns.Open("--from", cfg.From); err != nil {
			return p, err
		}
		// The parent makes POSIX shared memory in the /dev/shm of
		// --from's process, within its root.
		if pshm {
			if err := p.From.OpenRoot("--from"); err != nil {
				return p, err
			}
			for i := range p.Objects {
				if p.Objects[i].Kind.InDevShm {
					p.Objects[i].Root = p.From.Root
				}
			}
		}
	}
	if cfg.Target != "" {
		if p.Target, err = ns.Open("--target", cfg.Target); err != nil {
			return p, err
		}
		// The child looks for POSIX shared memory in the target's
		// /dev/shm, within its root.
		if pshm {
			if err := p.Target.OpenRoot("--target"); err != nil {
				return p, err
			}
		}
	}
	return p, nil
}

// asked are the namespaces other than IPC that the options ask for.
func asked(cfg *config) ns.Set {
	var s ns.Set
	for _, n := range []struct {
		on   bool
		flag uintptr
	}{
		{cfg.NewUser, unix.CLONE_NEWUSER},
		{cfg.NewPID, unix.CLONE_NEWPID},
		{cfg.NewMount, unix.CLONE_NEWNS},
		{cfg.Hostname != "", unix.CLONE_NEWUTS},
		{cfg.NewNet, unix.CLONE_NEWNET},
	} {
		if n.on {
			s |= ns.Set(n.flag)
		}
	}
	return s
}

// objects are the objects of a run with cfg's options: each kind of -k,
// with the name of -q or the key of --key (0: one drawn at random).
func objects(cfg *config) []ipc.Object {
	objs := make([]ipc.Object, len(cfg.Kinds))
	for i, k := range cfg.Kinds {
		objs[i] = ipc.Object{Kind: kindNamed(k)}
		switch {
		case objs[i].Kind.ByName:
			objs[i].Name = cfg.Queue
		case objs[i].Kind.SysV():
			objs[i].Key = cfg.Key
		}
	}
	return objs
}

// jsonOptions are the options as --json shows them.
func jsonOptions(cfg *config) *show.Options {
	ipcOpt := ""
	if cfg.IPC {
		ipcOpt = map[bool]string{true: "yes", false: "no"}[cfg.NewIPC]
	}
	opts := &show.Options{
		IPC: ipcOpt, Compare: cfg.Compare, Kinds: cfg.Kinds, PID: cfg.NewPID, Mount: cfg.NewMount,
		UTS: cfg.Hostname, Net: cfg.NewNet, User: cfg.NewUser, Timeout: cfg.Timeout.String(),
		Queue: cfg.Queue, Force: cfg.Force, Command: cfg.Command, Verbose: cfg.Verbose,
	}
	if cfg.Key != 0 {
		key := cfg.Key
		opts.Key = &key
	}
	return opts
}
