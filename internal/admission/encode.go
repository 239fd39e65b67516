package admission

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"unicode/utf8"

	"bouncer.dev/bouncer/internal/verdict"
)

// appendAnswer appends the answer as encodeAPITypes writes it: the same
// fields, in the same order, quoted the same way. It is what serves, in
// encode_default.go.
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
