// create.go: making a run's objects, so that runs at once never meet. An
// object that exists already is never reused, since it may hold another
// run's message, and a live run's is never removed: the default queue
// name gives way to one of the run's own, a default System V key is drawn
// at random until one is free, and -f removes only what an earlier run
// left behind (live.go tells which).

package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"

	"golang.org/x/sys/unix"
)

// keyTries bounds the draws of a free System V key.
const keyTries = 16

// createAll makes the objects of spec, in place of its targets' names and
// keys where those had to change, and says what it made.
func (p *parent) createAll(spec *runSpec) ([]object, error) {
	objs := make([]object, len(spec.Objects))
	undo := func() {
		for i, o := range objs {
			if o != nil {
				o.Remove()
				o.Close()
			}
			objs[i] = nil
		}
	}
	for i, t := range spec.Objects {
		if !t.kind().byName {
			continue
		}
		o, t, err := p.createByName(t)
		if err != nil {
			undo()
			return nil, err
		}
		// Every kind found by name takes the name the first one got.
		for j := i; j < len(spec.Objects); j++ {
			if spec.Objects[j].kind().byName {
				spec.Objects[j].Name = t.Name
			}
		}
		objs[i] = o
	}
	if hasSysV(spec.Objects) {
		key, err := p.createSysV(spec, objs)
		if err != nil {
			undo()
			return nil, err
		}
		p.printf("Parent: System V key: %d (0x%08x in ipcs)\n", key, uint32(key))
	}
	for _, t := range spec.Objects {
		p.verbosef("Parent: %s %s\n", t.kind().created, t)
	}
	return objs, nil
}

// createByName makes an object found by name, and locks it as this run's.
// With the default name taken, the run takes a name of its own and says
// so; with -f, a leftover of that name is removed first.
func (p *parent) createByName(t target) (object, target, error) {
	for try := 0; try < 8; try++ {
		lock, h, err := lockTarget(t)
		if err != nil {
			return nil, t, err
		}
		if lock == nil && h.pid == 0 && try == 0 {
			// Held, by no process that answered: most likely one that
			// has just ended. A second look tells.
			continue
		}
		if lock != nil {
			var o object
			if o, err = t.create(); err == nil {
				// Also locked where runs that share no network namespace
				// see it; a failure is a -f of such a run: again.
				n := o.(namedObject)
				if n.lock() == nil && n.isNamed(t.Name) {
					return lockedObject{o, lock}, t, nil
				}
				n.Close()
				lock.Close()
				continue
			}
			lock.Close()
			if !errors.Is(err, unix.EEXIST) {
				return nil, t, err
			}
			var herr error
			if h, herr = t.kind().holder(t); errors.Is(herr, unix.ENOENT) {
				continue // gone since: try the name again
			}
			if h.otherUser {
				h.owner = t.ownedBy()
			}
		}
		switch {
		case p.cfg.Force && !h.live:
			if err := t.kind().remove(t); err != nil && !errors.Is(err, unix.ENOENT) {
				return nil, t, removeError(err, t)
			}
			if p.cfg.Verbose >= 1 {
				p.say("Parent: ", fmt.Sprintf("removed %s left by an earlier run", t))
			}
			continue
		case p.cfg.Force:
			return nil, t, fmt.Errorf("-f: %s: %s, so it stays — -f removes only what an earlier run left behind", t, h.why())
		case !p.cfg.QueueGiven && try < 4:
			own := fmt.Sprintf("%s.%d", defaultQueue, os.Getpid())
			if t.Name != defaultQueue {
				// That one is taken too (the same PID in another PID
				// namespace): one drawn at random.
				own = fmt.Sprintf("%s.%d.%x", defaultQueue, os.Getpid(), rand.Uint32())
			}
			p.printf("Parent: %s\n", h.about(t.Name))
			if !h.live {
				p.printf("Parent: (invoke_ns -f -i no removes it)\n")
			}
			p.printf("Parent: this run uses %s\n", own)
			t.Name = own
			continue
		}
		todo := "choose another name with -q"
		if !h.live {
			todo = "remove it with -f, or choose another name with -q"
		}
		return nil, t, fmt.Errorf("creating %s: %s — %s", t, h.why(), todo)
	}
	return nil, t, fmt.Errorf("creating %s: it was taken again and again — try again", t)
}

