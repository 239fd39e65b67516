//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"bouncer.dev/bouncer/e2e/framework"
)

// auditOutput is what the test reads of `bouncer audit -o json`.
type auditOutput struct {
	Enforcement struct {
		Findings []struct{ Kind, Name, Problem string } `json:"findings"`
		Since    time.Time                              `json:"since"`
	} `json:"enforcement"`
	Results []struct {
		Kind, Namespace, Name, UID, Era string
		Denied                          bool
		Adds                            []struct{ Key string } `json:"adds"`
	} `json:"results"`
	Summary struct {
		Violating int  `json:"violating"`
		Through   int  `json:"reportedThroughParent"`
		Enforced  bool `json:"enforced"`
	} `json:"summary"`
}

// audit runs `bouncer audit` (through bouncer, as users type it) with the
// deployment's policy and returns its exit code and output.
func audit(t *testing.T, kubeconfig string, args ...string) (int, string, string) {
	t.Helper()
	a := []string{"audit", "--kubeconfig", kubeconfig}
	if env.PolicyFile != "" {
		a = append(a, "--policy", env.PolicyFile)
	}
	out, errOut, err := framework.Run(context.Background(), 2*time.Minute, nil, nil, env.BouncerBin, append(a, args...)...)
	code := 0
	if err != nil {
		code = -1
		if ee, ok := err.(interface{ ExitCode() int }); ok {
			code = ee.ExitCode()
		}
	}
	return code, out, errOut
}

func auditJSON(t *testing.T, args ...string) (int, auditOutput) {
	t.Helper()
	code, out, errOut := audit(t, env.Kubeconfig, append([]string{"-o", "json"}, args...)...)
	var a auditOutput
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatalf("bouncer audit -o json (exit %d) printed no JSON: %v\n%s\n%s", code, err, out, errOut)
	}
	return code, a
}

// removeEngine deletes what enforces the policy, the guard aside, and waits
// until a violating write gets in.
func removeEngine(t *testing.T, ns string) {
	t.Helper()
	if engine == "compiled" {
		for _, k := range []string{"validatingadmissionpolicybindings", "validatingadmissionpolicies", "mutatingadmissionpolicybindings", "mutatingadmissionpolicies"} {
			if _, errOut, err := env.K("delete", k, "-l", "app.kubernetes.io/managed-by=bouncer-compile", "--field-selector", "metadata.name!=bouncer-namespace-guard"); err != nil {
				t.Fatal(errOut)
			}
		}
	} else {
		for _, kn := range [][2]string{{"validatingwebhookconfiguration", "bouncer-validate"}, {"mutatingwebhookconfiguration", "bouncer-mutate"}} {
			if _, errOut, err := env.K("delete", kn[0], kn[1]); err != nil {
				t.Fatal(errOut)
			}
		}
	}
	eventually(t, 60*time.Second, "nothing enforces the policy", func() error {
		if _, errOut, err := create(t, ns, pod("probe", nil), "--dry-run=server"); err != nil {
			return errorf("still enforced: %s", strings.TrimSpace(errOut))
		}
		return nil
	})
}

