package policy

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"

	"bouncer.dev/bouncer/internal/spec"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

var defaultPolicy = sync.OnceValues(func() (*Policy, error) { return Compile(spec.Default()) })

// Default returns the embedded default policy. It is compiled on first use
// so that package init stays cheap for cold starts.
func Default() *Policy {
	p, err := defaultPolicy()
	if err != nil {
		// The embedded file is part of the build and covered by tests.
		panic("bouncer: embedded default policy is invalid: " + err.Error())
	}
	return p
}

// Parse reads and compiles one policy document (YAML or JSON).
func Parse(data []byte) (*Policy, error) {
	s, err := spec.Read(data)
	if err != nil {
		return nil, err
	}
	return Compile(s)
}

type fieldErrs []error

func (e *fieldErrs) add(field, format string, args ...any) {
	*e = append(*e, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
}

// Compile checks a policy document and compiles it. Every error names the
// field it is about; all of them are reported at once.
func Compile(f *spec.Policy) (*Policy, error) {
	var errs fieldErrs
	if f.APIVersion != spec.APIVersion {
		errs.add("apiVersion", "must be %q, got %q", spec.APIVersion, f.APIVersion)
	}
	if f.Kind != spec.DocumentKind {
		errs.add("kind", "must be %q, got %q", spec.DocumentKind, f.Kind)
	}
	p := &Policy{AllowExistingViolations: true, kinds: map[GroupKind]*Kind{}, forStage: map[Stage][]*Kind{}}
	if f.AllowExistingViolations != nil {
		p.AllowExistingViolations = *f.AllowExistingViolations
	}
	// Copies: the policy is shared by every request, and its lists must not
	// alias the spec's default or the caller's document.
	p.Controllers = spec.DefaultControllers()
	if f.Controllers != nil {
		p.Controllers = slices.Clone(*f.Controllers)
	}
	p.controllers = map[string]bool{}
	for i, c := range p.Controllers {
		if c == "" {
			errs.add(fmt.Sprintf("controllers[%d]", i), "must not be empty")
		}
		p.controllers[c] = true
	}

	admins := spec.DefaultExemptionAdmins()
	if f.ExemptionAdmins != nil {
		admins = *f.ExemptionAdmins
	}
	p.ExemptionAdmins = compileIdentities(&errs, "exemptionAdmins", admins)

	known := map[string]*Kind{}
	for i := range builtinKinds {
		k := builtinKinds[i] // a copy per policy: finish fills it in
		k.Paths = slices.Clone(k.Paths)
		known[k.Kind] = &k
	}
	for i := range f.CustomKinds {
		compileCustomKind(&errs, fmt.Sprintf("customKinds[%d]", i), &f.CustomKinds[i], known)
	}
	for _, k := range known {
		k.finish()
	}

	global := f.Exemptions
	global.Namespaces = slices.Clone(global.Namespaces)
	for _, ns := range spec.SystemNamespaces() {
		if !slices.Contains(global.Namespaces, ns) {
			global.Namespaces = append(global.Namespaces, ns)
		}
	}
	p.Exempt = compileExemptions(&errs, "exemptions", global, true)

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
			if p.kinds[k.GroupKind()] == nil {
				p.kinds[k.GroupKind()] = k
				p.kindOrder = append(p.kindOrder, k)
			}
		}
	}
	for _, stage := range Stages {
		for _, k := range p.kindOrder {
			if slices.ContainsFunc(p.Rules, func(r *Rule) bool { return r.AppliesTo(k) && r.HasWorkIn(stage) }) {
				p.forStage[stage] = append(p.forStage[stage], k)
			}
		}
	}
	checkDefaultsMeetRequirements(&errs, p)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	p.Warnings = warnings(p)
	return p, nil
}

// warnings says what a valid policy does that its operator should know.
func warnings(p *Policy) []string {
	var out []string
	bypass := func(field string, e *Exemption) {
		if e == nil || e.ObjectSelector == nil {
			return
		}
		out = append(out, field+".objectSelector: anyone who may create or update an object of the kinds it covers "+
			"can set the selected labels on it and bypass the policy; exempt namespaces instead "+
			"(exemptions.namespaceSelector: only those who may label Namespaces can use it)")
	}
	bypass("exemptions", &p.Exempt)
	for i, r := range p.Rules {
		bypass(fmt.Sprintf("rules[%d].exemptions", i), r.Exempt)
	}
	return out
}

