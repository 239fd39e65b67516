//go:build e2e

package e2e

import (
	"encoding/json"
	"testing"
)

// TestCompiledPoliciesTypeCheckCleanly reads the API server's own type
// check of every compiled expression against the resources' schemas.
func TestCompiledPoliciesTypeCheckCleanly(t *testing.T) {
	if engine != "compiled" {
		t.Skip("runs with the compiled engine")
	}
	out, errOut, err := env.K("get", "validatingadmissionpolicies", "-l", "app.kubernetes.io/managed-by=bouncer-compile", "-o", "json")
	if err != nil {
		t.Fatal(errOut)
	}
	var list struct {
		Items []struct {
			Metadata struct{ Name string } `json:"metadata"`
			Status   struct {
				TypeChecking *struct {
					ExpressionWarnings []struct {
						FieldRef string `json:"fieldRef"`
						Warning  string `json:"warning"`
					} `json:"expressionWarnings"`
				} `json:"typeChecking"`
			} `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) == 0 {
		t.Fatal("no compiled ValidatingAdmissionPolicy found")
	}
	for _, p := range list.Items {
		if p.Status.TypeChecking == nil {
			t.Errorf("%s: not type-checked yet", p.Metadata.Name)
			continue
		}
		for _, w := range p.Status.TypeChecking.ExpressionWarnings {
			t.Errorf("%s: %s: %s", p.Metadata.Name, w.FieldRef, w.Warning)
		}
	}
	t.Logf("%d compiled ValidatingAdmissionPolicies type-check without warnings", len(list.Items))
}
