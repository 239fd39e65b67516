package verify

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/rawjson"
	"bouncer.dev/bouncer/internal/verdict"
	"sigs.k8s.io/yaml"
)

// bouncer's own pods must pass its own default policy, or sit in an exempt
// namespace: a webhook that blocks its own scale-up never comes back.
func TestBouncersOwnPodsPassItsDefaultPolicy(t *testing.T) {
	p := policy.Default()
	svc := docs(t, "../../service.yaml")[0]
	tmpl := svc["spec"].(map[string]any)["template"]
	podJSON, _ := json.Marshal(tmpl)
	for _, ns := range []string{"default", "bouncer-system"} {
		if a := judge(t, p, "", "Pod", ns, podJSON); !a.Allowed || len(a.Warnings) > 0 {
			t.Errorf("the Knative Service's pods in %s: %+v", ns, a)
		}
	}
	for _, doc := range docs(t, "../kubernetes/deployment.yaml") {
		if doc["kind"] != "Deployment" {
			continue
		}
		obj, _ := json.Marshal(doc)
		for _, ns := range []string{"default", "bouncer-system"} {
			if a := judge(t, p, "apps", "Deployment", ns, obj); !a.Allowed || len(a.Warnings) > 0 {
				t.Errorf("the plain Deployment in %s: %+v", ns, a)
			}
		}
	}
	if !p.Exempt.Namespaces["bouncer-system"] {
		t.Error("bouncer-system, where the plain manifests run bouncer, is not exempt")
	}
}

// judge runs the admission chain on a CREATE of obj and returns validate's answer.
func judge(t *testing.T, p *policy.Policy, group, kind, ns string, obj []byte) verdict.Answer {
	t.Helper()
	v, err := rawjson.Parse(obj)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := p.Admit(&policy.Request{UID: "u", Group: group, Version: "v1", Kind: kind, Operation: policy.Create, Namespace: ns, Object: v})
	if err != nil {
		t.Fatal(err)
	}
	return verdict.For(&chain.Validate)
}

func docs(t *testing.T, path string) []map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, part := range strings.Split(string(raw), "\n---\n") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(part), &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if m != nil {
			out = append(out, m)
		}
	}
	return out
}
