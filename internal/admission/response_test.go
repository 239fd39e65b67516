package admission

import (
	"testing"

	"bouncer.dev/bouncer/internal/patch"
	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/verdict"
)

// TestTheResponseIsOneTheAPIServerAccepts checks each shape of answer
// against the rules of k8s.io/apiserver's VerifyAdmissionResponse: uid
// echoed, a status on refusals, and a patch with its patchType only from
// mutate with something to add.
func TestTheResponseIsOneTheAPIServerAccepts(t *testing.T) {
	nasty := "a \"quoted\" <b>&amp;</b> back\\slash \n\t é 日本 \u2028 bad:\xff end"
	add := []patch.Op{{Op: "add", Path: "/metadata/labels/a~1b", Value: "v"}}
	tests := []struct {
		name string
		uid  string
		a    verdict.Answer
		fn   policy.Stage
		want string
	}{
		{"an allow carries only the uid and allowed", "u-1", verdict.Answer{Allowed: true}, policy.Validation,
			`{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","response":{"uid":"u-1","allowed":true}}`},
		{"a denial carries a Failure status with its reason and code", "u-2", verdict.Answer{Code: 403, Message: nasty}, policy.Validation,
			`{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","response":{"uid":"u-2","allowed":false,"status":{"metadata":{},"status":"Failure","message":"a \"quoted\" \u003cb\u003e\u0026amp;\u003c/b\u003e back\\slash \n\t é 日本 \u2028 bad:\ufffd end","reason":"Forbidden","code":403}}}`},
		{"a bad request is reason BadRequest", "u-3", verdict.Refuse(400, "x"), policy.Mutation,
			`{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","response":{"uid":"u-3","allowed":false,"status":{"metadata":{},"status":"Failure","message":"x","reason":"BadRequest","code":400}}}`},
		{"an internal error is reason InternalError", "u-4", verdict.Refuse(500, "x"), policy.Validation,
			`{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","response":{"uid":"u-4","allowed":false,"status":{"metadata":{},"status":"Failure","message":"x","reason":"InternalError","code":500}}}`},
		{"warnings and audit annotations are passed on", "u-5", verdict.Answer{Allowed: true, Warnings: []string{"w1"}, AuditAnnotations: map[string]string{"z": "1", "a": "2"}}, policy.Validation,
			`{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","response":{"uid":"u-5","allowed":true,"auditAnnotations":{"a":"2","z":"1"},"warnings":["w1"]}}`},
		{"mutate's patch comes with its patchType", "u-6", verdict.Answer{Allowed: true, Patch: add}, policy.Mutation,
			`{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","response":{"uid":"u-6","allowed":true,"patch":"W3sib3AiOiJhZGQiLCJwYXRoIjoiL21ldGFkYXRhL2xhYmVscy9hfjFiIiwidmFsdWUiOiJ2In1d","patchType":"JSONPatch"}}`},
		{"a patch is never written by validate", "u-7", verdict.Answer{Allowed: true, Patch: add}, policy.Validation,
			`{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","response":{"uid":"u-7","allowed":true}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := encode(tt.uid, &tt.a, tt.fn)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
