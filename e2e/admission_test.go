//go:build e2e

package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestAPodWithoutOwnerIsDeniedWithThePolicysMessage(t *testing.T) {
	ns := namespace(t)
	mustDeny(t, ns, pod("web", map[string]string{"app": "web"}),
		denialPrefix("pods")+`Pod "web" in namespace "`+ns+`" was denied by bouncer: [require-owner] missing label "owner" at metadata.labels`)
	if _, errOut, err := env.K("get", "-n", ns, "pod", "web"); err == nil || !contains(errOut, "NotFound") {
		t.Errorf("the denied Pod exists: %s", errOut)
	}
}

func TestAPodWithOwnerIsAdmitted(t *testing.T) {
	ns := namespace(t)
	mustCreate(t, ns, pod("web", map[string]string{"owner": "team-a"}))
	if got := labelsAt(get(t, ns, "pod", "web"), "metadata.labels")["owner"]; got != "team-a" {
		t.Errorf("owner = %q", got)
	}
}

func TestAdmittedObjectsCarryDefaultsAndKeepTheirLabels(t *testing.T) {
	ns := namespace(t)
	tests := []struct {
		name   string
		labels map[string]string
		want   map[string]string
	}{
		{"plain", map[string]string{"owner": "team-a"}, map[string]string{"owner": "team-a", "environment": "development"}},
		{"prod", map[string]string{"owner": "team-a", "environment": "prod"}, map[string]string{"owner": "team-a", "environment": "prod"}},
		{"slashes", map[string]string{"owner": "team-a", "app.kubernetes.io/name": "web", "example.com/tier": "front", "a.b/c-d": "e"},
			map[string]string{"owner": "team-a", "app.kubernetes.io/name": "web", "example.com/tier": "front", "a.b/c-d": "e", "environment": "development"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustCreate(t, ns, pod(tt.name, tt.labels))
			got := labelsAt(get(t, ns, "pod", tt.name), "metadata.labels")
			if len(got) != len(tt.want) {
				t.Errorf("labels = %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("label %s = %q, want %q (all: %v)", k, got[k], v, got)
				}
			}
		})
	}
}

func TestServerSideDryRunGetsTheSameDecisions(t *testing.T) {
	ns := namespace(t)
	want := `Pod "dry" in namespace "` + ns + `" was denied by bouncer: [require-owner] missing label "owner" at metadata.labels`
	mustDeny(t, ns, pod("dry", nil), want, "--dry-run=server")
	mustDeny(t, ns, pod("dry", nil), want)
	out, errOut, err := create(t, ns, pod("dry", map[string]string{"owner": "a"}), "--dry-run=server", "-o", "json")
	if err != nil {
		t.Fatalf("compliant dry run refused: %s", errOut)
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(out), &obj); err != nil {
		t.Fatalf("dry-run output: %v\n%s", err, out)
	}
	if got := labelsAt(obj, "metadata.labels")["environment"]; got != "development" {
		t.Errorf("dry-run object's environment = %q, want the default added", got)
	}
	if _, errOut, err := env.K("get", "-n", ns, "pod", "dry"); err == nil || !contains(errOut, "NotFound") {
		t.Errorf("a dry run stored the Pod: %s", errOut)
	}
}

func TestAWarnRuleShowsAWarningAndAdmits(t *testing.T) {
	if !hasRule("want-cost-center") {
		t.Skip("the deployment's policy has no warn rule want-cost-center")
	}
	ns := namespace(t)
	out := mustCreate(t, ns, workload("StatefulSet", "db", nil))
	want := `bouncer: StatefulSet "db" in namespace "` + ns + `": [want-cost-center] missing label "cost-center" at metadata.labels`
	if !strings.Contains(out, want) || !strings.Contains(out, "Warning: ") {
		t.Errorf("kubectl printed:\n%s\nwant:\n%s", out, want)
	}
	get(t, ns, "statefulset", "db")
}

func hasRule(name string) bool {
	for _, r := range env.Policy.Rules {
		if r.Name == name {
			return true
		}
	}
	return false
}
