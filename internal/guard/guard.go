// Package guard renders the namespace guard: a ValidatingAdmissionPolicy
// that refuses any write making a Namespace exempt unless its author is
// one of the policy's exemptionAdmins. An exemption by namespace is only
// as strong as the rights to write Namespaces, and in clusters where
// namespaces are self-service (Capsule, HNC, Argo CD's CreateNamespace)
// those rights are everybody's (gatekeeper#231, closed by gatekeeper#350).
//
// The guard is in-process CEL with failurePolicy Fail in both engines: a
// guard that a cold start switches off guards nothing. bouncer webhookconfig
// and bouncer compile both emit it, so every install path installs it.
package guard

import (
	"maps"
	"slices"

	"bouncer.dev/bouncer/internal/cel"
	"bouncer.dev/bouncer/internal/manifest"
	"bouncer.dev/bouncer/internal/policy"
	admregv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Name names the policy and its binding.
const Name = "bouncer-namespace-guard"

// Build returns the guard's policy and binding. managedBy labels them as the
// generator's own, so that its uninstall finds them.
func Build(p *policy.Policy, managedBy string) []any {
	nameMsg, labelMsg := policy.GuardReasons()
	exemptNames := cel.Strings(slices.Sorted(maps.Keys(p.Exempt.Namespaces)))
	who := `"Namespace \"" + object.metadata.name + "\" was denied by bouncer: "`
	vals := []admregv1.Validation{{
		// The exempt names include knative-serving, kourier-system and
		// bouncer-system on every platform, and on Cloud Run none of them
		// exists: whoever created one first would own an exempt namespace.
		Expression:        cel.Or(cel.OperationIsNot("CREATE"), cel.Not(cel.In("object.metadata.name", exemptNames))),
		Message:           "denied by bouncer: " + nameMsg,
		MessageExpression: cel.Concat(who, cel.Quote(nameMsg)),
		Reason:            ptr(metav1.StatusReasonForbidden),
	}}
	if s := p.Exempt.NamespaceSelector; s != nil {
		sel := func(obj string) string { return cel.Selects(obj, cel.Requirements(s)) }
		vals = append(vals, admregv1.Validation{
			// Keeping an exemption an admin gave is allowed: the namespace
			// controller's finalize writes and a tenant's own labels must
			// not fail on a namespace that is already exempt.
			Expression:        cel.Or(cel.Not(sel("object")), cel.Paren(cel.And(cel.OperationIsNot("CREATE"), cel.HasOldObject, cel.Paren(sel("oldObject"))))),
			Message:           "denied by bouncer: " + labelMsg,
			MessageExpression: cel.Concat(who, cel.Quote(labelMsg)),
			Reason:            ptr(metav1.StatusReasonForbidden),
		})
	}
	fail := admregv1.Fail
	equivalent := admregv1.Equivalent
	scope := admregv1.ClusterScope
	rule := func(res []string, ops ...admregv1.OperationType) admregv1.NamedRuleWithOperations {
		return admregv1.NamedRuleWithOperations{RuleWithOperations: admregv1.RuleWithOperations{Operations: ops,
			Rule: admregv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: res, Scope: &scope}}}
	}
	meta := manifest.Meta(Name, managedBy)
	admins := p.ExemptionAdmins.Spec
	adminUsers, adminGroups := cel.Strings(nonNil(admins.Users)), cel.Strings(nonNil(admins.Groups))
	vap := &admregv1.ValidatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: admregv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicy"},
		ObjectMeta: meta,
		Spec: admregv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admregv1.MatchResources{
				MatchPolicy: &equivalent,
				// Labels survive the status and finalize subresources: their
				// strategies reset only spec and status respectively.
				ResourceRules: []admregv1.NamedRuleWithOperations{
					rule([]string{"namespaces"}, admregv1.Create, admregv1.Update),
					rule([]string{"namespaces/finalize", "namespaces/status"}, admregv1.Update),
				},
			},
			MatchConditions: []admregv1.MatchCondition{{
				Name:       "not-an-exemption-admin",
				Expression: cel.And(cel.Not(cel.UserIn(adminUsers)), cel.InNoGroup(adminGroups)),
			}},
			Validations: vals,
		},
	}
	binding := &admregv1.ValidatingAdmissionPolicyBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: admregv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicyBinding"},
		ObjectMeta: meta,
		Spec:       admregv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: Name, ValidationActions: []admregv1.ValidationAction{admregv1.Deny}},
	}
	return []any{vap, binding}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func ptr[T any](v T) *T { return &v }
