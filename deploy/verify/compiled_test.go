package verify

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTheCompiledInstallChecksTheKindsBeforeApplyingAnything: kubectl apply
// goes on past a kind the API server does not serve, so the full compile
// output on Kubernetes 1.30 to 1.35 (no MutatingAdmissionPolicy) would
// install the validating half and the guard and report an error that is
// easy to miss. make deploy-compiled asks the API server first. kubectl is
// a stand-in that serves the kinds a cluster of each version serves and
// records what it is asked to apply.
func TestTheCompiledInstallChecksTheKindsBeforeApplyingAnything(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not on PATH")
	}
	const vap = "validatingadmissionpolicies.admissionregistration.k8s.io\nvalidatingadmissionpolicybindings.admissionregistration.k8s.io\n"
	const mapol = "mutatingadmissionpolicies.admissionregistration.k8s.io\nmutatingadmissionpolicybindings.admissionregistration.k8s.io\n"
	tests := []struct {
		name, kinds, only string
		ok                bool
		applied           []string // kinds that must reach kubectl apply
		out               string
	}{
		{"1.36 and later: everything is applied", vap + mapol, "", true, []string{"kind: ValidatingAdmissionPolicy", "kind: MutatingAdmissionPolicy", "name: bouncer-namespace-guard"}, ""},
		{"1.30 to 1.35: the full output is refused and nothing is applied", vap, "", false, nil, "this API server serves no mutatingadmissionpolicies"},
		{"1.30 to 1.35 with ONLY=validate: the validating policies and the guard are applied", vap, "validate", true, []string{"kind: ValidatingAdmissionPolicy", "name: bouncer-namespace-guard"}, ""},
		{"before 1.30: nothing is applied", "", "validate", false, nil, "this API server serves no validatingadmissionpolicies"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			applied := filepath.Join(dir, "applied.yaml")
			kubectl := filepath.Join(dir, "kubectl")
			script := "#!/bin/sh\ncase \"$1\" in\napi-resources) printf '%s' \"$KINDS\";;\napply) cat > " + applied + ";;\n*) exit 1;;\nesac\n"
			if err := os.WriteFile(kubectl, []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("make", "deploy-compiled", "KUBECTL="+kubectl, "ONLY="+tt.only)
			cmd.Dir = "../.."
			cmd.Env = append(os.Environ(), "KINDS="+tt.kinds)
			out, err := cmd.CombinedOutput()
			if (err == nil) != tt.ok {
				t.Fatalf("make deploy-compiled: err=%v\n%s", err, out)
			}
			if !strings.Contains(string(out), tt.out) {
				t.Errorf("make printed:\n%s\nwant %q", out, tt.out)
			}
			got, _ := os.ReadFile(applied)
			if tt.applied == nil && len(got) > 0 {
				t.Fatalf("applied %d bytes; want nothing", len(got))
			}
			for _, want := range tt.applied {
				if !strings.Contains(string(got), want) {
					t.Errorf("applied:\n%.400s\nwant it to contain %q", got, want)
				}
			}
			if tt.only == "validate" && strings.Contains(string(got), "kind: MutatingAdmissionPolicy") {
				t.Error("ONLY=validate applied a MutatingAdmissionPolicy")
			}
		})
	}
}
