//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// labelExempt sets or removes bouncer.dev/exempt=true on a namespace and
// waits until the API server applies it: objects made while it is set
// predate the policy as far as bouncer knows.
func labelExempt(t *testing.T, ns string, exempt bool) {
	t.Helper()
	arg := "bouncer.dev/exempt=true"
	if !exempt {
		arg = "bouncer.dev/exempt-"
	}
	if _, errOut, err := env.K("label", "namespace", ns, arg); err != nil {
		t.Fatalf("kubectl label namespace %s %s: %s", ns, arg, errOut)
	}
	// The API server reads namespace labels from its informer: wait until
	// the selector sees the change.
	probe := pod("probe", map[string]string{"app": "probe"})
	eventually(t, 30*time.Second, "the namespace label takes effect", func() error {
		_, errOut, err := create(t, ns, probe, "--dry-run=server")
		if denied := err != nil && contains(errOut, "denied"); denied == exempt {
			return fmt.Errorf("dry-run probe: err=%v %s", err, errOut)
		}
		return nil
	})
}

// items lists objects of a resource in ns as decoded JSON.
func items(t *testing.T, ns, resource, selector string) []map[string]any {
	t.Helper()
	args := []string{"get", "-n", ns, resource, "-o", "json"}
	if selector != "" {
		args = append(args, "-l", selector)
	}
	out, errOut, err := env.K(args...)
	if err != nil {
		t.Fatalf("kubectl get %s: %s", resource, errOut)
	}
	var list struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func name(obj map[string]any) string {
	m, _ := obj["metadata"].(map[string]any)
	s, _ := m["name"].(string)
	return s
}

// actAsKubelet marks every Pod in ns Ready through pods/status, as a
// kubelet does when its containers start, until stop is closed: there is no
// kubelet on the local provider, and a rollout waits for available Pods.
// These are ordinary status writes, which change no label. On the node
// provider the kubelet does this itself.
func actAsKubelet(t *testing.T, ns string, stop chan struct{}) *sync.WaitGroup {
	t.Helper()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		ready := map[string]bool{}
		for {
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Millisecond):
			}
			out, _, err := env.K("get", "-n", ns, "pods", "-o", "jsonpath={range .items[*]}{.metadata.name}{\"\\n\"}{end}")
			if err != nil {
				continue
			}
			for _, p := range strings.Fields(out) {
				if ready[p] {
					continue
				}
				now := time.Now().UTC().Format(time.RFC3339)
				patch := fmt.Sprintf(`{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True","lastTransitionTime":%q},{"type":"ContainersReady","status":"True","lastTransitionTime":%q}]}}`, now, now)
				if _, _, err := env.K("-n", ns, "patch", "pod", p, "--subresource=status", "--type=merge", "-p", patch); err == nil {
					ready[p] = true
				}
			}
		}
	}()
	return &wg
}

