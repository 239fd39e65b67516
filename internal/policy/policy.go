// Package policy is bouncer's compiled label policy and its pure decision:
// (request, policy) → decision. Compile turns a spec (internal/spec) into a
// Policy once, at start-up; Validate, Mutate and Admit then decide each
// request without I/O, reading only the labels and identity of the object.
// The decision names what is wrong; internal/verdict shapes it into the
// answer the API server gets.
package policy

import (
	"regexp"

	"bouncer.dev/bouncer/internal/patch"
	"bouncer.dev/bouncer/internal/spec"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Stage is a stage of admission that bouncer takes part in: validation,
// served by its validate function (webhook), and mutation, served by mutate.
// Its String is the function's name.
type Stage uint8

const (
	// Validation refuses objects that break the policy. It never patches.
	Validation Stage = iota + 1
	// Mutation adds missing default labels. It never refuses a readable object.
	Mutation
)

// Stages lists both, validation first.
var Stages = []Stage{Validation, Mutation}

// String is the function's name, as in its path (/validate, /mutate) and logs.
func (s Stage) String() string {
	switch s {
	case Validation:
		return "validate"
	case Mutation:
		return "mutate"
	}
	return "unknown"
}

// Action is what a violated requirement does to the request.
type Action string

const (
	// Deny refuses the request with status 403.
	Deny Action = "deny"
	// Warn admits the request with a warning shown to the client.
	Warn Action = "warn"
	// Audit admits the request, logs it and adds an audit annotation.
	Audit Action = "audit"
)

// Policy is a compiled policy, safe for concurrent use.
type Policy struct {
	AllowExistingViolations bool
	Exempt                  Exemption
	// Controllers are the built-in controllers' identities, as written.
	Controllers []string
	// ExemptionAdmins alone may make a namespace exempt (see GuardNamespace).
	ExemptionAdmins Identities
	Rules           []*Rule
	// Warnings are what loading found legal but unwise, for the operator.
	Warnings []string

	controllers map[string]bool
	kinds       map[GroupKind]*Kind
	kindOrder   []*Kind
	forStage    map[Stage][]*Kind
}

// Identities are users and groups, kept as written (for the generators)
// and as sets (for the decision).
type Identities struct {
	Spec          spec.Identities
	users, groups map[string]bool
}

// has reports whether the user, or one of the groups, is among them.
func (id *Identities) has(user string, groups []string) bool {
	if id.users[user] {
		return true
	}
	for _, g := range groups {
		if id.groups[g] {
			return true
		}
	}
	return false
}

// GroupKind names a kind with its API group ("" for the core group).
type GroupKind struct{ Group, Kind string }

// Rule is a compiled rule.
type Rule struct {
	Name     string
	Action   Action
	Kinds    []*Kind
	Require  []Requirement
	Defaults []Label // sorted by key, so patches are deterministic
	Exempt   *Exemption
	kindSet  map[*Kind]bool
}

// Requirement carries its anchored pattern, compiled once at load.
type Requirement struct {
	Key     string
	Pattern string         // as written; empty when any value is allowed
	Regexp  *regexp.Regexp // anchored: ^(?:Pattern)$
}

// Label is one key and value.
type Label = patch.Label

// Exemption is a compiled set of exemptions. The selectors are kept as
// written for the generators, and compiled for the decision.
type Exemption struct {
	Namespaces        map[string]bool
	NamespaceSelector *metav1.LabelSelector
	ObjectSelector    *metav1.LabelSelector
	// Spec is the exemption as written, in its order.
	Spec spec.Exemptions

	identities              Identities // the exempt users and groups
	namespaceSel, objectSel labels.Selector
}

// ExemptsUser reports whether the user, or one of the groups, is exempt.
func (e *Exemption) ExemptsUser(user string, groups []string) bool {
	return e.identities.has(user, groups)
}

// Kind returns the policy's kind for a group and kind name, or nil.
func (p *Policy) Kind(group, kind string) *Kind { return p.kinds[GroupKind{group, kind}] }

// Kinds returns every kind that some rule applies to, in declaration order.
func (p *Policy) Kinds() []*Kind { return p.kindOrder }

// KindsFor returns the kinds that rules of one stage apply to, so that a
// webhook configuration sends each function only what it acts on.
func (p *Policy) KindsFor(stage Stage) []*Kind { return p.forStage[stage] }

// isController reports whether user is one of the built-in controllers.
func (p *Policy) isController(user string) bool { return p.controllers[user] }

// AppliesTo reports whether the rule covers the kind.
func (r *Rule) AppliesTo(k *Kind) bool { return r.kindSet[k] }

// HasWorkIn reports whether the rule has work in the stage: requirements in
// validation, defaults in mutation.
func (r *Rule) HasWorkIn(stage Stage) bool {
	if stage == Mutation {
		return len(r.Defaults) > 0
	}
	return len(r.Require) > 0
}

// matchesObject reports whether the object selector selects the labels.
func (e *Exemption) matchesObject(l map[string]string) bool {
	return e.objectSel != nil && e.objectSel.Matches(labels.Set(l))
}

// matchesNamespace reports whether the namespace selector selects a
// namespace with these labels. The webhooks never know a namespace's
// labels: the configurations' namespaceSelector applies this exemption
// before a request is sent. Offline (bouncer check) the labels are known
// when the input holds the Namespace.
func (e *Exemption) matchesNamespace(nsLabels map[string]string) bool {
	return e.namespaceSel != nil && nsLabels != nil && e.namespaceSel.Matches(labels.Set(nsLabels))
}
