package admission

import (
	"encoding/base64"
	"encoding/json"
	"sort"
	"strconv"
	"unicode/utf8"

	"bouncer.dev/bouncer/internal/policy"
)

// appendResponse writes the AdmissionReview for a decision directly, byte
// for byte what encoding/json makes of the admission/v1 types (a test keeps
// them equal), without reflection: it is on the path of every review.
func appendResponse(b []byte, uid string, d *policy.Decision, mutating bool) ([]byte, error) {
	b = append(b, `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","response":{"uid":`...)
	b = appendString(b, uid)
	b = append(b, `,"allowed":`...)
	b = strconv.AppendBool(b, d.Allowed)
	if !d.Allowed {
		b = append(b, `,"status":{"metadata":{},"status":"Failure","message":`...)
		b = appendString(b, d.Message)
		b = append(b, `,"reason":`...)
		b = appendString(b, reason(d.Code))
		b = append(b, `,"code":`...)
		b = strconv.AppendInt(b, int64(d.Code), 10)
		b = append(b, '}')
	}
	if mutating && d.Allowed && len(d.Patch) > 0 {
		p, err := json.Marshal(d.Patch)
		if err != nil {
			return nil, err
		}
		b = append(b, `,"patch":"`...)
		b = base64.StdEncoding.AppendEncode(b, p)
		b = append(b, `","patchType":"JSONPatch"`...)
	}
	if len(d.AuditAnnotations) > 0 {
		keys := make([]string, 0, len(d.AuditAnnotations))
		for k := range d.AuditAnnotations {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, `,"auditAnnotations":{`...)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, d.AuditAnnotations[k])
		}
		b = append(b, '}')
	}
	if len(d.Warnings) > 0 {
		b = append(b, `,"warnings":[`...)
		for i, w := range d.Warnings {
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
func reason(code int32) string {
	switch code {
	case policy.CodeDenied:
		return "Forbidden"
	case policy.CodeBadRequest:
		return "BadRequest"
	default:
		return "InternalError"
	}
}

const hexDigits = "0123456789abcdef"

// appendString quotes s as encoding/json does by default: HTML-safe
// escapes for <, > and &, \u2028 and \u2029 escaped, invalid UTF-8 replaced.
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
