// make.go: making a run's objects, so that runs at once never meet. An
// object that exists already is never reused, since it may hold another
// run's message, and a live run's is never removed: the default queue
// name gives way to one of the run's own, a default System V key is drawn
// at random until one is free, and -f removes only what an earlier run of
// the caller's left behind, never another user's (ipc.Claim tells which).
// Whatever has a name or key is looked at, and removed, while the run
// holds the lock of that name or key, and is checked to be what was found
// right before it goes.

package run

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"

	"invoke_ns/internal/ipc"

	"golang.org/x/sys/unix"
)

// keyTries bounds the draws of a free System V key.
const keyTries = 16

// errAgain is an object made and at once taken or removed by another
// process: everything is tried again.
var errAgain = errors.New("taken again and again")

// ErrInterfered is objects that another process removed or replaced as
// they were made: there is no verdict to give.
var ErrInterfered = errors.New("no verdict: another process interfered")

// interfered is ErrInterfered, with what the other process did and what
// to do.
func interfered(format string, args ...any) error {
	return fmt.Errorf("%w: %s — find what removes them (ipcs, ls /dev/mqueue /dev/shm), "+
		"and run again", ErrInterfered, fmt.Sprintf(format, args...))
}

// makeAll makes the objects of a run, and returns them as made: the names
// and keys they have, which changed where the plan's were taken, and what
// the kernel says each is.
func (p *parent) makeAll(planned []ipc.Object) ([]ipc.Receiver, []ipc.Object, error) {
	objects := slices.Clone(planned)
	objs := make([]ipc.Receiver, len(objects))
	undo := func() {
		for i, o := range objs {
			if o != nil {
				o.Remove()
				o.Close()
			}
			objs[i] = nil
		}
	}
	for i, t := range objects {
		if !t.Kind.ByName {
			continue
		}
		o, t, err := p.createByName(t)
		if err != nil {
			undo()
			return nil, nil, err
		}
		// Every kind found by name takes the name the first one got.
		for j := i; j < len(objects); j++ {
			if objects[j].Kind.ByName {
				objects[j].Name = t.Name
			}
		}
		objs[i] = o
	}
	if ipc.HasSysV(objects) {
		key, err := p.createSysV(objects, objs)
		if err != nil {
			undo()
			return nil, nil, err
		}
		for i := range objects {
			if objects[i].Kind.SysV() {
				objects[i].Key = key
			}
		}
		p.obs.Key(key)
	}
	for i, t := range objects {
		if t.Kind.PerUser {
			// Nothing is made yet: the budget is measured right before
			// the child is let go to it (arm).
			objs[i], _ = t.Kind.New(t)
		}
	}
	for i, o := range objs {
		id, err := o.Identity()
		if errors.Is(err, ipc.ErrVanished) {
			undo()
			return nil, nil, interfered("it removed the %s as it was made", objects[i])
		}
		if err != nil {
			undo()
			return nil, nil, fmt.Errorf("what the kernel says of the %s: %w", objects[i], err)
		}
		objects[i].ID = id
	}
	for _, t := range objects {
		p.obs.Made(t)
	}
	return objs, objects, nil
}

// createByName makes an object found by name, and locks it as this run's.
// With the default name taken, the run takes a name of its own and says
// so; with -f, a leftover of the caller's of that name is removed first.
func (p *parent) createByName(t ipc.Object) (ipc.Receiver, ipc.Object, error) {
	base := t.Name
	for try := 0; try < 8; try++ {
		lock, h, err := ipc.Take(t)
		if err != nil {
			return nil, t, err
		}
		if lock == nil && h.State == ipc.LiveRun && h.PID == 0 && try == 0 {
			// Held, by no process that answered: most likely one that
			// has just ended. A second look tells.
			continue
		}
		if lock != nil || h.State == ipc.Squatter {
			// A squatter's lock proves nothing: the object's own lock
			// (flock) decides.
			if h.State == ipc.Squatter {
				p.obs.Noted(Note{What: "squatted", Object: t, Holder: h})
			}
			var o ipc.Receiver
			o, h, err = p.claim(t, lock, p.plan.Force)
			switch {
			case errors.Is(err, errAgain):
				continue
			case err != nil:
				return nil, t, err
			case o != nil:
				return o, t, nil
			}
		}
		switch {
		case p.plan.Force:
			return nil, t, forceRefusal(t, h)
		case p.plan.OwnName && try < 4:
			own := fmt.Sprintf("%s.%d", base, os.Getpid())
			if t.Name != base {
				// That one is taken too (the same PID in another PID
				// namespace): one drawn at random.
				own = fmt.Sprintf("%s.%d.%x", base, os.Getpid(), rand.Uint32())
			}
			p.obs.Noted(Note{What: "taken", Object: t, Holder: h, Own: own})
			t.Name = own
			continue
		}
		todo := "choose another name with -q"
		if h.State == ipc.Leftover {
			todo = "remove it with -f, or choose another name with -q"
		}
		return nil, t, fmt.Errorf("creating %s: %s — %s", t, h.Why(), todo)
	}
	return nil, t, interfered("the %s was removed or taken as it was made, again and again", t)
}

