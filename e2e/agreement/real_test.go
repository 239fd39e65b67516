package agreement

import (
	"testing"

	"bouncer.dev/bouncer/internal/compile"
	"bouncer.dev/bouncer/internal/kube/kubetest"
	"bouncer.dev/bouncer/internal/policy"
)

// build compiles the policy and decodes each object strictly into
// k8s.io/api's type, as the API server would receive it: the code under
// test here is the API server's own, fed what bouncer compile prints.
func build(t *testing.T, p *policy.Policy, only string) []any {
	t.Helper()
	objs, err := compile.Build(p, only)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]any, 0, len(objs))
	for _, o := range objs {
		real, _, err := kubetest.Real(o)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, real)
	}
	return out
}
