package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
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
		{"clean manifests exit 0", "", []string{"check", "../../examples/compliant"}, exitOK, "0 denied", ""},
		{"the exempt examples are clean when an exemption admin applies them", "", []string{"check", "../../examples/compliant", "../../examples/exempt", "--as-group", "system:masters"}, exitOK, "0 denied", ""},
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
		{"a label the policy requires and defaults is added before validate sees the object, as in the API server", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n", []string{"check", "--policy", chain, "-"}, exitOK, "mutate env: would add environment=development at metadata.labels\nchecked 1 object in 1 file: 0 denied, 0 warnings, 0 audited, 1 label to add, 0 skipped\n", ""},
		{"flags may follow the paths, as with kubectl", "", []string{"check", "../../examples/compliant", "-o", "json"}, exitOK, `"denied": 0`, ""},
		{"-o json prints file names as they are", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n", []string{"check", "-", "-o", "json"}, exitViolations, `"file": "<stdin>"`, ""},
		{"a Pod in a Namespace of the input labelled exempt is exempt when an exemption admin creates the Namespace", "apiVersion: v1\nkind: Namespace\nmetadata: {name: migr, labels: {bouncer.dev/exempt: \"true\"}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: migr}\n", []string{"check", "--as-group", "system:masters", "-"}, exitOK, "0 denied", ""},
		{"a policy with an object-label exemption warns who can bypass it", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {owner: a}}\n", []string{"check", "--policy", "../../testdata/policies/object-label-exemption.yaml", "-"}, exitOK, "0 denied", "warning: policy ../../testdata/policies/object-label-exemption.yaml: exemptions.objectSelector: anyone who may create or update"},
		{"a controller-made Pod from kubectl get is judged as its controller made it: admitted with a warning naming the parent",
			"apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: web-1, labels: {owner: a}}\nspec: {template: {metadata: {labels: {app: web}}}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: web-1-x, labels: {app: web}, ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-1, uid: u, controller: true}]}\n",
			[]string{"check", "-"}, exitViolations, `Pod default/web-1-x: warn require-owner: missing label "owner" at metadata.labels (inherited from ReplicaSet "web-1")`, ""},
		{"a Pod whose ownerReference is no controller gets the ordinary verdict",
			"apiVersion: v1\nkind: Pod\nmetadata: {name: p, ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-1, uid: u}]}\n",
			[]string{"check", "-"}, exitViolations, `Pod default/p: deny require-owner`, ""},
		{"a Namespace's name label is there as the API server sets it, for selectors on it",
			"apiVersion: v1\nkind: Namespace\nmetadata: {name: legacy, creationTimestamp: \"2026-01-02T03:04:05Z\"}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: legacy}\n",
			[]string{"check", "--policy", write("byname.yaml", "apiVersion: bouncer.dev/v1\nkind: Policy\nexemptions: {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: legacy}}}\nrules: [{name: require-owner, kinds: [Pod], require: [{key: owner}]}]\n"), "-"}, exitOK, "0 denied", ""},
		{"--help shows an example on stdout and exits 0", "", []string{"check", "--help"}, exitOK, "Example:\n  kubectl get namespaces,pods", ""},
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

// TestCheckJudgesTheInputAsThePersonApplyingIt: an ownerReference is not an
// identity. A child is the controller's only when its parent is in the same
// input and was judged itself; otherwise the API server judges it as the
// person who sends it, and so does check.
func TestCheckJudgesTheInputAsThePersonApplyingIt(t *testing.T) {
	write := fileWriter(t)
	// The controllers that create Pods and Jobs are exempt: a child judged
	// as created by one of them is skipped, naming the identity.
	byController := write("controllers-exempt.yaml", `apiVersion: bouncer.dev/v1
kind: Policy
exemptions:
  users: [system:serviceaccount:kube-system:replicaset-controller, system:serviceaccount:kube-system:cronjob-controller]
rules: [{name: require-owner, kinds: [Pod, ReplicaSet, Job, CronJob], require: [{key: owner}]}]
`)
	onlyKCM := write("only-kcm.yaml", `apiVersion: bouncer.dev/v1
kind: Policy
controllers: [system:kube-controller-manager]
exemptions: {users: [system:kube-controller-manager]}
rules: [{name: require-owner, kinds: [Pod, ReplicaSet], require: [{key: owner}]}]
`)
	podsOnly := write("pods-only.yaml", `apiVersion: bouncer.dev/v1
kind: Policy
exemptions: {users: [system:serviceaccount:kube-system:replicaset-controller]}
rules: [{name: require-owner, kinds: [Pod], require: [{key: owner}]}]
`)
	people := write("people.yaml", `apiVersion: bouncer.dev/v1
kind: Policy
exemptions: {users: [alice], groups: [migrators]}
exemptionAdmins: {users: [root-of-trust]}
rules: [{name: require-owner, kinds: [Pod], require: [{key: owner}]}]
`)
	const (
		rs       = "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: web-1, namespace: shop, uid: u-1, labels: {owner: a}}\nspec: {template: {metadata: {labels: {app: web, owner: a}}}}\n---\n"
		rsNoUID  = "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: web-1, namespace: shop, labels: {owner: a}}\nspec: {template: {metadata: {labels: {app: web, owner: a}}}}\n---\n"
		rsOther  = "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: web-2, namespace: shop, uid: u-1, labels: {owner: a}}\nspec: {template: {metadata: {labels: {app: web, owner: a}}}}\n---\n"
		rsElse   = "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: web-1, namespace: other, uid: u-1, labels: {owner: a}}\nspec: {template: {metadata: {labels: {app: web, owner: a}}}}\n---\n"
		rsUID2   = "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: web-1, namespace: shop, uid: u-2, labels: {owner: a}}\nspec: {template: {metadata: {labels: {app: web, owner: a}}}}\n---\n"
		pod      = "apiVersion: v1\nkind: Pod\nmetadata: {name: web-1-x, namespace: shop, labels: {app: web}, ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-1, uid: u-1, controller: true}]}\n"
		cronJob  = "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly, namespace: shop, labels: {owner: a}}\nspec: {jobTemplate: {metadata: {labels: {owner: a}}, spec: {template: {metadata: {labels: {owner: a}}}}}}\n---\n"
		job      = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: nightly-29, namespace: shop, ownerReferences: [{apiVersion: batch/v1, kind: CronJob, name: nightly, controller: true}]}\nspec: {template: {metadata: {labels: {owner: a}}}}\n"
		plainPod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
		exemptNS = "apiVersion: v1\nkind: Namespace\nmetadata: {name: migr, labels: {bouncer.dev/exempt: \"true\"}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: migr}\n"
		refusal  = `Namespace migr: deny: Namespace "migr" was denied by bouncer: only exemptionAdmins may make a namespace match exemptions.namespaceSelector (created by an unnamed user; --as and --as-group name who applies it)`
	)
	tests := []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  []string // lines of standard output, each in full
	}{
		{"a Pod with a forged controller reference to a ReplicaSet that is not in the input is its sender's, and denied",
			pod, []string{"--policy", byController}, exitViolations,
			[]string{`<stdin>#1 Pod shop/web-1-x: deny require-owner: missing label "owner" at metadata.labels`}},
		{"the same Pod with its ReplicaSet in the input (same name, namespace and uid) is judged as the ReplicaSet controller makes it",
			rs + pod, []string{"--policy", byController, "-v"}, exitOK,
			[]string{"<stdin>#2 Pod shop/web-1-x: skipped: exempt user"}},
		{"a parent that gives no uid still counts", rsNoUID + pod, []string{"--policy", byController}, exitOK, nil},
		{"a parent of another name does not count",
			rsOther + pod, []string{"--policy", byController}, exitViolations,
			[]string{`<stdin>#2 Pod shop/web-1-x: deny require-owner: missing label "owner" at metadata.labels`}},
		{"a parent in another namespace does not count",
			rsElse + pod, []string{"--policy", byController}, exitViolations,
			[]string{`<stdin>#2 Pod shop/web-1-x: deny require-owner: missing label "owner" at metadata.labels`}},
		{"a parent with another uid does not count",
			rsUID2 + pod, []string{"--policy", byController}, exitViolations,
			[]string{`<stdin>#2 Pod shop/web-1-x: deny require-owner: missing label "owner" at metadata.labels`}},
		{"a parent of a kind the policy does not cover was not judged, so does not count",
			rs + pod, []string{"--policy", podsOnly, "-v"}, exitViolations,
			[]string{"<stdin>#1 ReplicaSet shop/web-1: skipped: kind not in policy",
				`<stdin>#2 Pod shop/web-1-x: deny require-owner: missing label "owner" at metadata.labels`}},
		{"a Job whose CronJob is in the input is judged as the CronJob controller makes it",
			cronJob + job, []string{"--policy", byController, "-v"}, exitOK,
			[]string{"<stdin>#2 Job shop/nightly-29: skipped: exempt user"}},
		{"a policy that lists only the kube-controller-manager's own user judges the child as that user",
			rs + pod, []string{"--policy", onlyKCM, "-v"}, exitOK,
			[]string{"<stdin>#2 Pod shop/web-1-x: skipped: exempt user"}},
		{"with the default policy the child of a parent in the input is admitted with a warning naming the parent",
			strings.ReplaceAll(rs, "owner: a", "owner: a, environment: production") + pod, nil, exitOK,
			[]string{`<stdin>#2 Pod shop/web-1-x: warn require-owner: missing label "owner" at metadata.labels (inherited from ReplicaSet "web-1")`}},
		{"--as reaches the decision: a user the policy exempts is skipped",
			plainPod, []string{"--policy", people, "--as", "alice", "-v"}, exitOK,
			[]string{"<stdin>#1 Pod default/p: skipped: exempt user"}},
		{"without --as the same Pod is an unnamed user's, and denied",
			plainPod, []string{"--policy", people}, exitViolations,
			[]string{`<stdin>#1 Pod default/p: deny require-owner: missing label "owner" at metadata.labels`}},
		{"--as-group reaches the decision: a group the policy exempts is skipped",
			plainPod, []string{"--policy", people, "--as", "bob", "--as-group", "devs", "--as-group", "migrators", "-v"}, exitOK,
			[]string{"<stdin>#1 Pod default/p: skipped: exempt user"}},
		{"a Namespace labelled exempt that an unnamed user creates is refused and exempts nothing",
			exemptNS, nil, exitViolations,
			[]string{"<stdin>#1 " + refusal,
				`<stdin>#2 Pod migr/p: deny require-owner: missing label "owner" at metadata.labels`,
				"<stdin>#2 Pod migr/p: mutate default-environment: would add environment=development at metadata.labels"}},
		{"a Namespace labelled exempt that system:masters creates exempts its objects",
			exemptNS, []string{"--as", "admin", "--as-group", "system:masters", "-v"}, exitOK,
			[]string{"<stdin>#2 Pod migr/p: skipped: exempt namespace label"}},
		{"an exemption admin named by user may create an exempt Namespace",
			"apiVersion: v1\nkind: Namespace\nmetadata: {name: migr, labels: {bouncer.dev/exempt: \"true\"}}\n---\n" + plainPod,
			[]string{"--policy", write("admin-ns.yaml", "apiVersion: bouncer.dev/v1\nkind: Policy\nexemptions: {namespaceSelector: {matchLabels: {bouncer.dev/exempt: \"true\"}}}\nexemptionAdmins: {users: [root-of-trust]}\nrules: [{name: require-owner, kinds: [Pod], require: [{key: owner}]}]\n"),
				"--as", "root-of-trust", "-n", "migr", "-v"}, exitOK,
			[]string{"<stdin>#2 Pod migr/p: skipped: exempt namespace label"}},
		{"a Namespace read from a cluster (it has a uid) exists already: it lends its labels without being judged",
			"apiVersion: v1\nkind: Namespace\nmetadata: {name: migr, uid: 6f1e, labels: {bouncer.dev/exempt: \"true\"}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: migr}\n",
			[]string{"-v"}, exitOK,
			[]string{"<stdin>#1 Namespace migr: skipped: namespace exists already (it has a uid or creationTimestamp): lends its labels, not judged as created",
				"<stdin>#2 Pod migr/p: skipped: exempt namespace label"}},
		{"creationTimestamp: null, as kubectl create --dry-run=client writes it, is no sign of a live Namespace",
			"apiVersion: v1\nkind: Namespace\nmetadata: {name: migr, creationTimestamp: null, labels: {bouncer.dev/exempt: \"true\"}}\n",
			nil, exitViolations, []string{"<stdin>#1 " + refusal}},
		{"a Namespace the policy exempts by name is refused to a non-admin, and objects in it stay exempt by name",
			"apiVersion: v1\nkind: Namespace\nmetadata: {name: kube-system}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: kube-system}\n",
			[]string{"-v"}, exitViolations,
			[]string{`<stdin>#1 Namespace kube-system: deny: Namespace "kube-system" was denied by bouncer: only exemptionAdmins may create a namespace that exemptions.namespaces names (created by an unnamed user; --as and --as-group name who applies it)`,
				"<stdin>#2 Pod kube-system/p: skipped: exempt namespace"}},
		{"a Pod in an exempt-by-name namespace that is not in the input is exempt, as that namespace exists already",
			"apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: kube-system}\n", []string{"-v"}, exitOK,
			[]string{"<stdin>#1 Pod kube-system/p: skipped: exempt namespace"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(tt.stdin, append(append([]string{"check"}, tt.args...), "-")...)
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			got := strings.Join(lines[:len(lines)-1], "\n") // without the summary
			if code != tt.code || got != strings.Join(tt.want, "\n") {
				t.Errorf("exit %d, want %d\n--- got\n%s\n--- want\n%s\n--- stderr\n%s", code, tt.code, got, strings.Join(tt.want, "\n"), errOut)
			}
		})
	}
}

