// metrics.go: --scan's findings for Prometheus, in its text exposition
// format, as node_exporter's textfile collector serves a file of them: a
// series per container, labelled by node, engine, Kubernetes namespace,
// pod and container, and ID (never a PID, which would make a series of
// every process), for sharing the host's IPC namespace and /dev/shm and,
// with --probe, each kind's verdict; and the report's time, duration and
// counts. The file is written whole, so that no scrape reads half of it.

package show

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"invoke_ns/internal/node"
	"invoke_ns/internal/run"
)

// prefix begins every metric's name: not "invoke_ns", whose "_ns" would
// read to a linter (promtool check metrics) as nanoseconds.
const prefix = "invokens_"

// verdicts are the verdicts a probe can give, in the order of their
// series.
var verdicts = []run.Verdict{run.Delivered, run.Blocked, run.Interfered, run.TimedOut, run.Taken, run.Gone, run.Failed}

// exposition is a text in Prometheus' exposition format, as it is made.
type exposition struct{ bytes.Buffer }

// gauge writes a gauge's help, type and samples.
func (e *exposition) gauge(name, help string, samples []string) {
	e.WriteString("# HELP " + prefix + name + " " + help + "\n# TYPE " + prefix + name + " gauge\n")
	for _, s := range samples {
		e.WriteString(prefix + name + s + "\n")
	}
}

// sample is a sample of a series: its labels and its value.
func sample(labels string, v float64) string {
	return "{" + labels + "} " + strconv.FormatFloat(v, 'g', -1, 64)
}

// Metrics is the node's findings in Prometheus' text exposition format.
func Metrics(n *node.Node, probed bool) []byte {
	var e exposition
	nodeLabel := label("node", n.Name)
	one := func(v float64) []string { return []string{sample(nodeLabel, v)} }
	var rows []*node.Row
	for _, r := range n.Rows {
		if r.Container.Engine != "" {
			rows = append(rows, r)
		}
	}
	e.gauge("report_timestamp_seconds", "When the report's scan began, in seconds since the epoch.",
		one(float64(n.Time.UnixNano())/1e9))
	e.gauge("report_duration_seconds", "How long the report's scan took.", one(n.Took.Seconds()))
	e.gauge("host_seen", "1 where the containers were held against the host's namespaces (or --from's), "+
		"0 where they could not be seen, and no container is said to share the host's.", one(bit(n.Held())))
	e.gauge("namespaces", "The IPC namespaces that processes of the node are in.", one(float64(len(n.Namespaces))))
	e.gauge("unreadable_processes", "The processes whose namespaces could not be read.", one(float64(len(n.Hidden))))
	e.gauge("containers", "The containers of the node.", one(float64(len(rows))))
	e.gauge("containers_sharing_host_ipc", "The containers in the host's IPC namespace.", one(float64(n.Sharing(false))))
	e.gauge("containers_sharing_host_dev_shm", "The containers with the host's /dev/shm.", one(float64(n.Sharing(true))))
	if !n.Held() {
		return e.Bytes()
	}
	var ipc, shm, ro, probes []string
	for _, r := range rows {
		c := nodeLabel + "," + containerLabels(r)
		if a, _ := r.Shares(false); a != nil {
			ipc = append(ipc, sample(c, bit(*a)))
		}
		if a, _ := r.Shares(true); a != nil {
			shm = append(shm, sample(c, bit(*a)))
			ro = append(ro, sample(c, bit(*a && r.ShmReadOnly)))
		}
		if r.Probe != nil {
			probes = append(probes, probeSamples(c, r.Probe)...)
		}
	}
	e.gauge("container_shares_host_ipc", "1 where the container is in the host's IPC namespace, as the kernel says "+
		"(a message that fails to cross never turns it), else 0.", ipc)
	e.gauge("container_shares_host_dev_shm", "1 where the container's /dev/shm is the host's (one directory, by device "+
		"and inode), else 0; no sample where its root cannot be read.", shm)
	e.gauge("container_dev_shm_read_only", "1 where the container has the host's /dev/shm read-only (a pod's "+
		"sandbox), which is a share all the same.", ro)
	if probed {
		e.gauge("probe_verdict", "With --probe: 1 for the verdict of the container's probe through each kind of "+
			"object, 0 for the others.", probes)
	}
	return e.Bytes()
}

// probeSamples are a probe's samples, of a container labelled c: for
// each kind tried, or where the probe failed as a whole each kind it was
// to try, 1 for its verdict and 0 for the others.
func probeSamples(c string, r *run.Result) []string {
	got := map[string]string{}
	for _, o := range r.Objects {
		got[o.Kind.Name] = probeOutcome(r).String()
	}
	for _, x := range r.Exchanges {
		got[x.Object.Kind.Name] = x.Verdict.String()
	}
	var kinds []string
	for k := range got {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	var samples []string
	for _, kind := range kinds {
		for _, v := range verdicts {
			samples = append(samples, sample(c+","+label("kind", kind)+","+label("verdict", v.String()),
				bit(got[kind] == v.String())))
		}
	}
	return samples
}

// containerLabels are a container's labels: its engine, Kubernetes
// namespace, pod and container (its engine's name where it is no pod's),
// and ID.
func containerLabels(r *node.Row) string {
	ns, pod, container := "", "", r.Container.Name
	if k := r.Kube; k != nil {
		ns, pod, container = k.Namespace, k.Pod, k.Container
	}
	return strings.Join([]string{label("engine", r.Container.Engine), label("namespace", ns), label("pod", pod),
		label("container", container), label("id", r.Container.ID)}, ",")
}

// label is name="value", the value escaped as the exposition format
// wants: backslash, double quote, newline.
func label(name, value string) string {
	var b strings.Builder
	b.WriteString(name + `="`)
	for _, r := range value {
		switch r {
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteRune(r)
		}
	}
	return b.String() + `"`
}

// bit is 1 for true, 0 for false.
func bit(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// WriteFile writes data to path whole: to a file beside it, whose name a
// textfile collector does not read (not *.prom), then renamed over it,
// so that a reader finds the last report or the one before, never part
// of one.
func WriteFile(path string, data []byte) error {
	dir, base := filepath.Split(path)
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
