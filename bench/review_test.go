package bench

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"bouncer.dev/bouncer/bench/crwebhook"
	"bouncer.dev/bouncer/bench/payloads"
	"bouncer.dev/bouncer/internal/admission"
	"bouncer.dev/bouncer/internal/logging"
	"bouncer.dev/bouncer/internal/policy"
)

// BenchmarkReview times one whole review (decode, decide, encode) through
// each implementation's HTTP handler, in process.
func BenchmarkReview(b *testing.B) {
	all, err := payloads.All("..")
	if err != nil {
		b.Fatal(err)
	}
	impls := []struct {
		name string
		h    http.Handler
	}{
		{"bouncer", admission.Mux(policy.Default(), logging.New(io.Discard))},
		{"controller-runtime", crwebhook.Mux()},
	}
	for _, p := range all {
		for _, impl := range impls {
			b.Run(p.Name+"/"+impl.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(p.Body)))
				for i := 0; i < b.N; i++ {
					req := httptest.NewRequest(http.MethodPost, "/"+p.Function, bytes.NewReader(p.Body))
					req.Header.Set("Content-Type", "application/json")
					rec := httptest.NewRecorder()
					impl.h.ServeHTTP(rec, req)
					if rec.Code != 200 {
						b.Fatalf("status %d: %s", rec.Code, rec.Body)
					}
				}
			})
		}
	}
}
