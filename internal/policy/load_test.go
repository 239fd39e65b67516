package policy_test

import (
	"strings"
	"testing"

	"bouncer.dev/bouncer/internal/policy"
	"github.com/google/go-cmp/cmp"
)

func TestTheDefaultPolicyIsWhatTheDocsSay(t *testing.T) {
	p := policy.Default()
	if len(p.Rules) != 2 || !p.AllowExistingViolations {
		t.Fatalf("default policy: %d rules, allowExistingViolations=%v", len(p.Rules), p.AllowExistingViolations)
	}
	var kinds []string
	for _, k := range p.Kinds() {
		kinds = append(kinds, k.Kind)
	}
	if got := strings.Join(kinds, ","); got != "Pod,Deployment,StatefulSet,DaemonSet,ReplicaSet,Job,CronJob" {
		t.Errorf("kinds = %s", got)
	}
	if r := p.Rules[0]; r.Action != policy.Deny || len(r.Require) != 1 || r.Require[0].Key != "owner" {
		t.Errorf("rule 0 = %+v, want deny on owner", r)
	}
	if r := p.Rules[1]; len(r.Defaults) != 1 || r.Defaults[0] != (policy.Label{Key: "environment", Value: "development"}) {
		t.Errorf("rule 1 defaults = %+v, want environment=development", r.Defaults)
	}
	for _, ns := range []string{"kube-system", "kube-node-lease", "knative-serving", "kourier-system", "bouncer-system"} {
		if !p.Exempt.Namespaces[ns] {
			t.Errorf("namespace %s is not exempt", ns)
		}
	}
}

