package verify

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTheServingCertificateComesFromACAChainThatKeepsItsKey: a caBundle that
// holds a self-signed leaf breaks at the leaf's first renewal, since
// cert-manager's default rotationPolicy (Always) brings a new key. The
// serving Certificate must be issued by a CA Issuer whose CA Certificate
// keeps its key across renewals, and the plain path must have the CA
// injector keep the configurations' caBundle.
func TestTheServingCertificateComesFromACAChainThatKeepsItsKey(t *testing.T) {
	byKindName := map[string]map[string]any{}
	for _, d := range docs(t, "../kubernetes/cert-manager/certificate.yaml") {
		byKindName[d["kind"].(string)+"/"+obj(d, "metadata")["name"].(string)] = d
	}
	leaf := byKindName["Certificate/bouncer"]
	if leaf == nil {
		t.Fatal("no Certificate bouncer")
	}
	if obj(leaf, "spec")["secretName"] != "bouncer-tls" {
		t.Errorf("the serving certificate goes to %v, not the Secret the Deployment mounts", obj(leaf, "spec")["secretName"])
	}
	issuer := byKindName["Issuer/"+obj(leaf, "spec", "issuerRef")["name"].(string)]
	if issuer == nil || obj(issuer, "spec", "ca") == nil {
		t.Fatalf("the serving certificate's issuer %v is not a CA issuer: %v", obj(leaf, "spec", "issuerRef"), issuer)
	}
	var ca map[string]any
	for _, d := range byKindName {
		if d["kind"] == "Certificate" && obj(d, "spec")["secretName"] == obj(issuer, "spec", "ca")["secretName"] {
			ca = d
		}
	}
	if ca == nil || obj(ca, "spec")["isCA"] != true {
		t.Fatalf("the CA issuer's secret is not an isCA Certificate: %v", ca)
	}
	if obj(ca, "spec", "privateKey")["rotationPolicy"] != "Never" {
		t.Errorf("the CA's rotationPolicy is %v: a renewal with a new key would leave the old leaves unverifiable", obj(ca, "spec", "privateKey")["rotationPolicy"])
	}
	// The injector must read the CA Certificate itself: a leaf's Secret
	// carries the CA only as of the leaf's last issue, so after a CA renewal
	// the bundle would lag until the next leaf renewal.
	want := "--inject-ca-from " + obj(ca, "metadata")["namespace"].(string) + "/" + obj(ca, "metadata")["name"].(string)
	out := makeDryRun(t, "deploy-kubernetes", "IMAGE=example.com/bouncer@sha256:0", "CERT_MANAGER=1")
	if !strings.Contains(out, want) {
		t.Errorf("make deploy-kubernetes CERT_MANAGER=1 does not render the configurations with %q:\n%s", want, out)
	}
	if !strings.Contains(out, "kubectl apply -f deploy/kubernetes/cert-manager/") {
		t.Errorf("make deploy-kubernetes CERT_MANAGER=1 does not apply the certificates:\n%s", out)
	}
}

// TestWithoutCertManagerTheDeployUsesTheGivenBundle: the CA_BUNDLE path must
// neither apply cert-manager objects (their CRDs are absent) nor annotate the
// configurations for an injector that is not there.
func TestWithoutCertManagerTheDeployUsesTheGivenBundle(t *testing.T) {
	out := makeDryRun(t, "deploy-kubernetes", "IMAGE=example.com/bouncer@sha256:0", "CA_BUNDLE=/tmp/ca.crt")
	if !strings.Contains(out, "--ca-bundle '/tmp/ca.crt'") {
		t.Errorf("make deploy-kubernetes CA_BUNDLE=/tmp/ca.crt does not render the configurations with the bundle:\n%s", out)
	}
	for _, bad := range []string{"cert-manager/", "--inject-ca-from"} {
		if strings.Contains(out, bad) {
			t.Errorf("make deploy-kubernetes CA_BUNDLE=... runs %q:\n%s", bad, out)
		}
	}
}

// makeDryRun prints what make would run for target, without running it.
func makeDryRun(t *testing.T, target string, vars ...string) string {
	t.Helper()
	// KUBECTL is pinned so that a caller's own setting cannot change the text.
	cmd := exec.Command("make", append([]string{"-n", target, "KUBECTL=kubectl"}, vars...)...)
	cmd.Dir = "../.."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n %s %v: %v\n%s", target, vars, err, out)
	}
	return string(out)
}

// TestLintRefusesToPassOnNothing: `gcloud builds submit` uploads no .git,
// and lint used to list files with git alone, so it checked nothing and
// passed. It must fail when it finds (almost) nothing to check.
func TestLintRefusesToPassOnNothing(t *testing.T) {
	dir := t.TempDir()
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Makefile"), mk, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a.go"), []byte("package a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", "lint")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CEILING_DIRECTORIES="+filepath.Dir(dir))
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "found 1 Go files to check; refusing to pass on (almost) nothing") {
		t.Errorf("make lint in a tree without .git and one Go file: err=%v\n%s", err, out)
	}
}
