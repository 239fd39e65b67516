package admission

import (
	"encoding/json"

	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/verdict"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// encodeAPITypes writes the answer as an admission.k8s.io/v1 AdmissionReview
// with the API's own types and encoding/json. It is the reference that the
// served encoder (encode.go) is held to byte for byte by the tests and
// FuzzEncode; the build tag encodingjson serves with it, which make bench
// times beside the default build. The API server refuses a validating
// response with a patch, and a patch without its type: validate never writes
// one, and mutate writes both or neither.
func encodeAPITypes(uid string, a *verdict.Answer, fn policy.Function) ([]byte, error) {
	resp := &admissionv1.AdmissionResponse{UID: types.UID(uid), Allowed: a.Allowed, AuditAnnotations: a.AuditAnnotations, Warnings: a.Warnings}
	if !a.Allowed {
		resp.Result = &metav1.Status{Status: metav1.StatusFailure, Message: a.Message, Reason: reason(a.Code), Code: a.Code}
	}
	if fn == policy.Mutate && a.Allowed && len(a.Patch) > 0 {
		patch, err := json.Marshal(a.Patch)
		if err != nil {
			return nil, err
		}
		pt := admissionv1.PatchTypeJSONPatch
		resp.Patch, resp.PatchType = patch, &pt
	}
	return json.Marshal(&admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{Kind: reviewKind, APIVersion: reviewAPIVersion},
		Response: resp,
	})
}

// reason is the status reason for a refusal's code.
func reason(code int32) metav1.StatusReason {
	switch code {
	case verdict.CodeDenied:
		return metav1.StatusReasonForbidden
	case verdict.CodeBadRequest:
		return metav1.StatusReasonBadRequest
	default:
		return metav1.StatusReasonInternalError
	}
}
