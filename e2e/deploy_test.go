//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bouncer.dev/bouncer/e2e/framework"
)

// knativeServing is the Knative release whose CRDs validate service.yaml.
const knativeServing = "knative.dev/serving@v0.51.0"

// installKnativeCRDs installs the Knative Service CRD, with its full OpenAPI
// schema, from the knative.dev/serving module.
func installKnativeCRDs(t *testing.T) {
	t.Helper()
	out, errOut, err := framework.Run(context.Background(), 5*time.Minute, nil, nil, "go", "mod", "download", "-json", knativeServing)
	if err != nil {
		t.Fatalf("go mod download %s: %v\n%s", knativeServing, err, errOut)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal([]byte(out), &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download printed %q", out)
	}
	crd := filepath.Join(mod.Dir, "config", "core", "300-resources", "service.yaml")
	if _, errOut, err := env.K("apply", "--server-side", "-f", crd); err != nil {
		t.Fatalf("installing the Knative Service CRD: %s", errOut)
	}
	if _, errOut, err := env.K("wait", "--for=condition=Established", "--timeout=60s", "crd/services.serving.knative.dev"); err != nil {
		t.Fatalf("the CRD is not established: %s", errOut)
	}
}

// render runs the render step as the Makefile does.
func render(t *testing.T, platform, image string, extra ...string) string {
	t.Helper()
	args := append([]string{"-C", "../deploy", "run", "./render", "--platform", platform, "--image", image}, extra...)
	if platform == "cloudrun" {
		args = append(args, "--service-account", "bouncer-runtime@project.iam.gserviceaccount.com")
	}
	out, errOut, err := framework.Run(context.Background(), 3*time.Minute, nil, nil, "go", args...)
	if err != nil {
		t.Fatalf("render %s: %v\n%s", platform, err, errOut)
	}
	return out
}

// TestTheRenderedKnativeServiceIsValidForKnative applies each platform's
// rendering with server-side dry-run against the Knative CRD's schema, with
// strict field validation, so a misspelled or misplaced field fails.
// Knative's own defaulting and validation code runs on it in
// deploy/knativeverify.
func TestTheRenderedKnativeServiceIsValidForKnative(t *testing.T) {
	needWebhook(t, "deployment artifacts")
	if env.Provider != "local" {
		t.Skip("installs a CRD: run with the local provider")
	}
	installKnativeCRDs(t)
	ns := namespace(t)
	const image = "europe-west1-docker.pkg.dev/project/bouncer/bouncer@sha256:0000000000000000000000000000000000000000000000000000000000000000"
	for _, variant := range []string{"knative", "cloudrun"} {
		t.Run(variant, func(t *testing.T) {
			y := render(t, variant, image, "--policy-secret", "bouncer-policy")
			if !strings.Contains(y, "image: "+image) {
				t.Fatalf("the render step did not set the image:\n%s", y)
			}
			y = strings.ReplaceAll(y, "namespace: bouncer-system", "namespace: "+ns)
			if _, errOut, err := env.KIn(y, "apply", "-n", ns, "--dry-run=server", "--validate=strict", "-f", "-"); err != nil {
				t.Fatalf("the API server refused the %s rendering: %s\n%s", variant, errOut, y)
			}
		})
	}
	t.Run("a broken Service is refused, so the check can fail", func(t *testing.T) {
		y := strings.Replace(render(t, "knative", image), "containerConcurrency: 100", "containerConcurrency: lots", 1)
		y = strings.ReplaceAll(y, "namespace: bouncer-system", "namespace: "+ns)
		_, errOut, err := env.KIn(y, "apply", "-n", ns, "--dry-run=server", "--validate=strict", "-f", "-")
		if err == nil || !strings.Contains(errOut, "containerConcurrency") {
			t.Errorf("err=%v %s", err, errOut)
		}
	})
}

// TestThePlainKubernetesManifestsAreAccepted dry-runs the plain rendering,
// with a custom policy's volume, with strict field validation.
func TestThePlainKubernetesManifestsAreAccepted(t *testing.T) {
	needWebhook(t, "deployment artifacts")
	if _, errOut, err := env.K("apply", "-f", "../deploy/kubernetes/namespace.yaml"); err != nil {
		t.Fatalf("namespace: %s", errOut)
	}
	y := render(t, "kubernetes", "registry.example.com/bouncer@sha256:0000000000000000000000000000000000000000000000000000000000000000", "--policy-configmap", "bouncer-policy")
	if _, errOut, err := env.KIn(y, "apply", "--dry-run=server", "--validate=strict", "-f", "-"); err != nil {
		t.Fatalf("the API server refused the plain rendering: %s\n%s", errOut, y)
	}
}

// TestGeneratedMatchConditionsCompile renders the configurations for a
// policy whose exemptions need CEL (users, groups, and an object selector of
// several requirements) and has the API server compile them.
func TestGeneratedMatchConditionsCompile(t *testing.T) {
	needWebhook(t, "deployment artifacts")
	f := filepath.Join(t.TempDir(), "policy.yaml")
	pol := `apiVersion: bouncer.dev/v1
kind: Policy
exemptions:
  users: [alice, "system:serviceaccount:ci:deployer"]
  groups: ["system:nodes", ops]
  objectSelector:
    matchLabels: {bouncer.dev/exempt: "true"}
    matchExpressions:
      - {key: tier, operator: In, values: [infra, control-plane]}
      - {key: legacy, operator: Exists}
rules:
  - {name: owner, kinds: [Pod, Deployment], require: [{key: owner}]}
`
	if err := os.WriteFile(f, []byte(pol), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := framework.Run(context.Background(), time.Minute, nil, nil, env.BouncerBin, "webhookconfig", "--url", "https://bouncer.example", "--policy", f)
	if err != nil {
		t.Fatalf("webhookconfig: %s", errOut)
	}
	if !strings.Contains(out, "matchConditions") || !strings.Contains(out, "not-exempt-object") {
		t.Fatalf("no match conditions rendered:\n%s", out)
	}
	if _, errOut, err := env.KIn(out, "apply", "--dry-run=server", "-f", "-"); err != nil {
		t.Fatalf("the API server refused the match conditions: %s\n%s", errOut, out)
	}
}