func TestParseRejectsBadPoliciesNamingTheField(t *testing.T) {
	const head = "apiVersion: bouncer.dev/v1\nkind: Policy\n"
	tests := []struct {
		name, doc, want string
	}{
		{"an unknown top-level field is named", head + "rulez: []\nrules: [{name: a, kinds: [Pod], require: [{key: owner}]}]\n", `unknown field "rulez"`},
		{"an unknown field inside a rule is named with its path", head + "rules: [{name: a, kinds: [Pod], require: [{key: owner}], acton: deny}]\n", `unknown field "rules[0].acton"`},
		{"a duplicate YAML key is refused", head + "rules: []\nrules: []\n", `not valid YAML`},
		{"a wrong apiVersion is named", "apiVersion: v1\nkind: Policy\nrules: [{name: a, kinds: [Pod], require: [{key: owner}]}]\n", `apiVersion: must be "bouncer.dev/v1", got "v1"`},
		{"a policy without rules is refused", head, "rules: at least one rule is required"},
		{"an unknown action is named", head + "rules: [{name: a, action: block, kinds: [Pod], require: [{key: owner}]}]\n", `rules[0].action: unknown action "block"; want deny, warn or audit`},
		{"an unknown kind is named", head + "rules: [{name: a, kinds: [Pod, Widget], require: [{key: owner}]}]\n", `rules[0].kinds[1]: unknown kind "Widget"; declare it under customKinds`},
		{"a pattern that does not compile is named", head + "rules: [{name: a, kinds: [Pod], require: [{key: owner, pattern: \"([a-z\"}]}]\n", `rules[0].require[0].pattern: error parsing regexp`},
		{"an invalid label key is named", head + "rules: [{name: a, kinds: [Pod], require: [{key: \"own er\"}]}]\n", `rules[0].require[0].key: "own er" is not a label key`},
		{"an invalid default value is named", head + "rules: [{name: a, kinds: [Pod], defaults: {env: \"not valid!\"}}]\n", `rules[0].defaults.env: "not valid!" is not a label value`},
		{"a rule with nothing to do is refused", head + "rules: [{name: a, kinds: [Pod]}]\n", "rules[0]: a rule needs require, defaults or both"},
		{"duplicate rule names are refused", head + "rules: [{name: a, kinds: [Pod], require: [{key: k1}]}, {name: a, kinds: [Pod], require: [{key: k2}]}]\n", `rules[1].name: duplicate rule name "a"`},
		{"the rule name that keys inherited violations is reserved", head + "rules: [{name: inherited-violation, action: audit, kinds: [Pod], require: [{key: x}]}]\n", `rules[0].name: "inherited-violation" is reserved`},
		{"a rule name that cannot be an annotation key is refused", head + "rules: [{name: Require Owner, kinds: [Pod], require: [{key: x}]}]\n", "rules[0].name: must be a lowercase name"},
		{"a default its own policy would deny is refused", head + "rules: [{name: a, kinds: [Pod], require: [{key: env, pattern: \"prod|dev\"}]}, {name: b, kinds: [Pod], defaults: {env: staging}}]\n", `rules[1].defaults.env: default "staging" does not match rules[0].require[0].pattern`},
		{"an empty object selector, which would exempt everything, is refused", head + "exemptions: {objectSelector: {}}\nrules: [{name: a, kinds: [Pod], require: [{key: x}]}]\n", "exemptions.objectSelector: must not be empty"},
		{"a bad namespace name is named", head + "exemptions: {namespaces: [Kube_System]}\nrules: [{name: a, kinds: [Pod], require: [{key: x}]}]\n", `exemptions.namespaces[0]: "Kube_System" is not a namespace name`},
		{"a custom kind clashing with a built-in one is refused", head + "customKinds: [{kind: Pod, group: example.com, version: v1, resource: pods}]\nrules: [{name: a, kinds: [Pod], require: [{key: x}]}]\n", `customKinds[0].kind: "Pod" is already a known kind`},
		{"a custom kind's bad template path is named", head + "customKinds: [{kind: Widget, group: example.com, version: v1, resource: widgets, templateLabelPaths: [\"spec..labels\"]}]\nrules: [{name: a, kinds: [Widget], require: [{key: x}]}]\n", `customKinds[0].templateLabelPaths[0]: must be a dotted path`},
		{"a pattern that would close the anchoring group is refused", head + "rules: [{name: a, kinds: [Pod], require: [{key: owner, pattern: \"a)|(b\"}]}]\n", `rules[0].require[0].pattern: error parsing regexp`},
		{"custom label places that nest in one another are refused", head + "customKinds: [{kind: Widget, group: example.com, version: v1, resource: widgets, templateLabelPaths: [spec.t, spec.t.metadata.labels]}]\nrules: [{name: a, kinds: [Widget], require: [{key: x}]}]\n", `nest in one another`},
		{"a custom label place inside metadata.labels is refused", head + "customKinds: [{kind: Widget, group: example.com, version: v1, resource: widgets, templateLabelPaths: [metadata.labels.x]}]\nrules: [{name: a, kinds: [Widget], require: [{key: x}]}]\n", `must not lie inside metadata.labels`},
		{"a wrong type is named with its path", head + "rules: [{name: a, kinds: Pod, require: [{key: x}]}]\n", `rules[0].kinds: must be a list of strings, got string`},
		{"a numeric default is named with its path", head + "rules: [{name: a, kinds: [Pod], defaults: {owner: 5}}]\n", `rules[0].defaults.owner: must be a string, got number`},
		{"a second policy document is refused with the count", head + "rules: [{name: a, kinds: [Pod], require: [{key: x}]}]\n---\n" + head + "rules: []\n", `2 YAML documents: a policy file holds exactly one`},
		{"an empty controller identity is refused", head + "controllers: [\"\"]\nrules: [{name: a, kinds: [Pod], require: [{key: x}]}]\n", `controllers[0]: must not be empty`},
		{"a namespace selector of several requirements is refused: its negation is no selector", head + "exemptions: {namespaceSelector: {matchLabels: {a: b, c: d}}}\nrules: [{name: a, kinds: [Pod], require: [{key: x}]}]\n", `exemptions.namespaceSelector: must have exactly one requirement`},
		{"a rule cannot select namespaces by label: only the configurations see them", head + "rules: [{name: a, kinds: [Pod], require: [{key: x}], exemptions: {namespaceSelector: {matchLabels: {a: b}}}}]\n", `rules[0].exemptions.namespaceSelector: only the top-level exemptions can select namespaces by label`},
		{"an invalid selector operator is named", head + "exemptions: {objectSelector: {matchExpressions: [{key: a, operator: Near}]}}\nrules: [{name: a, kinds: [Pod], require: [{key: x}]}]\n", `exemptions.objectSelector: "Near" is not a valid label selector operator`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := policy.Parse([]byte(tt.doc))
			if err == nil {
				t.Fatalf("policy accepted, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

func TestACustomKindIsCheckedAtItsDeclaredPlaces(t *testing.T) {
	p := mustParse(t, `
apiVersion: bouncer.dev/v1
kind: Policy
customKinds:
- {kind: Widget, group: example.com, version: v1, resource: widgets, templateLabelPaths: [spec.podTemplate.metadata.labels]}
rules:
- {name: owner, kinds: [Widget], require: [{key: owner}], defaults: {environment: development}}
`)
	r := review(Create, "example.com", "Widget", `{"metadata":{"name":"w","labels":{"owner":"a"}},"spec":{"podTemplate":{}}}`, "")
	d := answer(p.Validate(r))
	want := `Widget "w" in namespace "shop" was denied by bouncer: [owner] missing label "owner" at spec.podTemplate.metadata.labels`
	if d.Allowed || d.Message != want {
		t.Errorf("validate: allowed=%v message=%q, want %q", d.Allowed, d.Message, want)
	}
	got := applyPatch(t, r.Object, p.Mutate(r))
	if diff := jsonDiff(t, []byte(`{"metadata":{"name":"w","labels":{"owner":"a","environment":"development"}},"spec":{"podTemplate":{"metadata":{"labels":{"environment":"development"}}}}}`), got.Bytes()); diff != "" {
		t.Errorf("patched (-want +got):\n%s", diff)
	}
}

func TestAnObjectSelectorExemptionLoadsWithAWarningSayingWhoCanBypassIt(t *testing.T) {
	p := mustParse(t, `
apiVersion: bouncer.dev/v1
kind: Policy
exemptions: {objectSelector: {matchLabels: {bouncer.dev/exempt: "true"}}}
rules:
- {name: a, kinds: [Pod], require: [{key: owner}], exemptions: {objectSelector: {matchLabels: {skip: "yes"}}}}
`)
	want := []string{
		"exemptions.objectSelector: anyone who may create or update an object of the kinds it covers can set the selected labels on it and bypass the policy; exempt namespaces instead (exemptions.namespaceSelector: only those who may label Namespaces can use it)",
		"rules[0].exemptions.objectSelector: anyone who may create or update an object of the kinds it covers can set the selected labels on it and bypass the policy; exempt namespaces instead (exemptions.namespaceSelector: only those who may label Namespaces can use it)",
	}
	if diff := cmp.Diff(want, p.Warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	if w := policy.Default().Warnings; len(w) != 0 {
		t.Errorf("the default policy warns: %q", w)
	}
}
