// Package rawjson holds the small helpers both the HTTP layer and the
// decision use on undecoded JSON values and on user content in messages.
package rawjson

import (
	"bytes"
	"strconv"
)

// Type names the JSON type of a raw value by its first byte; "nothing" for
// an empty value. The value is assumed to be syntactically valid.
func Type(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// IsAbsent reports whether a field was missing or null.
func IsAbsent(raw []byte) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// Quote quotes user content for a message: control characters escaped and
// the content cut to at most max bytes on a rune boundary, marked with "…".
func Quote(s string, max int) string {
	if len(s) <= max {
		return strconv.Quote(s)
	}
	cut := max
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}
