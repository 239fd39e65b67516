package main

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"bouncer.dev/bouncer/internal/admissionpolicy"
	"bouncer.dev/bouncer/internal/guard"
	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/testpki"
)

// js reads a JSON literal as the audit reads the cluster's objects.
func js(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%v: %s", err, s)
	}
	return v
}

// clone copies a rendered object through JSON, as the API server would
// hand it back.
func clone(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return js(t, string(data)).(map[string]any)
}

func TestDiffIgnoresTheAPIServersDefaultsAndNothingElse(t *testing.T) {
	const webhook = `{"name": "validate.bouncer.dev", "failurePolicy": "Ignore",
	  "namespaceSelector": {"matchExpressions": [{"key": "bouncer.dev/exempt", "operator": "NotIn", "values": ["true"]}]},
	  "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["pods"], "scope": "*"}]}`
	tests := []struct {
		name      string
		want, got string
		drift     string // "" means equal; else what the difference must say
	}{
		{"an object equals itself", webhook, webhook, ""},
		{"a rule's missing scope equals the API server's \"*\"",
			`{"rules": [{"resources": ["pods"]}]}`, `{"rules": [{"resources": ["pods"], "scope": "*"}]}`, ""},
		{"a missing namespaceSelector equals the API server's {}",
			`{"name": "w"}`, `{"name": "w", "namespaceSelector": {}}`, ""},
		{"a missing objectSelector equals the API server's {}",
			`{"name": "w", "objectSelector": {}}`, `{"name": "w"}`, ""},
		{"a missing matchPolicy equals the API server's Equivalent",
			`{"name": "w"}`, `{"name": "w", "matchPolicy": "Equivalent"}`, ""},
		{"an empty list equals a missing one",
			`{"name": "w", "matchConditions": []}`, `{"name": "w"}`, ""},
		{"an added objectSelector is drift",
			`{"name": "w"}`, `{"name": "w", "objectSelector": {"matchLabels": {"skip": "yes"}}}`, "w.objectSelector.matchLabels is {\"skip\":\"yes\"}, the policy renders null"},
		{"an added matchResources is drift",
			`{"policyName": "p", "validationActions": ["Deny"]}`,
			`{"policyName": "p", "validationActions": ["Deny"], "matchResources": {"namespaceSelector": {"matchLabels": {"team": "a"}}}}`,
			"w.matchResources is {\"namespaceSelector\":{\"matchLabels\":{\"team\":\"a\"}}}, the policy renders null"},
		{"a namespaceSelector emptied by hand is drift", webhook, strings.Replace(webhook, `"matchExpressions": [{"key": "bouncer.dev/exempt", "operator": "NotIn", "values": ["true"]}]`, "", 1),
			"w.namespaceSelector.matchExpressions has 0 items, the policy renders 1"},
		{"a rule removed is drift", `{"rules": [{"resources": ["pods"]}, {"resources": ["jobs"]}]}`, `{"rules": [{"resources": ["pods"]}]}`,
			"w.rules has 1 items, the policy renders 2"},
		{"a resource added is drift", `{"rules": [{"resources": ["pods"]}]}`, `{"rules": [{"resources": ["pods", "secrets"]}]}`,
			"w.rules[0].resources has 2 items, the policy renders 1"},
		{"a changed scalar names its path", webhook, strings.Replace(webhook, `"UPDATE"`, `"DELETE"`, 1),
			`w.rules[0].operations[1] is "DELETE", the policy renders "UPDATE"`},
		{"a failurePolicy removed takes the API server's Fail and drifts", webhook, strings.Replace(webhook, `"failurePolicy": "Ignore",`, "", 1),
			`w.failurePolicy is "Fail", the policy renders "Ignore"`},
		{"a scope narrowed from the default is drift", `{"rules": [{"resources": ["pods"]}]}`, `{"rules": [{"resources": ["pods"], "scope": "Namespaced"}]}`,
			`w.rules[0].scope is "Namespaced", the policy renders "*"`},
		{"a list where an object was is drift", `{"namespaceSelector": {"matchLabels": {"a": "b"}}}`, `{"namespaceSelector": ["a"]}`,
			"w.namespaceSelector is not an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := diff(js(t, tt.want), js(t, tt.got), "w")
			if got != tt.drift {
				t.Errorf("diff = %q, want %q", got, tt.drift)
			}
		})
	}
}

