package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A Kubernetes container is named by the annotations its runtime keeps,
// found by its ID within the host's root, in runc's state or in the
// bundle it was made from: containerd's (k3s's and rke2's in their own
// folder), CRI-O's; a pod's sandbox is named as its pod. A symbolic link
// there leads within that root, never out of it; a FIFO under a state's
// name is not read.
func TestKubernetesNames(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	put := func(path, content string) {
		t.Helper()
		p := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	labels := func(l ...string) string {
		b, _ := json.Marshal(l)
		return `{"config":{"labels":` + string(b) + `}}`
	}
	annotations := func(a map[string]string) string {
		b, _ := json.Marshal(map[string]any{"ociVersion": "1.0.2", "annotations": a})
		return string(b)
	}
	put("run/containerd/runc/k8s.io/ctr/state.json", labels("io.kubernetes.cri.sandbox-namespace=kube-system",
		"io.kubernetes.cri.sandbox-name=dns", "io.kubernetes.cri.sandbox-uid=u1", "io.kubernetes.cri.container-name=coredns",
		"io.kubernetes.cri.container-type=container", "bundle=/run/containerd/io.containerd.runtime.v2.task/k8s.io/ctr"))
	put("run/containerd/runc/k8s.io/sbx/state.json", labels("io.kubernetes.cri.sandbox-namespace=kube-system",
		"io.kubernetes.cri.sandbox-name=dns", "io.kubernetes.cri.sandbox-uid=u1", "io.kubernetes.cri.container-type=sandbox"))
	put("run/k3s/containerd/io.containerd.runtime.v2.task/k8s.io/k3s/config.json", annotations(map[string]string{
		"io.kubernetes.cri.sandbox-namespace": "default", "io.kubernetes.cri.sandbox-name": "web",
		"io.kubernetes.cri.sandbox-uid": "u2", "io.kubernetes.cri.container-name": "app",
		"io.kubernetes.cri.container-type": "container"}))
	put("run/runc/crio/state.json", labels("io.kubernetes.pod.namespace=default", "io.kubernetes.pod.name=web",
		"io.kubernetes.pod.uid=u3", "io.kubernetes.container.name=app"))
	put("run/containers/storage/overlay-containers/crioinfra/userdata/config.json", annotations(map[string]string{
		"io.kubernetes.pod.namespace": "db", "io.kubernetes.pod.name": "pg", "io.kubernetes.pod.uid": "u4",
		"io.kubernetes.container.name": "POD", "io.kubernetes.cri-o.ContainerType": "sandbox"}))
	put("run/docker/runtime-runc/moby/bare/state.json", labels("bundle=/run/x"))
	// /run/containerd/runc/evil -> outside: absolute, so within root it
	// names root's /outside..., which is not there.
	if err := os.MkdirAll(filepath.Join(outside, "escaped"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(outside, "escaped", "state.json"), []byte(labels("io.kubernetes.pod.name=x", "io.kubernetes.container.name=y")), 0o644)
	if err := os.Symlink(outside, filepath.Join(root, "run/containerd/runc/evil")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "run/runc/fifo"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(root, "run/runc/fifo/state.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := &Namer{root: f, byID: map[string]Named{}}
	for _, tt := range []struct {
		id   string
		want Named
	}{
		{"ctr", Named{"kube-system/dns/coredns", "containerd", &Kube{"kube-system", "dns", "coredns", "u1", false}}},
		{"sbx", Named{"kube-system/dns", "containerd", &Kube{"kube-system", "dns", "", "u1", true}}},
		{"k3s", Named{"default/web/app", "containerd", &Kube{"default", "web", "app", "u2", false}}},
		{"crio", Named{"default/web/app", "crio", &Kube{"default", "web", "app", "u3", false}}},
		{"crioinfra", Named{"db/pg", "crio", &Kube{"db", "pg", "", "u4", true}}},
		{"bare", Named{}},
		{"escaped", Named{}},
		{"fifo", Named{}},
		{"../../etc", Named{}},
	} {
		got := n.Name(Container{Engine: "kubernetes", ID: tt.id}, 0)
		if got.Name != tt.want.Name || got.Engine != tt.want.Engine || (got.Kube == nil) != (tt.want.Kube == nil) ||
			got.Kube != nil && *got.Kube != *tt.want.Kube {
			t.Errorf("%s: %+v %+v, want %+v %+v", tt.id, got, got.Kube, tt.want, tt.want.Kube)
		}
	}
}

// Podman's name is conmon's -n, only where its -c is the container's: not
// from the command conmon runs on exit.
func TestConmonArgs(t *testing.T) {
	const id = "8ac006079e8f"
	for _, tt := range []struct{ args, want string }{
		{"/usr/bin/conmon --api-version 1 -c " + id + " -u " + id + " -n web-app --exit-dir /run", "web-app"},
		{"/usr/bin/conmon --cid " + id + " --name web", "web"},
		{"/usr/bin/conmon -c 0123 -n other", ""},
		{"/usr/bin/conmon -c " + id + " --exit-command /usr/bin/podman -n fake", ""},
		{"/usr/bin/conmon -c", ""},
	} {
		if got := conmonArgs(strings.Fields(tt.args), id); got != tt.want {
			t.Errorf("%q: %q, want %q", tt.args, got, tt.want)
		}
	}
}

// A process's parent is read past a name that holds ") S 1".
func TestParentOf(t *testing.T) {
	sleep, err := os.ReadFile("/bin/sleep")
	if err != nil {
		t.Skip("no /bin/sleep to run under an odd name")
	}
	odd := filepath.Join(t.TempDir(), "a) S 1 (")
	if err := os.WriteFile(odd, sleep, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(odd, "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if got := parentOf(cmd.Process.Pid); got != os.Getpid() {
		t.Errorf("parentOf(%q) = %d, want %d", odd, got, os.Getpid())
	}
	if got := parentOf(-1); got != 0 {
		t.Errorf("parentOf(-1) = %d", got)
	}
}

// ask asks an API on a unix socket, as Docker's is asked: the body of a
// 200 answer, read as JSON as it comes; an error for any other, for no
// socket, and for an answer past answerMax.
func TestAsk(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "api.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/big":
			w.Write([]byte("["))
			for range answerMax/31 + 1 {
				w.Write([]byte(`{"Id":"0123456789","Names":[]},`))
			}
			w.Write([]byte(`{}]`))
		case r.URL.Path != "/containers/json":
			http.NotFound(w, r)
		case r.URL.Query().Get("all") != "1":
			// As Docker answers for a container whose first process
			// runs, and which it does not count as running yet.
			fmt.Fprint(w, `[]`)
		default:
			fmt.Fprint(w, `[{"Id":"abc","Names":["/web"]}]`)
		}
	})}
	go srv.Serve(l)
	defer srv.Close()
	ids := func(path string) ([]string, error) {
		var got []string
		err := ask(sock, path, time.Now().Add(runLimit), func(d *json.Decoder) error {
			return eachElement(d, func(d *json.Decoder) error {
				var c struct {
					ID string `json:"Id"`
				}
				err := d.Decode(&c)
				got = append(got, c.ID)
				return err
			})
		})
		return got, err
	}
	if got, err := ids("/containers/json?all=1"); err != nil || !slices.Equal(got, []string{"abc"}) {
		t.Errorf("ask: %q, %v", got, err)
	}
	if got, err := ids("/nothing"); err == nil {
		t.Errorf("a 404 gave %q", got)
	}
	if got, err := ids("/big"); !errors.Is(err, errTooLong) {
		t.Errorf("an answer past %d bytes: %d elements, %v", answerMax, len(got), err)
	}
	if err := ask(filepath.Join(t.TempDir(), "none.sock"), "/", time.Now().Add(runLimit), nil); err == nil {
		t.Error("no socket, no error")
	}
	// The Namer takes names from it, without the slash, of every
	// container, running or not yet.
	t.Setenv("DOCKER_HOST", "unix://"+sock)
	if n := NewNamer(nil, nil); n.Name(Container{Engine: "docker", ID: "abc"}, 0).Name != "web" {
		t.Errorf("names: %v", n.byID)
	}
}

// An answer that trickles, a byte at a time, is given up at the
// deadline, not when it ends; so is a server that never answers.
func TestAskDeadline(t *testing.T) {
	for _, tt := range []struct {
		name   string
		answer func(c net.Conn)
	}{
		{"a byte at a time", func(c net.Conn) {
			for _, b := range []byte("HTTP/1.0 200 OK\r\n\r\n[" + strings.Repeat(`{"Id":"x"},`, 1000) + "{}]") {
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		}},
		{"never", func(c net.Conn) { io.Copy(io.Discard, c) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "api.sock")
			l, err := net.Listen("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					go func() { defer c.Close(); tt.answer(c) }()
				}
			}()
			const deadline = 200 * time.Millisecond
			began := time.Now()
			err = ask(sock, "/", began.Add(deadline), func(d *json.Decoder) error {
				return eachElement(d, func(d *json.Decoder) error { var v any; return d.Decode(&v) })
			})
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("want the deadline exceeded, got %v", err)
			}
			if took := time.Since(began); took > deadline+runLimit/10 {
				t.Errorf("ended %v after it began, past its deadline of %v", took, deadline)
			}
		})
	}
}

