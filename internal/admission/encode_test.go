package admission

import (
	"encoding/json"
	"testing"

	"bouncer.dev/bouncer/internal/patch"
	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/verdict"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// encodeAPITypes writes the answer with admission/v1's own types and
// encoding/json: the reference that encode is held to, byte for byte.
func encodeAPITypes(uid string, a *verdict.Answer, fn policy.Stage) ([]byte, error) {
	resp := &admissionv1.AdmissionResponse{UID: types.UID(uid), Allowed: a.Allowed, AuditAnnotations: a.AuditAnnotations, Warnings: a.Warnings}
	if !a.Allowed {
		resp.Result = &metav1.Status{Status: metav1.StatusFailure, Message: a.Message, Reason: reason(a.Code), Code: a.Code}
	}
	if fn == policy.Mutation && a.Allowed && len(a.Patch) > 0 {
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

// BenchmarkEncode times writing the answer with encoding/json over
// admission/v1's types against the hand-written encoder that serves, on the
// answers of a typical review. make bench reports the difference beside a
// whole review's cost.
func BenchmarkEncode(b *testing.B) {
	answers := []struct {
		name string
		a    verdict.Answer
		fn   policy.Stage
	}{
		{"allow", verdict.Answer{Allowed: true}, policy.Validation},
		{"deny", verdict.Answer{Code: 403, Message: `Pod "web-69c6f74b8b-wf7sl" in namespace "shop" was denied by bouncer: [require-owner] missing label "owner" at metadata.labels`}, policy.Validation},
		{"patch", verdict.Answer{Allowed: true, Patch: []patch.Op{{Op: "add", Path: "/metadata/labels/environment", Value: "development"}}}, policy.Mutation},
	}
	for _, x := range answers {
		b.Run(x.name+"/encoding-json", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := encodeAPITypes("00000000-0000-4000-8000-000000000001", &x.a, x.fn); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(x.name+"/hand-written", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := encode("00000000-0000-4000-8000-000000000001", &x.a, x.fn); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestTheEncoderWritesWhatEncodingJSONWritesOverTheAPITypes(t *testing.T) {
	tests := []struct {
		name string
		a    verdict.Answer
	}{
		{"an allow with warnings and audit annotations in no order", verdict.Answer{Allowed: true, Warnings: []string{"w <b>"}, AuditAnnotations: map[string]string{"b": "1", "a": "2"}}},
		{"a denial with quotes, non-ASCII and a line separator", verdict.Answer{Code: 403, Message: "denied \"x\" é \u2028"}},
		{"a refusal with neither message nor code", verdict.Answer{}},
		{"an allow with a patch whose value is an object", verdict.Answer{Allowed: true, Patch: []patch.Op{{Op: "add", Path: "/a", Value: map[string]string{"k": "v"}}}}},
		{"a denial that also carries a patch", verdict.Answer{Code: 403, Message: "no", Patch: []patch.Op{{Op: "add", Path: "/a", Value: "v"}}}},
	}
	for _, tt := range tests {
		for _, fn := range policy.Stages {
			t.Run(tt.name+" from "+fn.String(), func(t *testing.T) {
				sameBytes(t, "u", &tt.a, fn)
			})
		}
	}
}

// FuzzEncode holds the encoder to encoding/json over admission/v1's
// types on any text: invalid UTF-8, control characters, HTML and the
// JavaScript line separators are where a hand-written quoter goes wrong.
func FuzzEncode(f *testing.F) {
	f.Add("u", true, int32(0), "", "w", "k", "v", "v", false)
	f.Add("ü\xff", false, int32(403), "a \"b\" <c> & \u2028 \x00 \xc3", "\t", "\n", "\\", "\x7f", true)
	f.Fuzz(func(t *testing.T, uid string, allowed bool, code int32, msg, warning, key, value, patchValue string, mutate bool) {
		a := verdict.Answer{Allowed: allowed, Code: code, Message: msg, Warnings: []string{warning}, AuditAnnotations: map[string]string{key: value},
			Patch: []patch.Op{{Op: "add", Path: "/metadata/labels/" + key, Value: patchValue}}}
		fn := policy.Validation
		if mutate {
			fn = policy.Mutation
		}
		sameBytes(t, uid, &a, fn)
	})
}

func sameBytes(t *testing.T, uid string, a *verdict.Answer, fn policy.Stage) {
	t.Helper()
	want, err := encodeAPITypes(uid, a, fn)
	if err != nil {
		t.Fatal(err)
	}
	got, err := encode(uid, a, fn)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("hand-written %s\nencoding/json %s", got, want)
	}
}