func TestACABundleMustTrustACertificateThatHasNotExpired(t *testing.T) {
	ca, err := testpki.NewCA("bouncer-test-ca")
	if err != nil {
		t.Fatal(err)
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	now := time.Now()
	tests := []struct {
		name         string
		clientConfig string
		at           time.Time
		want         string // "" means trusted
	}{
		{"a URL without a caBundle is fine: the system roots verify it", `{"url": "https://bouncer.example.com/validate"}`, now, ""},
		{"a URL with a valid caBundle is fine", `{"url": "https://bouncer.example.com/validate", "caBundle": "` + b64(string(ca.PEM)) + `"}`, now, ""},
		{"a Service with a valid caBundle is fine", `{"service": {"namespace": "bouncer-system", "name": "bouncer"}, "caBundle": "` + b64(string(ca.PEM)) + `"}`, now, ""},
		{"a Service without a caBundle is a problem: the system roots never trust it", `{"service": {"namespace": "bouncer-system", "name": "bouncer"}}`, now,
			"caBundle is empty: the API server verifies an in-cluster Service's certificate against its system roots, which never trust it, so every call fails open"},
		{"a Service with an empty caBundle is a problem", `{"service": {"namespace": "bouncer-system", "name": "bouncer"}, "caBundle": ""}`, now, "caBundle is empty"},
		{"a caBundle that is not base64 is a problem", `{"url": "https://bouncer.example.com/validate", "caBundle": "not base64!"}`, now, "caBundle is not base64"},
		{"a caBundle that holds no certificate is a problem", `{"service": {"namespace": "bouncer-system", "name": "bouncer"}, "caBundle": "` + b64("trust me") + `"}`, now,
			"caBundle holds no PEM certificate: want one or more -----BEGIN CERTIFICATE----- blocks; every call fails open"},
		{"a caBundle whose certificate expired is a problem", `{"service": {"namespace": "bouncer-system", "name": "bouncer"}, "caBundle": "` + b64(string(ca.PEM)) + `"}`, now.Add(48 * time.Hour),
			"caBundle certificate 1 (bouncer-test-ca) expired on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := map[string]any{"name": "validate.bouncer.dev", "clientConfig": js(t, tt.clientConfig)}
			got := caProblem(w, tt.at)
			switch {
			case tt.want == "" && got != "":
				t.Errorf("a problem: %s", got)
			case tt.want != "" && !strings.Contains(got, tt.want):
				t.Errorf("problem %q, want %q", got, tt.want)
			}
		})
	}
}

// expectedOf finds one object among the default policy's enforcers.
func expectedOf(t *testing.T, kind, name string) expected {
	t.Helper()
	exp, err := enforcers(policy.Default())
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range exp {
		if x.kind == kind && x.name == name {
			return x
		}
	}
	t.Fatalf("the default policy renders no %s %s", kind, name)
	return expected{}
}

