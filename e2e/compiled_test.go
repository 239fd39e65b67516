//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// TestCompiledPoliciesTypeCheckCleanly reads the API server's own type
// check of every compiled expression against the resources' schemas.
func TestCompiledPoliciesTypeCheckCleanly(t *testing.T) {
	if engine != "compiled" {
		t.Skip("runs with the compiled engine")
	}
	type list struct {
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
	// The controller-manager's status controller type-checks each policy,
	// a moment after it is created.
	var pols list
	eventually(t, 60*time.Second, "every compiled policy is type-checked", func() error {
		out, errOut, err := env.K("get", "validatingadmissionpolicies", "-l", "app.kubernetes.io/managed-by=bouncer-compile", "-o", "json")
		if err != nil {
			return fmt.Errorf("%s", errOut)
		}
		pols = list{}
		if err := json.Unmarshal([]byte(out), &pols); err != nil {
			return err
		}
		if len(pols.Items) == 0 {
			return fmt.Errorf("no compiled ValidatingAdmissionPolicy found")
		}
		for _, p := range pols.Items {
			if p.Status.TypeChecking == nil {
				return fmt.Errorf("%s: not type-checked yet", p.Metadata.Name)
			}
		}
		return nil
	})
	for _, p := range pols.Items {
		for _, w := range p.Status.TypeChecking.ExpressionWarnings {
			t.Errorf("%s: %s: %s", p.Metadata.Name, w.FieldRef, w.Warning)
		}
	}
	t.Logf("%d compiled ValidatingAdmissionPolicies type-check without warnings", len(pols.Items))
}
