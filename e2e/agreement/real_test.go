package agreement

import (
	"encoding/json"
	"testing"

	admregv1 "k8s.io/api/admissionregistration/v1"
	kjson "sigs.k8s.io/json"

	"bouncer.dev/bouncer/internal/compile"
	"bouncer.dev/bouncer/internal/kube"
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
		var real any
		switch o.(type) {
		case *kube.ValidatingAdmissionPolicy:
			real = &admregv1.ValidatingAdmissionPolicy{}
		case *kube.ValidatingAdmissionPolicyBinding:
			real = &admregv1.ValidatingAdmissionPolicyBinding{}
		case *kube.MutatingAdmissionPolicy:
			real = &admregv1.MutatingAdmissionPolicy{}
		case *kube.MutatingAdmissionPolicyBinding:
			real = &admregv1.MutatingAdmissionPolicyBinding{}
		default:
			t.Fatalf("bouncer compile made a %T", o)
		}
		j, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		if strict, err := kjson.UnmarshalStrict(j, real); err != nil || len(strict) > 0 {
			t.Fatalf("%T does not decode strictly into %T: %v %v", o, real, err, strict)
		}
		out = append(out, real)
	}
	return out
}
