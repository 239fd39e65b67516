package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestTheBinaryLinksOnlyTheKubernetesTypesItWrites keeps the heavy
// Kubernetes libraries (client-go, controller-runtime, the apiserver and
// k8s.io/kubernetes) out of the binary that serves admission, and of the
// API types only the groups it reads and writes. Their package init runs on
// every cold start; docs/benchmarks.md measures what these cost.
func TestTheBinaryLinksOnlyTheKubernetesTypesItWrites(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	allowedAPI := map[string]bool{"k8s.io/api/admission/v1": true, "k8s.io/api/admissionregistration/v1": true, "k8s.io/api/authentication/v1": true}
	for _, pkg := range strings.Fields(string(out)) {
		for _, banned := range []string{"k8s.io/client-go/", "k8s.io/apiserver/", "k8s.io/kubernetes/", "sigs.k8s.io/controller-runtime", "k8s.io/api/"} {
			if strings.HasPrefix(pkg, banned) && !allowedAPI[pkg] {
				t.Errorf("bouncer links %s", pkg)
			}
		}
	}
}
