package auditlog_test

import (
	"testing"

	"bouncer.dev/bouncer/internal/auditconfig"
	"bouncer.dev/bouncer/internal/policyfile"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	"sigs.k8s.io/yaml"
)

// TestTheRenderedAuditPolicyIsTheAPIServersPolicyType holds the audit
// policy that `bouncer auditconfig policy` writes with its own small types
// to the API server's: every field known, the levels and stages its own.
func TestTheRenderedAuditPolicyIsTheAPIServersPolicyType(t *testing.T) {
	for _, file := range []string{"", "../../testdata/policies/custom.yaml"} {
		p, _, err := policyfile.Resolve(file)
		if err != nil {
			t.Fatal(err)
		}
		out, err := auditconfig.Policy(p)
		if err != nil {
			t.Fatal(err)
		}
		var ap auditv1.Policy
		if err := yaml.UnmarshalStrict(out, &ap); err != nil {
			t.Fatalf("policy %q: not the API server's Policy: %v\n%s", file, err, out)
		}
		if ap.APIVersion != "audit.k8s.io/v1" || ap.Kind != "Policy" || len(ap.Rules) != 2 {
			t.Fatalf("policy %q: %+v", file, ap)
		}
		if ap.Rules[0].Level != auditv1.LevelRequestResponse || ap.Rules[1].Level != auditv1.LevelNone {
			t.Errorf("policy %q: levels %s, %s", file, ap.Rules[0].Level, ap.Rules[1].Level)
		}
		if len(ap.OmitStages) != 1 || ap.OmitStages[0] != auditv1.StageRequestReceived {
			t.Errorf("policy %q: omitStages %v", file, ap.OmitStages)
		}
	}
}
