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
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mk), "--inject-ca-from bouncer-system/bouncer") {
		t.Error("make deploy-kubernetes does not have the CA injector keep caBundle current")
	}
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
