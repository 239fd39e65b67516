package policy_test

import (
	"encoding/json"
	"strings"
	"testing"

	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/rawjson"
	"bouncer.dev/bouncer/internal/spec"
	"k8s.io/apimachinery/pkg/util/validation"
)

// FuzzParse feeds arbitrary documents to the policy parser: it must never
// panic, and a refusal must name what is wrong.
func FuzzParse(f *testing.F) {
	f.Add(spec.DefaultYAML())
	f.Add([]byte("apiVersion: bouncer.dev/v1\nkind: Policy\nrules: [{name: a, kinds: [Pod], require: [{key: owner, pattern: \"a|b\"}]}]\n"))
	f.Add([]byte("apiVersion: bouncer.dev/v1\nkind: Policy\ncustomKinds: [{kind: W, group: x.io, version: v1, resource: ws, templateLabelPaths: [a.b]}]\nrules: [{name: a, kinds: [W], defaults: {k: v}}]\n"))
	f.Add([]byte("exemptions: {objectSelector: {matchExpressions: [{key: a, operator: Exists}]}}"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := policy.Parse(doc)
		if err != nil {
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("a refusal without a message")
			}
			return
		}
		if len(p.Rules) == 0 {
			t.Fatal("a policy without rules was accepted")
		}
	})
}

// FuzzMutate builds a patch for arbitrary objects and default labels: the
// patch must apply with the API server's library, carry the label, and a
// second mutate of the patched object must add nothing.
func FuzzMutate(f *testing.F) {
	f.Add([]byte(`{"metadata":{"name":"p"}}`), "environment", "development", uint8(0))
	f.Add([]byte(`{"metadata":{"labels":{"a~b/c":"1"}},"spec":{"template":{"metadata":null}}}`), "app.kubernetes.io/name", "web", uint8(1))
	f.Add([]byte(`{"spec":{"jobTemplate":{"spec":{}}}}`), "x", "", uint8(2))
	kinds := []struct{ group, kind string }{{"", "Pod"}, {"apps", "Deployment"}, {"batch", "CronJob"}}
	f.Fuzz(func(t *testing.T, obj []byte, key, value string, which uint8) {
		if len(validation.IsQualifiedName(key)) > 0 || len(validation.IsValidLabelValue(value)) > 0 || !json.Valid(obj) {
			return
		}
		k := kinds[int(which)%len(kinds)]
		doc, _ := json.Marshal(map[string]any{"apiVersion": spec.APIVersion, "kind": spec.DocumentKind,
			"rules": []any{map[string]any{"name": "d", "kinds": []string{k.kind}, "defaults": map[string]string{key: value}}}})
		p, err := policy.Parse(doc)
		if err != nil {
			t.Fatalf("a valid key and value were refused: %v", err)
		}
		v, err := rawjson.Parse(obj)
		if err != nil {
			return
		}
		req := review(Create, k.group, k.kind, "", "")
		req.Object = v
		d := p.Mutate(req)
		if d.Unreadable != nil {
			if len(d.Patch) > 0 {
				t.Fatalf("an unreadable object got a patch: %+v", d.Patch)
			}
			return // refused with a 400, no patch
		}
		patched := applyPatch(t, req.Object, d)
		again := *req
		again.Object = patched
		d2 := p.Mutate(&again)
		if len(d2.Patch) > 0 {
			t.Fatalf("second mutate patched again: %+v\nafter first: %s", d2.Patch, patched)
		}
		o, err := policy.ReadObject(patched, p.Kind(k.group, k.kind), "object")
		if err != nil {
			t.Fatalf("the patched object is unreadable: %v", err)
		}
		for _, pl := range o.Places {
			if _, ok := pl.Labels[key]; !ok {
				t.Fatalf("%s lacks %q after the patch: %s", pl.Path, key, patched.Bytes())
			}
		}
	})
}
