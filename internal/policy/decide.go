package policy

import (
	"strings"

	"bouncer.dev/bouncer/internal/patch"
)

// Validate decides whether the request is admitted. It never patches.
func (p *Policy) Validate(r *Request) Decision {
	k, obj, old, d, done := p.screen(r, false)
	if done {
		return d
	}
	for _, rule := range p.Rules {
		if !rule.Validates() || !rule.appliesTo(k) || rule.Exempt.matches(r, obj) {
			continue
		}
		for _, place := range k.Places() {
			for _, req := range rule.Require {
				v, ok := check(obj, place, req)
				if ok {
					continue
				}
				v.Rule, v.Action = rule.Name, rule.Action
				// Only a refusal is softened for what an UPDATE kept: warn and
				// audit rules report every violation the same way.
				v.Existing = rule.Action == Deny && r.Operation == Update && p.AllowExistingViolations && old != nil && sameLabel(obj, old, place, req.Key)
				d.Violations = append(d.Violations, v)
			}
		}
	}
	return p.judge(d)
}

// check reports the requirement's violation at one place, if any.
func check(obj *Object, place string, req CompiledRequirement) (Violation, bool) {
	val, ok := obj.label(place, req.Key)
	switch {
	case !ok:
		return Violation{Place: place, Key: req.Key, Problem: Missing}, false
	case req.Regexp != nil && !req.Regexp.MatchString(val):
		return Violation{Place: place, Key: req.Key, Problem: Invalid, Value: val, Pattern: req.Pattern}, false
	}
	return Violation{}, true
}

// sameLabel reports whether the update left the label exactly as it was:
// then a violation there is not the update's doing.
func sameLabel(obj, old *Object, place, key string) bool {
	nv, nok := obj.label(place, key)
	ov, ook := old.label(place, key)
	return nok == ook && nv == ov
}

// judge turns violations into the answer: new deny-violations refuse the
// request; everything else is admitted with warnings or audit annotations.
func (p *Policy) judge(d Decision) Decision {
	var denials, warnings []string
	audits := map[string][]string{}
	for _, v := range d.Violations {
		switch {
		case v.Existing:
			warnings = append(warnings, "kept an existing violation, fix it: "+v.Text())
		case v.Action == Deny:
			denials = append(denials, v.Text())
		case v.Action == Warn:
			warnings = append(warnings, v.Text())
		case v.Action == Audit:
			audits[v.Rule] = append(audits[v.Rule], v.Text())
		}
	}
	target := d.Target.String()
	for i, w := range warnings {
		warnings[i] = "bouncer: " + target + ": " + w
	}
	d.Warnings = LimitWarnings(warnings)
	if len(audits) > 0 {
		d.AuditAnnotations = map[string]string{}
		for rule, texts := range audits {
			d.AuditAnnotations[rule] = truncate(strings.Join(texts, "; "), maxAuditValue)
		}
	}
	if len(denials) > 0 {
		d.Code = CodeDenied
		d.Message = target + " was denied by bouncer: " + strings.Join(denials, "; ")
		return d
	}
	d.Allowed = true
	return d
}

// Mutate returns the patch that adds the policy's missing default labels. It
// never refuses a readable object and never overwrites a present label.
func (p *Policy) Mutate(r *Request) Decision {
	k, obj, _, d, done := p.screen(r, true)
	if done {
		return d
	}
	places := k.Places()
	if r.Operation == Update {
		// A Job's template is immutable, and any other template change rolls
		// every pod: on UPDATE only the object's own labels are completed.
		places = places[:1]
	}
	for _, place := range places {
		pl := obj.Places[place]
		var missing []patch.Label
		seen := map[string]bool{}
		for _, rule := range p.Rules {
			if !rule.Mutates() || !rule.appliesTo(k) || rule.Exempt.matches(r, obj) {
				continue
			}
			for _, l := range rule.Defaults {
				if _, present := pl.Labels[l.Key]; present || seen[l.Key] {
					continue
				}
				seen[l.Key] = true
				missing = append(missing, l)
				d.Added = append(d.Added, Added{Rule: rule.Name, Place: place, Key: l.Key, Value: l.Value})
			}
		}
		d.Patch = append(d.Patch, patch.AddLabels(pl.Segments, pl.Depth, missing)...)
	}
	d.Patch = patch.Merge(d.Patch)
	d.Allowed = true
	return d
}

