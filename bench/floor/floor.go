// Package floor is the least any webhook can do: read the body, copy the
// request's uid into a fixed answer with one byte search, allow. No JSON is
// parsed and no policy applied, so it is a reference for speed only; it is
// not a policy and is never checked for correct answers.
package floor

import (
	"bytes"
	"io"
	"net/http"
)

var (
	uidKey = []byte(`"uid":"`)
	head   = []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"`)
	tail   = []byte(`","allowed":true}}`)
)

// Handler answers every review with allowed: true.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		uid := []byte{}
		if i := bytes.Index(body, uidKey); i >= 0 {
			rest := body[i+len(uidKey):]
			if j := bytes.IndexByte(rest, '"'); j >= 0 {
				uid = rest[:j]
			}
		}
		out := make([]byte, 0, len(head)+len(uid)+len(tail))
		out = append(append(append(out, head...), uid...), tail...)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	})
}
