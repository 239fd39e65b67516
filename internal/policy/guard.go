package policy

import (
	"bouncer.dev/bouncer/internal/text"
	"k8s.io/apimachinery/pkg/labels"
)

// NamespaceWrite is a write to a Namespace (create, update, or an update of
// its status or finalize subresource): what the namespace guard reads.
type NamespaceWrite struct {
	Operation string
	Name      string
	// Labels are the Namespace's labels after the write, OldLabels before
	// it (ignored on CREATE). The API server sets kubernetes.io/metadata.name
	// before validation; callers include it.
	Labels, OldLabels map[string]string
	User              string
	Groups            []string
}

// Guard refusals, word for word what the compiled guard says.
const (
	guardNameMsg  = "only exemptionAdmins may create a namespace that exemptions.namespaces names"
	guardLabelMsg = "only exemptionAdmins may make a namespace match exemptions.namespaceSelector"
)

// GuardNamespace says why a write to a Namespace would make it exempt when
// its author may not exempt namespaces, or "" when the write is allowed.
// Without it, anyone who may create or label a Namespace could exempt
// everything in it. The API server enforces the same rule in process
// (internal/guard compiles it); bouncer check applies it to the Namespaces
// in its input.
func (p *Policy) GuardNamespace(w NamespaceWrite) string {
	if p.ExemptionAdmins.has(w.User, w.Groups) {
		return ""
	}
	if w.Operation == Create && p.Exempt.Namespaces[w.Name] {
		return guardMessage(w.Name, guardNameMsg)
	}
	if sel := p.Exempt.namespaceSel; sel != nil && sel.Matches(labels.Set(w.Labels)) &&
		(w.Operation == Create || !sel.Matches(labels.Set(w.OldLabels))) {
		return guardMessage(w.Name, guardLabelMsg)
	}
	return ""
}

// guardMessage is the guard's refusal of a write to the Namespace name.
func guardMessage(name, why string) string {
	return "Namespace " + text.Quote(name, 253) + " was denied by bouncer: " + why
}

// GuardReasons are the guard's two refusals: for a name on the exempt
// list, and for a label that the namespace selector selects.
func GuardReasons() (name, label string) { return guardNameMsg, guardLabelMsg }
