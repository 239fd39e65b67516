// Package kubetest turns the objects bouncer generates into k8s.io/api's
// types, for tests. Only tests import it, so the Kubernetes libraries stay
// out of the bouncer binary.
package kubetest

import (
	"encoding/json"
	"fmt"

	admregv1 "k8s.io/api/admissionregistration/v1"
	kjson "sigs.k8s.io/json"

	"bouncer.dev/bouncer/internal/kube"
)

// Real encodes o, an internal/kube object, and decodes it strictly into the
// matching k8s.io/api type, as the API server would receive it. It also
// returns the JSON it decoded.
func Real(o any) (any, []byte, error) {
	var real any
	switch o.(type) {
	case *kube.ValidatingWebhookConfiguration:
		real = &admregv1.ValidatingWebhookConfiguration{}
	case *kube.MutatingWebhookConfiguration:
		real = &admregv1.MutatingWebhookConfiguration{}
	case *kube.ValidatingAdmissionPolicy:
		real = &admregv1.ValidatingAdmissionPolicy{}
	case *kube.ValidatingAdmissionPolicyBinding:
		real = &admregv1.ValidatingAdmissionPolicyBinding{}
	case *kube.MutatingAdmissionPolicy:
		real = &admregv1.MutatingAdmissionPolicy{}
	case *kube.MutatingAdmissionPolicyBinding:
		real = &admregv1.MutatingAdmissionPolicyBinding{}
	default:
		return nil, nil, fmt.Errorf("no k8s.io/api type for %T", o)
	}
	j, err := json.Marshal(o)
	if err != nil {
		return nil, nil, err
	}
	strict, err := kjson.UnmarshalStrict(j, real)
	if err == nil && len(strict) > 0 {
		err = fmt.Errorf("%v", strict)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%T does not decode strictly into %T: %w\n%s", o, real, err, j)
	}
	return real, j, nil
}