func TestCompareIgnoresWhereAWebhookPointsButNotWhatItMatches(t *testing.T) {
	ca, err := testpki.NewCA("bouncer-test-ca")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tests := []struct {
		name   string
		change func(w map[string]any)
		want   []string // each problem, by a part of it; none means as rendered
	}{
		{"the configuration as rendered has no problem", func(map[string]any) {}, nil},
		{"another URL and timeout are the deployment's choice", func(w map[string]any) {
			w["clientConfig"] = map[string]any{"url": "https://bouncer-abc123-ew.a.run.app/validate"}
			w["timeoutSeconds"] = 10.0
		}, nil},
		{"a Service with a caBundle is the deployment's choice", func(w map[string]any) {
			w["clientConfig"] = map[string]any{"service": map[string]any{"namespace": "bouncer-system", "name": "bouncer"},
				"caBundle": base64.StdEncoding.EncodeToString(ca.PEM)}
		}, nil},
		{"a Service without a caBundle trusts nothing", func(w map[string]any) {
			w["clientConfig"] = map[string]any{"service": map[string]any{"namespace": "bouncer-system", "name": "bouncer"}}
		}, []string{"webhooks[0] (validate.bouncer.dev): caBundle is empty"}},
		{"a rule removed is drift", func(w map[string]any) {
			w["rules"] = w["rules"].([]any)[1:]
		}, []string{"drifted from what the policy renders: webhooks[0].rules has 5 items, the policy renders 6"}},
		{"an operation removed from a rule is drift", func(w map[string]any) {
			w["rules"].([]any)[0].(map[string]any)["operations"] = []any{"CREATE"}
		}, []string{"webhooks[0].rules[0].operations has 1 items, the policy renders 2"}},
		{"the API server's defaults are no drift", func(w map[string]any) {
			w["objectSelector"] = map[string]any{}
			for _, r := range w["rules"].([]any) {
				delete(r.(map[string]any), "scope")
			}
		}, nil},
		{"an untrusting caBundle and drift are both reported", func(w map[string]any) {
			w["clientConfig"] = map[string]any{"service": map[string]any{"namespace": "bouncer-system", "name": "bouncer"}}
			w["objectSelector"] = map[string]any{"matchLabels": map[string]any{"skip": "yes"}}
		}, []string{"caBundle is empty", "webhooks[0].objectSelector.matchLabels is"}},
	}
	x := expectedOf(t, "ValidatingWebhookConfiguration", "bouncer-validate")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			live := clone(t, x.rendered)
			tt.change(live["webhooks"].([]any)[0].(map[string]any))
			got := compare(x, live, now)
			if len(got) != len(tt.want) {
				t.Fatalf("problems %q, want %d", got, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d: %q, want %q", i, got[i], w)
				}
			}
		})
	}
}

