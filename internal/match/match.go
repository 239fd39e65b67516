// Package match says which requests a function sees, in the API server's
// own terms: the resources and operations of the policy's kinds, the
// namespace and object selectors that leave exempt requests in the API
// server, the CEL match conditions for what selectors cannot say (exempt
// users and groups, status writes that change no label), and the CEL of the
// decision's own skips. Both generators, webhookconfig and compile, build
// on it, so the two engines see the same requests.
package match

import (
	"maps"
	"slices"
	"strings"

	"bouncer.dev/bouncer/internal/cel"
	"bouncer.dev/bouncer/internal/policy"
	admregv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Scope is what the API server sends: the rules a request must match, the
// selectors its namespace and object must pass, and the conditions it must
// meet. Every exempt request fails one of them and never leaves the API
// server.
type Scope struct {
	Rules             []admregv1.RuleWithOperations
	NamespaceSelector *metav1.LabelSelector
	ObjectSelector    *metav1.LabelSelector
	Conditions        []admregv1.MatchCondition
}

// WebhookScope returns what one function's webhook is sent: the scope of
// the kinds the stage has work for.
func WebhookScope(p *policy.Policy, stage policy.Stage) Scope {
	return KindsScope(p, p.KindsFor(stage))
}

// KindsScope returns the scope of some of the policy's kinds under its
// global exemptions.
func KindsScope(p *policy.Policy, kinds []*policy.Kind) Scope {
	objSel, conds := objectExemption(p.Exempt.ObjectSelector)
	conds = append(conds, users(&p.Exempt, "")...)
	s := Scope{
		Rules:             rules(kinds),
		NamespaceSelector: namespaceSelector(&p.Exempt),
		ObjectSelector:    objSel,
		Conditions:        conds,
	}
	if hasStatus(s.Rules) {
		s.Conditions = append(s.Conditions, StatusChangesLabels)
	}
	return s
}

// StatusChangesLabels lets a status write through only when it changes the
// object's labels. The kubelet and the controllers write status all the
// time; without it their traffic would reach the functions, and keep a
// scale-to-zero service awake, for nothing.
var StatusChangesLabels = admregv1.MatchCondition{
	Name:       "status-changes-labels",
	Expression: `request.?subResource.orValue("") != "status" || oldObject == null || object.metadata.?labels.orValue({}) != oldObject.metadata.?labels.orValue({})`,
}

// rules lists kinds, grouped by API group and version, for CREATE and
// UPDATE, and the status subresource, for UPDATE, of the kinds whose status
// strategy keeps label changes.
func rules(kinds []*policy.Kind) []admregv1.RuleWithOperations {
	type gv struct{ g, v string }
	byGV := map[gv][]string{}
	status := map[gv][]string{}
	var order []gv
	for _, k := range kinds {
		key := gv{k.Group, k.Version}
		if byGV[key] == nil {
			order = append(order, key)
		}
		byGV[key] = append(byGV[key], k.Resource)
		if k.StatusLabels {
			status[key] = append(status[key], k.Resource+"/status")
		}
	}
	scope := admregv1.AllScopes
	rule := func(key gv, res []string, ops ...admregv1.OperationType) admregv1.RuleWithOperations {
		slices.Sort(res)
		return admregv1.RuleWithOperations{
			Operations: ops,
			Rule:       admregv1.Rule{APIGroups: []string{key.g}, APIVersions: []string{key.v}, Resources: res, Scope: &scope},
		}
	}
	out := make([]admregv1.RuleWithOperations, 0, 2*len(order))
	for _, key := range order {
		out = append(out, rule(key, byGV[key], admregv1.Create, admregv1.Update))
	}
	for _, key := range order {
		if res := status[key]; len(res) > 0 {
			out = append(out, rule(key, res, admregv1.Update))
		}
	}
	return out
}

func hasStatus(rules []admregv1.RuleWithOperations) bool {
	return slices.ContainsFunc(rules, func(r admregv1.RuleWithOperations) bool {
		return slices.ContainsFunc(r.Resources, func(res string) bool { return strings.HasSuffix(res, "/status") })
	})
}

// namespaceSelector selects the namespaces that are not exempt: not named
// in the exemptions, and not selected by their namespace selector.
func namespaceSelector(e *policy.Exemption) *metav1.LabelSelector {
	names := slices.Sorted(maps.Keys(e.Namespaces))
	sel := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
		Key: policy.NamespaceNameLabel, Operator: metav1.LabelSelectorOpNotIn, Values: names,
	}}}
	if e.NamespaceSelector != nil {
		// One requirement, as the policy's compilation ensures: negated, it
		// stays one requirement.
		sel.MatchExpressions = append(sel.MatchExpressions, negate(cel.Requirements(e.NamespaceSelector)[0]))
	}
	return sel
}

