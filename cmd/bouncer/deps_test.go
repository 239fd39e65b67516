package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestTheBinaryLinksNoKubernetesLibraries guards the cold start: package
// init of k8s.io/api and k8s.io/apimachinery costs about 2 ms on every start
// (docs/benchmarks.md), so bouncer mirrors the few types it needs in
// internal/kube and the tests compare them with the real ones.
func TestTheBinaryLinksNoKubernetesLibraries(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, banned := range []string{"k8s.io/api/", "k8s.io/apimachinery/", "k8s.io/client-go/", "k8s.io/klog/", "sigs.k8s.io/controller-runtime"} {
			if strings.HasPrefix(pkg, banned) {
				t.Errorf("bouncer links %s", pkg)
			}
		}
	}
}
