package policy

import (
	"fmt"

	"bouncer.dev/bouncer/internal/patch"
	"bouncer.dev/bouncer/internal/text"
)

// Problem says what is wrong with a label.
type Problem string

const (
	Missing Problem = "missing"
	Invalid Problem = "invalid"
)

// Violation is one missing or invalid label at one place.
type Violation struct {
	Rule   string
	Action Action
	Place  string
	Key    string
	Problem
	// Value is the refused value when Problem is Invalid. It is user content:
	// it goes into the denial, warnings and audit annotations quoted and cut
	// to 63 bytes, and never into bouncer's own log.
	Value   string
	Pattern string
	// Existing is true when an UPDATE kept a violation the object already had.
	Existing bool
	// Inherited is true when a built-in controller made the object for a
	// parent the rule covers: the violation is the parent's template's, and
	// was judged on the parent.
	Inherited bool
}

// Text describes the violation for people, naming its rule.
func (v Violation) Text() string { return "[" + v.Rule + "] " + v.Detail() }

// Detail describes the violation without its rule.
func (v Violation) Detail() string {
	if v.Problem == Missing {
		return fmt.Sprintf("missing label %q at %s", v.Key, v.Place)
	}
	return fmt.Sprintf("label %q at %s has value %s, which does not match ^(?:%s)$",
		v.Key, v.Place, text.Quote(v.Value, 63), v.Pattern)
}

// Target identifies the object in messages and logs.
type Target struct {
	Kind, Namespace, Name, GenerateName string
}

// String names the object the way the API server's users know it. Pods made
// by controllers reach the mutating webhook with only a generateName.
func (t Target) String() string { return t.Short(253) }

// Short names the object with its name cut to at most max bytes, for
// messages with a length limit: what must be kept is what to fix, not a
// long name in full.
func (t Target) Short(max int) string {
	var s string
	switch {
	case t.Name != "":
		s = fmt.Sprintf("%s %s", t.Kind, text.Quote(t.Name, max))
	case t.GenerateName != "":
		s = fmt.Sprintf("%s with generateName %s", t.Kind, text.Quote(t.GenerateName, max))
	default:
		s = t.Kind + " (unnamed)"
	}
	if t.Namespace != "" {
		s += " in namespace " + text.Quote(t.Namespace, min(63, max))
	}
	return s
}

// Decision is what one function found on one request. internal/verdict
// turns it into the API server's answer.
type Decision struct {
	Stage Stage
	// Skip says why the object was let through without inspection.
	Skip string
	// Unreadable says what in the review or object cannot be read; the answer
	// refuses it with code 400.
	Unreadable error
	Target     Target
	// Parent is the object's controller, set when a built-in controller made
	// it for a parent the policy covers: violations of rules that cover the
	// parent are Inherited.
	Parent *OwnerRef
	// Creator is the controller identity that made it.
	Creator    string
	Violations []Violation
	Patch      []patch.Op
	// Added lists the default labels the patch adds, for people and the CLI.
	Added []Added
	// Frozen is true when mutate left a template alone because the object's
	// controller compares it with its own.
	Frozen bool
	// Mirror is true when Parent is the Node whose kubelet publishes the
	// object, a mirror of a static Pod.
	Mirror bool
	// Untouched lists the defaults mutate did not add because the object's
	// own selector names their keys; the answer warns about each.
	Untouched []Untouched
}

// Untouched is a default label mutate left out because the object's
// selector names its key.
type Untouched struct {
	Rule, Key string
	// Selector is the selector's path, such as spec.selector.
	Selector string
}

// Text says what was left out and why, for people. It is short, so that a
// warning keeps the object's name whole within the API server's 256 bytes;
// docs/controllers.md §1 says why a selector's key is left alone.
func (u Untouched) Text() string {
	return fmt.Sprintf("[%s] default label %q not added: %s names that key", u.Rule, u.Key, u.Selector)
}

// Added is one default label mutate adds. The JSON names match the rest of
// `bouncer check -o json`, whose results carry these.
type Added struct {
	Rule  string `json:"rule"`
	Place string `json:"place"`
	Key   string `json:"key"`
	Value string `json:"value"`
}
