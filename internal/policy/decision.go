package policy

import (
	"fmt"

	"bouncer.dev/bouncer/internal/patch"
)

// Status codes carried in a denial's status.code.
const (
	CodeDenied     = 403 // the object breaks the policy
	CodeBadRequest = 400 // the object cannot be read
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
}

// Text describes the violation for people, naming its rule.
func (v Violation) Text() string { return "[" + v.Rule + "] " + v.Detail() }

// Detail describes the violation without its rule.
func (v Violation) Detail() string {
	if v.Problem == Missing {
		return fmt.Sprintf("missing label %q at %s", v.Key, v.Place)
	}
	return fmt.Sprintf("label %q at %s has value %s, which does not match ^(?:%s)$",
		v.Key, v.Place, quoteTrunc(v.Value, 63), v.Pattern)
}

// Target identifies the object in messages and logs.
type Target struct {
	Kind, Namespace, Name, GenerateName string
}

// String names the object the way the API server's users know it. Pods made
// by controllers reach the mutating webhook with only a generateName.
func (t Target) String() string {
	var s string
	switch {
	case t.Name != "":
		s = fmt.Sprintf("%s %s", t.Kind, quoteTrunc(t.Name, 253))
	case t.GenerateName != "":
		s = fmt.Sprintf("%s with generateName %s", t.Kind, quoteTrunc(t.GenerateName, 253))
	default:
		s = t.Kind + " (unnamed)"
	}
	if t.Namespace != "" {
		s += " in namespace " + quoteTrunc(t.Namespace, 63)
	}
	return s
}

// Decision is the outcome of one function on one request.
type Decision struct {
	Allowed bool
	// Code and Message are set on a refusal: 403 for policy violations, 400
	// for an object that cannot be read.
	Code    int32
	Message string
	// Skip says why the object was let through without inspection.
	Skip             string
	Target           Target
	Violations       []Violation
	Warnings         []string
	AuditAnnotations map[string]string
	Patch            []patch.Op
	// Added lists the default labels the patch adds, for people and the CLI.
	Added []Added
}

// Added is one default label mutate adds. The JSON names match the rest of
// `bouncer check -o json`, whose results carry these.
type Added struct {
	Rule  string `json:"rule"`
	Place string `json:"place"`
	Key   string `json:"key"`
	Value string `json:"value"`
}

func allow(skip string) Decision { return Decision{Allowed: true, Skip: skip} }

func invalid(err error) Decision {
	return Decision{Code: CodeBadRequest, Message: "bouncer cannot read the object: " + err.Error()}
}