// screen applies what both functions share: requests let through without
// inspection, global exemptions, and reading the objects. done is true when
// d is already the answer.
func (p *Policy) screen(r *Request, mutating bool) (k *Kind, obj, old *Object, d Decision, done bool) {
	switch {
	case r.Operation == Delete || r.Operation == Connect:
		return nil, nil, nil, allow("operation " + r.Operation), true
	case r.Operation != Create && r.Operation != Update:
		return nil, nil, nil, Decision{Code: CodeBadRequest, Message: "bouncer cannot read the review: request.operation: unknown operation " + quoteTrunc(r.Operation, 20) + "; want CREATE, UPDATE, DELETE or CONNECT"}, true
	case r.SubResource != "":
		return nil, nil, nil, allow("subresource " + quoteTrunc(r.SubResource, 40)), true
	}
	k = p.Kind(r.Group, r.Kind)
	if k == nil || !p.handles(k, mutating) {
		return nil, nil, nil, allow("kind not in policy"), true
	}
	if p.Exempt.Namespaces[r.Namespace] {
		return nil, nil, nil, allow("exempt namespace"), true
	}
	if p.Exempt.matchesUser(r.User, r.Groups) {
		return nil, nil, nil, allow("exempt user"), true
	}
	if r.Object == nil {
		return nil, nil, nil, invalid(&ObjectError{"request.object", "missing on " + r.Operation}), true
	}
	parse := ParseObject
	if r.ValidJSON {
		parse = parseValid
	}
	obj, err := parse(r.Object, k, "request.object")
	if err != nil {
		if r.Operation == Update && beingDeleted(r.Object) {
			return nil, nil, nil, allow("object is being deleted"), true
		}
		return nil, nil, nil, invalid(err), true
	}
	d.Target = Target{Kind: r.Kind, Namespace: r.Namespace, Name: r.Name, GenerateName: obj.GenerateName}
	if d.Target.Name == "" {
		d.Target.Name = obj.Name
	}
	if r.Operation == Update && obj.Deleting {
		// Finalizer removal must never be blocked, or deletion hangs: this
		// comes before anything else about the update is read.
		d.Allowed, d.Skip = true, "object is being deleted"
		return nil, nil, nil, d, true
	}
	if r.Operation == Update && r.OldObject != nil {
		if old, err = parse(r.OldObject, k, "request.oldObject"); err != nil {
			return nil, nil, nil, invalid(err), true
		}
	}
	// The object's own labels decide: adding the exempt label exempts the
	// update, removing it brings the object under the policy again.
	if p.Exempt.matchesLabels(obj.Places[ObjectPlace].Labels) {
		d.Allowed, d.Skip = true, "exempt object label"
		return nil, nil, nil, d, true
	}
	return k, obj, old, d, false
}

// handles reports whether some rule of the function applies to the kind.
func (p *Policy) handles(k *Kind, mutating bool) bool {
	for _, r := range p.Rules {
		if r.appliesTo(k) && ((mutating && r.Mutates()) || (!mutating && r.Validates())) {
			return true
		}
	}
	return false
}

// matches applies a rule's own exemptions; nil exempts nothing.
func (e *Exemption) matches(r *Request, obj *Object) bool {
	if e == nil {
		return false
	}
	return e.Namespaces[r.Namespace] || e.matchesUser(r.User, r.Groups) || e.matchesLabels(obj.Places[ObjectPlace].Labels)
}
