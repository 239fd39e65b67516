package rawjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct {
		name  string
		input string
		err   string // "" for valid
	}{
		{"an object with every kind of value is valid", `{"a":1,"b":[true,false,null],"c":"x\u00e9","d":{"e":-1.5e+3}}`, ""},
		{"white space around the value is allowed", " \t\n{}\r\n", ""},
		{"an empty body is refused", ``, "not valid JSON at byte 0: unexpected end of JSON input"},
		{"a truncated object names the end", `{"a":`, "not valid JSON at byte 5: unexpected end of JSON input"},
		{"trailing garbage names its offset", `{} x`, "not valid JSON at byte 4: invalid character 'x' after top-level value"},
		{"a single-quoted string is refused", `{'a':1}`, `not valid JSON at byte 2: invalid character '\'' looking for beginning of object key string`},
		{"a leading zero is refused", `[01]`, "not valid JSON at byte 3: invalid character '1' after array element"},
		{"a bad escape is refused", `"\x"`, `not valid JSON at byte 3: invalid character 'x' in string escape code`},
		{"a control character in a string is refused", "\"a\x01\"", `not valid JSON at byte 3: invalid character '\x01' in string literal`},
		{"nesting as deep as encoding/json allows is valid", deep(maxDepth), ""},
		{"one level deeper is refused", deep(maxDepth + 1), "not valid JSON at byte 10001: invalid character '[' exceeded max depth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.input))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.err {
				t.Errorf("Parse(%.40q) error = %q, want %q", tt.input, got, tt.err)
			}
			if (err == nil) != json.Valid([]byte(tt.input)) {
				t.Errorf("Parse and encoding/json disagree on validity")
			}
		})
	}
}

func TestNavigation(t *testing.T) {
	v, err := Parse([]byte(` {"a" : "x\"y", "b\u0041":[1, {"c":null}], "e":true} `))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	var kinds []Kind
	ok, err := v.Fields(func(k []byte, val Value) error {
		keys, kinds = append(keys, string(k)), append(kinds, val.Kind())
		return nil
	})
	if !ok || err != nil {
		t.Fatalf("Fields: ok=%v err=%v", ok, err)
	}
	if got, want := strings.Join(keys, ","), "a,bA,e"; got != want {
		t.Errorf("keys %s, want %s (escapes decoded)", got, want)
	}
	if want := []Kind{String, Array, Bool}; !equalKinds(kinds, want) {
		t.Errorf("kinds %v, want %v", kinds, want)
	}
	if ok, _ := (Value{}).Fields(nil); ok {
		t.Error("Fields of an absent value reported an object")
	}
	if !(Value{}).IsAbsent() || (Value{}).Kind().String() != "nothing" {
		t.Error("the zero Value is not absent")
	}
	stop := errors.New("stop")
	_, err = v.Fields(func([]byte, Value) error { return stop })
	if err != stop {
		t.Errorf("Fields did not return fn's error: %v", err)
	}
	for _, doc := range []string{`{"a":1,"\u0061":2}`, `{"":1,"":2}`} {
		_, err = mustParse(t, doc).Fields(func([]byte, Value) error { return nil })
		if d, ok := err.(*DuplicateKeyError); !ok || d.Key != doc[2:3] && !(d.Key == "" && doc[2] == '"') {
			t.Errorf("%s: err=%v, want a duplicate key", doc, err)
		}
	}
	var n int
	ok, _ = mustParse(t, `[1, "two", [3]]`).Elements(func(i int, val Value) error { n = i + 1; return nil })
	if !ok || n != 3 {
		t.Errorf("Elements visited %d elements, ok=%v", n, ok)
	}
}

