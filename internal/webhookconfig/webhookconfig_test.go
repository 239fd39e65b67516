package webhookconfig

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"bouncer.dev/bouncer/internal/match"
	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/policy/policytest"
	"bouncer.dev/bouncer/internal/spec"
	"github.com/google/go-cmp/cmp"
	admregv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// decodeStrict reads a rendered document back into the API type, refusing
// unknown fields, as the API server's strict field validation does.
func decodeStrict(t *testing.T, doc []byte, into any) {
	t.Helper()
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		t.Fatal(err)
	}
	strict, err := kjson.UnmarshalStrict(js, into)
	if err != nil || len(strict) > 0 {
		t.Fatalf("does not decode strictly: %v %v\n%s", err, strict, doc)
	}
}

func render(t *testing.T, p *policy.Policy, o Options) (*admregv1.ValidatingWebhookConfiguration, *admregv1.MutatingWebhookConfiguration) {
	t.Helper()
	out, err := Render(p, o)
	if err != nil {
		t.Fatal(err)
	}
	var v admregv1.ValidatingWebhookConfiguration
	var m admregv1.MutatingWebhookConfiguration
	var kinds []string
	for _, doc := range bytes.Split(out, []byte("\n---\n")) {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, tm.Kind)
		switch tm.Kind {
		case "ValidatingWebhookConfiguration":
			decodeStrict(t, doc, &v)
		case "MutatingWebhookConfiguration":
			decodeStrict(t, doc, &m)
		case "ValidatingAdmissionPolicy":
			decodeStrict(t, doc, &admregv1.ValidatingAdmissionPolicy{})
		case "ValidatingAdmissionPolicyBinding":
			decodeStrict(t, doc, &admregv1.ValidatingAdmissionPolicyBinding{})
		default:
			t.Fatalf("unexpected kind %q", tm.Kind)
		}
	}
	// The namespace guard comes first, whatever else is rendered.
	want := []string{"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
	if o.Only != policy.Mutation {
		want = append(want, "ValidatingWebhookConfiguration")
	}
	if o.Only != policy.Validation {
		want = append(want, "MutatingWebhookConfiguration")
	}
	if !slices.Equal(kinds, want) {
		t.Fatalf("rendered %v, want %v", kinds, want)
	}
	return &v, &m
}

// mustParse compiles a policy document or fails the test.
var mustParse = policytest.Parse

func TestTheRenderedConfigurationsAreWhatTheAPIServerNeeds(t *testing.T) {
	v, m := render(t, policy.Default(), Options{URL: "https://bouncer.example.com/"})
	vw, mw := v.Webhooks[0], m.Webhooks[0]
	if got := *vw.ClientConfig.URL; got != "https://bouncer.example.com/validate" {
		t.Errorf("validate URL %q", got)
	}
	if got := *mw.ClientConfig.URL; got != "https://bouncer.example.com/mutate" {
		t.Errorf("mutate URL %q", got)
	}
	for _, w := range []struct {
		name    string
		fp      *admregv1.FailurePolicyType
		se      *admregv1.SideEffectClass
		timeout *int32
		arv     []string
	}{{vw.Name, vw.FailurePolicy, vw.SideEffects, vw.TimeoutSeconds, vw.AdmissionReviewVersions}, {mw.Name, mw.FailurePolicy, mw.SideEffects, mw.TimeoutSeconds, mw.AdmissionReviewVersions}} {
		if *w.fp != admregv1.Ignore || *w.se != admregv1.SideEffectClassNone || *w.timeout != DefaultTimeoutSeconds || !cmp.Equal(w.arv, []string{"v1"}) {
			t.Errorf("%s: failurePolicy %v sideEffects %v timeout %v versions %v", w.name, *w.fp, *w.se, *w.timeout, w.arv)
		}
	}
	if mw.ReinvocationPolicy == nil || *mw.ReinvocationPolicy != admregv1.IfNeededReinvocationPolicy {
		t.Errorf("mutate reinvocation %v, want IfNeeded: mutation is idempotent", mw.ReinvocationPolicy)
	}
	if v.Annotations != nil || vw.ClientConfig.CABundle != nil {
		t.Errorf("a URL with a public certificate needs no caBundle or injection: %v %v", v.Annotations, vw.ClientConfig.CABundle)
	}
}

func TestTheRulesRegisterTheStatusSubresourcesThatKeepLabelsForUpdateOnly(t *testing.T) {
	rules := match.WebhookScope(policy.Default(), policy.Validation).Rules
	var main, status []string
	for _, r := range rules {
		for _, res := range r.Resources {
			if strings.HasSuffix(res, "/status") {
				if !cmp.Equal(r.Operations, []admregv1.OperationType{admregv1.Update}) {
					t.Errorf("%s registered for %v, want UPDATE alone", res, r.Operations)
				}
				status = append(status, res)
			} else {
				main = append(main, res)
			}
		}
	}
	if want := "pods daemonsets deployments replicasets statefulsets cronjobs jobs"; strings.Join(main, " ") != want {
		t.Errorf("main resources %v, want %s", main, want)
	}
	// deployments/status resets labels, so it is not registered.
	if want := "pods/status daemonsets/status replicasets/status statefulsets/status cronjobs/status jobs/status"; strings.Join(status, " ") != want {
		t.Errorf("status subresources %v, want %s", status, want)
	}
	_, m := render(t, policy.Default(), Options{URL: "https://x.example"})
	if conds := m.Webhooks[0].MatchConditions; len(conds) != 1 || conds[0] != match.StatusChangesLabels {
		t.Errorf("match conditions %v, want the status condition alone", conds)
	}
}