// objectExemption turns the object selector exemption into what leaves exempt
// objects in the API server. An objectSelector selects what is sent, so the
// exemption is negated: one requirement negates into one; a selector of
// several (an AND) negates into an OR, which only a CEL condition can say.
func objectExemption(s *metav1.LabelSelector) (*metav1.LabelSelector, []admregv1.MatchCondition) {
	if s == nil {
		return nil, nil
	}
	reqs := cel.Requirements(s)
	if len(reqs) == 1 {
		return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{negate(reqs[0])}}, nil
	}
	return nil, []admregv1.MatchCondition{{Name: "not-exempt-object", Expression: "!(" + cel.Selects("object", reqs) + ")"}}
}

// users returns the conditions that leave exempt users and groups out.
func users(e *policy.Exemption, prefix string) []admregv1.MatchCondition {
	var out []admregv1.MatchCondition
	if len(e.Spec.Users) > 0 {
		out = append(out, admregv1.MatchCondition{Name: prefix + "not-exempt-user",
			Expression: "!(request.userInfo.username in " + cel.Strings(e.Spec.Users) + ")"})
	}
	if len(e.Spec.Groups) > 0 {
		out = append(out, admregv1.MatchCondition{Name: prefix + "not-exempt-group",
			Expression: "!request.userInfo.groups.exists(g, g in " + cel.Strings(e.Spec.Groups) + ")"})
	}
	return out
}

// RuleConditions are a rule's own exemptions as CEL: a webhook serves every
// rule, so only the compiled policies, one per rule, can apply them before
// the decision.
func RuleConditions(r *policy.Rule) []admregv1.MatchCondition {
	e := r.Exempt
	if e == nil {
		return nil
	}
	var out []admregv1.MatchCondition
	if len(e.Spec.Namespaces) > 0 {
		out = append(out, admregv1.MatchCondition{Name: "rule-not-exempt-namespace",
			Expression: "!(request.namespace in " + cel.Strings(e.Spec.Namespaces) + ")"})
	}
	out = append(out, users(e, "rule-")...)
	if s := e.ObjectSelector; s != nil {
		out = append(out, admregv1.MatchCondition{Name: "rule-not-exempt-object",
			Expression: "!(" + cel.Selects("object", cel.Requirements(s)) + ")"})
	}
	return out
}

// Skips are the decision's own early answers as CEL, for the compiled
// policies, which have no function to make them: the object-label
// exemption judged on the new object alone (an objectSelector also passes a
// request whose old object is selected), and UPDATEs of objects being
// deleted, whose finalizer removal must never be blocked.
func Skips(p *policy.Policy) []admregv1.MatchCondition {
	var out []admregv1.MatchCondition
	// A selector of several requirements is already a condition on the new
	// object in Of (not-exempt-object); only the single requirement, which
	// Of turns into an objectSelector, needs this one.
	if s := p.Exempt.ObjectSelector; s != nil && len(cel.Requirements(s)) == 1 {
		out = append(out, admregv1.MatchCondition{Name: "not-exempt-new-object",
			Expression: "!(" + cel.Selects("object", cel.Requirements(s)) + ")"})
	}
	return append(out, admregv1.MatchCondition{Name: "not-being-deleted",
		Expression: `!(request.operation == "UPDATE" && has(object.metadata.deletionTimestamp))`})
}

var negations = map[metav1.LabelSelectorOperator]metav1.LabelSelectorOperator{
	metav1.LabelSelectorOpIn:           metav1.LabelSelectorOpNotIn,
	metav1.LabelSelectorOpNotIn:        metav1.LabelSelectorOpIn,
	metav1.LabelSelectorOpExists:       metav1.LabelSelectorOpDoesNotExist,
	metav1.LabelSelectorOpDoesNotExist: metav1.LabelSelectorOpExists,
}

func negate(r metav1.LabelSelectorRequirement) metav1.LabelSelectorRequirement {
	r.Operator = negations[r.Operator]
	r.Values = slices.Clone(r.Values)
	return r
}
