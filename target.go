// target.go: what invoke_ns says of an IPC namespace that exists
// (--target, --from), and the parent's objects made in one (--from).

package main

import (
	"fmt"
	"invoke_ns/internal/ipc"
	"time"

	"invoke_ns/internal/ns"
)

// elsewhere says that the target is another IPC namespace than this one,
// or than from's.
func elsewhere(e, from *ns.Handle) string {
	than := ""
	if from != nil {
		than = " than " + from.About()
	}
	if e.PID == 0 {
		return fmt.Sprintf("%s is another IPC namespace%s, %s", e.Path, than, e.ID)
	}
	return fmt.Sprintf("%s is in another IPC namespace%s, %s", e.About(), than, e.ID)
}

// here says that the target is this IPC namespace, or from's.
func here(e, from *ns.Handle) string {
	if from != nil {
		return fmt.Sprintf("%s shares the IPC namespace of %s, %s", e.About(), from.About(), e.ID)
	}
	if e.PID == 0 {
		return fmt.Sprintf("%s is this IPC namespace, %s", e.Path, e.ID)
	}
	return fmt.Sprintf("%s shares this IPC namespace, %s", e.About(), e.ID)
}

// nsObject is an object of the namespace of --from: each of its system
// calls is made from a thread in that namespace, where System V ids and
// queue names mean what they meant when it was made.
type nsObject struct {
	ipc.Receiver
	ns *ns.Handle
}

func (o nsObject) Receive(buf []byte, deadline time.Time) (n int, err error) {
	o.ns.Inside(func() { n, err = o.Receiver.Receive(buf, deadline) })
	return n, err
}

func (o nsObject) Interrupt() { o.ns.Inside(o.Receiver.Interrupt) }
func (o nsObject) Reset()     { o.ns.Inside(o.Receiver.Reset) }

func (o nsObject) Close() (err error) {
	o.ns.Inside(func() { err = o.Receiver.Close() })
	return err
}

func (o nsObject) Remove() (err error) {
	o.ns.Inside(func() { err = o.Receiver.Remove() })
	return err
}