func TestCheckInputEdges(t *testing.T) {
	write := fileWriter(t)
	ok1 := write("ok1.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: a, labels: {owner: x, environment: dev}}\n")
	ok2 := write("ok2.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: b, labels: {owner: x, environment: dev}}\n")
	bare := write("bare.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: c}\n")
	tests := []struct {
		name   string
		stdin  string
		args   []string
		code   int
		stdout string // the whole of standard output
		stderr string // the whole of standard error
	}{
		{"empty standard input is an error, as when kubectl failed", "", []string{"-"}, exitUsage,
			"checked 0 objects in 1 file: 0 denied, 0 warnings, 0 audited, 0 labels to add, 0 skipped, 1 error\n",
			"bouncer check: read nothing from standard input\n"},
		{"standard input of white space, comments and separators holds no document", "\n  \n# nothing\n---\n--- # still nothing\n", []string{"-"}, exitUsage,
			"checked 0 objects in 1 file: 0 denied, 0 warnings, 0 audited, 0 labels to add, 0 skipped, 1 error\n",
			"bouncer check: read nothing from standard input\n"},
		{"an empty List is a document, and clean", "apiVersion: v1\nkind: List\nitems: []\n", []string{"-"}, exitOK,
			"checked 0 objects in 1 file: 0 denied, 0 warnings, 0 audited, 0 labels to add, 0 skipped\n", ""},
		{"a kind the policy does not cover is counted as skipped, and a typo gets a suggestion with -v",
			"apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: web}\n---\napiVersion: v1\nkind: Deployment\nmetadata: {name: api}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
			[]string{"-", "-v"}, exitOK,
			"<stdin>#1 Deploymnet default/web: skipped: kind not in policy (did you mean apps/v1 Deployment?)\n" +
				"<stdin>#2 Deployment default/api: skipped: kind not in policy (did you mean apps/v1 Deployment?)\n" +
				"<stdin>#3 ConfigMap default/c: skipped: kind not in policy\n" +
				"checked 3 objects in 1 file: 0 denied, 0 warnings, 0 audited, 0 labels to add, 3 skipped\n", ""},
		{"without -v the summary still counts what was skipped",
			"apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: web}\n", []string{"-"}, exitOK,
			"checked 1 object in 1 file: 0 denied, 0 warnings, 0 audited, 0 labels to add, 1 skipped (-v names them)\n", ""},
		{"-f and --filename name files, repeatably, beside positional paths", "", []string{"-f", ok1, "--filename", ok2, bare}, exitViolations,
			bare + `#1 Pod default/c: deny require-owner: missing label "owner" at metadata.labels` + "\n" +
				bare + "#1 Pod default/c: mutate default-environment: would add environment=development at metadata.labels\n" +
				"checked 3 objects in 3 files: 1 denied, 0 warnings, 0 audited, 1 label to add, 0 skipped\n", ""},
		{"-n is short for --namespace", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n", []string{"-n", "kube-system", "-", "-v"}, exitOK,
			"<stdin>#1 Pod kube-system/p: skipped: exempt namespace\n" +
				"checked 1 object in 1 file: 0 denied, 0 warnings, 0 audited, 0 labels to add, 1 skipped\n", ""},
		{"one warning is singular",
			"apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: web-1, labels: {owner: a, environment: e}}\nspec: {template: {metadata: {labels: {owner: a, environment: e}}}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: web-1-x, labels: {environment: e}, ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-1, controller: true}]}\n",
			[]string{"-"}, exitOK,
			`<stdin>#2 Pod default/web-1-x: warn require-owner: missing label "owner" at metadata.labels (inherited from ReplicaSet "web-1")` + "\n" +
				"checked 2 objects in 1 file: 0 denied, 1 warning, 0 audited, 0 labels to add, 0 skipped\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(tt.stdin, append([]string{"check"}, tt.args...)...)
			if code != tt.code || out != tt.stdout || errOut != tt.stderr {
				t.Errorf("exit %d, want %d\n--- stdout\n%s--- want\n%s--- stderr\n%s--- want\n%s", code, tt.code, out, tt.stdout, errOut, tt.stderr)
			}
		})
	}
}

