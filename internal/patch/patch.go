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

// Merge combines operations that add at the same path. Two label places can
// share a missing ancestor (a CronJob without spec lacks both of its
// template places under /spec); a second `add /spec` would replace the
// first. The first missing ancestors of two places are either the same path
// or unrelated, so merging equal paths is enough.
func Merge(ops []Op) []Op {
	out := ops[:0:0]
	at := map[string]int{}
	for _, op := range ops {
		if i, ok := at[op.Path]; ok {
			out[i].Value = mergeValues(out[i].Value, op.Value)
			continue
		}
		at[op.Path] = len(out)
		out = append(out, op)
	}
	return out
}

// mergeValues deep-merges two nested label additions built by AddLabels.
func mergeValues(a, b any) any {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			return a
		}
		m := make(map[string]any, len(av)+len(bv))
		for k, v := range av {
			m[k] = v
		}
		for k, v := range bv {
			if old, ok := m[k]; ok {
				v = mergeValues(old, v)
			}
			m[k] = v
		}
		return m
	case map[string]string:
		bv, ok := b.(map[string]string)
		if !ok {
			return a
		}
		m := make(map[string]string, len(av)+len(bv))
		for k, v := range av {
			m[k] = v
		}
		for k, v := range bv {
			if _, ok := m[k]; !ok {
				m[k] = v
			}
		}
		return m
	}
	return a
}
