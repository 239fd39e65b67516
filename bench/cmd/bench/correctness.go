package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"bouncer.dev/bouncer/bench/payloads"
	"bouncer.dev/bouncer/e2e/framework"
	"bouncer.dev/bouncer/internal/admission"
	"bouncer.dev/bouncer/internal/logging"
	"bouncer.dev/bouncer/internal/policy"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
)

// correctness posts every payload to every server and sets each answer
// beside bouncer's own decision; a server that answers a payload wrongly is
// reported and not timed on it.
func (h *harness) correctness(rep *report) error {
	framework.Progress("checking every server's answers on every payload")
	for _, im := range h.servers {
		if im.name == "floor" {
			continue // not a policy
		}
		s, _, err := start(im, "1", h.ca, h.work, false)
		if err != nil {
			return err
		}
		c := client(h.ca, 1)
		if _, err := waitReady(c, s.base+"/validate", h.payloads[0].Body, 20*time.Second); err != nil {
			s.stop()
			return err
		}
		for _, p := range h.payloads {
			want, _ := reference(p)
			code, ans, err := post(c, s.base+"/"+p.Function, p.Body)
			got, ierr := interpret(p, ans)
			if err != nil || code != 200 || ierr != nil || got != want {
				h.wrong[im.name+"/"+p.Name] = true
				diff := "a different verdict"
				if got.allowed == want.allowed {
					diff = "the same verdict but a different object after its patch (a typed round trip drops fields its Go types do not know)"
				}
				rep.wrong = append(rep.wrong, fmt.Sprintf("%s on %s: %s", im.name, p.Name, diff))
			}
		}
		s.stop()
	}
	return nil
}

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
