// Package rawjson reads JSON without decoding it into Go values: one
// validating pass over a body (Parse), then navigation that hands out slices
// of it (Value.Fields, Value.Elements). The hot path of every review uses it:
// only the labels and the identity of an object are ever looked at.
//
// A Value can only be made by Parse or by navigating another Value, so every
// Value holds syntactically valid JSON. The navigation does no bounds checks
// of its own and relies on that; the type is what makes it safe.
package rawjson

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// Kind is the JSON type of a value.
type Kind uint8

const (
	// Absent is the zero Value's kind: a field that is not there.
	Absent Kind = iota
	Null
	Bool
	Number
	String
	Array
	Object
)

var kindNames = [...]string{Absent: "nothing", Null: "null", Bool: "boolean", Number: "number", String: "string", Array: "array", Object: "object"}

// String names the kind as error messages do: "object", "array", ...
func (k Kind) String() string { return kindNames[k] }

// Value is a syntactically valid JSON value, or the zero Value for a field
// that is absent. Its bytes are a slice of the document it came from.
type Value struct{ b []byte }

// Bytes returns the value's JSON text (nil for an absent value).
func (v Value) Bytes() []byte { return v.b }

// Kind returns the value's JSON type by its first byte.
func (v Value) Kind() Kind {
	if len(v.b) == 0 {
		return Absent
	}
	switch v.b[0] {
	case '{':
		return Object
	case '[':
		return Array
	case '"':
		return String
	case 't', 'f':
		return Bool
	case 'n':
		return Null
	default:
		return Number
	}
}

// IsAbsent reports whether the field was missing or null.
func (v Value) IsAbsent() bool { k := v.Kind(); return k == Absent || k == Null }

// Str returns a string value decoded as encoding/json decodes it, and false
// for any other kind.
func (v Value) Str() (string, bool) {
	if v.Kind() != String {
		return "", false
	}
	return unquote(v.b), true
}

// True reports whether the value is the literal true.
func (v Value) True() bool { return len(v.b) == 4 && string(v.b) == "true" }

// DuplicateKeyError reports a key given twice in one object.
type DuplicateKeyError struct{ Key string }

func (e *DuplicateKeyError) Error() string { return "duplicate key " + strconv.Quote(e.Key) }

// unquote decodes a valid JSON string literal as encoding/json does, invalid
// UTF-8 replaced, so that two spellings of one key are one key.
func unquote(lit []byte) string {
	body := lit[1 : len(lit)-1]
	if bytes.IndexByte(body, '\\') < 0 && utf8.Valid(body) {
		return string(body)
	}
	var s string
	_ = json.Unmarshal(lit, &s)
	return s
}