// TestTheLiveAuditReportsWhatGotInAndWhen creates legacy objects before the
// engine is installed, then lets violating objects in (the functions
// stopped, so every call fails open; in the compiled engine, which cannot
// fail open, by the exempt break-glass user), then audits the live cluster:
// exactly the violating objects are reported, each as before or after
// enforcement began, a Deployment's ReplicaSet and Pod through it, and
// --apply writes Reports that the real OpenReports CRDs accept.
func TestTheLiveAuditReportsWhatGotInAndWhen(t *testing.T) {
	if env.Node != nil {
		t.Skip("the node provider runs the audit as its CronJob (TestTheAuditCronJobWritesTheReports)")
	}
	if engine == "compiled" {
		needBreakGlass(t)
	}
	root, _ := filepath.Abs("..")
	for _, crd := range []string{"openreports.io_reports.yaml", "openreports.io_clusterreports.yaml"} {
		if _, errOut, err := env.K("apply", "--server-side", "-f", filepath.Join(root, "deploy", "kubernetes", "audit", crd)); err != nil {
			t.Fatal(errOut)
		}
	}
	if _, errOut, err := env.K("wait", "--for=condition=Established", "crd/reports.openreports.io", "crd/clusterreports.openreports.io"); err != nil {
		t.Fatal(errOut)
	}
	// Not namespace(t): writes fail open here on purpose.
	ns := "e2e-live-audit"
	if _, errOut, err := env.K("create", "namespace", ns); err != nil {
		t.Fatal(errOut)
	}
	t.Cleanup(func() { _, _, _ = env.K("delete", "namespace", ns, "--wait=false") })
	t.Cleanup(func() {
		if err := installMain(); err != nil {
			t.Errorf("restoring the engine: %v", err)
		}
	})

	// Legacy: objects from before the policy was enforced.
	removeEngine(t, ns)
	mustCreate(t, ns, pod("legacy", map[string]string{"app": "old"}))
	mustCreate(t, ns, pod("legacy-good", map[string]string{"owner": "team-a", "environment": "production"}))
	time.Sleep(1100 * time.Millisecond) // creationTimestamp has whole seconds
	if err := installMain(); err != nil {
		t.Fatal(err)
	}

	// Got in while enforced.
	deploy := strings.Replace(workload("Deployment", "slipped-deploy", map[string]bool{"metadata.labels": false, "spec.template.metadata.labels": false}), `"replicas":0`, `"replicas":1`, 1)
	var as []string
	if engine == "compiled" {
		as = breakGlass
	} else {
		env.Bouncer.Proc.Stop(10 * time.Second)
	}
	mustCreate(t, ns, pod("slipped", map[string]string{"app": "new"}), as...)
	mustCreate(t, ns, deploy, as...)
	mustCreate(t, ns, pod("good", map[string]string{"owner": "team-a", "environment": "production"}), as...)
	if engine != "compiled" {
		if err := env.Bouncer.Start(); err != nil {
			t.Fatal(err)
		}
		if err := env.WaitEnforcing(probeNamespace); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 60*time.Second, "the Deployment's controller made its ReplicaSet and Pod", func() error {
		out, _, _ := env.K("get", "pods,replicasets", "-n", ns, "-l", "app=slipped-deploy", "-o", "name")
		if n := len(strings.Fields(out)); n < 2 {
			return errorf("%d objects: %q", n, out)
		}
		return nil
	})

	start := time.Now()
	code, a := auditJSON(t)
	t.Logf("FIGURE bouncer audit of the cluster: %v, exit %d", time.Since(start).Round(time.Millisecond), code)
	if code != 1 {
		t.Fatalf("bouncer audit exited %d on a cluster with violations, want 1", code)
	}
	if !a.Summary.Enforced || len(a.Enforcement.Findings) > 0 {
		t.Errorf("enforcement is on as rendered, but the audit found: %+v", a.Enforcement.Findings)
	}
	if _, text, _ := audit(t, env.Kubeconfig); true {
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
			if strings.Contains(l, ns+"/") || strings.HasPrefix(l, "audited ") {
				lines = append(lines, l)
			}
		}
		t.Logf("bouncer audit, this namespace's lines and the summary:\n%s", strings.Join(lines, "\n"))
	}
	got := map[string]string{}
	for _, r := range a.Results {
		if r.Namespace != ns {
			continue
		}
		if r.Denied {
			got[r.Kind+" "+r.Name] = r.Era
		} else if len(r.Adds) == 0 {
			t.Errorf("%s %s is reported with nothing to say", r.Kind, r.Name)
		}
	}
	want := map[string]string{"Pod legacy": "before-enforcement", "Pod slipped": "after-enforcement", "Deployment slipped-deploy": "after-enforcement"}
	if !mapsEqual(got, want) {
		t.Errorf("the audit reported as violating, by when they were created:\n%v\nwant exactly:\n%v", got, want)
	}
	if a.Summary.Through < 2 {
		_, text, _ := audit(t, env.Kubeconfig, "-v")
		var lines []string
		for _, l := range strings.Split(text, "\n") {
			if strings.Contains(l, ns+"/") {
				lines = append(lines, l)
			}
		}
		t.Errorf("the Deployment's ReplicaSet and Pod are not reported through it: %d objects reported through a parent; audit -v says:\n%s", a.Summary.Through, strings.Join(lines, "\n"))
	}

	// --apply: Reports the real CRDs accept, one per resource with a finding.
	if code, out, errOut := audit(t, env.Kubeconfig, "--apply"); code != 1 {
		t.Fatalf("bouncer audit --apply exited %d, want 1:\n%s%s", code, out, errOut)
	}
	reports := reportsIn(t, ns)
	for _, name := range []string{"legacy", "slipped"} {
		if r, ok := reports["Pod/"+name]; !ok || !slices.Contains(r, "fail") {
			t.Errorf("no Report with a fail result for Pod %s: %v", name, reports)
		}
	}
	if r := reports["Deployment/slipped-deploy"]; !slices.Contains(r, "fail") {
		t.Errorf("no Report with a fail result for the Deployment: %v", reports)
	}
	for scope := range reports {
		if strings.HasPrefix(scope, "ReplicaSet/") || strings.HasPrefix(scope, "Pod/slipped-deploy") {
			t.Errorf("a child is reported on its own as well as through its Deployment: %s", scope)
		}
	}
	if out, errOut, err := env.K("get", "reports", "-A"); err != nil || !strings.Contains(out, "bouncer-audit-") {
		t.Errorf("kubectl get reports -A shows no audit report: %v\n%s%s", err, out, errOut)
	} else {
		t.Logf("kubectl get reports -A:\n%s", out)
	}

	// Fix one object, delete another: their results leave the reports.
	if _, errOut, err := env.K("label", "pod", "slipped", "-n", ns, "owner=team-b"); err != nil {
		t.Fatal(errOut)
	}
	if _, errOut, err := env.K("delete", "pod", "legacy", "-n", ns, "--wait=false"); err != nil {
		t.Fatal(errOut)
	}
	eventually(t, 30*time.Second, "the legacy Pod is gone", func() error {
		if out, _, _ := env.K("get", "pod", "legacy", "-n", ns, "-o", "name", "--ignore-not-found"); out != "" {
			return errorf("still there")
		}
		return nil
	})
	if code, out, errOut := audit(t, env.Kubeconfig, "--apply"); code != 1 {
		t.Fatalf("bouncer audit --apply exited %d, want 1 (the Deployment still violates):\n%s%s", code, out, errOut)
	}
	reports = reportsIn(t, ns)
	if r := reports["Pod/slipped"]; slices.Contains(r, "fail") {
		t.Errorf("the fixed Pod's fail result is still reported: %v", r)
	}
	if _, ok := reports["Pod/legacy"]; ok {
		t.Errorf("the deleted Pod's Report is still there")
	}
	if r := reports["Deployment/slipped-deploy"]; !slices.Contains(r, "fail") {
		t.Errorf("the Deployment's Report lost its fail result: %v", reports)
	}
}

