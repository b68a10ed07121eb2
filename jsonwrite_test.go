package main

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Texts that encoding/json escapes, each in its own way.
var jsonTexts = []string{
	`say "hi" \ back`,
	"<a href='x'>&amp;</a>",
	"line\nfeed\ttab\rreturn\bback\fform",
	"\x00\x01\x1f\x7f",
	"\u2028 and \u2029",
	"bad \xff\xfe utf-8 \xe2\x82",
	"é 中文 🙂",
}

var jsonFloats = []float64{0, 12.345, 1e-7, 1e21, 0.5, -3, 123456789.125, 1e20, 1.5e-6, math.SmallestNonzeroFloat64}

// fillJSON sets every settable field reachable from v, so that each kind
// of value and each struct tag of the records is written at least once.
func fillJSON(t *testing.T, v reflect.Value, n *int) {
	t.Helper()
	*n++
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Field(i).CanSet() {
				fillJSON(t, v.Field(i), n)
			}
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillJSON(t, v.Elem(), n)
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		for _, k := range []string{"uts", "ipc", "mnt"} {
			e := reflect.New(v.Type().Elem()).Elem()
			fillJSON(t, e, n)
			v.SetMapIndex(reflect.ValueOf(k), e)
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		fillJSON(t, v.Index(0), n)
		fillJSON(t, v.Index(1), n)
	case reflect.String:
		v.SetString(jsonTexts[*n%len(jsonTexts)])
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int32:
		v.SetInt(-int64(*n))
	case reflect.Float64:
		v.SetFloat(jsonFloats[*n%len(jsonFloats)])
	default:
		t.Fatalf("the test does not know how to fill a %s", v.Type())
	}
}

// writeJSON writes what json.MarshalIndent(v, "", "  ") does, for every
// record --json prints, filled, empty, and as a run makes them.
func TestWriteJSONLikeEncodingJSON(t *testing.T) {
	filled := func(v any) any {
		n := 0
		fillJSON(t, reflect.ValueOf(v).Elem(), &n)
		return v
	}
	cfg := &config{IPC: true, NewIPC: true, Kinds: []string{kindMQ, kindShm}, Key: 7, Timeout: time.Second, Queue: "/q"}
	cases := map[string]any{
		"record filled":         filled(&record{}),
		"compare record filled": filled(&compareRecord{}),
		"record empty":          &record{},
		"compare record empty":  &compareRecord{},
		"record of a run":       newRecord(cfg),
	}
	for _, f := range jsonFloats {
		cases[fmt.Sprintf("elapsed %g", f)] = &record{ElapsedMS: f}
	}
	for name, v := range cases {
		t.Run(name, func(t *testing.T) {
			want, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			var got strings.Builder
			if err := writeJSON(&got, v); err != nil {
				t.Fatal(err)
			}
			if got.String() != string(want)+"\n" {
				t.Errorf("writeJSON wrote\n%s\nencoding/json writes\n%s", got.String(), want)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func FuzzJSONString(f *testing.F) {
	for _, s := range jsonTexts {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendJSONString(nil, s)), mustJSON(t, s); got != want {
			t.Errorf("%q: wrote %s, encoding/json writes %s", s, got, want)
		}
	})
}
