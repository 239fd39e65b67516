// Package check runs manifests through the functions' own decision code, as
// if each object were being created and the API server's admission chain
// ran on it: mutate, the patch applied, then validate on the result. It is
// the engine of `bouncer check`; there is no second implementation of the
// policy here.
package check

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/rawjson"
	"bouncer.dev/bouncer/internal/verdict"
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
	// Inherited is true when a controller made the object from a parent's
	// template: the cluster admits it with a warning, so it counts as one.
	Inherited bool `json:"inherited,omitempty"`
}

// Checker holds the policy and the namespace given to namespaceless objects.
type Checker struct {
	Policy    *policy.Policy
	Namespace string
}

// Object is one manifest read from the input, not yet judged.
type Object struct {
	File     string
	Document int
	Item     *int
	Line     int
	header   header
	raw      []byte
}

type header struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Items      []json.RawMessage `json:"items"`
	Metadata   struct {
		Name         string            `json:"name"`
		GenerateName string            `json:"generateName"`
		Namespace    string            `json:"namespace"`
		Labels       map[string]string `json:"labels"`
		// Only whether a reference is the controller matters here; the
		// decision reads the references itself.
		OwnerReferences []struct {
			Controller bool `json:"controller"`
		} `json:"ownerReferences"`
	} `json:"metadata"`
}

// Judge decides every object. Namespaces in the input lend their labels to
// the objects in them, so a namespace exempt by label is exempt here too,
// as the webhooks' namespaceSelector makes it.
func (c *Checker) Judge(objs []Object) ([]Result, error) {
	nsLabels := map[string]map[string]string{}
	for _, o := range objs {
		if o.header.Kind == "Namespace" && o.header.APIVersion == "v1" {
			l := map[string]string{}
			for k, v := range o.header.Metadata.Labels {
				l[k] = v
			}
			// The API server sets this label on every Namespace (and keeps
			// it equal to the name), so selectors may use it; a manifest
			// written by hand rarely carries it.
			l[namespaceNameLabel] = o.header.Metadata.Name
			nsLabels[o.header.Metadata.Name] = l
		}
	}
	out := make([]Result, 0, len(objs))
	for _, o := range objs {
		r, err := c.judge(o, nsLabels)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// namespaceNameLabel is the label the API server gives every Namespace.
const namespaceNameLabel = "kubernetes.io/metadata.name"

// judge decides one object as a CREATE, exactly as the API server's chain
// of bouncer's webhooks would. An object with a controller ownerReference
// (a Pod or ReplicaSet from `kubectl get -o yaml`) is judged as created by
// the first controller identity of the policy: that is who creates it in a
// cluster, and the decision then applies its controller rule.
func (c *Checker) judge(o Object, nsLabels map[string]map[string]string) (Result, error) {
	h := o.header
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
	r := Result{File: o.File, Document: o.Document, Item: o.Item, Line: o.Line, Kind: h.Kind, Namespace: ns, Name: name}
	obj, err := rawjson.Parse(o.raw)
	if err != nil {
		return r, &ParseError{o.File, o.Document, o.Line, err.Error()}
	}
	req := &policy.Request{UID: "bouncer-check", Group: group, Version: version, Kind: h.Kind,
		Operation: policy.Create, Namespace: ns, Name: h.Metadata.Name, Object: obj, NamespaceLabels: nsLabels[ns]}
	controllers := 0
	for _, ref := range h.Metadata.OwnerReferences {
		if ref.Controller {
			controllers++
		}
	}
	if controllers == 1 && len(c.Policy.Controllers) > 0 {
		req.User = c.Policy.Controllers[0]
	}
	chain, err := c.Policy.Admit(req)
	if err != nil {
		return r, fmt.Errorf("%s: document %d: %w", o.File, o.Document, err)
	}
	v, m := chain.Validate, chain.Mutate
	r.Skip = v.Skip
	if v.Skip == "" {
		r.Skip = m.Skip
	}
	if a := verdict.Of(&v); !a.Allowed {
		r.Denied, r.Message = true, a.Message
	}
	r.Violations = v.Violations
	for _, x := range v.Violations {
		f := Finding{Rule: x.Rule, Action: string(x.Action), Place: x.Place, Key: x.Key,
			Problem: string(x.Problem), Message: x.Detail(), Existing: x.Existing, Inherited: x.Inherited}
		if x.Inherited && v.Parent != nil {
			// The cluster admits it with a warning that names the parent.
			f.Action = string(policy.Warn)
			f.Message += " (inherited from " + v.Parent.String() + ")"
		}
		r.Findings = append(r.Findings, f)
	}
	for _, d := range []policy.Decision{m, v} {
		if d.Unreadable != nil {
			r.Denied = true
			r.Message = verdict.Of(&d).Message
			r.Findings = append(r.Findings, Finding{Action: "invalid", Message: r.Message})
			break
		}
	}
	r.Adds = m.Added
	return r, nil
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

// objects reads one decoded document: an object, or a List of them.
func objects(file string, n, line int, js []byte) ([]Object, error) {
	var h header
	if err := json.Unmarshal(js, &h); err != nil {
		return nil, &ParseError{file, n, line, "not a Kubernetes object: " + err.Error()}
	}
	if h.APIVersion == "" || h.Kind == "" {
		return nil, &ParseError{file, n, line, "not a Kubernetes object: apiVersion and kind are required"}
	}
	if strings.HasSuffix(h.Kind, "List") && h.Items != nil {
		var out []Object
		for i, item := range h.Items {
			var ih header
			if err := json.Unmarshal(item, &ih); err != nil || ih.APIVersion == "" || ih.Kind == "" {
				return out, &ParseError{file, n, line, fmt.Sprintf("items[%d]: not a Kubernetes object", i)}
			}
			out = append(out, Object{File: file, Document: n, Item: &i, Line: line, header: ih, raw: bytes.Clone(item)})
		}
		return out, nil
	}
	return []Object{{File: file, Document: n, Line: line, header: h, raw: js}}, nil
}
