// Package check runs manifests through the functions' own decision code, as
// if each object were being created: the engine of `bouncer check`. There is
// no second implementation of the policy here.
package check

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"bouncer.dev/bouncer/internal/policy"
	"sigs.k8s.io/yaml"
)

// Result is the verdict on one object.
type Result struct {
	File      string `json:"file"`
	Document  int    `json:"document"`       // 1-based, in the file
	Item      *int   `json:"item,omitempty"` // 0-based, in a List
	Line      int    `json:"line"`           // where the document starts
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// Denied is true when validate would refuse the object.
	Denied     bool               `json:"denied"`
	Skip       string             `json:"skip,omitempty"`
	Message    string             `json:"message,omitempty"`
	Violations []policy.Violation `json:"-"`
	Findings   []Finding          `json:"violations,omitempty"`
	Adds       []policy.Added     `json:"adds,omitempty"`
}

// Finding is a violation as printed.
type Finding struct {
	Rule     string `json:"rule"`
	Action   string `json:"action"`
	Place    string `json:"place"`
	Key      string `json:"key"`
	Problem  string `json:"problem"`
	Message  string `json:"message"`
	Existing bool   `json:"existing,omitempty"`
}

// ParseError names the file, document and line of unreadable input.
type ParseError struct {
	File     string
	Document int
	Line     int
	Msg      string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s: document %d (line %d): %s", e.File, e.Document, e.Line, e.Msg)
}

// Checker holds the policy and the namespace given to namespaceless objects.
type Checker struct {
	Policy    *policy.Policy
	Namespace string
}

// Check reads one file's documents and judges every object in them. It
// returns the results so far and the first parse error, if any.
func (c *Checker) Check(file string, data []byte) ([]Result, error) {
	var out []Result
	for i, doc := range splitDocuments(data) {
		rs, err := c.document(file, i+1, doc)
		if err != nil {
			return out, err
		}
		out = append(out, rs...)
	}
	return out, nil
}

type document struct {
	text []byte
	line int
}

// splitDocuments splits a YAML stream on "---" lines, remembering where each
// document starts so that errors can name the file's line. Blank documents
// (only comments or white space) are dropped, and the rest numbered from 1.
func splitDocuments(data []byte) []document {
	var docs []document
	cur := document{line: 1}
	flush := func() {
		if !isBlank(cur.text) {
			docs = append(docs, cur)
		}
	}
	for i, l := range bytes.Split(data, []byte("\n")) {
		if isSeparator(l) {
			flush()
			cur = document{line: i + 2}
			continue
		}
		cur.text = append(append(cur.text, l...), '\n')
	}
	flush()
	return docs
}

func isSeparator(l []byte) bool {
	l = bytes.TrimRight(l, " \t\r")
	return bytes.Equal(l, []byte("---")) || bytes.HasPrefix(l, []byte("--- "))
}

func isBlank(doc []byte) bool {
	for _, l := range bytes.Split(doc, []byte("\n")) {
		l = bytes.TrimSpace(l)
		if len(l) > 0 && l[0] != '#' {
			return false
		}
	}
	return true
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

type header struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Items      []json.RawMessage `json:"items"`
	Metadata   struct {
		Name         string `json:"name"`
		GenerateName string `json:"generateName"`
		Namespace    string `json:"namespace"`
	} `json:"metadata"`
}

func (c *Checker) document(file string, n int, doc document) ([]Result, error) {
	if trimmed := bytes.TrimSpace(doc.text); len(trimmed) > 0 && trimmed[0] == '{' {
		// A JSON stream may hold several objects back to back, as kubectl
		// accepts; YAML would silently read only the first.
		if vals, ok := jsonStream(trimmed); ok {
			var out []Result
			for _, v := range vals {
				rs, err := c.object1(file, n, doc.line, v)
				out = append(out, rs...)
				if err != nil {
					return out, err
				}
			}
			return out, nil
		}
	}
	js, err := yaml.YAMLToJSON(doc.text)
	if err != nil {
		// The YAML parser counts lines from the document's start; report
		// the file's line.
		msg := err.Error()
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			l, _ := strconv.Atoi(m[1])
			msg = yamlLine.ReplaceAllString(msg, "line "+strconv.Itoa(doc.line+l-1))
		}
		return nil, &ParseError{file, n, doc.line, "not valid YAML: " + strings.TrimPrefix(msg, "error converting YAML to JSON: ")}
	}
	return c.object1(file, n, doc.line, js)
}

// jsonStream reads back-to-back JSON values; ok is false when data is not
// JSON (flow-style YAML, say).
func jsonStream(data []byte) ([]json.RawMessage, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var out []json.RawMessage
	for dec.More() {
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		out = append(out, v)
	}
	return out, len(out) > 0
}

// object1 judges one decoded document: an object, or a List of them.
func (c *Checker) object1(file string, n, line int, js []byte) ([]Result, error) {
	doc := document{line: line}
	var h header
	if err := json.Unmarshal(js, &h); err != nil {
		return nil, &ParseError{file, n, doc.line, "not a Kubernetes object: " + err.Error()}
	}
	if h.APIVersion == "" || h.Kind == "" {
		return nil, &ParseError{file, n, doc.line, "not a Kubernetes object: apiVersion and kind are required"}
	}
	if strings.HasSuffix(h.Kind, "List") && h.Items != nil {
		var out []Result
		for i, item := range h.Items {
			var ih header
			if err := json.Unmarshal(item, &ih); err != nil || ih.APIVersion == "" || ih.Kind == "" {
				return out, &ParseError{file, n, doc.line, fmt.Sprintf("items[%d]: not a Kubernetes object", i)}
			}
			r := c.object(ih, item)
			r.File, r.Document, r.Line, r.Item = file, n, doc.line, &i
			out = append(out, r)
		}
		return out, nil
	}
	r := c.object(h, js)
	r.File, r.Document, r.Line = file, n, doc.line
	return []Result{r}, nil
}

// object judges one object as a CREATE, exactly as the webhooks would.
func (c *Checker) object(h header, obj []byte) Result {
	group, version, ok := strings.Cut(h.APIVersion, "/")
	if !ok {
		group, version = "", h.APIVersion
	}
	ns := h.Metadata.Namespace
	if ns == "" {
		ns = c.Namespace
	}
	name := h.Metadata.Name
	if name == "" && h.Metadata.GenerateName != "" {
		name = h.Metadata.GenerateName + "*"
	}
	r := Result{Kind: h.Kind, Namespace: ns, Name: name}
	req := &policy.Request{UID: "bouncer-check", Group: group, Version: version, Kind: h.Kind,
		Operation: policy.Create, Namespace: ns, Name: h.Metadata.Name, Object: obj}
	v := c.Policy.Validate(req)
	m := c.Policy.Mutate(req)
	r.Skip = v.Skip
	if v.Skip == "" {
		r.Skip = m.Skip
	}
	r.Denied = !v.Allowed
	if !v.Allowed {
		r.Message = v.Message
	}
	r.Violations = v.Violations
	for _, x := range v.Violations {
		r.Findings = append(r.Findings, Finding{Rule: x.Rule, Action: string(x.Action), Place: x.Place, Key: x.Key,
			Problem: string(x.Problem), Message: x.Detail(), Existing: x.Existing})
	}
	if v.Code == policy.CodeBadRequest && len(v.Violations) == 0 {
		r.Findings = append(r.Findings, Finding{Action: "invalid", Message: v.Message})
	}
	r.Adds = m.Added
	return r
}
