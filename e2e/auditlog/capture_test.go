//go:build capture

// The capture regenerates the golden audit events in testdata/auditlog/ from
// a real kube-apiserver and kube-controller-manager (the local e2e
// provider's binaries), so that the reader and the judgment are tested on
// what the API server writes, not on what we believe it writes:
//
//	cd e2e && BOUNCER_CONTROLPLANE=$PWD/../.cache/controlplane/v1.37.2/bin \
//	  go test -tags capture -count=1 -run TestCaptureAuditEvents -v ./auditlog/
//
// It is not part of `make test`: the fixtures are checked in, and the tests
// that read them (internal/auditlog's golden_test.go) say what each must
// hold. A new capture gives the controller's Pod another name and every event
// another audit ID: update those tests' expectations with it.
package auditlog_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bouncer.dev/bouncer/e2e/framework"
)

// captureAuditPolicy logs the writes bouncer re-judges with the object they
// stored (RequestResponse), and in two namespaces at the lower levels, where
// the object is not logged.
const captureAuditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Request
  namespaces: [level-request]
  verbs: [create, update, patch]
- level: Metadata
  namespaces: [level-metadata]
  verbs: [create, update, patch]
- level: RequestResponse
  verbs: [create, update, patch]
  resources:
  - {group: "", resources: [pods, pods/status]}
  - {group: apps, resources: [deployments, deployments/status, replicasets, replicasets/status]}
- level: None
`

// otherWebhook is somebody else's webhook, failing open on every Pod write:
// its fail-opens are not bouncer's.
const otherWebhook = `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: other}
webhooks:
- name: other.example.com
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Ignore
  timeoutSeconds: 1
  clientConfig: {url: "https://127.0.0.1:1/other"}
  rules:
  - {apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [pods]}
`

func pod(ns, name, labels string) string {
	return fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":%q,"namespace":%q,"labels":%s},`+
		`"spec":{"containers":[{"name":"c","image":"registry.k8s.io/pause:3.10"}]}}`, name, ns, labels)
}