// TestALegacyDeploymentRollsOutWithoutAReplicaSetStorm rolls out a
// Deployment that predates the policy, with neither owner nor environment:
// the Deployment's UPDATE keeps its violation (a warning), the ReplicaSet
// and Pods its controllers make follow its verdict (warnings and an audit
// annotation naming the parent), and because mutate adds nothing to what
// the controllers copy (and never touches the template of a ReplicaSet a
// Deployment controls), the Deployment controller recognises its
// ReplicaSet: exactly two exist a minute later, and the rollout completes.
func TestALegacyDeploymentRollsOutWithoutAReplicaSetStorm(t *testing.T) {
	ns := namespace(t)
	labelExempt(t, ns, true)
	legacy := strings.Replace(workload("Deployment", "web", map[string]bool{"metadata.labels": false, "spec.template.metadata.labels": false}),
		`"replicas":0`, `"replicas":2,"strategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":0}}`, 1)
	mustCreate(t, ns, legacy)
	if env.Node == nil {
		stop := make(chan struct{})
		kubelet := actAsKubelet(t, ns, stop)
		defer func() { close(stop); kubelet.Wait() }()
	}
	eventually(t, 90*time.Second, "the legacy Deployment is available", func() error {
		d := get(t, ns, "deployment", "web")
		st, _ := d["status"].(map[string]any)
		if st["availableReplicas"] != 2.0 {
			return fmt.Errorf("status %v", st)
		}
		return nil
	})
	if l := labelsAt(get(t, ns, "deployment", "web"), "spec.template.metadata.labels"); l["owner"] != "" || l["environment"] != "" {
		t.Fatalf("the legacy Deployment was judged while its namespace was exempt: %v", l)
	}
	labelExempt(t, ns, false)

	_, next, _ := images()
	out, errOut, err := env.K("-n", ns, "set", "image", "deployment/web", "c="+next)
	if err != nil {
		t.Fatalf("kubectl set image was refused: %s", errOut)
	}
	// The webhook warns once per violation, a compiled policy once with
	// all of them.
	for _, want := range []string{`Deployment "web" in namespace "` + ns + `": kept an existing violation, fix it: [require-owner] missing label "owner" at `,
		`[require-owner] missing label "owner" at spec.template.metadata.labels`} {
		if !strings.Contains(out+errOut, want) {
			t.Errorf("kubectl set image printed:\n%s%s\nwant the warning %q", out, errOut, want)
		}
	}
	rollout, rerrOut, rerr := env.K("-n", ns, "rollout", "status", "deployment/web", "--timeout=50s")
	if rerr != nil {
		t.Fatalf("kubectl rollout status did not complete: %v\n%s%s", rerr, rollout, rerrOut)
	}
	t.Logf("kubectl rollout status: %s", strings.TrimSpace(rollout))

	// A storm would show within seconds (dozens of ReplicaSets in 25 s when
	// templates are mutated); watch for a minute.
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if n := len(items(t, ns, "replicasets", "app=web")); n > 2 {
			t.Fatalf("%d ReplicaSets: the Deployment controller did not recognise its ReplicaSet", n)
		}
		time.Sleep(2 * time.Second)
	}
	rss := items(t, ns, "replicasets", "app=web")
	if len(rss) != 2 {
		t.Fatalf("%d ReplicaSets a minute after the rollout, want exactly 2", len(rss))
	}
	d := get(t, ns, "deployment", "web")
	if cc, ok := d["status"].(map[string]any)["collisionCount"]; ok {
		t.Errorf("status.collisionCount = %v: the controller met a ReplicaSet whose template it did not recognise", cc)
	}
	var newRS map[string]any
	for _, rs := range rss {
		if strings.Contains(fmt.Sprint(rs["spec"]), next) {
			newRS = rs
		}
	}
	if newRS == nil {
		t.Fatal("no ReplicaSet for the new image")
	}
	// bouncer changes what people write, never what controllers copy: the
	// legacy parent lacks environment, so its children do too.
	for _, place := range []string{"metadata.labels", "spec.template.metadata.labels"} {
		if l := labelsAt(newRS, place); l["environment"] != "" {
			t.Errorf("the new ReplicaSet got a default at %s, which its controller copies from the Deployment: %v", place, l)
		}
	}
	pods := items(t, ns, "pods", "app=web")
	if len(pods) != 2 {
		t.Errorf("%d Pods, want the new ReplicaSet's 2", len(pods))
	}
	for _, p := range pods {
		if l := labelsAt(p, "metadata.labels"); l["environment"] != "" || l["owner"] != "" {
			t.Errorf("Pod %s has labels %v, want neither environment nor owner, as its template", name(p), l)
		}
	}
	expectInheritedAudit(t, ns, "replicasets", name(newRS), `Deployment "web" by system:serviceaccount:kube-system:deployment-controller: [require-owner] missing label "owner" at metadata.labels; [require-owner] missing label "owner" at spec.template.metadata.labels`)
	for _, p := range pods {
		expectInheritedAudit(t, ns, "pods", name(p), `ReplicaSet "`+name(newRS)+`" by system:serviceaccount:kube-system:replicaset-controller: [require-owner] missing label "owner" at metadata.labels`)
	}
	if env.Logs != nil {
		for _, dec := range decisionsFor(t, ns, "") {
			if dec.S("function") == "validate" && dec.S("kind") == "ReplicaSet" && dec.S("operation") == "CREATE" && dec.S("parent") != "Deployment/web" {
				t.Errorf("the ReplicaSet's decision does not name its parent: %v", dec)
			}
		}
	}
}

// expectInheritedAudit finds the create of ns/name in the audit log and
// checks the annotation that names its parent.
func expectInheritedAudit(t *testing.T, ns, resource, objName, want string) {
	t.Helper()
	if env.ControlPlane == nil {
		return // the audit log is the control plane's, out of reach elsewhere
	}
	eventually(t, 20*time.Second, "the audit event of "+resource+"/"+objName, func() error {
		evs, err := env.AuditEvents()
		if err != nil {
			return err
		}
		for _, ev := range evs {
			if ev.ObjectRef.Resource != resource || ev.ObjectRef.Namespace != ns || ev.ResponseStatus.Code != 201 {
				continue
			}
			if ev.ObjectRef.Name != objName && !(resource == "pods" && ev.ObjectRef.Name == "") {
				continue
			}
			for k, v := range ev.Annotations {
				if strings.HasSuffix(k, "/inherited-violation") && v == want {
					return nil
				}
			}
		}
		return fmt.Errorf("no create of %s %s/%s with the inherited-violation annotation %q", resource, ns, objName, want)
	})
}

