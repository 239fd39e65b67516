package admission

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"unicode/utf8"

	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/verdict"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// encode writes the answer as an admission.k8s.io/v1 AdmissionReview. The
// API server refuses a validating response with a patch, and a patch without
// its type: validate never writes one, and mutate writes both or neither.
//
// It is written by hand rather than with encoding/json over admission/v1's
// types, which builds its encoders for the whole AdmissionReview type tree
// on the first answer and so costs each cold start about 0.7 ms
// (docs/benchmarks.md, "The answer's encoder"). The bytes are the same:
// encode_test.go holds them equal to encoding/json over those types, in a
// table test and in FuzzEncode.
func encode(uid string, a *verdict.Answer, fn policy.Stage) ([]byte, error) {
	return appendAnswer(make([]byte, 0, 512), uid, a, fn == policy.Mutation)
}

// appendAnswer appends the answer: the fields encoding/json writes over
// admission/v1's types, in the same order, quoted the same way.
func appendAnswer(b []byte, uid string, a *verdict.Answer, mutating bool) ([]byte, error) {
	b = append(b, `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","response":{"uid":`...)
	b = appendString(b, uid)
	b = append(b, `,"allowed":`...)
	b = strconv.AppendBool(b, a.Allowed)
	if !a.Allowed {
		// metav1.Status omits an empty message and a zero code.
		b = append(b, `,"status":{"metadata":{},"status":"Failure"`...)
		if a.Message != "" {
			b = append(b, `,"message":`...)
			b = appendString(b, a.Message)
		}
		b = append(b, `,"reason":`...)
		b = appendString(b, string(reason(a.Code)))
		if a.Code != 0 {
			b = append(b, `,"code":`...)
			b = strconv.AppendInt(b, int64(a.Code), 10)
		}
		b = append(b, '}')
	}
	if mutating && a.Allowed && len(a.Patch) > 0 {
		p, err := json.Marshal(a.Patch)
		if err != nil {
			return nil, err
		}
		b = append(b, `,"patch":"`...)
		b = base64.StdEncoding.AppendEncode(b, p)
		b = append(b, `","patchType":"JSONPatch"`...)
	}
	if len(a.AuditAnnotations) > 0 {
		b = append(b, `,"auditAnnotations":{`...)
		for i, k := range slices.Sorted(maps.Keys(a.AuditAnnotations)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, a.AuditAnnotations[k])
		}
		b = append(b, '}')
	}
	if len(a.Warnings) > 0 {
		b = append(b, `,"warnings":[`...)
		for i, w := range a.Warnings {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, w)
		}
		b = append(b, ']')
	}
	return append(b, "}}"...), nil
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

const hexDigits = "0123456789abcdef"

// appendString quotes s as encoding/json does by default.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
