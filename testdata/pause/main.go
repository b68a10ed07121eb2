// pause is the sandbox process of the tests' Kubernetes pods (cri_test.go):
// it holds the pod's namespaces and waits for SIGTERM or SIGINT, as a
// kubelet's pause image does. Built static by the tests, and put in the
// image they import into their own containerd: no registry is reached.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGINT, syscall.SIGTERM)
	<-c
}