// TestAReplicaSetWithAHandWrittenControllerReferenceIsDenied: anyone may
// write an ownerReference, so one is no credential without a controller's
// identity.
func TestAReplicaSetWithAHandWrittenControllerReferenceIsDenied(t *testing.T) {
	ns := namespace(t)
	rs := strings.Replace(workload("ReplicaSet", "forged", map[string]bool{"metadata.labels": false, "spec.template.metadata.labels": false}),
		`"metadata":{"name":"forged",`,
		`"metadata":{"name":"forged","ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"web","uid":"3a9d3f4e-0000-4000-8000-000000000001","controller":true}],`, 1)
	mustDeny(t, ns, rs, denialPrefix("deployments")+`ReplicaSet "forged" in namespace "`+ns+`" was denied by bouncer: [require-owner] missing label "owner" at metadata.labels; [require-owner] missing label "owner" at spec.template.metadata.labels`)
}

// TestRemovingOwnerThroughTheStatusSubresourceIsDenied: the pod status
// strategy keeps metadata changes, so pods/status is registered, behind a
// condition that only lets label changes through.
func TestRemovingOwnerThroughTheStatusSubresourceIsDenied(t *testing.T) {
	ns := namespace(t)
	mustCreate(t, ns, pod("web", map[string]string{"owner": "team-a"}))
	_, errOut, err := env.K("-n", ns, "patch", "pod", "web", "--subresource=status", "--type=merge", "-p", `{"metadata":{"labels":{"owner":null}}}`)
	want := `Pod "web" in namespace "` + ns + `" was denied by bouncer: [require-owner] missing label "owner" at metadata.labels`
	if err == nil || !strings.Contains(errOut, want) {
		t.Fatalf("removing owner through pods/status: err=%v\n%s\nwant the denial %q", err, errOut, want)
	}
	if got := labelsAt(get(t, ns, "pod", "web"), "metadata.labels")["owner"]; got != "team-a" {
		t.Errorf("owner = %q after the refused status write", got)
	}
	before := len(statusDecisions(t, ns, "web"))
	for i := 0; i < 3; i++ {
		_, errOut, err := env.K("-n", ns, "patch", "pod", "web", "--subresource=status", "--type=merge",
			"-p", fmt.Sprintf(`{"status":{"conditions":[{"type":"example.com/Probe%d","status":"True"}]}}`, i))
		if err != nil {
			t.Fatalf("an ordinary status write was refused: %s", errOut)
		}
	}
	if env.Logs == nil {
		return
	}
	// A control request that does reach the functions, so that silence
	// about the status writes means something.
	mustCreate(t, ns, pod("control", map[string]string{"owner": "team-a"}))
	eventually(t, 10*time.Second, "the control Pod's decisions are logged", func() error {
		if n := len(decisionsFor(t, ns, "control")); n < 2 {
			return fmt.Errorf("%d lines for the control Pod", n)
		}
		return nil
	})
	if after := len(statusDecisions(t, ns, "web")); after != before {
		t.Errorf("ordinary status writes reached the functions: %d status decisions before, %d after", before, after)
	}
	t.Logf("FIGURE status writes: 1 label change reached the functions (%d decisions), 3 ordinary status writes reached none", before)
}

// statusDecisions are the decision log lines about status writes to a Pod.
func statusDecisions(t *testing.T, ns, name string) []map[string]any {
	t.Helper()
	if env.Logs == nil {
		return nil
	}
	var out []map[string]any
	for _, d := range decisionsFor(t, ns, name) {
		if d.S("operation") == "UPDATE" {
			out = append(out, d)
		}
	}
	return out
}

// TestTheExemptLabelWorksOnNamespacesOnly: a Namespace labelled
// bouncer.dev/exempt=true exempts what is in it, and only those who may
// label Namespaces can do that; the same label on a Pod exempts nothing.
func TestTheExemptLabelWorksOnNamespacesOnly(t *testing.T) {
	ns := namespace(t)
	exempt := ns + "-x"
	if _, errOut, err := env.K("create", "namespace", exempt); err != nil {
		t.Fatalf("creating %s: %s", exempt, errOut)
	}
	t.Cleanup(func() { _, _, _ = env.K("delete", "namespace", exempt, "--wait=false") })
	labelExempt(t, exempt, true)
	mustCreate(t, exempt, pod("legacy", map[string]string{"app": "x"}))
	if l := labelsAt(get(t, exempt, "pod", "legacy"), "metadata.labels"); l["environment"] != "" {
		t.Errorf("a Pod in an exempt namespace was mutated: %v", l)
	}
	mustDeny(t, ns, pod("sneaky", map[string]string{"bouncer.dev/exempt": "true"}),
		denialPrefix("pods")+`Pod "sneaky" in namespace "`+ns+`" was denied by bouncer: [require-owner] missing label "owner" at metadata.labels`)
	if env.Logs != nil {
		mustCreate(t, ns, pod("control", map[string]string{"owner": "team-a"}))
		eventually(t, 10*time.Second, "the control Pod's decisions are logged", func() error {
			if n := len(decisionsFor(t, ns, "control")); n < 2 {
				return fmt.Errorf("%d lines for the control Pod", n)
			}
			return nil
		})
		if got := decisionsFor(t, exempt, "legacy"); len(got) > 0 {
			t.Errorf("a Pod in an exempt namespace reached the functions: %v", got)
		}
	}
}