func equalKinds(a, b []Kind) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func mustParse(t *testing.T, s string) Value {
	t.Helper()
	v, err := Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// FuzzAgainstEncodingJSON is a differential test: on any input, rawjson and
// encoding/json must agree on validity, and on valid input on every object's
// keys (decoded the same way, duplicates found), every string's decoded
// value, and the kinds of all values. Its seed corpus runs in make test.
func FuzzAgainstEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":[true,false,null],"c":"x","d":{"e":-1.5e+3}}`,
		`{"a":1,"a":2}`, `{"a":1,"\u0061":2}`, `{"\ud83d\ude00":"\ud83d"}`, "{\"\xff\":\"\xfe\"}",
		`"\u00e9\/\b\f\n\r\t\\\""`, `[-0, 0.5, 1e9, -1E-9, 12345678901234567890]`, `[01]`, `[1.]`, `[.5]`, `[-]`,
		`{"a":}`, `{"a" 1}`, `[1,]`, `{,}`, `tru`, `nul`, `"abc`, `"\u12"`, " {} ", `{} {}`,
		strings.Repeat("[", 64) + strings.Repeat("]", 64),
		`{"labels":{"app.kubernetes.io/name":"web","owner":null}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Parse(data)
		if valid := json.Valid(data); (err == nil) != valid {
			t.Fatalf("validity: rawjson err=%v, encoding/json valid=%v for %q", err, valid, data)
		}
		if err != nil {
			return
		}
		compare(t, v, json.RawMessage(bytes.TrimSpace(data)))
	})
}

// compare checks one valid value against encoding/json's reading of it.
func compare(t *testing.T, v Value, raw json.RawMessage) {
	t.Helper()
	if !bytes.Equal(v.Bytes(), raw) {
		t.Fatalf("value bytes %q, want %q", v.Bytes(), raw)
	}
	var ref any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // numbers are only validated, never decoded: any size is valid JSON
	if err := dec.Decode(&ref); err != nil {
		t.Fatalf("encoding/json cannot decode a valid value %q: %v", raw, err)
	}
	switch want := ref.(type) {
	case nil:
		expectKind(t, v, Null)
	case bool:
		expectKind(t, v, Bool)
		if v.True() != want {
			t.Fatalf("True() = %v for %q", v.True(), raw)
		}
	case json.Number:
		expectKind(t, v, Number)
	case string:
		expectKind(t, v, String)
		if got, _ := v.Str(); got != want {
			t.Fatalf("string %q decodes to %q, encoding/json says %q", raw, got, want)
		}
	case []any:
		expectKind(t, v, Array)
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			t.Fatal(err)
		}
		n := 0
		_, _ = v.Elements(func(i int, e Value) error {
			compare(t, e, elems[i])
			n++
			return nil
		})
		if n != len(elems) {
			t.Fatalf("%d elements, encoding/json has %d in %q", n, len(elems), raw)
		}
	case map[string]any:
		expectKind(t, v, Object)
		keys, vals, refDup := members(t, raw)
		var got []string
		_, err := v.Fields(func(k []byte, e Value) error {
			compare(t, e, vals[len(got)])
			got = append(got, string(k))
			return nil
		})
		var d *DuplicateKeyError
		switch {
		case errors.As(err, &d) != (refDup != nil):
			t.Fatalf("Fields err=%v, encoding/json's tokens say duplicate=%v, in %q", err, refDup, raw)
		case d != nil && d.Key != *refDup:
			t.Fatalf("duplicate key %q, encoding/json's tokens say %q, in %q", d.Key, *refDup, raw)
		case err != nil && d == nil:
			t.Fatal(err)
		}
		if refDup == nil && strings.Join(got, "\x00") != strings.Join(keys, "\x00") {
			t.Fatalf("keys %q, encoding/json has %q, in %q", got, keys, raw)
		}
	}
}

func expectKind(t *testing.T, v Value, k Kind) {
	t.Helper()
	if v.Kind() != k {
		t.Fatalf("kind %v for %q, want %v", v.Kind(), v.Bytes(), k)
	}
}

// members reads an object's keys and raw values with encoding/json's
// tokenizer, and the first key given twice.
func members(t *testing.T, raw json.RawMessage) (keys []string, vals []json.RawMessage, dup *string) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		k := tok.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		if seen[k] && dup == nil {
			dup = &k
		}
		seen[k] = true
		keys, vals = append(keys, k), append(vals, val)
	}
	return keys, vals, dup
}
