package auditconfig

import (
	"strings"
	"testing"

	"bouncer.dev/bouncer/internal/policyfile"
	"bouncer.dev/bouncer/internal/testpki"
	"sigs.k8s.io/yaml"
)

func TestThePolicyLogsCoveredWritesWholeAndNothingElse(t *testing.T) {
	p, _, err := policyfile.Resolve("")
	if err != nil {
		t.Fatal(err)
	}
	out, err := Policy(p)
	if err != nil {
		t.Fatal(err)
	}
	var ap auditPolicy
	if err := yaml.UnmarshalStrict(out, &ap); err != nil {
		t.Fatal(err)
	}
	if len(ap.Rules) != 2 || ap.Rules[0].Level != "RequestResponse" || ap.Rules[1].Level != "None" || len(ap.Rules[1].Verbs) != 0 {
		t.Fatalf("want RequestResponse for bouncer's writes, then None for everything: %+v", ap.Rules)
	}
	if got := strings.Join(ap.Rules[0].Verbs, ","); got != "create,update,patch" {
		t.Errorf("verbs %s: kubectl apply, label, set image and server-side apply all patch", got)
	}
	want := map[string]bool{"/pods": true, "/pods/status": true, "apps/deployments": true, "apps/replicasets/status": true, "batch/cronjobs": true, "batch/jobs/status": true}
	for _, g := range ap.Rules[0].Resources {
		for _, r := range g.Resources {
			delete(want, g.Group+"/"+r)
		}
	}
	if len(want) > 0 {
		t.Errorf("the policy misses %v", want)
	}
	if len(ap.OmitStages) != 1 || ap.OmitStages[0] != "RequestReceived" {
		t.Errorf("omitStages %v: the escape is on ResponseComplete only", ap.OmitStages)
	}
}

func TestTheKubeconfigRefusesWhatWouldNotWork(t *testing.T) {
	ca, err := testpki.NewCA("test")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"a token file and an https /audit URL are enough", Options{URL: "https://b.example/audit", TokenFile: "/t"}, ""},
		{"a client certificate and a CA work too", Options{URL: "https://b.example/audit", ClientCert: "/c", ClientKey: "/k", CABundle: ca.PEM}, ""},
		{"plain http is refused", Options{URL: "http://b.example/audit", TokenFile: "/t"}, "want https"},
		{"a path other than /audit is refused", Options{URL: "https://b.example/validate", TokenFile: "/t"}, "must be /audit"},
		{"no credentials are refused", Options{URL: "https://b.example/audit"}, "are required"},
		{"a token and a certificate together are refused", Options{URL: "https://b.example/audit", TokenFile: "/t", ClientCert: "/c", ClientKey: "/k"}, "not both"},
		{"a CA bundle without a certificate is refused", Options{URL: "https://b.example/audit", TokenFile: "/t", CABundle: []byte("nothing")}, "no PEM certificate"},
		{"an empty CA bundle is refused, not taken for none", Options{URL: "https://b.example/audit", TokenFile: "/t", CABundle: []byte{}}, "is empty"},
		{"a private key in the CA bundle is refused", Options{URL: "https://b.example/audit", TokenFile: "/t", CABundle: []byte("-----BEGIN PRIVATE KEY-----\nMA==\n-----END PRIVATE KEY-----\n")}, "private key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Kubeconfig(tt.o)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				var kc map[string]any
				if err := yaml.Unmarshal(out, &kc); err != nil || kc["current-context"] != "bouncer" {
					t.Errorf("not a kubeconfig: %v\n%s", err, out)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to say %q", err, tt.want)
			}
		})
	}
}
