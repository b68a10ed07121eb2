package main

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The objects of --json, as docs/json.md describes them: the tests read
// invoke_ns's output into these, and never into the types it writes with,
// so that a field renamed on one side shows.
type (
	jsonRun struct {
		Options      *jsonOpts         `json:"options"`
		Run          string            `json:"run"`
		Target       *jsonNamespace    `json:"target"`
		From         *jsonNamespace    `json:"from"`
		ParentNS     map[string]string `json:"parent_namespaces"`
		ChildNS      map[string]string `json:"child_namespaces"`
		Objects      []*jsonObject     `json:"objects"`
		Delivered    bool              `json:"delivered"`
		Verdict      string            `json:"verdict"`
		SharesIPC    *bool             `json:"shares_ipc_namespace"`
		SharesDevShm *bool             `json:"shares_dev_shm"`
		ElapsedMS    float64           `json:"elapsed_ms"`
		ExitStatus   int               `json:"exit_status"`
		Error        string            `json:"error"`
	}
	jsonOpts struct {
		IPC     string   `json:"ipc"`
		Compare bool     `json:"compare"`
		Kinds   []string `json:"kinds"`
		Key     *int32   `json:"key"`
		Queue   string   `json:"queue"`
		Command []string `json:"command"`
	}
	jsonNamespace struct {
		PID     int    `json:"pid"`
		TID     int    `json:"tid"`
		Command string `json:"command"`
		Path    string `json:"path"`
		IPC     string `json:"ipc"`
		UserNS  string `json:"user_namespace"`
	}
	jsonObject struct {
		Kind        string    `json:"kind"`
		Name        string    `json:"name"`
		Key         *int32    `json:"key"`
		ChildOpen   *jsonOpen `json:"child_open"`
		ChildCreate *jsonOpen `json:"child_create"`
		Delivered   bool      `json:"delivered"`
		Message     *string   `json:"message"`
		Verdict     string    `json:"verdict"`
		ReadOnly    bool      `json:"read_only"`
		Budget      *struct {
			Limit  uint64  `json:"limit_bytes"`
			InUse  *uint64 `json:"in_use_bytes"`
			Queue  uint64  `json:"queue_bytes"`
			Margin uint64  `json:"margin_bytes"`
		} `json:"budget"`
	}
	jsonOpen struct {
		Result string `json:"result"`
		Error  string `json:"error"`
		Errno  string `json:"errno"`
	}
	jsonCompare struct {
		Options    *jsonOpts  `json:"options"`
		Message    *string    `json:"message"`
		Runs       []*jsonRun `json:"runs"`
		Isolated   bool       `json:"isolated"`
		ElapsedMS  float64    `json:"elapsed_ms"`
		ExitStatus int        `json:"exit_status"`
		Error      string     `json:"error"`
	}
	jsonScan struct {
		Node       string           `json:"node"`
		Time       string           `json:"time"`
		DurationMS float64          `json:"duration_ms"`
		HostSeen   bool             `json:"host_seen"`
		From       *jsonNamespace   `json:"from"`
		Containers []*jsonContainer `json:"containers"`
		Namespaces []*jsonScanned   `json:"namespaces"`
		Unreadable int              `json:"unreadable"`
		Leftovers  []*jsonLeftover  `json:"leftovers"`
		HostLimits map[string]any   `json:"host_ipc_limits"`
		ExitStatus int              `json:"exit_status"`
		Error      string           `json:"error"`
	}
	jsonContainer struct {
		Engine           string            `json:"engine"`
		ID               string            `json:"id"`
		Name             string            `json:"name"`
		PID              int               `json:"pid"`
		Processes        int               `json:"processes"`
		IPC              string            `json:"ipc"`
		SharesHostIPC    *bool             `json:"shares_host_ipc"`
		SharesHostDevShm *bool             `json:"shares_host_dev_shm"`
		DevShmReadOnly   bool              `json:"dev_shm_read_only"`
		Kubernetes       *jsonKube         `json:"kubernetes"`
		Verdicts         map[string]string `json:"verdicts"`
		Why              string            `json:"why"`
		Limits           map[string]any    `json:"ipc_limits"`
	}
	jsonKube struct {
		Namespace string `json:"namespace"`
		Pod       string `json:"pod"`
		Container string `json:"container"`
		PodUID    string `json:"pod_uid"`
		Sandbox   bool   `json:"sandbox"`
	}
	jsonLeftover struct {
		Kind    string `json:"kind"`
		Name    string `json:"name"`
		Key     *int32 `json:"key"`
		Removal string `json:"removal"`
	}
	jsonScanned struct {
		IPC          string         `json:"ipc"`
		UserNS       string         `json:"user_namespace"`
		Processes    int            `json:"processes"`
		PID          int            `json:"pid"`
		TID          int            `json:"tid"`
		Command      string         `json:"command"`
		Container    string         `json:"container"`
		Own          bool           `json:"own"`
		Host         bool           `json:"host"`
		Verdict      *string        `json:"verdict"`
		SharesIPC    *bool          `json:"shares_ipc_namespace"`
		SharesDevShm *bool          `json:"shares_dev_shm"`
		Why          string         `json:"why"`
		Limits       map[string]any `json:"ipc_limits"`
	}
)

