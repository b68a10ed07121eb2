package main

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// fill sets every field of the struct v points to to a value other than
// its zero, with text that needs quoting, so that a field the wire forgets
// or mangles shows.
func fill(t *testing.T, v any) {
	t.Helper()
	s := reflect.ValueOf(v).Elem()
	for i := 0; i < s.NumField(); i++ {
		f := s.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("a \"b\"\n=c " + s.Type().Field(i).Name)
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Int, reflect.Int32, reflect.Int64:
			f.SetInt(-int64(i + 2))
		case reflect.Uintptr:
			f.SetUint(uint64(i + 2))
		case reflect.Slice:
			f.Set(reflect.ValueOf([]string{"x y", "", "-i=yes"}))
		case reflect.Pointer:
			text := ""
			f.Set(reflect.ValueOf(&text))
		default:
			t.Fatalf("field %s: the test does not know how to fill a %s", s.Type().Field(i).Name, f.Kind())
		}
	}
}

// Every field of config and report crosses the pipe unchanged, and
// nothing else does.
func TestWireRoundTrip(t *testing.T) {
	cfg := &config{}
	fill(t, cfg)
	rep := &report{}
	fill(t, rep)
	for _, tc := range []struct {
		name   string
		m      message
		fields int
		want   int
	}{
		{"config", message{Step: stepConfig, Config: cfg}, len(configWire(cfg)), reflect.TypeOf(*cfg).NumField()},
		{"report", message{Step: stepReport, Report: rep}, len(reportWire(rep)), reflect.TypeOf(*rep).NumField()},
		{"go", message{Step: stepGo}, 0, 0},
		{"ack", message{Step: stepAck}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fields != tc.want {
				t.Errorf("%d fields on the wire, %d in the struct", tc.fields, tc.want)
			}
			b := encodeMessage(tc.m)
			if strings.Count(string(b), "\n") != 1 || b[len(b)-1] != '\n' {
				t.Fatalf("not one line: %q", b)
			}
			got, err := decodeMessage(strings.TrimSuffix(string(b), "\n"))
			if err != nil {
				t.Fatalf("decoding %q: %v", b, err)
			}
			if !reflect.DeepEqual(got, tc.m) {
				t.Errorf("sent %+v, got %+v (line %q)", tc.m, got, b)
			}
		})
	}
}

// Zero values stay off the line, and a message of "" is not no message.
func TestWireZeroValues(t *testing.T) {
	empty := ""
	for _, tc := range []struct {
		cfg  config
		line string
	}{
		{config{}, "config"},
		{config{Timeout: time.Second, Kinds: []string{"mq", "shm"}}, `config timeout="1000000000" kind="mq" kind="shm"`},
		{config{Message: &empty}, `config message=""`},
	} {
		b := encodeMessage(message{Step: stepConfig, Config: &tc.cfg})
		if got := strings.TrimSuffix(string(b), "\n"); got != tc.line {
			t.Errorf("%+v: got %q, want %q", tc.cfg, got, tc.line)
		}
		m, err := decodeMessage(tc.line)
		if err != nil || !reflect.DeepEqual(*m.Config, tc.cfg) {
			t.Errorf("%q: decoded %+v, %v", tc.line, m.Config, err)
		}
	}
}

func TestWireRefuses(t *testing.T) {
	for _, line := range []string{
		"",
		"hello",
		`config nosuchfield="1"`,
		`config verbose="maybe"`,
		`config key="99999999999"`,
		`config prog=unquoted`,
		`config prog="unterminated`,
		`config prog`,
		`report errno="-"`,
		`go extra="1"`,
	} {
		if m, err := decodeMessage(line); err == nil {
			t.Errorf("%q: decoded as %+v, want an error", line, m)
		}
	}
}

func FuzzDecodeMessage(f *testing.F) {
	f.Add(`config prog="invoke_ns" verbose="true" kind="mq" arg="sh" message=""`)
	f.Add(`report kind="mq" outcome="open-failed" errno="2"`)
	f.Add("ack")
	f.Fuzz(func(t *testing.T, line string) {
		m, err := decodeMessage(line)
		if err != nil {
			return
		}
		// What decodes must encode to a line that decodes the same.
		b := encodeMessage(m)
		again, err := decodeMessage(strings.TrimSuffix(string(b), "\n"))
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Errorf("%q decoded as %+v, re-encoded as %q, decoded again as %+v, %v", line, m, b, again, err)
		}
	})
}
