package admission

import (
	"encoding/json"

	"bouncer.dev/bouncer/internal/policy"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var jsonPatch = admissionv1.PatchTypeJSONPatch

// encodeResponse is the reference encoding, kept in test code so that the
// admission/v1 types stay out of the binary, through the admission/v1 types
// and encoding/json; appendResponse must produce the same bytes. It renders
// a decision as the AdmissionReview the API server accepts: uid echoed, a status on refusals, and a patch with its patchType
// only from a mutating function that has something to add. The API server
// rejects a patch without patchType, a patchType without patch, and either
// from a validating webhook, so none of those can be produced.
func encodeResponse(uid string, d *policy.Decision, mutating bool) ([]byte, error) {
	resp := &admissionv1.AdmissionResponse{
		UID:              types.UID(uid),
		Allowed:          d.Allowed,
		Warnings:         d.Warnings,
		AuditAnnotations: d.AuditAnnotations,
	}
	if !d.Allowed {
		resp.Result = &metav1.Status{Status: metav1.StatusFailure, Code: d.Code, Reason: metav1.StatusReason(reason(d.Code)), Message: d.Message}
	}
	if mutating && d.Allowed && len(d.Patch) > 0 {
		p, err := json.Marshal(d.Patch)
		if err != nil {
			return nil, err
		}
		resp.Patch, resp.PatchType = p, &jsonPatch
	}
	return json.Marshal(&admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: reviewAPIVersion, Kind: reviewKind},
		Response: resp,
	})
}
