package admission

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"bouncer.dev/bouncer/internal/logging"
	"bouncer.dev/bouncer/internal/policy"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
)

// FuzzHandler sends arbitrary bodies to both functions. Every answer must be
// a 4xx with a message, or a 200 AdmissionReview that echoes the uid; a
// patch must apply, and mutating the patched object again must add nothing.
func FuzzHandler(f *testing.F) {
	for _, dir := range []string{"reviews", "apiserver-captures"} {
		files, _ := filepath.Glob(filepath.Join(testdataDir, dir, "*.json"))
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"apps","version":"v1","kind":"CronJob"},"operation":"CREATE","object":{"spec":{"jobTemplate":null}}}}`))
	log := logging.New(io.Discard)
	validate, mutate := New(policy.Default(), policy.Validation, log), New(policy.Default(), policy.Mutation, log)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, h := range []*Handler{validate, mutate} {
			status, uid, resp := call(h, body)
			if status != 200 {
				if status < 400 || status >= 500 || len(resp) == 0 {
					t.Fatalf("%s: status %d with body %q; want a 4xx with a message", h.Stage, status, resp)
				}
				continue
			}
			var review struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Response   struct {
					UID       string  `json:"uid"`
					Allowed   bool    `json:"allowed"`
					Patch     []byte  `json:"patch"`
					PatchType *string `json:"patchType"`
				} `json:"response"`
			}
			if err := json.Unmarshal(resp, &review); err != nil {
				t.Fatalf("%s: 200 without a JSON review: %v", h.Stage, err)
			}
			if review.APIVersion != reviewAPIVersion || review.Kind != reviewKind || review.Response.UID != uid {
				t.Fatalf("%s: answered %s %s uid %q; want the v1 review with uid %q", h.Stage, review.APIVersion, review.Kind, review.Response.UID, uid)
			}
			if (review.Response.Patch == nil) != (review.Response.PatchType == nil) || (!(h.Stage == policy.Mutation) && review.Response.Patch != nil) {
				t.Fatalf("%s: patch %q with patchType %v", h.Stage, review.Response.Patch, review.Response.PatchType)
			}
			if review.Response.Patch != nil {
				checkPatchSettles(t, h, body, review.Response.Patch)
			}
		}
	})
}

// call sends body and returns the status, the request's uid (if any) and the answer.
func call(h http.Handler, body []byte) (int, string, []byte) {
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var in struct {
		Request struct {
			UID string `json:"uid"`
		} `json:"request"`
	}
	_ = json.Unmarshal(body, &in)
	return rec.Code, in.Request.UID, rec.Body.Bytes()
}

func checkPatchSettles(t *testing.T, h *Handler, body, patch []byte) {
	var review map[string]any
	if err := json.Unmarshal(body, &review); err != nil {
		t.Fatalf("a patch for a body encoding/json cannot read: %v", err)
	}
	req := review["request"].(map[string]any)
	obj, _ := json.Marshal(req["object"])
	p, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		t.Fatalf("patch does not decode: %v", err)
	}
	patched, err := p.Apply(obj)
	if err != nil {
		t.Fatalf("patch %s does not apply to %s: %v", patch, obj, err)
	}
	req["object"] = json.RawMessage(patched)
	again, _ := json.Marshal(review)
	status, _, resp := call(h, again)
	var second struct {
		Response struct {
			Patch []byte `json:"patch"`
		} `json:"response"`
	}
	_ = json.Unmarshal(resp, &second)
	if status != 200 || second.Response.Patch != nil {
		t.Fatalf("mutating the patched object again gave %d and patch %s", status, base64.StdEncoding.EncodeToString(second.Response.Patch))
	}
}
