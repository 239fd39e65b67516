//go:build e2e

package e2e

import (
	"fmt"
	"testing"
)

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// TestExemptRequestsAreAdmittedUntouchedAndNeverReachTheFunctions creates
// non-compliant Pods in a namespace exempt by name and as an exempt user,
// then a control Pod that must reach the functions, so that an absent log
// line means something. The exempt namespace label has its own test.
func TestExemptRequestsAreAdmittedUntouchedAndNeverReachTheFunctions(t *testing.T) {
	needBreakGlass(t)
	ns := namespace(t)
	const exemptNS = "e2e-exempt"
	if !env.Policy.Exempt.Namespaces[exemptNS] {
		t.Skip("the deployment's policy does not exempt namespace " + exemptNS)
	}
	if _, errOut, err := env.K("create", "namespace", exemptNS); err != nil && !contains(errOut, "AlreadyExists") {
		t.Fatal(errOut)
	}
	t.Cleanup(func() { _, _, _ = env.K("delete", "namespace", exemptNS, "--wait=false") })

	cases := []struct {
		name, ns, manifest string
		args               []string
	}{
		{"exempt-namespace", exemptNS, pod("exempt-namespace", map[string]string{"app": "x"}), nil},
		{"exempt-user", ns, pod("exempt-user", map[string]string{"app": "x"}), breakGlass},
	}
	for _, c := range cases {
		if _, errOut, err := env.KIn(c.manifest, append([]string{"create", "-n", c.ns, "-f", "-"}, c.args...)...); err != nil {
			t.Errorf("%s: refused: %s", c.name, errOut)
			continue
		}
		if l := labelsAt(get(t, c.ns, "pod", c.name), "metadata.labels"); l["environment"] != "" {
			t.Errorf("%s: was mutated: %v", c.name, l)
		}
	}
	mustCreate(t, ns, pod("control", map[string]string{"owner": "team-a"}))
	if l := labelsAt(get(t, ns, "pod", "control"), "metadata.labels"); l["environment"] != "development" {
		t.Errorf("the control Pod was not mutated: %v", l)
	}
	if env.Logs == nil {
		return // the rest reads the decision log
	}
	eventually(t, 10e9, "the control Pod's decisions are logged", func() error {
		if n := len(decisionsFor(t, ns, "control")); n < 2 {
			return errorf("%d lines for the control Pod, want mutate and validate", n)
		}
		return nil
	})
	for _, c := range cases {
		if got := decisionsFor(t, c.ns, c.name); len(got) > 0 {
			t.Errorf("%s reached the functions: %v", c.name, got)
		}
	}
}
