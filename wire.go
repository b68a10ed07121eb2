// wire.go: how a handshake message is written on the pipe. One line each:
// the step, then name=value for each field that is set, every value a
// quoted Go string, lists as the same name repeated in order:
//
//	config prog="invoke_ns" verbose="true" ipc="true" kind="mq" ...
//	report kind="mq" outcome="open-failed" errno="2"
//
// Written by hand rather than with encoding/json: both processes would
// otherwise spend their first half millisecond building json's reflection
// caches, on the path to the verdict (BENCHMARKS.md).
package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// wireField binds one field to its name on the wire.
type wireField struct {
	name string
	get  func() []string    // its values: none when unset, several for a list
	set  func(string) error // called once for each value read
}

// configWire binds every field of c. A field missing here would not reach
// the child: TestWireConfig checks that none is.
func configWire(c *config) []wireField {
	return []wireField{
		stringField("prog", &c.Prog),
		boolField("verbose", &c.Verbose),
		boolField("pid", &c.NewPID),
		boolField("mount", &c.NewMount),
		boolField("net", &c.NewNet),
		boolField("user", &c.NewUser),
		stringField("uts", &c.Hostname),
		boolField("ipc", &c.IPC),
		boolField("newipc", &c.NewIPC),
		intField("timeout", &c.Timeout),
		stringField("queue", &c.Queue),
		boolField("force", &c.Force),
		boolField("json", &c.JSON),
		listField("kind", &c.Kinds),
		intField("key", &c.Key),
		boolField("compare", &c.Compare),
		listField("arg", &c.Command),
		pointerField("message", &c.Message),
		boolField("trycreate", &c.TryCreate),
		boolField("quiet", &c.Quiet),
	}
}

// reportWire binds every field of r.
func reportWire(r *report) []wireField {
	return []wireField{
		stringField("kind", &r.Kind),
		stringField("outcome", &r.Outcome),
		intField("errno", &r.Errno),
		intField("size", &r.Size),
		boolField("createtried", &r.CreateTried),
		intField("createerrno", &r.CreateErrno),
	}
}

// encodeMessage is m as one line, newline included.
func encodeMessage(m message) []byte {
	b := []byte(m.Step)
	var fields []wireField
	switch {
	case m.Config != nil:
		fields = configWire(m.Config)
	case m.Report != nil:
		fields = reportWire(m.Report)
	}
	for _, f := range fields {
		for _, v := range f.get() {
			b = append(b, ' ')
			b = append(b, f.name...)
			b = append(b, '=')
			b = strconv.AppendQuote(b, v)
		}
	}
	return append(b, '\n')
}

// decodeMessage reads a line written by encodeMessage, newline removed.
func decodeMessage(line string) (message, error) {
	step, rest, _ := strings.Cut(line, " ")
	m := message{Step: step}
	var fields []wireField
	switch step {
	case stepConfig:
		m.Config = &config{}
		fields = configWire(m.Config)
	case stepReport:
		m.Report = &report{}
		fields = reportWire(m.Report)
	case stepGo, stepAck:
	default:
		return m, fmt.Errorf("unknown step %q", step)
	}
	for rest != "" {
		name, quoted, ok := strings.Cut(rest, "=")
		if !ok {
			return m, fmt.Errorf("%s: no value after %q", step, rest)
		}
		q, err := strconv.QuotedPrefix(quoted)
		if err != nil {
			return m, fmt.Errorf("%s: the value of %s: %w", step, name, err)
		}
		v, _ := strconv.Unquote(q)
		if err := setField(fields, name, v); err != nil {
			return m, fmt.Errorf("%s: %w", step, err)
		}
		rest = strings.TrimPrefix(quoted[len(q):], " ")
	}
	return m, nil
}

func setField(fields []wireField, name, v string) error {
	for _, f := range fields {
		if f.name == name {
			if err := f.set(v); err != nil {
				return fmt.Errorf("%s=%q: %w", name, v, err)
			}
			return nil
		}
	}
	return fmt.Errorf("unknown field %q", name)
}

func stringField(name string, p *string) wireField {
	return wireField{name,
		func() []string { return nonEmpty(*p != "", *p) },
		func(v string) error { *p = v; return nil }}
}

func boolField(name string, p *bool) wireField {
	return wireField{name,
		func() []string { return nonEmpty(*p, "true") },
		func(v string) (err error) { *p, err = strconv.ParseBool(v); return err }}
}

// intField serves every integer the handshake carries: sizes, keys,
// errnos and durations.
func intField[T int | int32 | time.Duration | unix.Errno](name string, p *T) wireField {
	return wireField{name,
		func() []string { return nonEmpty(*p != 0, strconv.FormatInt(int64(*p), 10)) },
		func(v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err == nil && int64(T(n)) != n {
				err = errors.New("out of range")
			}
			*p = T(n)
			return err
		}}
}

func listField(name string, p *[]string) wireField {
	return wireField{name,
		func() []string { return *p },
		func(v string) error { *p = append(*p, v); return nil }}
}

// pointerField tells a message given as "" (an empty line) from none.
func pointerField(name string, p **string) wireField {
	return wireField{name,
		func() []string {
			if *p == nil {
				return nil
			}
			return []string{**p}
		},
		func(v string) error { *p = &v; return nil }}
}

func nonEmpty(set bool, v string) []string {
	if !set {
		return nil
	}
	return []string{v}
}
