//go:build !encodingjson

package admission

import (
	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/verdict"
)

// encode writes the answer. It writes by hand what encodeAPITypes writes
// with encoding/json over admission/v1's types: the bytes are the same (the
// tests and FuzzEncode compare them), but encoding/json builds its encoders
// for the whole AdmissionReview type tree on the first answer, which costs a
// cold start more than its share; make bench times both builds ("The
// answer's encoder").
func encode(uid string, a *verdict.Answer, fn policy.Function) ([]byte, error) {
	return appendAnswer(make([]byte, 0, 512), uid, a, fn == policy.Mutate)
}
