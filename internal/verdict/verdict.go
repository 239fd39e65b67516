// Package verdict shapes a decision into the answer the API server gets:
// allowed or refused with a status code and message, warnings within the
// API server's limits, audit annotations, and the patch. The decision says
// what is wrong; this package says it the way kubectl shows it, and holds
// the rules of that shape in one place for the webhooks and the CLI.
package verdict

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"

	"bouncer.dev/bouncer/internal/patch"
	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/text"
)

// Status codes carried in a refusal's status.code.
const (
	CodeDenied     = 403 // the object breaks the policy
	CodeBadRequest = 400 // the review or the object cannot be read
	CodeInternal   = 500 // bouncer failed; the object is refused, not admitted
)

// InheritedAnnotation is the audit annotation on an object a built-in
// controller made for a parent whose template breaks the policy. Its value
// names the parent and the creator; the API server records it under
// validate.bouncer.dev/inherited-violation. Audit rules' annotations are
// keyed by rule name, so the policy reserves this name.
const InheritedAnnotation = policy.ReservedRuleName

// Answer is the response to one review.
type Answer struct {
	Allowed bool
	// Code and Message are set on a refusal.
	Code             int32
	Message          string
	Warnings         []string
	AuditAnnotations map[string]string
	// Patch is mutate's, when it adds something.
	Patch []patch.Op
}

// Refuse answers a review that cannot be decided: code 400 for one that
// cannot be read, 500 for bouncer's own failure. Under failurePolicy Ignore
// an HTTP error would admit the object; a refusal does not.
func Refuse(code int32, msg string) Answer { return Answer{Code: code, Message: msg} }

// For shapes a decision into the answer the API server gets for it: new deny-violations refuse the
// request; everything else is admitted with warnings or audit annotations.
func For(d *policy.Decision) Answer {
	switch e := d.Unreadable.(type) {
	case nil:
	case *policy.ObjectError:
		return Refuse(CodeBadRequest, "bouncer cannot read the object: "+e.Error())
	default:
		return Refuse(CodeBadRequest, "bouncer cannot read the review: "+e.Error())
	}
	if d.Stage == policy.Mutation {
		var untouched []string
		for _, u := range d.Untouched {
			untouched = append(untouched, u.Text())
		}
		return Answer{Allowed: true, Patch: d.Patch, Warnings: limitWarnings(d.Target, untouched)}
	}
	var denials, warnings, inherited []string
	audits := map[string][]string{}
	for _, v := range d.Violations {
		switch {
		case v.Existing:
			warnings = append(warnings, "kept an existing violation, fix it: "+v.Text())
		case v.Inherited:
			warnings = append(warnings, "inherited from "+d.Parent.String()+": "+v.Text())
			inherited = append(inherited, v.Text())
		case v.Action == policy.Deny:
			denials = append(denials, v.Text())
		case v.Action == policy.Warn:
			warnings = append(warnings, v.Text())
		case v.Action == policy.Audit:
			audits[v.Rule] = append(audits[v.Rule], v.Text())
		}
	}
	a := Answer{Warnings: limitWarnings(d.Target, warnings)}
	if len(inherited) > 0 {
		audits[InheritedAnnotation] = []string{d.Parent.String() + " by " + d.Creator + ": " + strings.Join(inherited, "; ")}
	}
	if len(audits) > 0 {
		a.AuditAnnotations = map[string]string{}
		for _, key := range slices.Sorted(maps.Keys(audits)) {
			a.AuditAnnotations[key] = text.Clip(strings.Join(audits[key], "; "), MaxAuditValue)
		}
	}
	if len(denials) > 0 {
		a.Code = CodeDenied
		a.Message = d.Target.String() + " was denied by bouncer: " + strings.Join(denials, "; ")
		return a
	}
	a.Allowed = true
	return a
}

// The API server drops a webhook's warning that holds control characters,
// and cuts warnings once they pass 4096 characters in all. bouncer keeps
// each within 256 bytes, as kubectl prints them one to a line.
const (
	MaxWarning      = 256
	MaxWarningTotal = 4096
	MaxAuditValue   = 1024
)

const warningPrefix = "bouncer: "

// limitWarnings makes the warnings about target that the API server will pass
// on: "bouncer: <target>: <what to fix>". A long name is shortened so that
// what to fix survives whole; only a message too long even then is cut.
// The list is cut to 4096 bytes, with a last line saying how many were
// left out.
func limitWarnings(target policy.Target, msgs []string) []string {
	if len(msgs) == 0 {
		return nil
	}
	const summaryRoom = 64
	out := make([]string, 0, len(msgs))
	total := 0
	for i, m := range msgs {
		w := warning(target, strings.Map(printable, m))
		room := MaxWarningTotal - summaryRoom
		if i == len(msgs)-1 {
			room = MaxWarningTotal
		}
		if total+len(w) > room {
			return append(out, fmt.Sprintf("bouncer: %d more warnings left out", len(msgs)-i))
		}
		total += len(w)
		out = append(out, w)
	}
	return out
}

// warning names the target in the room the message leaves.
func warning(target policy.Target, msg string) string {
	tail := ": " + msg
	w := warningPrefix + target.String() + tail
	for max := 126; len(w) > MaxWarning && max >= 8; max /= 2 {
		w = warningPrefix + target.Short(max) + tail
	}
	return text.Clip(strings.Map(printable, w), MaxWarning)
}

func printable(r rune) rune {
	if unicode.IsControl(r) {
		return ' '
	}
	return r
}
