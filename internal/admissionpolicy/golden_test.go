package admissionpolicy

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"bouncer.dev/bouncer/internal/policy"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/compiled goldens; review the diff")

// TestTheRenderedPoliciesMatchTheGoldens pins the compiled CEL byte for
// byte, so that every change to it shows as a diff in review; e2e/agreement
// proves what it means.
func TestTheRenderedPoliciesMatchTheGoldens(t *testing.T) {
	for _, c := range []struct{ golden, policy string }{
		{"default.yaml", ""},
		{"custom.yaml", "../../testdata/policies/custom.yaml"},
	} {
		t.Run(c.golden, func(t *testing.T) {
			p := policy.Default()
			if c.policy != "" {
				doc, err := os.ReadFile(c.policy)
				if err != nil {
					t.Fatal(err)
				}
				p = mustParse(t, string(doc))
			}
			got, err := Render(p, 0)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("../../testdata/compiled", c.golden)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/admissionpolicy -run %s -update)", err, t.Name())
			}
			if d := cmp.Diff(string(want), string(got)); d != "" {
				t.Errorf("the rendering differs from %s (-want +got); if the change is meant, run go test ./internal/admissionpolicy -run %s -update and review the diff:\n%s",
					path, t.Name(), d)
			}
		})
	}
}
