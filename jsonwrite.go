// jsonwrite.go: the --json object, written without encoding/json.
//
// Linked in for this one option, encoding/json cost every run of
// invoke_ns 0.8 ms (BENCHMARKS.md): its code and types are loaded and set
// up at each start, in the parent and again in the child, --json or not.
// The records hold only structs, pointers, string maps, slices, strings,
// bools, ints and float64s; this writes those as
// json.MarshalIndent(v, "", "  ") does, struct tags included, and a test
// holds it to that byte for byte.
package main

import (
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// writeJSON writes v as one indented JSON value and a newline.
func writeJSON(w io.Writer, v any) error {
	_, err := w.Write(append(appendJSON(nil, reflect.ValueOf(v), ""), '\n'))
	return err
}

// member is one name and value of a JSON object.
type member struct {
	name string
	v    reflect.Value
}

func appendJSON(b []byte, v reflect.Value, indent string) []byte {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice:
		if v.IsNil() {
			return append(b, "null"...)
		}
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return appendJSON(b, v.Elem(), indent)
	case reflect.Struct:
		return appendObject(b, structMembers(v), indent)
	case reflect.Map:
		return appendObject(b, mapMembers(v), indent)
	case reflect.Slice:
		return appendArray(b, v, indent)
	case reflect.String:
		return appendJSONString(b, v.String())
	case reflect.Bool:
		return strconv.AppendBool(b, v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(b, v.Int(), 10)
	case reflect.Float64:
		return appendJSONFloat(b, v.Float())
	}
	// Only a new field of a kind not handled above gets here, and the
	// test that fills every field of every record finds it first.
	panic("writeJSON: no JSON for a " + v.Type().String())
}

// structMembers are the exported fields, named and left out as their json
// tags say.
func structMembers(v reflect.Value) []member {
	var ms []member
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		tag := f.Tag.Get("json")
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		if opts == "omitempty" && isEmptyJSON(v.Field(i)) {
			continue
		}
		ms = append(ms, member{name, v.Field(i)})
	}
	return ms
}

// mapMembers are the entries of a map with string keys, sorted by key.
func mapMembers(v reflect.Value) []member {
	var ms []member
	for it := v.MapRange(); it.Next(); {
		ms = append(ms, member{it.Key().String(), it.Value()})
	}
	slices.SortFunc(ms, func(a, b member) int { return strings.Compare(a.name, b.name) })
	return ms
}

// isEmptyJSON is omitempty's test.
func isEmptyJSON(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	}
	return v.IsZero()
}

func appendObject(b []byte, ms []member, indent string) []byte {
	if len(ms) == 0 {
		return append(b, "{}"...)
	}
	b = append(b, '{')
	for i, m := range ms {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n"+indent+"  "...)
		b = appendJSONString(b, m.name)
		b = append(b, ": "...)
		b = appendJSON(b, m.v, indent+"  ")
	}
	return append(b, "\n"+indent+"}"...)
}

func appendArray(b []byte, v reflect.Value, indent string) []byte {
	if v.Len() == 0 {
		return append(b, "[]"...)
	}
	b = append(b, '[')
	for i := 0; i < v.Len(); i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n"+indent+"  "...)
		b = appendJSON(b, v.Index(i), indent+"  ")
	}
	return append(b, "\n"+indent+"]"...)
}

// appendJSONFloat writes f as encoding/json does: no exponent between
// 1e-6 and 1e21. JSON has no NaN or infinity; none of the records'
// figures can be one, and null is what a reader can take for unknown.
func appendJSONFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if n := len(b); format == 'e' && n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
		b[n-2] = b[n-1] // e-07 is written e-7
		b = b[:n-1]
	}
	return b
}

// appendJSONString quotes s as encoding/json does by default: control
// characters, quotes and backslashes escaped, and also <, > and & (safe
// inside HTML), U+2028 and U+2029 (line ends to JavaScript), and each
// byte of invalid UTF-8 written as U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && !strings.ContainsRune(`"\<>&`, rune(c)) {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, `\b`...)
			case '\f':
				b = append(b, `\f`...)
			case '\n':
				b = append(b, `\n`...)
			case '\r':
				b = append(b, `\r`...)
			case '\t':
				b = append(b, `\t`...)
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(append(b, s[start:]...), '"')
}