func TestCompareCountsTheWebhooksOfAConfiguration(t *testing.T) {
	x := expectedOf(t, "MutatingWebhookConfiguration", "bouncer-mutate")
	tests := []struct {
		name     string
		webhooks any
		want     string
	}{
		{"a configuration without webhooks has drifted", nil, "drifted: 0 webhooks where the policy renders 1"},
		{"a webhook added has drifted", []any{map[string]any{}, map[string]any{}}, "drifted: 2 webhooks where the policy renders 1"},
		{"a webhook that is not an object has drifted", []any{"validate.bouncer.dev"}, "drifted: webhooks[0] is not an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			live := clone(t, x.rendered)
			live["webhooks"] = tt.webhooks
			if got := compare(x, live, time.Now()); len(got) != 1 || got[0] != tt.want {
				t.Errorf("problems %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCompareJudgesACompiledPolicyByItsSpec(t *testing.T) {
	tests := []struct {
		name   string
		kind   string
		change func(live map[string]any)
		want   string // "" means as rendered
	}{
		{"the guard as the API server defaults it has no problem", "ValidatingAdmissionPolicy", func(live map[string]any) {
			mc := live["spec"].(map[string]any)["matchConstraints"].(map[string]any)
			mc["namespaceSelector"], mc["objectSelector"] = map[string]any{}, map[string]any{}
			live["metadata"].(map[string]any)["uid"] = "u"
			live["status"] = map[string]any{"observedGeneration": 1.0}
		}, ""},
		{"a guard that fails open has drifted", "ValidatingAdmissionPolicy", func(live map[string]any) {
			live["spec"].(map[string]any)["failurePolicy"] = "Ignore"
		}, `drifted from what the policy renders: spec.failurePolicy is "Ignore", the policy renders "Fail"`},
		{"a guard binding that only warns has drifted", "ValidatingAdmissionPolicyBinding", func(live map[string]any) {
			live["spec"].(map[string]any)["validationActions"] = []any{"Warn"}
		}, `spec.validationActions[0] is "Warn", the policy renders "Deny"`},
		{"a guard binding given matchResources has drifted", "ValidatingAdmissionPolicyBinding", func(live map[string]any) {
			live["spec"].(map[string]any)["matchResources"] = map[string]any{"objectSelector": map[string]any{"matchLabels": map[string]any{"a": "b"}}}
		}, "spec.matchResources is"},
		{"a policy without its spec has drifted", "ValidatingAdmissionPolicy", func(live map[string]any) {
			delete(live, "spec")
		}, "spec is not an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := expectedOf(t, tt.kind, "bouncer-namespace-guard")
			live := clone(t, x.rendered)
			tt.change(live)
			got := compare(x, live, time.Now())
			switch {
			case tt.want == "" && len(got) > 0:
				t.Errorf("problems %q", got)
			case tt.want != "" && (len(got) != 1 || !strings.Contains(got[0], tt.want)):
				t.Errorf("problems %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTheEnforcersOfTheDefaultPolicyAreTheGuardTheWebhooksAndTheCompiledPolicies(t *testing.T) {
	p := policy.Default()
	exp, err := enforcers(p)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{} // by engine: "kind name"
	for _, x := range exp {
		got[x.engine] = append(got[x.engine], x.kind+" "+x.name)
		if _, err := enforcerPath(x); err != nil {
			t.Errorf("%s %s: %v", x.kind, x.name, err)
		}
		if x.rendered == nil || x.name == "" {
			t.Errorf("%s %q has no rendering or no name", x.kind, x.name)
		}
	}
	var compiled []string
	for _, stage := range policy.Stages {
		objs, err := admissionpolicy.Build(p, stage)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs[len(guard.Build(p, "")):] {
			data, _ := json.Marshal(o)
			var tm struct {
				Kind     string
				Metadata struct{ Name string }
			}
			_ = json.Unmarshal(data, &tm)
			compiled = append(compiled, tm.Kind+" "+tm.Metadata.Name)
		}
	}
	tests := []struct {
		name, engine string
		want         []string
	}{
		{"the namespace guard is a policy and its binding", "guard", []string{
			"ValidatingAdmissionPolicy bouncer-namespace-guard", "ValidatingAdmissionPolicyBinding bouncer-namespace-guard"}},
		{"the webhooks are bouncer-validate and bouncer-mutate", "webhook", []string{
			"ValidatingWebhookConfiguration bouncer-validate", "MutatingWebhookConfiguration bouncer-mutate"}},
		{"the compiled objects are what bouncer compile renders, without the guard", "compiled", compiled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !slices.Equal(got[tt.engine], tt.want) {
				t.Errorf("%s: %q, want %q", tt.engine, got[tt.engine], tt.want)
			}
		})
	}
	// Both rules of the default policy are compiled, each with a binding.
	for _, want := range []string{"ValidatingAdmissionPolicy bouncer-require-owner-pods", "ValidatingAdmissionPolicyBinding bouncer-require-owner-pods",
		"MutatingAdmissionPolicy bouncer-default-environment-pods", "MutatingAdmissionPolicyBinding bouncer-default-environment-pods"} {
		if !slices.Contains(got["compiled"], want) {
			t.Errorf("the compiled objects lack %s: %q", want, got["compiled"])
		}
	}
	if len(got) != 3 {
		t.Errorf("engines %v, want guard, webhook and compiled", slices.Sorted(maps.Keys(got)))
	}
	for _, x := range exp {
		wantStage := policy.Stage(0)
		switch {
		case x.engine == "guard":
		case strings.HasPrefix(x.kind, "Mutating") || strings.Contains(x.name, "default-environment"):
			wantStage = policy.Mutation
		default:
			wantStage = policy.Validation
		}
		if x.stage != wantStage {
			t.Errorf("%s %s is of stage %v, want %v", x.kind, x.name, x.stage, wantStage)
		}
	}
}
