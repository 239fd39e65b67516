package kube_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	kjson "sigs.k8s.io/json"

	"bouncer.dev/bouncer/internal/compile"
	"bouncer.dev/bouncer/internal/kube"
	"bouncer.dev/bouncer/internal/kube/kubetest"
	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/webhookconfig"
)

// names are the awkward cases for every name rule.
var names = []string{
	"", "a", "A", "0", "-", "_", ".", "a-", "-a", "a_", "_a", "a.", ".a", "a.b", "a..b", "a-b", "a_b", "aB", "Ab",
	"owner", "Team-A", "team_a.b-c", "bouncer.dev/exempt", "app.kubernetes.io/name", "kubernetes.io/metadata.name",
	"/a", "a/", "a/b/c", "A.com/b", "a.com/", "-a.com/b", "a-.com/b", "a.-com/b", "a.com/-b", "ünicode", "a b", "a\x00",
	strings.Repeat("a", 63), strings.Repeat("a", 64), strings.Repeat("a", 253), strings.Repeat("a", 254),
	strings.Repeat("a.", 126) + "a", strings.Repeat("a.", 127) + "a", strings.Repeat("a", 63) + "/" + strings.Repeat("b", 63),
	strings.Repeat("a", 64) + ".com/b", "a.com/" + strings.Repeat("b", 64), "v1", "v1beta1", "widgets", "example.com",
}

// TestTheNameRulesAgreeWithApimachinery compares validity, not wording.
func TestTheNameRulesAgreeWithApimachinery(t *testing.T) {
	rules := []struct {
		name      string
		ours, ref func(string) []string
	}{
		{"a qualified name", kube.IsQualifiedName, validation.IsQualifiedName},
		{"a label value", kube.IsValidLabelValue, validation.IsValidLabelValue},
		{"a DNS-1123 label", kube.IsDNS1123Label, validation.IsDNS1123Label},
		{"a DNS-1123 subdomain", kube.IsDNS1123Subdomain, validation.IsDNS1123Subdomain},
	}
	for _, r := range rules {
		for _, n := range names {
			if ours, ref := len(r.ours(n)) == 0, len(r.ref(n)) == 0; ours != ref {
				t.Errorf("%s: %q valid=%v, apimachinery says %v (%v)", r.name, n, ours, ref, r.ref(n))
			}
		}
	}
}

// TestSelectorsAgreeWithApimachinery validates and matches every selector
// both ways, against label sets with and without each key.
func TestSelectorsAgreeWithApimachinery(t *testing.T) {
	selectors := []kube.LabelSelector{
		{},
		{MatchLabels: map[string]string{"bouncer.dev/exempt": "true"}},
		{MatchLabels: map[string]string{"a": "1", "b": "2"}},
		{MatchLabels: map[string]string{"a": ""}},
		{MatchLabels: map[string]string{"bad key!": "x"}},
		{MatchLabels: map[string]string{"a": "bad value!"}},
	}
	for _, op := range []kube.LabelSelectorOperator{"In", "NotIn", "Exists", "DoesNotExist", "Equals", ""} {
		for _, vals := range [][]string{nil, {"1"}, {"1", "2"}, {""}, {"bad value!"}} {
			selectors = append(selectors,
				kube.LabelSelector{MatchExpressions: []kube.LabelSelectorRequirement{{Key: "a", Operator: op, Values: vals}}},
				kube.LabelSelector{MatchLabels: map[string]string{"b": "2"}, MatchExpressions: []kube.LabelSelectorRequirement{{Key: "a", Operator: op, Values: vals}}})
		}
	}
	sets := []map[string]string{nil, {}, {"a": "1"}, {"a": "2"}, {"a": ""}, {"a": "3"}, {"b": "2"}, {"a": "1", "b": "2"}, {"a": "2", "b": "2"}, {"bouncer.dev/exempt": "true"}, {"bouncer.dev/exempt": "false"}}
	for i, s := range selectors {
		var ref metav1.LabelSelector
		convert(t, s, &ref)
		refSel, refErr := metav1.LabelSelectorAsSelector(&ref)
		errs := s.Validate()
		if (len(errs) == 0) != (refErr == nil) {
			t.Errorf("selector %d %+v: our errors %v, apimachinery's %v", i, s, errs, refErr)
			continue
		}
		if refErr != nil {
			continue
		}
		if s.Empty() != refSel.Empty() {
			t.Errorf("selector %d %+v: Empty %v, apimachinery says %v", i, s, s.Empty(), refSel.Empty())
		}
		for _, l := range sets {
			if got, want := s.Matches(l), refSel.Matches(labels.Set(l)); got != want {
				t.Errorf("selector %d %+v on %v: matches=%v, apimachinery says %v", i, s, l, got, want)
			}
		}
	}
}

// TestGeneratedObjectsAreTheRealTypes decodes everything bouncer generates,
// for the default policy and one that uses every exemption, strictly into
// k8s.io/api's types and encodes it back: the JSON must not change.
func TestGeneratedObjectsAreTheRealTypes(t *testing.T) {
	wide, err := policy.Parse([]byte(`apiVersion: bouncer.dev/v1
kind: Policy
exemptions:
  namespaces: [tools]
  objectSelector:
    matchLabels: {a: "1"}
    matchExpressions: [{key: b, operator: Exists}]
  users: [alice]
  groups: [ops]
rules:
  - name: require-owner
    action: audit
    kinds: [Pod, CronJob]
    require: [{key: owner, pattern: "[a-z]+"}]
    exemptions: {namespaces: [dev], users: [bob], groups: [qa], objectSelector: {matchLabels: {c: "3"}}}
  - name: default-environment
    kinds: [Deployment]
    defaults: {environment: development}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*policy.Policy{policy.Default(), wide} {
		var objs []any
		for _, o := range []webhookconfig.Options{{URL: "https://bouncer.example"}, {Service: "bouncer-system/bouncer:8443", CABundle: []byte("pem")}} {
			v, m, err := webhookconfig.Build(p, o)
			if err != nil {
				t.Fatal(err)
			}
			objs = append(objs, v, m)
		}
		compiled, err := compile.Build(p, compile.Both)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, compiled...)
		for _, o := range objs {
			real, ours, err := kubetest.Real(o)
			if err != nil {
				t.Fatal(err)
			}
			back, err := json.Marshal(real)
			if err != nil {
				t.Fatal(err)
			}
			// The real types add an empty status; nothing else may differ.
			back = bytes.Replace(back, []byte(`,"status":{}`), nil, 1)
			if !jsonEqual(t, ours, back) {
				t.Errorf("%T changes in a round trip through k8s.io/api:\n ours %s\nreal %s", o, ours, back)
			}
		}
	}
}

// convert encodes v and decodes it strictly into out, returning the JSON.
func convert(t *testing.T, v, out any) []byte {
	t.Helper()
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	strict, err := kjson.UnmarshalStrict(j, out)
	if err != nil || len(strict) > 0 {
		t.Fatalf("%T does not decode strictly into %T: %v %v\n%s", v, out, err, strict, j)
	}
	return j
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}