func compileCustomKind(errs *fieldErrs, field string, k *spec.CustomKind, known map[string]*Kind) {
	if k.Kind == "" {
		errs.add(field+".kind", "required")
	} else if known[k.Kind] != nil {
		errs.add(field+".kind", "%q is already a known kind", k.Kind)
	}
	if msgs := validation.IsDNS1123Subdomain(k.Group); k.Group == "" || len(msgs) > 0 {
		errs.add(field+".group", "must be the API group of a custom resource, such as example.com")
	}
	if msgs := validation.IsDNS1123Label(k.Version); len(msgs) > 0 {
		errs.add(field+".version", "must be an API version such as v1")
	}
	if msgs := validation.IsDNS1123Label(k.Resource); len(msgs) > 0 {
		errs.add(field+".resource", "must be the lowercase plural resource name, such as widgets")
	}
	seen := map[string]bool{}
	for j, p := range k.TemplateLabelPaths {
		pf := fmt.Sprintf("%s.templateLabelPaths[%d]", field, j)
		switch {
		case p == objectPlace:
			errs.add(pf, "metadata.labels is always checked; list only template places")
		case seen[p]:
			errs.add(pf, "duplicate path %q", p)
		case !validPath(p):
			errs.add(pf, "must be a dotted path of field names, such as spec.template.metadata.labels")
		case strings.HasPrefix(p, objectPlace+"."):
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
		// A custom resource's status subresource resets all metadata
		// (apiextensions-apiserver's status strategy), and no built-in
		// controller makes it or compares its templates.
		known[k.Kind] = &Kind{Kind: k.Kind, Group: k.Group, Version: k.Version, Resource: k.Resource, Paths: slices.Clone(k.TemplateLabelPaths)}
	}
}

var fieldName = regexp.MustCompile(`^[A-Za-z0-9_$-]+$`)

func validPath(p string) bool {
	for _, s := range strings.Split(p, ".") {
		if !fieldName.MatchString(s) {
			return false
		}
	}
	return true
}

func compileIdentities(errs *fieldErrs, field string, id spec.Identities) Identities {
	out := Identities{Spec: spec.Identities{Users: slices.Clone(id.Users), Groups: slices.Clone(id.Groups)},
		users: map[string]bool{}, groups: map[string]bool{}}
	for i, u := range id.Users {
		if u == "" {
			errs.add(fmt.Sprintf("%s.users[%d]", field, i), "must not be empty")
		}
		out.users[u] = true
	}
	for i, g := range id.Groups {
		if g == "" {
			errs.add(fmt.Sprintf("%s.groups[%d]", field, i), "must not be empty")
		}
		out.groups[g] = true
	}
	return out
}

func compileExemptions(errs *fieldErrs, field string, e spec.Exemptions, global bool) Exemption {
	out := Exemption{Namespaces: map[string]bool{}, Spec: e,
		identities: compileIdentities(errs, field, spec.Identities{Users: e.Users, Groups: e.Groups})}
	for i, ns := range e.Namespaces {
		if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
			errs.add(fmt.Sprintf("%s.namespaces[%d]", field, i), "%q is not a namespace name: %s", ns, strings.Join(msgs, "; "))
		}
		out.Namespaces[ns] = true
	}
	out.ObjectSelector, out.objectSel = compileSelector(errs, field+".objectSelector", e.ObjectSelector)
	if e.NamespaceSelector != nil {
		switch {
		case !global:
			// The API server knows a namespace's labels; the functions never
			// do, so only the configurations' namespaceSelector can apply it,
			// and there is one per configuration.
			errs.add(field+".namespaceSelector", "only the top-level exemptions can select namespaces by label")
		case len(e.NamespaceSelector.MatchLabels)+len(e.NamespaceSelector.MatchExpressions) > 1:
			// Negated, several requirements become an OR, which no label
			// selector can say, and match conditions cannot see namespaces.
			errs.add(field+".namespaceSelector", "must have exactly one requirement (one matchLabels entry or one matchExpressions item): "+
				"a webhook's namespaceSelector can only exclude what a single requirement selects")
		}
		out.NamespaceSelector, out.namespaceSel = compileSelector(errs, field+".namespaceSelector", e.NamespaceSelector)
	}
	return out
}

// compileSelector checks a label selector with apimachinery's own rules, the
// ones the API server applies to the configurations it is compiled into.
func compileSelector(errs *fieldErrs, field string, s *metav1.LabelSelector) (*metav1.LabelSelector, labels.Selector) {
	if s == nil {
		return nil, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(s)
	switch {
	case err != nil:
		errs.add(field, "%v", err)
		return nil, nil
	case sel.Empty():
		// An empty selector selects everything: the policy would do nothing.
		errs.add(field, "must not be empty: an empty selector exempts everything")
		return nil, nil
	}
	return s, sel
}

// ReservedRuleName may name no rule: an audit rule's annotation is keyed by
// its name, and this key already records inherited violations.
const ReservedRuleName = "inherited-violation"

func compileRule(errs *fieldErrs, field string, rs spec.Rule, known map[string]*Kind) *Rule {
	r := &Rule{Name: rs.Name, Action: Action(rs.Action), kindSet: map[*Kind]bool{}}
	if msgs := validation.IsDNS1123Label(rs.Name); len(msgs) > 0 {
		errs.add(field+".name", "must be a lowercase name such as require-owner: %s", strings.Join(msgs, "; "))
	}
	if rs.Name == ReservedRuleName {
		errs.add(field+".name", "%q is reserved: it keys the audit annotation on objects a controller made from a failing template", rs.Name)
	}
	switch r.Action {
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
		if msgs := validation.IsQualifiedName(req.Key); len(msgs) > 0 {
			errs.add(rf+".key", "%q is not a label key: %s", req.Key, strings.Join(msgs, "; "))
		}
		if keys[req.Key] {
			errs.add(rf+".key", "duplicate key %q", req.Key)
		}
		keys[req.Key] = true
		cr := Requirement{Key: req.Key, Pattern: req.Pattern}
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
	for _, key := range slices.Sorted(maps.Keys(rs.Defaults)) {
		val := rs.Defaults[key]
		df := field + ".defaults." + key
		if msgs := validation.IsQualifiedName(key); len(msgs) > 0 {
			errs.add(df, "%q is not a label key: %s", key, strings.Join(msgs, "; "))
		}
		if msgs := validation.IsValidLabelValue(val); len(msgs) > 0 {
			errs.add(df, "%q is not a label value: %s", val, strings.Join(msgs, "; "))
		}
		r.Defaults = append(r.Defaults, Label{Key: key, Value: val})
	}
	if rs.Exemptions != nil {
		e := compileExemptions(errs, field+".exemptions", *rs.Exemptions, false)
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
						errs.add(fmt.Sprintf("rules[%d].defaults.%s", i, l.Key),
							"default %q does not match rules[%d].require[%d].pattern", l.Value, j, k)
					}
				}
			}
		}
	}
}

func sharesKind(a, b *Rule) bool {
	return slices.ContainsFunc(a.Kinds, b.AppliesTo)
}
