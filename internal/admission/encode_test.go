package admission

import (
	"testing"

	"bouncer.dev/bouncer/internal/patch"
	"bouncer.dev/bouncer/internal/policy"
)

// TestTheHandWrittenEncodingIsEncodingJSONs compares appendResponse with
// encoding/json over the admission/v1 types, byte for byte.
func TestTheHandWrittenEncodingIsEncodingJSONs(t *testing.T) {
	nasty := "a \"quoted\" <b>&amp;</b> back\\slash \n\r\t\b\f \x01 \x7f é 日本 \u2028\u2029 bad:\xff end"
	decisions := []struct {
		name     string
		uid      string
		d        policy.Decision
		mutating bool
	}{
		{"an allow", "u-1", policy.Decision{Allowed: true}, false},
		{"a denial with user content in its message", "u-2", policy.Decision{Code: 403, Message: nasty}, false},
		{"a bad request", nasty, policy.Decision{Code: 400, Message: "bouncer cannot read the object"}, false},
		{"an internal error", "u", policy.Decision{Code: 500, Message: "x"}, false},
		{"warnings and audit annotations", "u-3", policy.Decision{Allowed: true, Warnings: []string{"w1", nasty}, AuditAnnotations: map[string]string{"z": "1", "a": nasty}}, false},
		{"a patch", "u-4", policy.Decision{Allowed: true, Patch: []patch.Op{{Op: "add", Path: "/metadata/labels/a~1b", Value: map[string]string{"k": "<v>"}}}}, true},
		{"a patch from validate is never written", "u-5", policy.Decision{Allowed: true, Patch: []patch.Op{{Op: "add", Path: "/x", Value: "y"}}}, false},
	}
	for _, tt := range decisions {
		t.Run(tt.name, func(t *testing.T) {
			want, err := encodeResponse(tt.uid, &tt.d, tt.mutating)
			if err != nil {
				t.Fatal(err)
			}
			got, err := appendResponse(nil, tt.uid, &tt.d, tt.mutating)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}