// TestCheckJSONCarriesTheErrors: a report read by a program must not look
// clean when the input was not read.
func TestCheckJSONCarriesTheErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: ok, labels: {owner: a}}\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: [unclosed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	type report struct {
		Results []struct{ Name string } `json:"results"`
		Errors  []inputError            `json:"errors"`
		Summary summary                 `json:"summary"`
	}
	tests := []struct {
		name    string
		stdin   string
		args    []string
		errors  []inputError
		objects int
	}{
		{"an unreadable document is an error naming the file, document and line", "", []string{bad}, []inputError{
			{File: bad, Document: 2, Line: 5, Message: "not valid YAML: yaml: line 9: did not find expected ',' or ']'"}}, 1},
		{"empty standard input is an error", "", []string{"-"}, []inputError{
			{File: "<stdin>", Message: "read nothing from standard input"}}, 0},
		{"a missing file is an error naming it", "", []string{filepath.Join(dir, "absent.yaml")}, []inputError{
			{File: filepath.Join(dir, "absent.yaml"), Message: "stat " + filepath.Join(dir, "absent.yaml") + ": no such file or directory"}}, 0},
		{"a clean input has an empty list of errors", "apiVersion: v1\nkind: List\nitems: []\n", []string{"-"}, []inputError{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, _ := runCLI(tt.stdin, append([]string{"check", "-o", "json"}, tt.args...)...)
			var r report
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("-o json is not JSON: %v\n%s", err, out)
			}
			wantCode := exitUsage
			if len(tt.errors) == 0 {
				wantCode = exitOK
			}
			if code != wantCode || !reflect.DeepEqual(r.Errors, tt.errors) || r.Summary.Errors != len(tt.errors) || r.Summary.Objects != tt.objects {
				t.Errorf("exit %d (want %d), errors %+v, summary %+v\nwant errors %+v and %d objects\n%s", code, wantCode, r.Errors, r.Summary, tt.errors, tt.objects, out)
			}
		})
	}
}

func TestAPolicyErrorFromTheEnvironmentNamesTheVariable(t *testing.T) {
	f := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(f, []byte("apiVersion: bouncer.dev/v1\nkind: Policy\nrules: [{name: a, kinds: [Pod], action: block, require: [{key: owner}]}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BOUNCER_POLICY", f)
	code, out, errOut := runCLI("apiVersion: v1\nkind: List\nitems: []\n", "check", "-")
	want := "bouncer check: policy " + f + ` (from $BOUNCER_POLICY): rules[0].action: unknown action "block"; want deny, warn or audit` + "\n"
	if code != exitUsage || out != "" || errOut != want {
		t.Errorf("exit %d, stdout %q\nstderr %q\nwant   %q", code, out, errOut, want)
	}
}

// fileWriter returns a function that writes a file into a fresh temporary
// directory and returns its path.
func fileWriter(t *testing.T) func(name, body string) string {
	t.Helper()
	dir := t.TempDir()
	return func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
}
