// Package patch builds RFC 6902 JSON Patches that add labels, with RFC 6901
// pointers. It adds only what is missing: an `add` on a present key would
// silently replace its value.
package patch

import "strings"

// Op is one JSON Patch operation. Only "add" is ever produced.
type Op struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// Label is a label key and its value.
type Label struct{ Key, Value string }

var escaper = strings.NewReplacer("~", "~0", "/", "~1")

// Escape makes a reference token of an RFC 6901 pointer: "~" becomes "~0"
// and "/" becomes "~1", in that order, so app.kubernetes.io/name survives.
func Escape(token string) string { return escaper.Replace(token) }

// Pointer joins field names into a JSON Pointer.
func Pointer(segments ...string) string {
	var b strings.Builder
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(Escape(s))
	}
	return b.String()
}

// AddLabels returns the operations that add missing labels to the label map
// at segments (such as metadata, labels). depth is how many leading segments
// exist as JSON objects in the target document; when the map itself exists
// (depth == len(segments)) each missing key gets its own operation, so other
// labels are never touched. Otherwise the first missing object is added
// whole, because `add` under a missing parent fails.
func AddLabels(segments []string, depth int, missing []Label) []Op {
	if len(missing) == 0 {
		return nil
	}
	if depth >= len(segments) {
		ops := make([]Op, 0, len(missing))
		for _, l := range missing {
			ops = append(ops, Op{Op: "add", Path: Pointer(segments...) + "/" + Escape(l.Key), Value: l.Value})
		}
		return ops
	}
	m := make(map[string]string, len(missing))
	for _, l := range missing {
		m[l.Key] = l.Value
	}
	var value any = m
	for i := len(segments) - 1; i > depth; i-- {
		value = map[string]any{segments[i]: value}
	}
	return []Op{{Op: "add", Path: Pointer(segments[:depth+1]...), Value: value}}
}
