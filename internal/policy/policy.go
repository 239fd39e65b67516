// Package policy holds bouncer's declarative label policy and the pure
// admission decision: (request, policy) → (allowed, violations, warnings,
// patch). It knows nothing of HTTP or files.
package policy

import (
	"regexp"

	"bouncer.dev/bouncer/internal/kube"
	"bouncer.dev/bouncer/internal/patch"
)

// APIVersion and FileKind identify a policy document.
const (
	APIVersion = "bouncer.dev/v1"
	FileKind   = "Policy"
)

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

// SystemNamespaces are always exempt, whatever the policy file says: the
// control plane's own, Knative's, and bouncer's. Blocking them can stop the
// cluster or bouncer's own scale-up.
var SystemNamespaces = []string{"kube-system", "kube-node-lease", "knative-serving", "kourier-system", "bouncer-system"}

// File is the policy document as written by users.
type File struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// AllowExistingViolations admits UPDATEs that keep a violation the object
	// already had, with a warning. Defaults to true.
	AllowExistingViolations *bool      `json:"allowExistingViolations,omitempty"`
	Exemptions              Exemptions `json:"exemptions"`
	CustomKinds             []Kind     `json:"customKinds,omitempty"`
	Rules                   []RuleSpec `json:"rules"`
}

// Exemptions let requests through unchanged.
type Exemptions struct {
	Namespaces     []string            `json:"namespaces,omitempty"`
	ObjectSelector *kube.LabelSelector `json:"objectSelector,omitempty"`
	Users          []string            `json:"users,omitempty"`
	Groups         []string            `json:"groups,omitempty"`
}

// RuleSpec is one rule as written.
type RuleSpec struct {
	Name       string            `json:"name"`
	Action     Action            `json:"action,omitempty"`
	Kinds      []string          `json:"kinds"`
	Require    []Requirement     `json:"require,omitempty"`
	Defaults   map[string]string `json:"defaults,omitempty"`
	Exemptions *Exemptions       `json:"exemptions,omitempty"`
}

// Requirement is a label that must be present, optionally with a value that
// matches Pattern in full.
type Requirement struct {
	Key     string `json:"key"`
	Pattern string `json:"pattern,omitempty"`
}

// Policy is a validated, compiled policy, safe for concurrent use.
type Policy struct {
	File                    File
	AllowExistingViolations bool
	Exempt                  Exemption
	Rules                   []*Rule
	kinds                   map[gk]*Kind
	kindOrder               []*Kind
}

type gk struct{ group, kind string }

// Rule is a compiled rule.
type Rule struct {
	Name     string
	Action   Action
	Kinds    []*Kind
	Require  []CompiledRequirement
	Defaults []Label // sorted by key, so patches are deterministic
	Exempt   *Exemption
	kindSet  map[*Kind]bool
}

// CompiledRequirement carries its anchored pattern, compiled once at load.
type CompiledRequirement struct {
	Key     string
	Pattern string         // as written; empty when any value is allowed
	Regexp  *regexp.Regexp // anchored: ^(?:Pattern)$
}

// Label is one key and value.
type Label = patch.Label

// Exemption is a compiled set of exemptions.
type Exemption struct {
	Namespaces map[string]bool
	Users      map[string]bool
	Groups     map[string]bool
	Spec       Exemptions // as written, for the generators
}

// Kind returns the policy's kind for a group and kind name, or nil.
func (p *Policy) Kind(group, kind string) *Kind { return p.kinds[gk{group, kind}] }

// Kinds returns every kind that some rule applies to, in declaration order.
func (p *Policy) Kinds() []*Kind { return p.kindOrder }

// appliesTo reports whether the rule covers the kind.
func (r *Rule) appliesTo(k *Kind) bool { return r.kindSet[k] }

// Validates reports whether the rule has requirements (the validate function's job).
func (r *Rule) Validates() bool { return len(r.Require) > 0 }

// Mutates reports whether the rule has defaults (the mutate function's job).
func (r *Rule) Mutates() bool { return len(r.Defaults) > 0 }

// KindsFor returns the kinds that rules of one function apply to, so that a
// webhook configuration sends each function only what it acts on.
func (p *Policy) KindsFor(mutating bool) []*Kind {
	var out []*Kind
	for _, k := range p.kindOrder {
		for _, r := range p.Rules {
			if r.appliesTo(k) && ((mutating && r.Mutates()) || (!mutating && r.Validates())) {
				out = append(out, k)
				break
			}
		}
	}
	return out
}

// matchesUser reports whether the user or one of the groups is exempt.
func (e *Exemption) matchesUser(user string, groups []string) bool {
	if e.Users[user] {
		return true
	}
	for _, g := range groups {
		if e.Groups[g] {
			return true
		}
	}
	return false
}

// matchesLabels reports whether the object selector selects the labels.
func (e *Exemption) matchesLabels(l map[string]string) bool {
	return e.Spec.ObjectSelector != nil && e.Spec.ObjectSelector.Matches(l)
}