// reportsIn reads the namespace's Reports: by the scope's kind and name, the
// results' values.
func reportsIn(t *testing.T, ns string) map[string][]string {
	t.Helper()
	out, errOut, err := env.K("get", "reports.openreports.io", "-n", ns, "-o", "json")
	if err != nil {
		t.Fatal(errOut)
	}
	var list struct {
		Items []struct {
			Metadata struct{ Name string }
			Source   string
			Scope    struct{ Kind, Name, UID string }
			Results  []struct{ Result, Source, Policy string }
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	m := map[string][]string{}
	for _, r := range list.Items {
		if r.Source != "bouncer" || r.Metadata.Name != "bouncer-audit-"+r.Scope.UID {
			t.Errorf("report %s: source %q, scope uid %q: want source bouncer and the name bouncer-audit-<uid>", r.Metadata.Name, r.Source, r.Scope.UID)
		}
		var results []string
		for _, x := range r.Results {
			results = append(results, x.Result)
		}
		m[r.Scope.Kind+"/"+r.Scope.Name] = results
	}
	return m
}

// TestTheAuditSaysWhenEnforcementIsOff deletes and then tampers with what
// enforces validation: each is a finding, and the audit exits 1 on an
// otherwise clean namespace.
func TestTheAuditSaysWhenEnforcementIsOff(t *testing.T) {
	if env.Node != nil {
		t.Skip("runs on the local provider")
	}
	kind, name := "ValidatingWebhookConfiguration", "bouncer-validate"
	if engine == "compiled" {
		kind, name = "ValidatingAdmissionPolicyBinding", "bouncer-require-owner-pods"
	}
	t.Cleanup(func() {
		// kubectl apply keeps a field it did not set, such as a selector
		// added by hand: only a new object is as rendered.
		_, _, _ = env.K("delete", strings.ToLower(kind), name, "--ignore-not-found")
		if err := installMain(); err != nil {
			t.Errorf("restoring the engine: %v", err)
		}
	})
	tamper := []string{"patch", "validatingwebhookconfiguration", name, "--type=json",
		`-p=[{"op":"add","path":"/webhooks/0/objectSelector","value":{"matchLabels":{"skip-bouncer":"no"}}}]`}
	if engine == "compiled" {
		tamper = []string{"patch", "validatingadmissionpolicybinding", name, "--type=json",
			`-p=[{"op":"replace","path":"/spec/validationActions","value":["Audit"]}]`}
	}
	if _, errOut, err := env.K(tamper...); err != nil {
		t.Fatal(errOut)
	}
	code, a := auditJSON(t)
	if code != 1 || a.Summary.Enforced || !hasFinding(a, kind, name, "drifted") {
		t.Errorf("after tampering with %s %s: exit %d, findings %+v; want exit 1 and a drift finding", kind, name, code, a.Enforcement.Findings)
	}
	if _, errOut, err := env.K("delete", strings.ToLower(kind), name); err != nil {
		t.Fatal(errOut)
	}
	code, a = auditJSON(t)
	if code != 1 || a.Summary.Enforced || !hasFinding(a, kind, name, "") {
		t.Errorf("after deleting %s %s: exit %d, findings %+v; want exit 1 naming it", kind, name, code, a.Enforcement.Findings)
	}
	for _, f := range a.Enforcement.Findings {
		t.Logf("finding: %s %s: %s", f.Kind, f.Name, f.Problem)
	}
}

func hasFinding(a auditOutput, kind, name, problem string) bool {
	for _, f := range a.Enforcement.Findings {
		if strings.Contains(f.Problem, problem) && (f.Name == name && f.Kind == kind || strings.Contains(f.Problem, kind+" "+name)) {
			return true
		}
	}
	return false
}

// TestTheAuditNeedsOnlyItsRenderedRoleAndNamesAForbiddenKind runs the audit
// as a user bound to the ClusterRole that `bouncer audit rbac` renders:
// it reads and writes all it needs. Without list on CronJobs it exits 2
// naming them, and concludes nothing.
func TestTheAuditNeedsOnlyItsRenderedRoleAndNamesAForbiddenKind(t *testing.T) {
	if env.Node != nil {
		t.Skip("runs on the local provider")
	}
	needWebhook(t, "RBAC does not depend on the engine")
	args := []string{"audit", "rbac"}
	if env.PolicyFile != "" {
		args = append(args, "--policy", env.PolicyFile)
	}
	role, errOut, err := framework.Run(context.Background(), time.Minute, nil, nil, env.BouncerBin, args...)
	if err != nil {
		t.Fatal(errOut)
	}
	partial := strings.Replace(strings.Replace(role, "name: bouncer-audit\n", "name: bouncer-audit-partial\n", 1), "  - cronjobs\n", "", 1)
	partial = partial[:strings.Index(partial, "\n---")]
	for _, y := range []string{role, partial} {
		if _, errOut, err := env.KIn(y, "apply", "-f", "-"); err != nil {
			t.Fatal(errOut)
		}
	}
	t.Cleanup(func() {
		_, _, _ = env.K("delete", "clusterrole,clusterrolebinding", "bouncer-audit", "bouncer-audit-partial", "auditor-e2e", "--ignore-not-found")
	})
	for user, role := range map[string]string{"auditor-e2e": "bouncer-audit", "auditor-e2e-partial": "bouncer-audit-partial"} {
		if _, errOut, err := env.K("create", "clusterrolebinding", user, "--clusterrole="+role, "--user="+user); err != nil && !contains(errOut, "AlreadyExists") {
			t.Fatal(errOut)
		}
		t.Cleanup(func() { _, _, _ = env.K("delete", "clusterrolebinding", user, "--ignore-not-found") })
	}
	full, limited := impersonating(t, "auditor-e2e"), impersonating(t, "auditor-e2e-partial")
	// RBAC takes effect at once; the reports' CRDs come from the test above
	// or are installed here.
	root, _ := filepath.Abs("..")
	for _, crd := range []string{"openreports.io_reports.yaml", "openreports.io_clusterreports.yaml"} {
		if _, errOut, err := env.K("apply", "--server-side", "-f", filepath.Join(root, "deploy", "kubernetes", "audit", crd)); err != nil {
			t.Fatal(errOut)
		}
	}
	if code, out, errOut := audit(t, full, "--apply"); code == 2 {
		t.Errorf("the audit as a user with the rendered role exited 2:\n%s%s", out, errOut)
	}
	code, out, errOut := audit(t, limited)
	if code != 2 || !strings.Contains(errOut, "cronjobs.batch") || !strings.Contains(errOut, "forbidden") {
		t.Errorf("without list on cronjobs: exit %d, stderr:\n%s\nwant exit 2 naming cronjobs.batch and the forbidden list", code, errOut)
	}
	if strings.Contains(out, "audited") {
		t.Errorf("a half-read cluster printed a summary:\n%s", out)
	}
	t.Logf("exit %d: %s", code, strings.TrimSpace(errOut))
}

// impersonating writes a kubeconfig that acts as user, by impersonation.
func impersonating(t *testing.T, user string) string {
	t.Helper()
	data, err := os.ReadFile(env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	kc := strings.Replace(string(data), "user: {token: ", "user: {as: \""+user+"\", token: ", 1)
	if kc == string(data) {
		t.Fatalf("cannot add impersonation to %s", env.Kubeconfig)
	}
	p := filepath.Join(t.TempDir(), user+".kubeconfig")
	if err := os.WriteFile(p, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestTheAuditCronJobWritesTheReports deploys the scheduled audit as users
// do (make deploy-audit, with the functions' policy), runs its CronJob once
// as a Job, a Pod of bouncer's image under its own ServiceAccount and
// rendered RBAC, and finds the Report of a Pod that got in by the exempt
// user. The Job ends with exit 1 (violations found, reports written).
//
// The test node has no kube-proxy, so the Service IP the in-cluster
// configuration names is unreachable: the Job alone is given the host's
// network and the API server's loopback address instead, and the token
// volume that the test cluster's disabled ServiceAccount admission plugin
// would add. Those are the only changes from the CronJob.
func TestTheAuditCronJobWritesTheReports(t *testing.T) {
	if env.Node == nil {
		t.Skip("the CronJob needs a node")
	}
	needWebhook(t, "the CronJob does not depend on the engine")
	needBreakGlass(t)
	ns := namespace(t)
	if _, errOut, err := create(t, ns, pod("escaped", map[string]string{"app": "x"}), breakGlass...); err != nil {
		t.Fatal(errOut)
	}
	root, _ := filepath.Abs("..")
	out, errOut, err := framework.Run(context.Background(), 10*time.Minute, []string{"KUBECONFIG=" + env.Kubeconfig}, nil, "make", "-C", root, "deploy-audit",
		"IMAGE="+framework.BouncerImage, "POLICY="+env.PolicyFile, "KUBECTL="+env.Kubectl)
	if err != nil {
		t.Fatalf("make deploy-audit: %v\n%s%s", err, out, errOut)
	}
	job, errOut, err := env.K("-n", "bouncer-system", "create", "job", "--from=cronjob/bouncer-audit", "bouncer-audit-e2e", "--dry-run=client", "-o", "json")
	if err != nil {
		t.Fatal(errOut)
	}
	var j map[string]any
	if err := json.Unmarshal([]byte(job), &j); err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(strings.TrimPrefix(env.ControlPlane.Server, "https://"), ":")
	spec := j["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	spec["hostNetwork"] = true
	c := spec["containers"].([]any)[0].(map[string]any)
	envs, _ := c["env"].([]any)
	c["env"] = append(envs, map[string]any{"name": "KUBERNETES_SERVICE_HOST", "value": host}, map[string]any{"name": "KUBERNETES_SERVICE_PORT", "value": port})
	// The volume the ServiceAccount admission plugin adds to every Pod of a
	// real cluster; the test cluster runs without that plugin (every test
	// namespace would otherwise wait for its default ServiceAccount).
	vols, _ := spec["volumes"].([]any)
	spec["volumes"] = append(vols, map[string]any{"name": "kube-api-access", "projected": map[string]any{"sources": []any{
		map[string]any{"serviceAccountToken": map[string]any{"path": "token", "expirationSeconds": 3607}},
		map[string]any{"configMap": map[string]any{"name": "kube-root-ca.crt", "items": []any{map[string]any{"key": "ca.crt", "path": "ca.crt"}}}},
		map[string]any{"downwardAPI": map[string]any{"items": []any{map[string]any{"path": "namespace", "fieldRef": map[string]any{"fieldPath": "metadata.namespace"}}}}},
	}}})
	mounts, _ := c["volumeMounts"].([]any)
	c["volumeMounts"] = append(mounts, map[string]any{"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true})
	patched, _ := json.Marshal(j)
	if _, errOut, err := env.KIn(string(patched), "create", "-f", "-"); err != nil {
		t.Fatal(errOut)
	}
	t.Cleanup(func() {
		_, _, _ = env.K("-n", "bouncer-system", "delete", "job", "bouncer-audit-e2e", "--ignore-not-found", "--cascade=foreground")
		_, _, _ = env.K("-n", "bouncer-system", "delete", "cronjob", "bouncer-audit", "--ignore-not-found")
	})
	start := time.Now()
	var exit string
	eventually(t, 3*time.Minute, "the audit's Pod ran to its end", func() error {
		out, _, _ := env.K("-n", "bouncer-system", "get", "pods", "-l", "job-name=bouncer-audit-e2e", "-o",
			"jsonpath={.items[0].status.containerStatuses[0].state.terminated.exitCode}")
		if out == "" {
			return errorf("still running")
		}
		exit = out
		return nil
	})
	logs, _, _ := env.K("-n", "bouncer-system", "logs", "-l", "job-name=bouncer-audit-e2e", "--tail=5")
	t.Logf("FIGURE the audit Job's Pod ended with exit %s after %v; its last lines:\n%s", exit, time.Since(start).Round(time.Second), logs)
	if exit != "1" {
		t.Fatalf("the audit's Pod exited %s, want 1: a violating Pod is in the cluster", exit)
	}
	reports := reportsIn(t, ns)
	if r := reports["Pod/escaped"]; !slices.Contains(r, "fail") {
		t.Errorf("the CronJob wrote no fail result for the escaped Pod: %v", reports)
	}
	if out, _, _ := env.K("get", "clusterreports.openreports.io", "bouncer-audit-enforcement", "--ignore-not-found", "-o", "name"); out != "" {
		t.Errorf("the CronJob reports enforcement off on a cluster where it is on")
	}
}