func TestCaptureAuditEvents(t *testing.T) {
	binDir := os.Getenv("BOUNCER_CONTROLPLANE")
	if binDir == "" {
		t.Skip("BOUNCER_CONTROLPLANE names the control plane's binaries")
	}
	root, _ := filepath.Abs("../..")
	work := t.TempDir()
	t.Cleanup(framework.StopAll)
	ctx := context.Background()

	bin := filepath.Join(work, "bouncer")
	if _, errOut, err := framework.Run(ctx, 5*time.Minute, nil, nil, "go", "build", "-C", root, "-o", bin, "./cmd/bouncer"); err != nil {
		t.Fatalf("building bouncer: %v: %s", err, errOut)
	}
	policyFile := filepath.Join(work, "capture-audit-policy.yaml")
	if err := os.WriteFile(policyFile, []byte(captureAuditPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	// A repeated flag's last value wins: this policy replaces the provider's
	// (which StartLocal writes to audit-policy.yaml, hence another name).
	cp, err := framework.StartLocal(ctx, binDir, work, t.Logf, "--audit-policy-file="+policyFile)
	if err != nil {
		t.Fatal(err)
	}
	b, err := framework.StartBouncer(bin, work, "bouncer", cp.CA, "")
	if err != nil {
		t.Fatal(err)
	}
	env := &framework.Env{Kubectl: filepath.Join(binDir, "kubectl"), Kubeconfig: cp.Kubeconfig, URL: b.URL,
		CABundle: cp.CA.CertPEM, BouncerBin: bin, WorkDir: work}
	k := func(stdin string, args ...string) string {
		t.Helper()
		out, errOut, err := env.KIn(stdin, args...)
		if err != nil {
			t.Fatalf("kubectl %s: %v: %s", strings.Join(args, " "), err, errOut)
		}
		return out
	}
	for _, ns := range []string{"shop", "level-request", "level-metadata"} {
		k("", "create", "namespace", ns)
	}

	// bouncer down: its webhooks and the other one fail open.
	b.Proc.Stop(10 * time.Second)
	if err := env.InstallWebhooks(b.URL, 2); err != nil {
		t.Fatal(err)
	}
	k(otherWebhook, "apply", "-f", "-")
	time.Sleep(3 * time.Second) // the API server's webhook informer
	k(pod("shop", "escaped-violating", `{"app":"web"}`), "create", "-f", "-")
	k(pod("shop", "escaped-compliant", `{"owner":"team-a","environment":"prod"}`), "create", "-f", "-")
	k("", "label", "pod", "-n", "shop", "escaped-compliant", "owner-")
	k(pod("shop", "dry-run", `{}`), "create", "--dry-run=server", "-f", "-")
	k(pod("level-request", "at-request", `{}`), "create", "-f", "-")
	k("", "label", "pod", "-n", "level-request", "at-request", "tier=a")
	k(pod("level-metadata", "at-metadata", `{}`), "create", "-f", "-")
	k(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"shop","labels":{"owner":"team-a"}},`+
		`"spec":{"replicas":1,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},`+
		`"spec":{"containers":[{"name":"c","image":"registry.k8s.io/pause:3.10"}]}}}}`, "create", "-f", "-")
	// The Deployment controller's ReplicaSet and the ReplicaSet
	// controller's Pod, both failing open.
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(k("", "get", "pods", "-n", "shop", "-l", "app=web", "-o", "name"), "pod/web-") {
		if time.Now().After(deadline) {
			t.Fatal("the Deployment's Pod did not appear")
		}
		time.Sleep(500 * time.Millisecond)
	}
	// A write that fails after admission: nothing got in.
	if _, errOut, err := env.KIn(pod("shop", "escaped-violating", `{}`), "create", "-f", "-"); err == nil || !strings.Contains(errOut, "AlreadyExists") {
		t.Fatalf("a second create of one name: %v: %s", err, errOut)
	}

	// bouncer up: it judges; only the other webhook fails open.
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	if err := env.WaitEnforcing("shop"); err != nil {
		t.Fatal(err)
	}
	k(pod("shop", "judged", `{"owner":"team-a"}`), "create", "-f", "-")
	time.Sleep(2 * time.Second) // the log backend writes asynchronously

	raw, err := os.ReadFile(cp.AuditLog)
	if err != nil {
		t.Fatal(err)
	}
	keep := map[string]string{} // fixture name → line
	var all bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev struct {
			Stage, Verb string
			ObjectRef   struct{ Resource, Namespace, Name, Subresource string }
			User        struct{ Username string }
			RequestURI  string
		}
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.ObjectRef.Namespace != "shop" && !strings.HasPrefix(ev.ObjectRef.Namespace, "level-") {
			continue // the probes' and the namespaces' own events
		}
		all.Write(line)
		all.WriteByte('\n')
		var name string
		switch r := ev.ObjectRef; {
		case r.Resource == "pods" && r.Subresource == "" && ev.Verb == "create" && strings.Contains(ev.RequestURI, "dryRun"):
			name = "dry-run-create"
		case r.Resource == "pods" && r.Subresource == "" && ev.Verb == "create" && r.Name == "escaped-violating" && strings.Contains(string(line), `"code":409`):
			name = "create-already-exists"
		case r.Resource == "pods" && r.Subresource == "" && ev.Verb == "create" && r.Namespace == "shop" && strings.HasPrefix(r.Name, "web-"):
			name = "controller-pod-create"
		case r.Resource == "pods" && r.Subresource == "" && ev.Verb == "create" && r.Namespace == "shop" && r.Name == "":
			// The ReplicaSet controller creates with a generateName;
			// objectRef.name may stay empty.
			name = "controller-pod-create"
		case r.Resource == "pods" && r.Subresource == "" && ev.Verb == "create":
			name = "pod-create-" + r.Name
		case r.Resource == "pods" && r.Subresource == "" && ev.Verb == "patch":
			name = "pod-patch-" + r.Name
		case r.Resource == "replicasets" && r.Subresource == "" && ev.Verb == "create":
			name = "controller-replicaset-create"
		case r.Resource == "deployments" && r.Subresource == "" && ev.Verb == "create":
			name = "deployment-create"
		case r.Resource == "replicasets" && r.Subresource == "status" && ev.Verb == "update":
			name = "controller-replicaset-status-update"
		default:
			continue
		}
		if _, ok := keep[name]; !ok && ev.Stage == "ResponseComplete" {
			keep[name] = string(line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "testdata", "auditlog")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, line := range keep {
		if err := os.WriteFile(filepath.Join(dir, name+".json"), []byte(line+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s.json", name)
	}
	// The whole window, gzipped as the log backend's rotation leaves it.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(all.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "window.log.gz"), gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote window.log.gz: %d events, %d bytes (%d gzipped)", bytes.Count(all.Bytes(), []byte("\n")), all.Len(), gz.Len())
}