// jsonFields lists the field paths of a decoded object: "options.ipc",
// "objects[].kind". A compare run's fields are those of a single run, so
// "runs[].objects[].kind" counts as "objects[].kind".
func jsonFields(path string, v any, into map[string]bool) {
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			jsonFields(path+"[]", e, into)
		}
	case map[string]any:
		for k, sub := range v {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if p != "runs[].run" {
				into[strings.TrimPrefix(p, "runs[].")] = true
			} else {
				into[p] = true
			}
			// Keyed by namespace kind, by kind of object, or by sysctl.
			if !strings.HasSuffix(p, "_namespaces") && !strings.HasSuffix(p, ".verdicts") && !strings.HasSuffix(p, "limits") {
				jsonFields(p, sub, into)
			}
		}
	}
}

// decode parses stdout as one JSON object, noting its fields in seen.
func decode(t *testing.T, stdout string, v any, seen map[string]bool) {
	t.Helper()
	var raw map[string]any
	if err := json.Unmarshal([]byte(stdout), &raw); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout)
	}
	jsonFields("", raw, seen)
	if err := json.Unmarshal([]byte(stdout), v); err != nil {
		t.Fatal(err)
	}
}

// checkRun checks one run's record: its verdict, and each object's, those
// of what the IPC namespace isolates ipcVerdict, POSIX shared memory's
// and the queue budget's delivered whatever the IPC namespace (no -m
// here), the budget as measured, and the two questions each side
// answers.
func checkRun(t *testing.T, got *jsonRun, verdict, ipcVerdict, open string, sameIPC bool, kinds []string) {
	t.Helper()
	if got.Verdict != verdict || got.Delivered != (verdict == "delivered") || len(got.Objects) != len(kinds) {
		t.Fatalf("verdict %q delivered %v, %d objects; want %s and %d", got.Verdict, got.Delivered, len(got.Objects), verdict, len(kinds))
	}
	answer := func(asked bool, v bool) string {
		if !asked {
			return "null"
		}
		return strconv.FormatBool(v)
	}
	shown := func(b *bool) string {
		if b == nil {
			return "null"
		}
		return strconv.FormatBool(*b)
	}
	wantIPC := answer(slices.ContainsFunc(kinds, func(k string) bool { return kindNamed(k).Isolated() }), ipcVerdict == "delivered")
	wantShm := answer(slices.Contains(kinds, "pshm"), true)
	if shown(got.SharesIPC) != wantIPC || shown(got.SharesDevShm) != wantShm {
		t.Errorf("shares_ipc_namespace %s, shares_dev_shm %s; want %s and %s", shown(got.SharesIPC), shown(got.SharesDevShm), wantIPC, wantShm)
	}
	for i, o := range got.Objects {
		k := kindNamed(o.Kind)
		verdict, open := ipcVerdict, open
		if !k.Isolated() {
			verdict, open = "delivered", "ok"
		}
		if o.Kind != kinds[i] || o.Verdict != verdict || k.SysV() == (o.Key == nil) || k.ByName == (o.Name == "") {
			t.Errorf("object %d: %+v", i, o)
		}
		if b := o.Budget; k.PerUser != (b != nil) || b != nil && (b.Queue == 0 || b.InUse == nil ||
			b.Margin != *b.InUse+b.Queue || b.Limit < b.Margin) {
			t.Errorf("%s: budget %+v", o.Kind, o.Budget)
		}
		wantMsg := verdict == "delivered" && k.CarriesText
		if wantMsg != (o.Message != nil && *o.Message == "json hello") {
			t.Errorf("%s: message %v", o.Kind, o.Message)
		}
		if o.ChildOpen == nil || (o.ChildOpen.Result != open && o.ChildOpen.Errno != open) {
			t.Errorf("%s: child_open %+v, want %s", o.Kind, o.ChildOpen, open)
		}
	}
	if (got.ParentNS["ipc"] == got.ChildNS["ipc"]) != sameIPC || !strings.HasPrefix(got.ChildNS["ipc"], "ipc:[") {
		t.Errorf("ipc namespaces %q and %q", got.ParentNS["ipc"], got.ChildNS["ipc"])
	}
	if got.ElapsedMS <= 0 {
		t.Errorf("elapsed_ms %v", got.ElapsedMS)
	}
}

