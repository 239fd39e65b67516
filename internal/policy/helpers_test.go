package policy_test

import (
	"encoding/json"
	"testing"

	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/policy/policytest"
	"bouncer.dev/bouncer/internal/rawjson"
	"bouncer.dev/bouncer/internal/verdict"
	"github.com/google/go-cmp/cmp"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
)

// The names the tables use, short.
const (
	Create  = policy.Create
	Update  = policy.Update
	Delete  = policy.Delete
	Connect = policy.Connect
)

type (
	Policy  = policy.Policy
	Request = policy.Request
)

// mustParse compiles a policy document or fails the test.
var mustParse = policytest.Parse

// value parses JSON for a request, or gives the absent value for "".
func value(s string) rawjson.Value {
	if s == "" {
		return rawjson.Value{}
	}
	v, err := rawjson.Parse([]byte(s))
	if err != nil {
		panic("test JSON does not parse: " + err.Error() + ": " + s)
	}
	return v
}

// review builds a request for kind in namespace "shop" by user alice.
func review(op, group, kind, object, old string) *Request {
	return &Request{UID: "uid-1", Group: group, Version: "v1", Kind: kind, Operation: op, Namespace: "shop", User: "alice",
		Groups: []string{"system:authenticated"}, Object: value(object), OldObject: value(old)}
}

// answer is the decision as the API server gets it.
func answer(d policy.Decision) verdict.Answer { return verdict.For(&d) }

// applyPatch applies the decision's patch to the request's object with the
// library the API server uses, and returns the result.
func applyPatch(t *testing.T, obj rawjson.Value, d policy.Decision) rawjson.Value {
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
	out, err := p.Apply(obj.Bytes())
	if err != nil {
		t.Fatalf("patch does not apply: %v\npatch: %s\nobject: %s", err, raw, obj.Bytes())
	}
	v, err := rawjson.Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	return v
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