// createSysV makes the System V objects of spec, all with one key, each
// under its lock: the key given with --key, or one drawn at random and
// drawn again while any of them is taken. With -f, a leftover with the
// given key is removed first; a live run's never is.
func (p *parent) createSysV(spec *runSpec, objs []object) (int32, error) {
	key := p.cfg.Key
	for try := 0; ; try++ {
		if p.cfg.Key == 0 {
			// 0x49 is "I": the keys of invoke_ns are told apart in ipcs.
			key = int32(0x49000000 | rand.Uint32N(0xffffff) + 1)
		}
		taken, err := p.createSysVWith(spec, objs, key)
		switch {
		case err != nil:
			return 0, err
		case !taken:
			return key, nil
		case p.cfg.Key != 0 || try == keyTries:
			return 0, fmt.Errorf("no free System V key after %d tries — remove unused objects (ipcs, ipcrm)", keyTries)
		}
	}
}

// createSysVWith tries key for every System V object of spec. taken says
// that one of them was another's, and that none is left made.
func (p *parent) createSysVWith(spec *runSpec, objs []object, key int32) (taken bool, err error) {
	var made []int
	undo := func() {
		for _, i := range made {
			objs[i].Remove()
			objs[i].Close()
			objs[i] = nil
		}
	}
	for i := range spec.Objects {
		t := &spec.Objects[i]
		if t.kind().byName {
			continue
		}
		t.Key = key
		lock, h, err := lockTarget(*t)
		if err != nil || h.live {
			undo()
			switch {
			case err == nil && p.cfg.Key != 0 && p.cfg.Force:
				err = fmt.Errorf("-f: %s: %s, so it stays — -f removes only what an earlier run left behind", t, h.why())
			case err == nil && p.cfg.Key != 0:
				err = fmt.Errorf("creating %s: %s — choose another with --key", t, h.why())
			}
			return err == nil, err
		}
		o, err := t.create()
		if errors.Is(err, unix.EEXIST) && p.cfg.Force {
			if rerr := t.kind().remove(*t); rerr != nil && !errors.Is(rerr, unix.ENOENT) {
				lock.Close()
				undo()
				return false, removeError(rerr, *t)
			}
			if p.cfg.Verbose >= 1 {
				p.say("Parent: ", fmt.Sprintf("removed %s left by an earlier run", *t))
			}
			o, err = t.create()
		}
		if err != nil {
			lock.Close()
			undo()
			switch {
			case errors.Is(err, unix.EEXIST) && p.cfg.Key == 0:
				return true, nil
			case errors.Is(err, unix.EEXIST):
				// Not a live run's: its lock was free.
				err = hint(err, fmt.Sprintf("an earlier run, or another program, holds key %d (ipcs shows it): "+
					"remove it with -f, or choose another with --key", key))
			}
			return false, err
		}
		objs[i] = lockedObject{o, lock}
		made = append(made, i)
	}
	return false, nil
}

// removeError explains a removal that the kernel refused.
func removeError(err error, t target) error {
	if !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EACCES) {
		return err
	}
	who := "another user (" + t.kind().owner + " names the owner)"
	if owner := t.ownedBy(); owner != "" {
		who = owner + ", another user"
	}
	return hint(err, "it belongs to "+who+": only its owner or root can remove it")
}

// ownedBy names the owner of the object t names, for a refusal: "uid
// 1001", where that can be read without opening it, or "".
func (t target) ownedBy() string {
	if owner := t.kind().ownerUID; owner != nil {
		if uid, ok := owner(t); ok {
			return fmt.Sprintf("uid %d", uid)
		}
	}
	return ""
}