// runLimit bounds what a test waits for.
const runLimit = 30 * time.Second

// A Docker daemon's sockets, as its flags give them in each form its
// parser takes, else its daemon.json, else its default, rootless or not.
func TestDaemonSockets(t *testing.T) {
	config := func(files map[string]string) func(string) ([]byte, error) {
		return func(name string) ([]byte, error) {
			if b, ok := files[name]; ok {
				return []byte(b), nil
			}
			return nil, os.ErrNotExist
		}
	}
	rootless := map[string]string{"ROOTLESSKIT_STATE_DIR": "/run/user/1000/dockerd-rootless",
		"XDG_RUNTIME_DIR": "/run/user/1000", "HOME": "/home/ann"}
	for _, tt := range []struct {
		name  string
		args  []string
		env   map[string]string
		files map[string]string
		want  []string
	}{
		{"the default", []string{"dockerd"}, nil, nil, []string{"/var/run/docker.sock"}},
		{"-H and a path", []string{"dockerd", "-H", "unix:///srv/d.sock"}, nil, nil, []string{"/srv/d.sock"}},
		{"-H=, --host, --host= and -Hpath", []string{"dockerd", "-H=unix:///a.sock", "--host", "unix:///b.sock",
			"--host=unix:///c.sock", "-Hunix:///d.sock", "-H", "tcp://0.0.0.0:2375"}, nil, nil,
			[]string{"/a.sock", "/b.sock", "/c.sock", "/d.sock"}},
		{"systemd's socket", []string{"/usr/bin/dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock"},
			nil, nil, []string{"/run/docker.sock"}},
		{"daemon.json's hosts", []string{"dockerd"}, nil,
			map[string]string{"/etc/docker/daemon.json": `{"hosts": ["unix:///run/cfg.sock"]}`}, []string{"/run/cfg.sock"}},
		{"--config-file", []string{"dockerd", "--config-file", "/srv/d.json"}, nil,
			map[string]string{"/srv/d.json": `{"hosts": ["unix:///run/srv.sock"]}`}, []string{"/run/srv.sock"}},
		{"rootless", []string{"dockerd"}, rootless, nil, []string{"/run/user/1000/docker.sock"}},
		{"rootless, its user's daemon.json", []string{"dockerd"}, rootless,
			map[string]string{"/home/ann/.config/docker/daemon.json": `{"hosts": ["unix:///run/user/1000/d.sock"]}`},
			[]string{"/run/user/1000/d.sock"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := daemonSockets(tt.args, tt.env, config(tt.files)); !slices.Equal(got, tt.want) {
				t.Errorf("%q, want %q", got, tt.want)
			}
		})
	}
}