func TestJSON(t *testing.T) {
	flags := privFlags(t)
	doc, err := os.ReadFile("docs/json.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_.\\[\\]]+)` \\|").FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = true
	}
	tests := []struct {
		name       string
		args       []string
		code       int
		verdict    string
		ipcVerdict string // of the kinds the IPC namespace isolates
		open       string
		sameIPC    bool
		kinds      []string
	}{
		{"-i no", []string{"-i", "no"}, exitOK, "delivered", "delivered", "ok", true, []string{"mq"}},
		{"-i yes", []string{"-i", "yes", "-p", "-u", "box"}, exitBlocked, "blocked", "blocked", "ENOENT", false, []string{"mq"}},
		{"-k all -i no", []string{"-k", "all", "-i", "no"}, exitOK, "delivered", "delivered", "ok", true, kindNames()},
		// pshm crosses: with kinds on both sides, delivered.
		{"-k all -i yes", []string{"-k", "all", "-i", "yes"}, exitOK, "delivered", "blocked", "ENOENT", false, kindNames()},
		{"-k mq,msg -i yes", []string{"-k", "mq,msg", "-i", "yes"}, exitBlocked, "blocked", "blocked", "ENOENT", false, []string{"mq", "msg"}},
		{"--target this process", []string{"--target", strconv.Itoa(os.Getpid())}, exitOK, "delivered", "delivered", "ok", true, []string{"mq"}},
		{"--from and --target this process", []string{"--from", strconv.Itoa(os.Getpid()), "--target", strconv.Itoa(os.Getpid())}, exitOK, "delivered", "delivered", "ok", true, []string{"mq"}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := testQueue(t)
			r := invoke(t, "json hello\n", append(append(flags, "--json", "-q", q), tt.args...)...)
			var got jsonRun
			decode(t, r.stdout, &got, seen)
			if got.ExitStatus != r.code || r.code != tt.code {
				t.Errorf("exit_status %d, process %d, want %d", got.ExitStatus, r.code, tt.code)
			}
			if got.Options == nil || got.Options.Queue != q || got.Objects[0].Name != q && got.Objects[0].Key == nil {
				t.Errorf("options %+v", got.Options)
			}
			checkRun(t, &got, tt.verdict, tt.ipcVerdict, tt.open, tt.sameIPC, tt.kinds)
			for _, k := range []string{"pid", "uts"} {
				if slices.Contains(tt.args, "-p") && got.ParentNS[k] == got.ChildNS[k] {
					t.Errorf("%s namespace not new: %q", k, got.ChildNS[k])
				}
			}
			if slices.Contains(tt.args, "--target") && (got.Target == nil || got.Target.PID != os.Getpid() || got.Target.IPC != got.ParentNS["ipc"]) {
				t.Errorf("target %+v", got.Target)
			}
			if !strings.Contains(r.stderr, "enter a message") && tt.verdict == "delivered" {
				t.Errorf("the transcript did not go to stderr:\n%s", r.stderr)
			}
		})
	}
	t.Run("--compare", func(t *testing.T) {
		q := testQueue(t)
		r := invoke(t, "json hello\n", append(flags, "--json", "-c", "-k", "all", "-q", q)...)
		var got jsonCompare
		decode(t, r.stdout, &got, seen)
		if r.code != exitOK || got.ExitStatus != exitOK || !got.Isolated || len(got.Runs) != 2 ||
			got.Message == nil || *got.Message != "json hello" || got.ElapsedMS <= 0 {
			t.Fatalf("exit %d, object %+v\nstderr: %s", r.code, got, r.stderr)
		}
		checkRun(t, got.Runs[0], "delivered", "delivered", "ok", true, kindNames())
		checkRun(t, got.Runs[1], "delivered", "blocked", "ENOENT", false, kindNames())
		for i, run := range got.Runs {
			for _, o := range run.Objects {
				if kindNamed(o.Kind).PerUser {
					if o.ChildCreate != nil {
						t.Errorf("run %s, %s: child_create %+v, where the child makes its own anyway", run.Run, o.Kind, o.ChildCreate)
					}
					continue
				}
				// POSIX shared memory is visible to both: EEXIST twice.
				newOwn := i == 1 && !kindNamed(o.Kind).InDevShm
				if o.ChildCreate == nil || !newOwn != (o.ChildCreate.Errno == "EEXIST") || newOwn != (o.ChildCreate.Result == "ok") {
					t.Errorf("run %s, %s: child_create %+v", run.Run, o.Kind, o.ChildCreate)
				}
			}
		}
	})
	t.Run("--scan --probe", func(t *testing.T) {
		// Held against the suite's namespaces, where its objects belong.
		r := invoke(t, "", "--json", "--scan", "--probe", "-k", "all", "-q", testQueue(t), "--from", strconv.Itoa(os.Getpid()))
		var got jsonScan
		decode(t, r.stdout, &got, seen)
		// The suite's namespace, proved against itself.
		self, _ := os.Readlink("/proc/self/ns/ipc")
		own := slices.IndexFunc(got.Namespaces, func(n *jsonScanned) bool { return n.Host })
		if r.code != exitOK || own < 0 || got.Namespaces[own].IPC != self || got.HostSeen ||
			got.Namespaces[own].Verdict == nil || *got.Namespaces[own].Verdict != "delivered" {
			t.Errorf("exit %d, %+v\n%s", r.code, got, r.stderr)
		}
		if got.From == nil || got.From.PID != os.Getpid() {
			t.Errorf("from: %+v", got.From)
		}
		if when, err := time.Parse(time.RFC3339, got.Time); err != nil || time.Since(when) > runLimit ||
			!strings.HasSuffix(got.Time, "Z") || got.DurationMS <= 0 {
			t.Errorf("time %q (%v), duration_ms %v", got.Time, err, got.DurationMS)
		}
	})
	seen["error"] = true // only on failures; checked below
	// Only for a thread: TestThreadNamespace checks them; and only where
	// an engine runs containers: TestDocker checks them.
	seen["target.tid"], seen["from.tid"], seen["namespaces[].tid"] = true, true, true
	for _, f := range []string{"engine", "id", "name", "pid", "processes", "ipc", "shares_host_ipc", "shares_host_dev_shm",
		"verdicts", "why", "dev_shm_read_only", "kubernetes", "kubernetes.namespace", "kubernetes.pod",
		"kubernetes.container", "kubernetes.pod_uid", "kubernetes.sandbox", "ipc_limits"} {
		seen["containers[]."+f] = true
	}
	// Only where a /dev/shm is read-only: TestCRI checks it.
	seen["objects[].read_only"] = true
	// Only where nothing limits the parent (CAP_SYS_RESOURCE, which the
	// suite's root may not have): TestBudgetUnlimited checks the value.
	seen["objects[].budget.unlimited"] = true
	// Only where a probe proved nothing: TestInterferenceIsNeverIsolation
	// checks it; and only where an earlier scan left something:
	// TestProbeLeftoversNamed checks them.
	seen["namespaces[].why"] = true
	for _, f := range []string{"leftovers", "leftovers[].kind", "leftovers[].name", "leftovers[].key", "leftovers[].removal"} {
		seen[f] = true
	}
	for f := range seen {
		if !documented[f] {
			t.Errorf("field %q is not in docs/json.md", f)
		}
	}
	for f := range documented {
		if !seen[f] {
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
	r := invoke(t, "", append(flags, "--json", "-i", "no", "-q", q)...)
	var got jsonRun
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.ExitStatus != exitFailure ||
		got.Verdict != "failed" || !strings.Contains(got.Error, "left behind by an earlier run") || !strings.Contains(flat(r.stderr), flat(got.Error)) {
		t.Errorf("exit %d, object %+v (%v)\nstderr: %s", r.code, got, err, r.stderr)
	}
}

// With --json the object is the run's product: a run that cannot write it
// fails, says so, and still removes its queue.
func TestJSONUnwritable(t *testing.T) {
	flags := privFlags(t)
	for _, args := range [][]string{{"-i", "no"}, {"-i", "yes"}, {"-c"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
			if err != nil {
				t.Skipf("skipped %s: no /dev/full to write to: %v", t.Name(), err)
			}
			defer full.Close()
			cmd := command(t, binary, append(append(flags, "--json", "-q", testQueue(t)), args...)...)
			cmd.Stdin, cmd.Stdout = strings.NewReader("hello\n"), full
			r := finish(t, cmd)
			if msg, one := oneError(r.stderr[strings.LastIndex(r.stderr, "invoke_ns: "):]); r.code != exitFailure || !one ||
				msg != "invoke_ns: writing the --json object: write /dev/stdout: no space left on device — check where standard output goes" {
				t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
			}
		})
	}
}
