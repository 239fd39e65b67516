package admission

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"testing"
	"unicode/utf8"

	"bouncer.dev/bouncer/internal/patch"
	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/verdict"
)

// BenchmarkEncode times writing the answer with encoding/json over
// admission/v1's types (what bouncer does) against the hand-written encoder
// it replaced (kept here as the baseline only), on the answers of a typical
// review. make bench reports the difference beside a whole review's cost.
func BenchmarkEncode(b *testing.B) {
	answers := []struct {
		name string
		a    verdict.Answer
		fn   policy.Function
	}{
		{"allow", verdict.Answer{Allowed: true}, policy.Validate},
		{"deny", verdict.Answer{Code: 403, Message: `Pod "web-69c6f74b8b-wf7sl" in namespace "shop" was denied by bouncer: [require-owner] missing label "owner" at metadata.labels`}, policy.Validate},
		{"patch", verdict.Answer{Allowed: true, Patch: []patch.Op{{Op: "add", Path: "/metadata/labels/environment", Value: "development"}}}, policy.Mutate},
	}
	for _, x := range answers {
		b.Run(x.name+"/encoding-json", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := encode("00000000-0000-4000-8000-000000000001", &x.a, x.fn); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(x.name+"/hand-written", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := handWritten(make([]byte, 0, 512), "00000000-0000-4000-8000-000000000001", &x.a, x.fn == policy.Mutate); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestTheBaselineEncoderWritesTheSameBytes keeps the benchmark honest: both
// encoders write the same answer.
func TestTheBaselineEncoderWritesTheSameBytes(t *testing.T) {
	for _, a := range []verdict.Answer{{Allowed: true, Warnings: []string{"w <b>"}, AuditAnnotations: map[string]string{"b": "1", "a": "2"}},
		{Code: 403, Message: "denied \"x\" é \u2028"}, {Allowed: true, Patch: []patch.Op{{Op: "add", Path: "/a", Value: map[string]string{"k": "v"}}}}} {
		for _, fn := range policy.Functions {
			want, _ := encode("u", &a, fn)
			got, _ := handWritten(nil, "u", &a, fn == policy.Mutate)
			if string(got) != string(want) {
				t.Errorf("hand-written %s\nencoding/json %s", got, want)
			}
		}
	}
}

// handWritten is the encoder bouncer used before encoding/json, for the
// benchmark above.
func handWritten(b []byte, uid string, a *verdict.Answer, mutating bool) ([]byte, error) {
	b = append(b, `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","response":{"uid":`...)
	b = appendString(b, uid)
	b = append(b, `,"allowed":`...)
	b = strconv.AppendBool(b, a.Allowed)
	if !a.Allowed {
		b = append(b, `,"status":{"metadata":{},"status":"Failure","message":`...)
		b = appendString(b, a.Message)
		b = append(b, `,"reason":`...)
		b = appendString(b, string(reason(a.Code)))
		b = append(b, `,"code":`...)
		b = strconv.AppendInt(b, int64(a.Code), 10)
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
