package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/check goldens; review the diff")

// golden compares got with testdata/check/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("../../testdata/check", name)
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/bouncer -run %s -update)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("output differs from %s:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestCheckOverTheExamplesMatchesTheGoldenText(t *testing.T) {
	code, out, errOut := runCLI("", "check", "../../examples")
	if code != exitViolations || errOut != "" {
		t.Fatalf("exit %d, stderr %q; want 1 and nothing", code, errOut)
	}
	golden(t, "examples.txt", strings.ReplaceAll(out, "../../", ""))
}

func TestCheckOverTheExamplesMatchesTheGoldenJSON(t *testing.T) {
	code, out, _ := runCLI("", "check", "-o", "json", "../../examples")
	if code != exitViolations {
		t.Fatalf("exit %d, want 1", code)
	}
	var v struct {
		Results []map[string]any `json:"results"`
		Summary map[string]int   `json:"summary"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("-o json is not JSON: %v", err)
	}
	golden(t, "examples.json", strings.ReplaceAll(out, "../../", ""))
}

func TestCheckExitCodes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		_ = os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	badYAML := write("bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: ok\n  labels: {owner: a}\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: [unclosed\n")
	noKind := write("nokind.yaml", "# a values file, not a manifest\nreplicas: 3\n")
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","labels":{"owner":"x"}}}`
	truncated := write("truncated.json", pod+"\n"+pod[:40])
	garbage := write("garbage.json", pod+"\n"+pod+" xyz")
	sepContent := write("sep.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: a, labels: {owner: x}}\n--- "+pod+"\n")
	chain := write("chain.yaml", "apiVersion: bouncer.dev/v1\nkind: Policy\nrules:\n- {name: env, kinds: [Pod], require: [{key: environment}], defaults: {environment: development}}\n")
	tests := []struct {
		name     string
		stdin    string
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{"clean manifests exit 0", "", []string{"check", "../../examples/compliant", "../../examples/exempt"}, exitOK, "0 denied", ""},
		{"violations exit 1", "", []string{"check", "../../examples/violations/pods.yaml"}, exitViolations, `Pod default/debug: deny require-owner: missing label "owner" at metadata.labels`, ""},
		{"stdin is read for -", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n", []string{"check", "-"}, exitViolations, "<stdin>#1 Pod default/p: deny", ""},
		{"--namespace places namespaceless manifests", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n", []string{"check", "--namespace", "kube-system", "-"}, exitOK, "0 denied", ""},
		{"a YAML error names the file, document and line", "", []string{"check", badYAML}, exitUsage, "", "bad.yaml: document 2 (line 7): not valid YAML: yaml: line 11"},
		{"a document that is no object names the file and document", "", []string{"check", noKind}, exitUsage, "", "nokind.yaml: document 1 (line 1): not a Kubernetes object: apiVersion and kind are required"},
		{"a missing file is a usage error", "", []string{"check", filepath.Join(dir, "absent.yaml")}, exitUsage, "", "absent.yaml: no such file"},
		{"no path is a usage error", "", []string{"check"}, exitUsage, "", "name at least one file"},
		{"an unknown output is a usage error", "", []string{"check", "-o", "xml", "-"}, exitUsage, "", `-o "xml": want text or json`},
		{"a bad policy is a usage error naming the field", "", []string{"check", "--policy", write("p.yaml", "apiVersion: bouncer.dev/v1\nkind: Policy\nrules: [{name: a, kinds: [Pod], action: nope, require: [{key: o}]}]\n"), "-"}, exitUsage, "", "rules[0].action"},
		{"a JSON stream cut short is exit 2 naming the file and the offset", "", []string{"check", truncated}, exitUsage, "", "truncated.json: document 1 (line 1): not valid JSON at byte 120: unexpected end of JSON input"},
		{"trailing garbage after a JSON stream is exit 2 naming the offset", "", []string{"check", garbage}, exitUsage, "", "garbage.json: document 1 (line 1): not valid JSON at byte 161: invalid character 'x' looking for beginning of value"},
		{"content on a --- line is refused as kubectl refuses it", "", []string{"check", sepContent}, exitUsage, "", `sep.yaml: document 2 (line 4): invalid YAML document separator: "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadat"…: put the document on the next line`},
		{"a label the policy requires and defaults is added before validate sees the object, as in the API server", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n", []string{"check", "--policy", chain, "-"}, exitOK, "mutate env: would add environment=development at metadata.labels\nchecked 1 objects in 1 files: 0 denied", ""},
		{"flags may follow the paths, as with kubectl", "", []string{"check", "../../examples/compliant", "-o", "json"}, exitOK, `"denied": 0`, ""},
		{"-o json prints file names as they are", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n", []string{"check", "-", "-o", "json"}, exitViolations, `"file": "<stdin>"`, ""},
		{"a Pod in a Namespace of the input labelled exempt is exempt", "apiVersion: v1\nkind: Namespace\nmetadata: {name: migr, labels: {bouncer.dev/exempt: \"true\"}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: migr}\n", []string{"check", "-"}, exitOK, "0 denied", ""},
		{"a policy with an object-label exemption warns who can bypass it", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {owner: a}}\n", []string{"check", "--policy", "../../testdata/policies/object-label-exemption.yaml", "-"}, exitOK, "0 denied", "warning: policy ../../testdata/policies/object-label-exemption.yaml: exemptions.objectSelector: anyone who may create or update"},
		{"a controller-made Pod from kubectl get is judged as its controller made it: admitted with a warning naming the parent",
			"apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: web-1, labels: {owner: a}}\nspec: {template: {metadata: {labels: {app: web}}}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: web-1-x, labels: {app: web}, ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-1, uid: u, controller: true}]}\n",
			[]string{"check", "-"}, exitViolations, `Pod default/web-1-x: warn require-owner: missing label "owner" at metadata.labels (inherited from ReplicaSet "web-1")`, ""},
		{"a Pod whose ownerReference is no controller gets the ordinary verdict",
			"apiVersion: v1\nkind: Pod\nmetadata: {name: p, ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-1, uid: u}]}\n",
			[]string{"check", "-"}, exitViolations, `Pod default/p: deny require-owner`, ""},
		{"a Namespace's name label is there as the API server sets it, for selectors on it",
			"apiVersion: v1\nkind: Namespace\nmetadata: {name: legacy}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: legacy}\n",
			[]string{"check", "--policy", write("byname.yaml", "apiVersion: bouncer.dev/v1\nkind: Policy\nexemptions: {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: legacy}}}\nrules: [{name: require-owner, kinds: [Pod], require: [{key: owner}]}]\n"), "-"}, exitOK, "0 denied", ""},
		{"--help shows an example and exits 0", "", []string{"check", "--help"}, exitOK, "", "Example:\n  kubectl get namespaces,pods"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(tt.stdin, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.inStdout) || !strings.Contains(errOut, tt.inStderr) {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant stdout to contain %q and stderr %q", code, tt.code, out, errOut, tt.inStdout, tt.inStderr)
			}
		})
	}
}
