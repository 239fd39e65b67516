package spec

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"

	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
	goyaml "sigs.k8s.io/yaml/goyaml.v2"
)

//go:embed default.yaml
var defaultYAML []byte

//go:generate go run ./gen

// DefaultYAML returns the embedded default policy document.
func DefaultYAML() []byte { return slices.Clone(defaultYAML) }

// Default returns the default policy document, read: the value default.yaml
// reads to, built from Go source (default_gen.go, written by go generate and
// kept equal by a test), because decoding the document on a cold start costs
// about 0.7 ms, which the cold-start target has no room for. Each call
// returns a new value.
func Default() *Policy { return defaultSpec() }

// Read decodes one policy document, YAML or JSON. It refuses unknown and
// duplicate fields, a value of the wrong type (naming its path, such as
// rules[0].defaults.owner), and a file of several YAML documents.
func Read(data []byte) (*Policy, error) {
	js := data
	// JSON is YAML, but a JSON document needs no YAML parse: the strict
	// decoder below refuses duplicate and unknown fields just the same.
	if t := bytes.TrimSpace(data); len(t) == 0 || t[0] != '{' || !json.Valid(t) {
		if n := documents(data); n > 1 {
			return nil, fmt.Errorf("%d YAML documents: a policy file holds exactly one", n)
		}
		var err error
		if js, err = yaml.YAMLToJSONStrict(data); err != nil {
			return nil, fmt.Errorf("not valid YAML: %w", err)
		}
	}
	var p Policy
	strict, err := kjson.UnmarshalStrict(js, &p)
	if err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			where := pathAt(js, te.Offset)
			if where == "" {
				where = "the document" // the whole document is of the wrong type
			}
			return nil, fmt.Errorf("%s: must be %s, got %s", where, describe(te.Type), te.Value)
		}
		return nil, fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if len(strict) > 0 {
		return nil, errors.Join(strict...)
	}
	return &p, nil
}

// documents counts the non-empty YAML documents in data. A second one would
// otherwise be ignored without a word.
func documents(data []byte) int {
	dec := goyaml.NewDecoder(bytes.NewReader(data))
	n := 0
	for {
		var v any
		err := dec.Decode(&v)
		if err == io.EOF {
			return n
		}
		if err != nil {
			// The strict conversion reports it, with its line.
			return n + 1
		}
		if v != nil {
			n++
		}
	}
}

// describe says in words what a Go type of the spec expects.
func describe(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		return "a list of " + plural(describe(t.Elem()))
	case reflect.Map:
		return "a map of " + plural(describe(t.Elem()))
	case reflect.Pointer:
		return describe(t.Elem())
	case reflect.Struct:
		return "an object"
	}
	return t.String()
}

// plural turns "a string" into "strings" and "an object" into "objects".
func plural(s string) string {
	if w, ok := strings.CutPrefix(s, "an "); ok {
		return w + "s"
	}
	if w, ok := strings.CutPrefix(s, "a "); ok {
		return w + "s"
	}
	return s
}

// pathAt names the value that ends at offset in the JSON document js, the
// way the policy's errors name fields: rules[0].defaults.owner.
func pathAt(js []byte, offset int64) string {
	dec := json.NewDecoder(bytes.NewReader(js))
	type frame struct {
		path   string
		array  bool
		index  int
		key    string
		wanted bool // an object frame waiting for its next key
	}
	var stack []frame
	best := ""
	child := func() string {
		if len(stack) == 0 {
			return ""
		}
		f := &stack[len(stack)-1]
		if f.array {
			p := f.path + "[" + strconv.Itoa(f.index) + "]"
			f.index++
			return p
		}
		if f.path == "" {
			return f.key
		}
		return f.path + "." + f.key
	}
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil || start >= offset {
			return best
		}
		top := len(stack) - 1
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:top]
			continue
		}
		if top >= 0 && !stack[top].array && stack[top].wanted {
			stack[top].key, stack[top].wanted = tok.(string), false
			continue
		}
		p := child()
		if top >= 0 && !stack[top].array {
			stack[top].wanted = true
		}
		best = p
		if d, ok := tok.(json.Delim); ok {
			stack = append(stack, frame{path: p, array: d == '[', wanted: d == '{'})
		}
	}
}
