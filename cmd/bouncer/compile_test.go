package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestCompileEmitsEveryPolicyWithItsBinding(t *testing.T) {
	code, out, errOut := runCLI("", "compile")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	kinds := map[string]int{}
	names := map[string]map[string]bool{}
	for _, doc := range strings.Split(out, "\n---\n") {
		var o struct {
			Kind     string                `json:"kind"`
			Metadata struct{ Name string } `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatal(err)
		}
		kinds[o.Kind]++
		if names[o.Kind] == nil {
			names[o.Kind] = map[string]bool{}
		}
		names[o.Kind][o.Metadata.Name] = true
	}
	// The namespace guard; require-owner: three kind groups, each with a
	// policy for new violations and one warning about kept ones;
	// default-environment: three, and a warning about a default the
	// selector keeps out for the two groups with selectors.
	want := map[string]int{"ValidatingAdmissionPolicy": 9, "ValidatingAdmissionPolicyBinding": 9, "MutatingAdmissionPolicy": 3, "MutatingAdmissionPolicyBinding": 3}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d %s, want %d (all: %v)", kinds[k], k, n, kinds)
		}
	}
	for name := range names["ValidatingAdmissionPolicy"] {
		if !names["ValidatingAdmissionPolicyBinding"][name] {
			t.Errorf("policy %s has no binding", name)
		}
	}
	if !strings.Contains(out, "Kubernetes 1.30+; MutatingAdmissionPolicy 1.36+") {
		t.Error("the output does not state the minimum versions")
	}
}

func TestCompileOnlyValidatingLeavesMutationToTheWebhook(t *testing.T) {
	_, out, _ := runCLI("", "compile", "--only", "validating")
	if strings.Contains(out, "kind: MutatingAdmissionPolicy") || !strings.Contains(out, "kind: ValidatingAdmissionPolicy") {
		t.Error("--only validating emitted mutating policies, or no validating ones")
	}
	_, wh, _ := runCLI("", "webhookconfig", "--url", "https://x.example", "--only", "mutating")
	if strings.Contains(wh, "kind: ValidatingWebhookConfiguration") || !strings.Contains(wh, "kind: MutatingWebhookConfiguration") {
		t.Error("webhookconfig --only mutating is wrong")
	}
}

func TestCompileRefusesWhatCELCannotCarryNamingTheRule(t *testing.T) {
	f := filepath.Join(t.TempDir(), "p.yaml")
	_ = os.WriteFile(f, []byte(`apiVersion: bouncer.dev/v1
kind: Policy
customKinds: [{kind: Widget, group: example.com, version: v1, resource: widgets, templateLabelPaths: [spec.pod-template.metadata.labels]}]
rules: [{name: widget-owner, kinds: [Widget], require: [{key: owner}]}]
`), 0o644)
	code, out, errOut := runCLI("", "compile", "--policy", f)
	want := `rule widget-owner: kind Widget's label place spec.pod-template.metadata.labels has the field "pod-template", which CEL field selection cannot name`
	if code != exitUsage || out != "" || !strings.Contains(errOut, want) {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, out, errOut, want)
	}
	g := filepath.Join(t.TempDir(), "g.yaml")
	_ = os.WriteFile(g, []byte(`apiVersion: bouncer.dev/v1
kind: Policy
customKinds: [{kind: Widget, group: example.com, version: v1, resource: widgets, templateLabelPaths: [spec.pod__template.metadata.labels]}]
rules: [{name: widget-owner, kinds: [Widget], require: [{key: owner}]}]
`), 0o644)
	if code, _, errOut := runCLI("", "compile", "--policy", g); code != exitUsage || !strings.Contains(errOut, `"pod__template"`) {
		t.Errorf("a field with __ (which Kubernetes CEL escapes) was compiled: exit %d %s", code, errOut)
	}
	if code, _, _ := runCLI("", "compile", "--only", "both"); code != exitUsage {
		t.Errorf("--only both exits %d, want 2", code)
	}
}
