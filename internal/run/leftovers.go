// leftovers.go: naming what runs and probes killed outright left behind,
// where no later run would otherwise look: System V objects under keys
// drawn at random, and queues and /dev/shm files under the names a run
// takes when the default is taken (/ipc_namespace.PID) or a probe takes
// (/ipc_namespace.PID.W). Each is named with the command that removes it;
// nothing is removed.

package run

import (
	"os"
	"strconv"

	"invoke_ns/internal/ipc"
	"invoke_ns/internal/ns"
)

// Leftovers are the objects of the kinds of objs, in the IPC namespace in
// (nil: the caller's) and the /dev/shm of their Root, that an earlier
// run or probe of the caller's left and nothing holds: a note of each.
// Names are looked for beside those of objs given by name; with mount, a
// kind may mount what it lists, on a thread thrown away after (a scan's
// probes, which run from queues that /dev/mqueue may not show).
func Leftovers(objs []ipc.Object, in *ns.Handle, mount bool) []Note {
	var notes []Note
	look := func() {
		for _, o := range objs {
			switch {
			case o.Kind.ByName:
				notes = append(notes, strays(o, mount)...)
			case o.Kind.SysV():
				notes = append(notes, sysvLeftovers(o.Kind)...)
			}
		}
	}
	// A thread is thrown away only where it must be: a run's child dies
	// with the thread that started it (Pdeathsig), which a run without
	// another namespace to join leaves to any thread (reexec.Spawn).
	if mount {
		in.Apart(look)
	} else {
		in.Inside(look)
	}
	return notes
}

// noteLeftovers tells the observer of the leftovers beside a run's
// objects, once they are made: its own are held, and are not among them.
func (p *parent) noteLeftovers(objects []ipc.Object) {
	for _, n := range Leftovers(objects, p.plan.From, false) {
		p.obs.Noted(n)
	}
}

// strays are the leftovers of o's kind whose names are o's and a dot,
// then more, as the kind lists them: those held by no run, and the
// caller's.
func strays(o ipc.Object, mount bool) []Note {
	if o.Kind.Strays == nil {
		return nil
	}
	var notes []Note
	for _, name := range o.Kind.Strays(o, mount) {
		t := ipc.Object{Kind: o.Kind, Name: name, Root: o.Root}
		if held(t) {
			continue
		}
		c, err := t.Kind.Find(t)
		if err != nil {
			continue
		}
		if c.Release != nil {
			c.Release()
		}
		if c.State == ipc.Leftover {
			notes = append(notes, Note{What: "leftover", Object: t})
		}
	}
	return notes
}

// sysvLeftovers names the System V objects of kind k of the caller's
// with a key of invoke_ns's (0x49...) that no run holds: with its keys
// drawn at random, a run killed outright leaves them where no later run
// looks, and nothing else would ever say so.
func sysvLeftovers(k *ipc.Kind) []Note {
	var notes []Note
	for _, row := range ipc.SysVTable(k.Name) {
		key, err := strconv.ParseInt(row["key"], 10, 64)
		if err != nil || uint32(key)&0xff000000 != 0x49000000 || row["uid"] != strconv.Itoa(os.Geteuid()) {
			continue
		}
		if _, live := ipc.SysVRun(k.Name, row); live {
			continue // a live run's, of whichever build
		}
		t := ipc.Object{Kind: k, Key: int32(key)}
		if !held(t) {
			notes = append(notes, Note{What: "leftover", Object: t})
		}
	}
	return notes
}

// held says whether a run holds the lock of t.
func held(t ipc.Object) bool {
	lock, _, err := ipc.Take(t)
	if lock == nil || err != nil {
		return true
	}
	lock.Close()
	return false
}
