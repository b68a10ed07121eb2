// metrics_test.go: invoke_ns as the node agent operators wire in: a
// Docker daemon found by its own socket (no $DOCKER_HOST), a time on
// every report, --exit-code, --metrics checked by promtool and served by
// the real node_exporter, replaced whole each period under --every;
// deploy/'s alerting rules checked and unit-tested by promtool; and the
// image, run without the host's PIDs, saying nothing of the host's.

package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// withoutDockerHost is the environment without $DOCKER_HOST: a Docker
// daemon is then found by its own flags.
func withoutDockerHost() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "DOCKER_HOST=") })
}

// agent runs invoke_ns with args, as a node agent does: no $DOCKER_HOST.
func agent(t *testing.T, args ...string) result {
	t.Helper()
	cmd := binaryCmd(t, "", args...)
	cmd.Env = withoutDockerHost()
	return finish(t, cmd)
}

// A Docker daemon with a socket of its own, in the host's IPC namespace,
// runs a container in it and one in an IPC namespace of its own: --scan
// names them though nothing says where the daemon listens, with the
// report's time; --exit-code gates on the one that shares; --metrics
// writes what promtool accepts and node_exporter serves, and under
// --every replaces it each period, whole.
func TestNodeAgent(t *testing.T) {
	d := startDockerd(t, true)
	const image = "invoke_ns-test:busybox"
	d.run("import", rootfsTar(t), image)
	d.dockerContainer(image, "hostipc", "--ipc", "host")
	d.dockerContainer(image, "private")
	t.Run("named, with its time", func(t *testing.T) {
		r := agent(t, "--scan", "--json")
		var scan jsonScan
		decode(t, r.stdout, &scan, map[string]bool{})
		byName := scan.byName()
		when, err := time.Parse(time.RFC3339, scan.Time)
		if r.code != exitOK || byName["hostipc"] == nil || byName["private"] == nil || err != nil || time.Since(when) > runLimit {
			t.Errorf("exit %d, time %q (%v):\n%s", r.code, scan.Time, err, r.stdout)
		}
		if c := byName["hostipc"]; c == nil || !deref(c.SharesHostIPC) || byName["private"] == nil || deref(byName["private"].SharesHostIPC) {
			t.Errorf("hostipc %+v, private %+v", c, byName["private"])
		}
	})
	t.Run("--exit-code", func(t *testing.T) {
		if r := agent(t, "--scan", "--exit-code", "9"); r.code != 9 {
			t.Errorf("--exit-code 9 with a container in the host's IPC namespace: exit %d\n%s", r.code, r.stderr)
		}
		if r := agent(t, "--scan"); r.code != exitOK {
			t.Errorf("without --exit-code: exit %d\n%s", r.code, r.stderr)
		}
	})
	dir := t.TempDir()
	file := filepath.Join(dir, "invoke_ns.prom")
	sample := func(metrics, container string) string {
		m := regexp.MustCompile(`(?m)^invokens_container_shares_host_ipc\{[^}]*container="` + container + `"[^}]*\} (\S+)$`).FindStringSubmatch(metrics)
		if m == nil {
			return ""
		}
		return m[1]
	}
	t.Run("--metrics, checked by promtool", func(t *testing.T) {
		if r := agent(t, "--scan", "--probe", "--metrics", file); r.code != exitOK {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		check := command(t, tool(t, "promtool"), "check", "metrics")
		check.Stdin, _ = os.Open(file)
		if out, err := check.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
		b, _ := os.ReadFile(file)
		if sample(string(b), "hostipc") != "1" || sample(string(b), "private") != "0" ||
			!strings.Contains(string(b), `kind="mq",verdict="delivered"} 1`) {
			t.Errorf("the metrics:\n%s", b)
		}
	})
	t.Run("served by node_exporter", func(t *testing.T) {
		metrics := nodeExporter(t, dir)
		if sample(metrics, "hostipc") != "1" || sample(metrics, "private") != "0" ||
			!regexp.MustCompile(`(?m)^node_textfile_scrape_error 0$`).MatchString(metrics) {
			t.Errorf("node_exporter serves:\n%s", metrics)
		}
	})
	t.Run("--every, replaced whole", func(t *testing.T) {
		every := dir + "/every.prom"
		cmd := command(t, binary, "--scan", "--every", "1s", "--metrics", every)
		cmd.Env, cmd.Stdout = withoutDockerHost(), io.Discard
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
		stamp := regexp.MustCompile(`(?m)^invokens_report_timestamp_seconds\{[^}]*\} (\S+)\n`)
		seen := map[string]bool{}
		reads := 0
		waitUntil(t, "three reports in the file", func() bool {
			b, err := os.ReadFile(every)
			if err != nil {
				return false
			}
			reads++
			// Whole: its first series to its last, and a line's end.
			if !strings.HasPrefix(string(b), "# HELP invokens_report_timestamp_seconds") ||
				!strings.Contains(string(b), "# TYPE invokens_container_dev_shm_read_only gauge") || !strings.HasSuffix(string(b), "\n") ||
				sample(string(b), "hostipc") != "1" {
				t.Fatalf("read %d is not a whole report:\n%s", reads, b)
			}
			if m := stamp.FindStringSubmatch(string(b)); m != nil {
				seen[m[1]] = true
			}
			return len(seen) >= 3
		})
		t.Logf("%d reads, each whole, over %d reports", reads, len(seen))
		if leftover, _ := filepath.Glob(filepath.Join(dir, ".every.prom.tmp-*")); len(leftover) > 0 {
			t.Errorf("temporary files beside it: %q", leftover)
		}
	})
}

// nodeExporter starts node_exporter with its textfile collector alone,
// reading dir, on a port of loopback, and gives what it serves at
// /metrics; it is stopped when the test ends.
func nodeExporter(t *testing.T, dir string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(tool(t, "prometheus-node-exporter"), "--web.listen-address="+addr,
		"--collector.disable-defaults", "--collector.textfile", "--collector.textfile.directory="+dir)
	log, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// Ready once it says it listens.
	lines := bufio.NewScanner(log)
	for lines.Scan() {
		if strings.Contains(lines.Text(), "Listening on") {
			break
		}
	}
	go io.Copy(io.Discard, log)
	client := &http.Client{Timeout: runLimit}
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("node_exporter on %s: %v", addr, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("node_exporter: %s, %v", resp.Status, err)
	}
	return string(b)
}

// deploy/'s alerting rules pass promtool's checks and their unit tests,
// and the PrometheusRule holds the very groups of the plain rules file.
func TestAlertingRules(t *testing.T) {
	promtool := tool(t, "promtool")
	for _, args := range [][]string{
		{"check", "rules", "deploy/prometheus/invoke-ns.rules.yml"},
		{"test", "rules", "testdata/rules_test.yml"},
	} {
		if out, err := command(t, promtool, args...).CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	plain, err := os.ReadFile("deploy/prometheus/invoke-ns.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	operator, err := os.ReadFile("deploy/kubernetes/prometheusrule.yaml")
	if err != nil {
		t.Fatal(err)
	}
	groups := string(plain[strings.Index(string(plain), "groups:"):])
	spec, ok := strings.CutPrefix(string(operator[strings.Index(string(operator), "\nspec:\n")+1:]), "spec:\n")
	if !ok || regexp.MustCompile(`(?m)^  `).ReplaceAllString(spec, "") != groups {
		t.Errorf("the PrometheusRule's spec is not the rules file's groups:\n%s", spec)
	}
}

// The image, run without the host's PIDs (docker run of it, a pod
// without hostPID): it cannot see the host's namespaces, says so, and
// says nothing of sharing them: no container is said to share the
// host's, and --exit-code gives 0.
func TestHostUnseen(t *testing.T) {
	d := startDockerd(t, true)
	d.run("build", "-q", "-f", containerfile(t), "-t", "invoke_ns-test:image", imageContext(t))
	out, err := d.try("run", "--rm", "--network", "none", "--cap-add", "SYS_ADMIN", "--cap-add", "SYS_PTRACE",
		"invoke_ns-test:image", "--scan", "--json", "--exit-code", "9")
	var scan jsonScan
	if jerr := json.Unmarshal([]byte(out), &scan); jerr != nil || err != nil || scan.HostSeen || len(scan.Containers) == 0 {
		t.Fatalf("%v, %v:\n%s", err, jerr, out)
	}
	for _, c := range scan.Containers {
		if c.SharesHostIPC != nil || c.SharesHostDevShm != nil {
			t.Errorf("with the host unseen, %s is said to share it or not: %+v", c.ID, c)
		}
	}
}
