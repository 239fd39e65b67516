package policy

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
)

// mustParse compiles a policy document or fails the test.
func mustParse(t *testing.T, doc string) *Policy {
	t.Helper()
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("policy does not parse: %v", err)
	}
	return p
}

// review builds a request for kind in namespace "shop".
func review(op, group, kind, object, old string) *Request {
	r := &Request{UID: "uid-1", Group: group, Version: "v1", Kind: kind, Operation: op, Namespace: "shop", User: "alice", Groups: []string{"system:authenticated"}}
	if object != "" {
		r.Object = []byte(object)
	}
	if old != "" {
		r.OldObject = []byte(old)
	}
	return r
}

// applyPatch applies the decision's patch to the request's object with the
// library the API server uses, and returns the result.
func applyPatch(t *testing.T, obj []byte, d Decision) []byte {
	t.Helper()
	if len(d.Patch) == 0 {
		return obj
	}
	raw, err := json.Marshal(d.Patch)
	if err != nil {
		t.Fatal(err)
	}
	p, err := jsonpatch.DecodePatch(raw)
	if err != nil {
		t.Fatalf("patch does not decode: %v\n%s", err, raw)
	}
	out, err := p.Apply(obj)
	if err != nil {
		t.Fatalf("patch does not apply: %v\npatch: %s\nobject: %s", err, raw, obj)
	}
	return out
}

// jsonDiff compares two JSON documents by value, in (-want +got) form.
func jsonDiff(t *testing.T, want, got []byte) string {
	t.Helper()
	var w, g any
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("want is not JSON: %v\n%s", err, want)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got is not JSON: %v\n%s", err, got)
	}
	return cmp.Diff(w, g)
}
