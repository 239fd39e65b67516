package policy

import (
	"slices"

	"bouncer.dev/bouncer/internal/patch"
	"bouncer.dev/bouncer/internal/text"
)

// Validate decides whether the request is admitted. It never patches.
func (p *Policy) Validate(r *Request) Decision { return p.decide(r, Validation) }

// Mutate returns the patch that adds the policy's missing default labels. It
// never refuses a readable object and never overwrites a present label.
func (p *Policy) Mutate(r *Request) Decision { return p.decide(r, Mutation) }

// ReviewError says what in the review, outside the object, cannot be read.
type ReviewError struct{ Msg string }

func (e *ReviewError) Error() string { return e.Msg }

// subject is a request that passed the screen: the kind and objects to judge.
type subject struct {
	k        *Kind
	obj, old *Object
	update   bool
}

func (p *Policy) decide(r *Request, stage Stage) Decision {
	d, _ := p.decideOn(r, stage, nil)
	return d
}

// decideOn is decide on obj, when it is not nil, as read from r.Object. It
// returns the object it judged, nil when the screen decided.
func (p *Policy) decideOn(r *Request, stage Stage, obj *Object) (Decision, *Object) {
	d := Decision{Stage: stage}
	s := p.screen(r, stage, &d, obj)
	if s == nil {
		return d, nil
	}
	if stage == Validation {
		p.validate(r, s, &d)
	} else {
		p.mutate(r, s, &d)
	}
	return d, s.obj
}

// screen applies what both functions share: requests let through without
// inspection, global exemptions, and reading the objects (r.Object only when
// obj is nil). It returns nil when d is already the decision.
func (p *Policy) screen(r *Request, stage Stage, d *Decision, obj *Object) *subject {
	switch r.Operation {
	case Delete, Connect:
		d.Skip = "operation " + r.Operation
		return nil
	case Create, Update:
	default:
		d.Unreadable = &ReviewError{"request.operation: unknown operation " + text.Quote(r.Operation, 20) + "; want CREATE, UPDATE, DELETE or CONNECT"}
		return nil
	}
	k := p.Kind(r.Group, r.Kind)
	// A status write can change labels where the kind's status strategy
	// keeps them: it is judged as the UPDATE it is. Other subresources
	// (scale, ephemeralcontainers, resize, ...) cannot change labels.
	if r.SubResource != "" && !(r.SubResource == "status" && r.Operation == Update && k != nil && k.StatusLabels) {
		d.Skip = "subresource " + text.Quote(r.SubResource, 40)
		return nil
	}
	if k == nil || !slices.Contains(p.forStage[stage], k) {
		d.Skip = "kind not in policy"
		return nil
	}
	switch {
	case p.Exempt.Namespaces[r.Namespace]:
		d.Skip = "exempt namespace"
		return nil
	case p.Exempt.matchesNamespace(r.NamespaceLabels):
		d.Skip = "exempt namespace label"
		return nil
	case p.Exempt.ExemptsUser(r.User, r.Groups):
		d.Skip = "exempt user"
		return nil
	case r.Object.IsAbsent():
		d.Unreadable = &ObjectError{"request.object", "missing on " + r.Operation}
		return nil
	}
	s := &subject{k: k, update: r.Operation == Update, obj: obj}
	var err error
	if s.obj == nil {
		s.obj, err = readObject(r.Object, k, "request.object")
	}
	if err != nil {
		if s.update && beingDeleted(r.Object) {
			d.Skip = "object is being deleted"
		} else {
			d.Unreadable = err
		}
		return nil
	}
	d.Target = Target{Kind: r.Kind, Namespace: r.Namespace, Name: r.Name, GenerateName: s.obj.GenerateName}
	if d.Target.Name == "" {
		d.Target.Name = s.obj.Name
	}
	if s.update && s.obj.Deleting {
		// Finalizer removal must never be blocked, or deletion hangs: this
		// comes before anything else about the update is read.
		d.Skip = "object is being deleted"
		return nil
	}
	if s.update && !r.OldObject.IsAbsent() {
		if s.old, err = readObject(r.OldObject, k, "request.oldObject"); err != nil {
			d.Unreadable = err
			return nil
		}
	}
	// The object's own labels decide: adding the exempt label exempts the
	// update, removing it brings the object under the policy again.
	if p.Exempt.matchesObject(s.obj.own()) {
		d.Skip = "exempt object label"
		return nil
	}
	// A child that a built-in controller makes from its parent's template:
	// both facts are needed, since anyone may write an ownerReference.
	if p.isController(r.User) && len(k.Parents) > 0 || k.MirroredByNodes && isNode(r.User, r.Groups) {
		ref, err := s.obj.Controller()
		if err != nil {
			d.Unreadable = err
			return nil
		}
		switch {
		case ref == nil:
		case p.isController(r.User) && slices.Contains(k.Parents, ref.GroupKind):
			d.Parent, d.Creator = ref, r.User
		case k.MirroredByNodes && ref.GroupKind == nodeKind && r.User == nodeUserPrefix+ref.Name:
			// A mirror Pod: the kubelet publishes a static Pod, which it
			// reads from a file only the node's administrator can write, and
			// the NodeRestriction admission plugin lets a node publish mirror
			// Pods of its own only. Refusing it would not stop the Pod, which
			// runs anyway; it would only hide it from the API.
			d.Parent, d.Creator, d.Mirror = ref, r.User, true
		}
	}
	return s
}

