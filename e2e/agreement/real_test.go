package agreement

import (
	"testing"

	"bouncer.dev/bouncer/internal/admissionpolicy"
	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/webhookconfig"
	admregv1 "k8s.io/api/admissionregistration/v1"
)

// build compiles the policy into k8s.io/api objects: the code under test
// here is the API server's own, fed what bouncer compile prints.
func build(t *testing.T, p *policy.Policy, only policy.Stage) []any {
	t.Helper()
	objs, err := admissionpolicy.Build(p, only)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// webhooks renders the webhook configurations the functions serve behind.
func webhooks(t *testing.T, p *policy.Policy) (*admregv1.ValidatingWebhook, *admregv1.MutatingWebhook) {
	t.Helper()
	v, m, err := webhookconfig.Build(p, webhookconfig.Options{URL: "https://bouncer.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	return &v.Webhooks[0], &m.Webhooks[0]
}