func TestExemptionsAreCompiledIntoSelectorsAndConditions(t *testing.T) {
	tests := []struct {
		name       string
		exemptions string
		nsExprs    []metav1.LabelSelectorRequirement // after the name requirement
		objSel     *metav1.LabelSelector
		conditions []string // names, besides the status condition
	}{
		{"a namespace label becomes a negated requirement of the namespace selector", `{namespaceSelector: {matchLabels: {bouncer.dev/exempt: "true"}}}`,
			[]metav1.LabelSelectorRequirement{{Key: "bouncer.dev/exempt", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"true"}}}, nil, nil},
		{"an Exists namespace requirement becomes DoesNotExist", `{namespaceSelector: {matchExpressions: [{key: legacy, operator: Exists}]}}`,
			[]metav1.LabelSelectorRequirement{{Key: "legacy", Operator: metav1.LabelSelectorOpDoesNotExist}}, nil, nil},
		{"one object requirement becomes a negated object selector", `{objectSelector: {matchLabels: {skip: "yes"}}}`, nil,
			&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "skip", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"yes"}}}}, nil},
		{"several object requirements, an AND, become a CEL condition", `{objectSelector: {matchLabels: {a: "1", b: "2"}}}`, nil, nil, []string{"not-exempt-object"}},
		{"users and groups become CEL conditions", `{users: [alice], groups: [ops]}`, nil, nil, []string{"not-exempt-user", "not-exempt-group"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, "apiVersion: bouncer.dev/v1\nkind: Policy\nexemptions: "+tt.exemptions+"\nrules: [{name: a, kinds: [Deployment], require: [{key: owner}]}]\n")
			v, _ := render(t, p, Options{URL: "https://x.example"})
			w := v.Webhooks[0]
			if got := w.NamespaceSelector.MatchExpressions[0]; got.Key != policy.NamespaceNameLabel || got.Operator != metav1.LabelSelectorOpNotIn || !cmp.Equal(got.Values, spec.SystemNamespaces(), sortStrings) {
				t.Errorf("name requirement %+v", got)
			}
			if diff := cmp.Diff(tt.nsExprs, w.NamespaceSelector.MatchExpressions[1:], emptyNil); diff != "" {
				t.Errorf("namespace selector (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.objSel, w.ObjectSelector); diff != "" {
				t.Errorf("object selector (-want +got):\n%s", diff)
			}
			var names []string
			for _, c := range w.MatchConditions {
				names = append(names, c.Name)
			}
			if diff := cmp.Diff(tt.conditions, names, emptyNil); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
		})
	}
}

var (
	sortStrings = cmp.Transformer("sort", func(in []string) []string { return slices.Sorted(slices.Values(in)) })
	emptyNil    = cmp.FilterValues(func(a, b any) bool { return isEmpty(a) && isEmpty(b) }, cmp.Ignore())
)

func isEmpty(v any) bool {
	switch x := v.(type) {
	case []string:
		return len(x) == 0
	case []metav1.LabelSelectorRequirement:
		return len(x) == 0
	}
	return false
}

func TestServiceReferencesAndTheCAInjector(t *testing.T) {
	v, m := render(t, policy.Default(), Options{Service: "bouncer-system/bouncer:8443/hooks", InjectCAFrom: "bouncer-system/bouncer"})
	s := v.Webhooks[0].ClientConfig.Service
	if s.Namespace != "bouncer-system" || s.Name != "bouncer" || *s.Port != 8443 || *s.Path != "/hooks/validate" {
		t.Errorf("validate service %+v", s)
	}
	if p := *m.Webhooks[0].ClientConfig.Service.Path; p != "/hooks/mutate" {
		t.Errorf("mutate path %q", p)
	}
	for _, a := range []map[string]string{v.Annotations, m.Annotations} {
		if a[InjectCAAnnotation] != "bouncer-system/bouncer" {
			t.Errorf("annotations %v, want the CA injector's", a)
		}
	}
	if _, err := Render(policy.Default(), Options{Service: "a/b", CABundle: []byte("x"), InjectCAFrom: "a/b"}); err == nil {
		t.Error("a caBundle and the injector together were accepted: the injector would overwrite it")
	}
}

func TestOnlyRendersOneFunction(t *testing.T) {
	out, err := Render(policy.Default(), Options{URL: "https://x.example", Only: policy.Mutation})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte("ValidatingWebhookConfiguration")) || !bytes.Contains(out, []byte("MutatingWebhookConfiguration")) {
		t.Errorf("--only mutate rendered:\n%s", out)
	}
}