// claim makes t under lock (nil where a squatter has it). What has its
// name or key already is looked at while the lock is held: with force, a
// leftover of the caller's is removed, if it is still what was found, and
// t is made again; otherwise claim says who has it.
func (p *parent) claim(t ipc.Object, lock *ipc.Lock, force bool) (ipc.Receiver, ipc.Holder, error) {
	for try := 0; try < 8; try++ {
		o, err := t.Create()
		if err == nil {
			// Also locked where runs that share no network namespace
			// see it; a failure is a -f of such a run: again.
			if n, ok := o.(ipc.Locker); ok && (n.Lock() != nil || !n.IsNamed(t.Name)) {
				n.Close()
				lock.Close()
				return nil, ipc.Holder{}, errAgain
			}
			return ipc.Locked{Receiver: o, Lock: lock}, ipc.Holder{}, nil
		}
		if !errors.Is(err, unix.EEXIST) {
			lock.Close()
			return nil, ipc.Holder{}, err
		}
		f, err := t.Kind.Find(t)
		if errors.Is(err, unix.ENOENT) {
			continue // gone since: try the name again
		}
		if err != nil {
			lock.Close()
			return nil, ipc.Holder{}, err
		}
		if f.State != ipc.Leftover || !force {
			if f.Release != nil {
				f.Release()
			}
			lock.Close()
			return nil, f.Holder, nil
		}
		err = f.Remove()
		f.Release()
		switch {
		case err == nil:
			p.obs.Noted(Note{What: "removed", Object: t})
		case !errors.Is(err, ipc.ErrReplaced) && !errors.Is(err, unix.ENOENT):
			lock.Close()
			return nil, ipc.Holder{}, removeError(err, t)
		}
	}
	lock.Close()
	return nil, ipc.Holder{}, errAgain
}

// forceRefusal is -f's answer for an object it must not remove.
func forceRefusal(t ipc.Object, h ipc.Holder) error {
	if h.State == ipc.OtherUser && !h.Known {
		return fmt.Errorf("-f: %s: owned by another user (%s names the owner), so it stays — "+
			"-f removes only what an earlier run of yours left behind", t, t.Kind.Owner)
	}
	return fmt.Errorf("-f: %s: %s, so it stays — -f removes only what an earlier run of yours left behind", t, h.Why())
}

// createSysV makes the System V objects of spec, all with one key, each
// under its lock: the key given with --key, or one drawn at random and
// drawn again while any of them is taken. With -f, a leftover with the
// given key is removed first; a live run's, or another user's, never is.
func (p *parent) createSysV(objects []ipc.Object, objs []ipc.Receiver) (int32, error) {
	key := p.given()
	vanished := 0
	for try := 0; ; try++ {
		if p.given() == 0 {
			// 0x49 is "I": the keys of invoke_ns are told apart in ipcs.
			key = int32(0x49000000 | rand.Uint32N(0xffffff) + 1)
		}
		taken, err := p.createSysVWith(objects, objs, key)
		if errors.Is(err, ipc.ErrVanished) {
			// Removed as it was made: again, with another key.
			taken, err, vanished = true, nil, vanished+1
		}
		switch {
		case err != nil:
			return 0, err
		case !taken:
			return key, nil
		case vanished > 0 && (p.given() != 0 || try == keyTries):
			return 0, interfered("the System V objects were removed as they were made, again and again")
		case p.given() != 0 || try == keyTries:
			return 0, fmt.Errorf("no free System V key after %d tries — remove unused objects (ipcs, ipcrm)", keyTries)
		}
	}
}

// createSysVWith tries key for every System V object of spec. taken says
// that one of them was another's (with a key drawn at random), and that
// none is left made.
func (p *parent) createSysVWith(objects []ipc.Object, objs []ipc.Receiver, key int32) (taken bool, err error) {
	var made []int
	undo := func() {
		for _, i := range made {
			objs[i].Remove()
			objs[i].Close()
			objs[i] = nil
		}
	}
	drawn := p.given() == 0
	for i := range objects {
		t := objects[i]
		if !t.Kind.SysV() {
			continue
		}
		t.Key = key
		lock, h, err := ipc.Take(t)
		if err != nil {
			undo()
			return false, err
		}
		if lock == nil && (drawn || h.State == ipc.LiveRun) {
			undo()
			return p.sysvTaken(t, h)
		}
		if h.State == ipc.Squatter {
			p.obs.Noted(Note{What: "squatted", Object: t, Holder: h})
		}
		var o ipc.Receiver
		if drawn {
			// A key drawn at random is anybody's to have: another is drawn.
			if o, err = t.Create(); errors.Is(err, unix.EEXIST) {
				lock.Close()
				undo()
				return true, nil
			} else if err != nil {
				lock.Close()
			} else {
				o = ipc.Locked{Receiver: o, Lock: lock}
			}
		} else {
			o, h, err = p.claim(t, lock, p.plan.Force)
		}
		if err != nil || o == nil {
			undo()
			if err == nil {
				return p.sysvTaken(t, h)
			}
			return false, err
		}
		objs[i] = o
		made = append(made, i)
	}
	return false, nil
}

// sysvTaken is what a System V key that another has comes to: with a key
// drawn at random, another draw; with --key, a refusal that says whose it
// is and what to do.
func (p *parent) sysvTaken(t ipc.Object, h ipc.Holder) (bool, error) {
	switch {
	case p.given() == 0:
		return true, nil
	case p.plan.Force:
		return false, forceRefusal(t, h)
	case h.State == ipc.Leftover:
		return false, fmt.Errorf("creating %s: %s — remove it with -f (or %s), or choose another with --key",
			t, h.Why(), t.Removal())
	}
	return false, fmt.Errorf("creating %s: %s — choose another with --key", t, h.Why())
}

// given is the System V key given with --key, or 0 to draw one.
func (p *parent) given() int32 {
	for _, o := range p.plan.Objects {
		if o.Kind.SysV() {
			return o.Key
		}
	}
	return 0
}

// removeError explains a removal that the kernel refused.
func removeError(err error, t ipc.Object) error {
	if !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EACCES) {
		return err
	}
	return fmt.Errorf("%w — it belongs to another user (%s names the owner): only its owner or root can remove it", err, t.Kind.Owner)
}