// nodeKind is the kind a mirror Pod's controller reference names.
var nodeKind = GroupKind{"", "Node"}

// nodeUserPrefix and nodesGroup are how the API server authenticates a
// kubelet: system:node:<node name>, in the group system:nodes.
const (
	nodeUserPrefix = "system:node:"
	nodesGroup     = "system:nodes"
)

func isNode(user string, groups []string) bool {
	return len(user) > len(nodeUserPrefix) && user[:len(nodeUserPrefix)] == nodeUserPrefix && slices.Contains(groups, nodesGroup)
}

// follows reports whether the rule's verdict on the object is its parent's:
// a controller made it from a parent the rule covers, or a node mirrors a
// static Pod.
func (p *Policy) follows(d *Decision, rule *Rule) bool {
	if d.Parent == nil {
		return false
	}
	if d.Mirror {
		return true
	}
	parent := p.Kind(d.Parent.Group, d.Parent.Kind)
	return parent != nil && rule.AppliesTo(parent)
}

func (p *Policy) validate(r *Request, s *subject, d *Decision) {
	for _, rule := range p.Rules {
		if !rule.HasWorkIn(Validation) || !rule.AppliesTo(s.k) || rule.Exempt.matches(r, s.obj) {
			continue
		}
		for i, place := range s.k.Paths {
			for _, req := range rule.Require {
				v, ok := check(s.obj, i, place, req)
				if ok {
					continue
				}
				v.Rule, v.Action = rule.Name, rule.Action
				// Only a refusal is softened, for what an UPDATE kept or what
				// the parent carried: warn and audit rules report every
				// violation the same way.
				same := s.update && s.old != nil && sameLabel(s.obj, s.old, i, req.Key)
				v.Existing = rule.Action == Deny && p.AllowExistingViolations && same
				// On UPDATE a controller inherits only what it left as it
				// was: one that removes a label is judged as anyone.
				v.Inherited = rule.Action == Deny && !v.Existing && p.follows(d, rule) && (!s.update || same)
				d.Violations = append(d.Violations, v)
			}
		}
	}
}

// check reports the requirement's violation at one place, if any.
func check(obj *Object, i int, place string, req Requirement) (Violation, bool) {
	val, ok := obj.label(i, req.Key)
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
func sameLabel(obj, old *Object, i int, key string) bool {
	nv, nok := obj.label(i, key)
	ov, ook := old.label(i, key)
	return nok == ook && nv == ov
}

func (p *Policy) mutate(r *Request, s *subject, d *Decision) {
	places := s.obj.Places
	switch {
	case s.update:
		// A Job's template is immutable, and any other template change rolls
		// every pod: on UPDATE only the object's own labels are completed.
		places = places[:1]
	case len(s.k.FrozenUnder) > 0 && len(places) > 1:
		ref, err := s.obj.Controller()
		if err != nil {
			d.Unreadable = err
			return
		}
		if ref != nil && slices.Contains(s.k.FrozenUnder, ref.GroupKind) {
			places, d.Frozen = places[:1], true
		}
	}
	for _, pl := range places {
		var missing []patch.Label
		seen := map[string]bool{}
		for _, rule := range p.Rules {
			// bouncer changes what people write, never what controllers
			// copy: the parent's template was defaulted when a person wrote
			// it, and a child that lacks a default has a parent that lacks
			// it, a legacy one or a selector that excludes it on purpose.
			if !rule.HasWorkIn(Mutation) || !rule.AppliesTo(s.k) || rule.Exempt.matches(r, s.obj) || p.follows(d, rule) {
				continue
			}
			for _, l := range rule.Defaults {
				if _, present := pl.Labels[l.Key]; present || seen[l.Key] {
					continue
				}
				seen[l.Key] = true
				if s.obj.SelectorKeys[l.Key] {
					// Once per key, however many places lack it.
					if !slices.ContainsFunc(d.Untouched, func(u Untouched) bool { return u.Key == l.Key }) {
						d.Untouched = append(d.Untouched, Untouched{Rule: rule.Name, Key: l.Key, Selector: s.k.Selector})
					}
					continue
				}
				missing = append(missing, l)
				d.Added = append(d.Added, Added{Rule: rule.Name, Place: pl.Path, Key: l.Key, Value: l.Value})
			}
		}
		d.Patch = append(d.Patch, patch.AddLabels(pl.Segments, pl.Depth, missing)...)
	}
	d.Patch = patch.Merge(d.Patch)
}

// matches applies a rule's own exemptions; nil exempts nothing.
func (e *Exemption) matches(r *Request, obj *Object) bool {
	if e == nil {
		return false
	}
	return e.Namespaces[r.Namespace] || e.ExemptsUser(r.User, r.Groups) || e.matchesObject(obj.own())
}
