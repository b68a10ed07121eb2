// limits.go: an IPC namespace's own limits. The sysctls of POSIX queues
// and System V objects are per IPC namespace (ipc/ipc_sysctl.c,
// ipc/mq_sysctl.c), and a new namespace starts from the kernel's
// defaults, not from its creator's values: a host tuned for a database
// keeps its values, and its containers do not. /proc/sys answers for the
// IPC namespace of the thread that reads it, so another namespace's can
// only be read from inside it.

package ipc

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unsafe"

	"invoke_ns/internal/procfs"

	"golang.org/x/sys/unix"
)

// limitNames are the sysctls of an IPC namespace, in the order shown.
var limitNames = []string{
	"fs.mqueue.queues_max", "fs.mqueue.msg_max", "fs.mqueue.msgsize_max",
	"fs.mqueue.msg_default", "fs.mqueue.msgsize_default",
	"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
	"kernel.shmmax", "kernel.shmall", "kernel.shmmni", "kernel.shm_rmid_forced",
}

// Limit is one sysctl and its value, as sysctl(8) prints it: kernel.sem
// is four numbers, the others one.
type Limit struct {
	Name  string
	Value string
}

// Limits are an IPC namespace's limits, in the order of limitNames; one
// this kernel does not have is left out.
type Limits []Limit

// ReadLimits reads the limits of the calling thread's IPC namespace,
// which the caller keeps it in. Those of System V objects come from
// IPC_INFO (msgctl(2), shmctl(2), semctl(2)), the rest from /proc/sys:
// in a namespace read for the first time, a file of /proc/sys costs some
// 25 µs, and a scan's probes read hundreds of namespaces once each.
func ReadLimits() Limits {
	got := sysvLimits()
	for _, name := range limitNames {
		if _, ok := got[name]; ok {
			continue
		}
		// A sysctl gives all of its value to the first read that has
		// room: one read, not two.
		if b, err := procfs.ReadMade("/proc/sys/" + strings.ReplaceAll(name, ".", "/")); err == nil {
			got[name] = strings.Join(strings.Fields(string(b)), " ")
		}
	}
	var ls Limits
	for _, name := range limitNames {
		if v, ok := got[name]; ok {
			ls = append(ls, Limit{name, v})
		}
	}
	return ls
}

// msginfo, shminfo64 and seminfo are the kernel's answers to IPC_INFO
// (the 64-bit layout, IPC_64, which every 64-bit port gives).
type (
	msginfo struct {
		pool, mapEntries, max, mnb, mni, ssz, tql int32
		seg                                       uint16
	}
	shminfo64 struct {
		max, min, mni, seg, all uint64
		_                       [4]uint64
	}
	seminfo struct{ mapEntries, mni, mns, mnu, msl, opm, ume, usz, vmx, aem int32 }
)

// ipcInfo is IPC_INFO, the command of msgctl, shmctl and semctl that
// gives the namespace's limits (linux/ipc.h).
const ipcInfo = 3

// sysvLimits are the System V limits of the caller's IPC namespace, by
// sysctl name, as IPC_INFO gives them; none where it fails.
func sysvLimits() map[string]string {
	got := map[string]string{}
	var mi msginfo
	if _, _, e := unix.Syscall(unix.SYS_MSGCTL, 0, ipcInfo, uintptr(unsafe.Pointer(&mi))); e == 0 {
		got["kernel.msgmax"], got["kernel.msgmnb"], got["kernel.msgmni"] = itoa(mi.max), itoa(mi.mnb), itoa(mi.mni)
	}
	var si shminfo64
	if _, _, e := unix.Syscall(unix.SYS_SHMCTL, 0, ipcInfo, uintptr(unsafe.Pointer(&si))); e == 0 {
		got["kernel.shmmax"], got["kernel.shmall"] = strconv.FormatUint(si.max, 10), strconv.FormatUint(si.all, 10)
		got["kernel.shmmni"] = strconv.FormatUint(si.mni, 10)
	}
	var se seminfo
	if _, _, e := unix.Syscall6(unix.SYS_SEMCTL, 0, 0, ipcInfo, uintptr(unsafe.Pointer(&se)), 0, 0); e == 0 {
		got["kernel.sem"] = strings.Join([]string{itoa(se.msl), itoa(se.mns), itoa(se.opm), itoa(se.mni)}, " ")
	}
	return got
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

// Get is the value of the sysctl name, or "".
func (ls Limits) Get(name string) string {
	for _, l := range ls {
		if l.Name == name {
			return l.Value
		}
	}
	return ""
}

// Diff says of each sysctl whose value in ls differs from base's, where
// both have one, what it is and what it is not: "kernel.msgmni 1000, not
// 32000".
func (ls Limits) Diff(base Limits) []string {
	var diff []string
	for _, l := range ls {
		if v := base.Get(l.Name); v != "" && v != l.Value {
			diff = append(diff, l.Name+" "+l.Value+", not "+v)
		}
	}
	return diff
}

// MarshalJSON is an object keyed by the sysctls' names, in order: a
// number for each, an array of four for kernel.sem. A value that is not
// numbers (no kernel gives one) is a string.
func (ls Limits) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, l := range ls {
		if i > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(l.Name)
		b.Write(name)
		b.WriteByte(':')
		b.Write(limitValue(l.Value))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads what MarshalJSON wrote, for the child's report;
// the order of a JSON object's keys is lost, and limitNames' restored.
func (ls *Limits) UnmarshalJSON(data []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	*ls = nil
	for _, name := range limitNames {
		raw, ok := m[name]
		if !ok {
			continue
		}
		var one json.Number
		var several []json.Number
		var other string
		switch {
		case json.Unmarshal(raw, &one) == nil:
			other = one.String()
		case json.Unmarshal(raw, &several) == nil:
			for _, n := range several {
				other = strings.TrimSpace(other + " " + n.String())
			}
		default:
			if err := json.Unmarshal(raw, &other); err != nil {
				return err
			}
		}
		*ls = append(*ls, Limit{name, other})
	}
	return nil
}

// limitValue is a value in JSON: digits as a number, several as an
// array of numbers.
func limitValue(v string) []byte {
	fields := strings.Fields(v)
	for _, f := range fields {
		if strings.Trim(f, "0123456789") != "" || len(f) == 0 {
			s, _ := json.Marshal(v)
			return s
		}
	}
	if len(fields) == 1 {
		return []byte(fields[0])
	}
	return []byte("[" + strings.Join(fields, ",") + "]")
}
