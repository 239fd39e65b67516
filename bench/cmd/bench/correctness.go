package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"bouncer.dev/bouncer/bench/payloads"
	"bouncer.dev/bouncer/internal/admission"
	"bouncer.dev/bouncer/internal/logging"
	"bouncer.dev/bouncer/internal/policy"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
)

// outcome is what an answer means: the verdict and the object after the
// patch, as the API server would store it.
type outcome struct {
	allowed bool
	object  string
}

func interpret(p payloads.Payload, answer []byte) (outcome, error) {
	var r struct {
		Response struct {
			Allowed bool   `json:"allowed"`
			Patch   []byte `json:"patch"`
		} `json:"response"`
	}
	if err := json.Unmarshal(answer, &r); err != nil {
		return outcome{}, fmt.Errorf("not a review: %v", err)
	}
	var in struct {
		Request struct {
			Object json.RawMessage `json:"object"`
		} `json:"request"`
	}
	_ = json.Unmarshal(p.Body, &in)
	obj := []byte(in.Request.Object)
	if len(r.Response.Patch) > 0 {
		jp, err := jsonpatch.DecodePatch(r.Response.Patch)
		if err != nil {
			return outcome{}, err
		}
		if obj, err = jp.Apply(obj); err != nil {
			return outcome{}, err
		}
	}
	var v any
	_ = json.Unmarshal(obj, &v)
	canon, _ := json.Marshal(v)
	return outcome{r.Response.Allowed, string(canon)}, nil
}

// reference is bouncer's own answer, in process: the policy's meaning.
func reference(p payloads.Payload) (outcome, error) {
	h := admission.Mux(policy.Default(), logging.New(io.Discard))
	req := httptest.NewRequest(http.MethodPost, "/"+p.Function, bytes.NewReader(p.Body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return interpret(p, rec.Body.Bytes())
}
