package policy

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"bouncer.dev/bouncer/internal/kube"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

//go:embed default.yaml
var defaultYAML []byte

// defaultJSON is default.yaml converted, so that a start with the default
// policy skips the YAML parser, the largest part of loading it. A test keeps
// it equal to the YAML (go test ./internal/policy -run DefaultJSON -update).
//
//go:embed default.json
var defaultJSON []byte

// DefaultYAML returns the embedded default policy document.
func DefaultYAML() []byte { return slices.Clone(defaultYAML) }

var defaultPolicy = sync.OnceValues(func() (*Policy, error) { return Parse(defaultJSON) })

// Default returns the embedded default policy. It is parsed on first use so
// that package init stays cheap for cold starts.
func Default() *Policy {
	p, err := defaultPolicy()
	if err != nil {
		// The embedded file is part of the build and covered by tests.
		panic("bouncer: embedded default policy is invalid: " + err.Error())
	}
	return p
}

// Parse reads a policy document (YAML or JSON), rejects unknown fields and
// bad values with an error naming the field, and compiles it.
func Parse(data []byte) (*Policy, error) {
	js := data
	// JSON is YAML, but a JSON document needs no YAML parse: the strict
	// decoder below refuses duplicate and unknown fields just the same.
	if t := bytes.TrimSpace(data); len(t) == 0 || t[0] != '{' || !json.Valid(t) {
		var err error
		if js, err = yaml.YAMLToJSONStrict(data); err != nil {
			return nil, fmt.Errorf("not valid YAML: %w", err)
		}
	}
	var f File
	strict, err := kjson.UnmarshalStrict(js, &f)
	if err != nil {
		return nil, fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if len(strict) > 0 {
		return nil, errors.Join(strict...)
	}
	return compile(f)
}

type fieldErrs []error

func (e *fieldErrs) add(field, format string, args ...any) {
	*e = append(*e, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
}

func compile(f File) (*Policy, error) {
	var errs fieldErrs
	if f.APIVersion != APIVersion {
		errs.add("apiVersion", "must be %q, got %q", APIVersion, f.APIVersion)
	}
	if f.Kind != FileKind {
		errs.add("kind", "must be %q, got %q", FileKind, f.Kind)
	}
	p := &Policy{File: f, AllowExistingViolations: true, kinds: map[gk]*Kind{}}
	if f.AllowExistingViolations != nil {
		p.AllowExistingViolations = *f.AllowExistingViolations
	}

	known := map[string]*Kind{}
	builtins := BuiltinKinds()
	for i := range builtins {
		known[builtins[i].Kind] = &builtins[i]
	}
	for i := range f.CustomKinds {
		compileCustomKind(&errs, fmt.Sprintf("customKinds[%d]", i), &f.CustomKinds[i], known)
	}

	global := f.Exemptions
	for _, ns := range SystemNamespaces {
		if !slices.Contains(global.Namespaces, ns) {
			global.Namespaces = append(global.Namespaces, ns)
		}
	}
	p.Exempt = compileExemptions(&errs, "exemptions", global)

	if len(f.Rules) == 0 {
		errs.add("rules", "at least one rule is required")
	}
	names := map[string]bool{}
	for i, rs := range f.Rules {
		r := compileRule(&errs, fmt.Sprintf("rules[%d]", i), rs, known)
		if names[r.Name] {
			errs.add(fmt.Sprintf("rules[%d].name", i), "duplicate rule name %q", r.Name)
		}
		names[r.Name] = true
		p.Rules = append(p.Rules, r)
		for _, k := range r.Kinds {
			key := gk{k.Group, k.Kind}
			if p.kinds[key] == nil {
				p.kinds[key] = k
				p.kindOrder = append(p.kindOrder, k)
			}
		}
	}
	checkDefaultsMeetRequirements(&errs, p)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

func compileCustomKind(errs *fieldErrs, field string, k *Kind, known map[string]*Kind) {
	if k.Kind == "" {
		errs.add(field+".kind", "required")
	} else if known[k.Kind] != nil {
		errs.add(field+".kind", "%q is already a known kind", k.Kind)
	}
	if msgs := kube.IsDNS1123Subdomain(k.Group); k.Group == "" || len(msgs) > 0 {
		errs.add(field+".group", "must be the API group of a custom resource, such as example.com")
	}
	if msgs := kube.IsDNS1123Label(k.Version); len(msgs) > 0 {
		errs.add(field+".version", "must be an API version such as v1")
	}
	if msgs := kube.IsDNS1123Label(k.Resource); len(msgs) > 0 {
		errs.add(field+".resource", "must be the lowercase plural resource name, such as widgets")
	}
	seen := map[string]bool{}
	for j, p := range k.TemplateLabelPaths {
		pf := fmt.Sprintf("%s.templateLabelPaths[%d]", field, j)
		switch {
		case p == ObjectPlace:
			errs.add(pf, "metadata.labels is always checked; list only template places")
		case seen[p]:
			errs.add(pf, "duplicate path %q", p)
		case !validPath(p):
			errs.add(pf, "must be a dotted path of field names, such as spec.template.metadata.labels")
		case strings.HasPrefix(p, ObjectPlace+"."):
			errs.add(pf, "must not lie inside metadata.labels")
		}
		for q := range seen {
			if strings.HasPrefix(p, q+".") || strings.HasPrefix(q, p+".") {
				errs.add(pf, "%q and %q nest in one another; label places must be separate maps", p, q)
			}
		}
		seen[p] = true
	}
	if k.Kind != "" && known[k.Kind] == nil {
		known[k.Kind] = &Kind{Kind: k.Kind, Group: k.Group, Version: k.Version, Resource: k.Resource, TemplateLabelPaths: slices.Clone(k.TemplateLabelPaths)}
	}
}

var fieldName = regexp.MustCompile(`^[A-Za-z0-9_$-]+$`)

func validPath(p string) bool {
	for _, s := range splitPath(p) {
		if !fieldName.MatchString(s) {
			return false
		}
	}
	return true
}

func compileExemptions(errs *fieldErrs, field string, e Exemptions) Exemption {
	out := Exemption{Namespaces: map[string]bool{}, Users: map[string]bool{}, Groups: map[string]bool{}, Spec: e}
	for i, ns := range e.Namespaces {
		if msgs := kube.IsDNS1123Label(ns); len(msgs) > 0 {
			errs.add(fmt.Sprintf("%s.namespaces[%d]", field, i), "%q is not a namespace name: %s", ns, strings.Join(msgs, "; "))
		}
		out.Namespaces[ns] = true
	}
	for i, u := range e.Users {
		if u == "" {
			errs.add(fmt.Sprintf("%s.users[%d]", field, i), "must not be empty")
		}
		out.Users[u] = true
	}
	for i, g := range e.Groups {
		if g == "" {
			errs.add(fmt.Sprintf("%s.groups[%d]", field, i), "must not be empty")
		}
		out.Groups[g] = true
	}
	// The selector is used as written (Spec.ObjectSelector) once valid.
	if sel := e.ObjectSelector; sel != nil {
		if serrs := sel.Validate(); len(serrs) > 0 {
			for _, err := range serrs {
				errs.add(field+".objectSelector", "%v", err)
			}
		} else if sel.Empty() {
			// An empty selector selects everything: the policy would do nothing.
			errs.add(field+".objectSelector", "must not be empty: an empty selector exempts every object")
		}
	}
	return out
}

func compileRule(errs *fieldErrs, field string, rs RuleSpec, known map[string]*Kind) *Rule {
	r := &Rule{Name: rs.Name, Action: rs.Action, kindSet: map[*Kind]bool{}}
	if msgs := kube.IsDNS1123Label(rs.Name); len(msgs) > 0 {
		errs.add(field+".name", "must be a lowercase name such as require-owner: %s", strings.Join(msgs, "; "))
	}
	switch rs.Action {
	case "":
		r.Action = Deny
	case Deny, Warn, Audit:
	default:
		errs.add(field+".action", "unknown action %q; want deny, warn or audit", rs.Action)
	}
	if len(rs.Kinds) == 0 {
		errs.add(field+".kinds", "at least one kind is required")
	}
	for i, name := range rs.Kinds {
		k := known[name]
		switch {
		case k == nil:
			errs.add(fmt.Sprintf("%s.kinds[%d]", field, i), "unknown kind %q; declare it under customKinds", name)
		case r.kindSet[k]:
			errs.add(fmt.Sprintf("%s.kinds[%d]", field, i), "duplicate kind %q", name)
		default:
			r.kindSet[k] = true
			r.Kinds = append(r.Kinds, k)
		}
	}
	if len(rs.Require) == 0 && len(rs.Defaults) == 0 {
		errs.add(field, "a rule needs require, defaults or both")
	}
	keys := map[string]bool{}
	for i, req := range rs.Require {
		rf := fmt.Sprintf("%s.require[%d]", field, i)
		if msgs := kube.IsQualifiedName(req.Key); len(msgs) > 0 {
			errs.add(rf+".key", "%q is not a label key: %s", req.Key, strings.Join(msgs, "; "))
		}
		if keys[req.Key] {
			errs.add(rf+".key", "duplicate key %q", req.Key)
		}
		keys[req.Key] = true
		cr := CompiledRequirement{Key: req.Key, Pattern: req.Pattern}
		if req.Pattern != "" {
			// Compiled alone first: a pattern such as "a)|(b" must not close
			// the anchoring group and match anything that starts with a.
			if _, err := regexp.Compile(req.Pattern); err != nil {
				errs.add(rf+".pattern", "%v", err)
			} else {
				// Anchored, so that "team-a" does not admit "team-abc" or "x-team-a".
				cr.Regexp = regexp.MustCompile("^(?:" + req.Pattern + ")$")
			}
		}
		r.Require = append(r.Require, cr)
	}
	for _, key := range sortedKeys(rs.Defaults) {
		val := rs.Defaults[key]
		df := fmt.Sprintf("%s.defaults[%s]", field, key)
		if msgs := kube.IsQualifiedName(key); len(msgs) > 0 {
			errs.add(df, "%q is not a label key: %s", key, strings.Join(msgs, "; "))
		}
		if msgs := kube.IsValidLabelValue(val); len(msgs) > 0 {
			errs.add(df, "%q is not a label value: %s", val, strings.Join(msgs, "; "))
		}
		r.Defaults = append(r.Defaults, Label{Key: key, Value: val})
	}
	if rs.Exemptions != nil {
		e := compileExemptions(errs, field+".exemptions", *rs.Exemptions)
		r.Exempt = &e
	}
	return r
}

// checkDefaultsMeetRequirements refuses a policy whose own default would be
// denied by its own requirement: mutate and validate would fight.
func checkDefaultsMeetRequirements(errs *fieldErrs, p *Policy) {
	for i, d := range p.Rules {
		for _, l := range d.Defaults {
			for j, r := range p.Rules {
				for k, req := range r.Require {
					if req.Key == l.Key && req.Regexp != nil && !req.Regexp.MatchString(l.Value) && sharesKind(d, r) {
						errs.add(fmt.Sprintf("rules[%d].defaults[%s]", i, l.Key),
							"default %q does not match rules[%d].require[%d].pattern", l.Value, j, k)
					}
				}
			}
		}
	}
}

func sharesKind(a, b *Rule) bool {
	for _, k := range a.Kinds {
		if b.appliesTo(k) {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
