package policy_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/verdict"
	"github.com/google/go-cmp/cmp"
)

// chainPolicy requires every label it defaults, at deny, warn and audit,
// with patterns the defaults meet (loading refuses a default a requirement
// refuses), and defaults a key with a slash.
const chainPolicy = `
apiVersion: bouncer.dev/v1
kind: Policy
rules:
- name: require-environment
  kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob]
  require: [{key: environment, pattern: "development|production"}, {key: owner}]
- name: want-tier
  action: warn
  kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob]
  require: [{key: tier, pattern: "front|back"}]
- name: track-part-of
  action: audit
  kinds: [Pod, Deployment]
  require: [{key: app.kubernetes.io/part-of}]
- name: defaults
  kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob]
  defaults: {environment: development, tier: front, app.kubernetes.io/part-of: shop}
`

// exemptedByDefaults exempts by labels the defaults add or settle: globally
// an object that gets environment=development, and from require-owner one
// whose environment label is absent, which no object is after the patch.
const exemptedByDefaults = `
apiVersion: bouncer.dev/v1
kind: Policy
exemptions: {objectSelector: {matchLabels: {environment: development}}}
rules:
- name: require-owner
  kinds: [Pod, Deployment, ReplicaSet, Job, CronJob]
  require: [{key: owner}]
  exemptions: {objectSelector: {matchExpressions: [{key: tier, operator: DoesNotExist}]}}
- name: defaults
  kinds: [Pod, Deployment, ReplicaSet, Job, CronJob]
  defaults: {environment: development, tier: none}
`

// customKinds has a kind with two template places under one parent, and one
// whose template place lies under metadata.name, which mutate can turn from
// absent into a map.
const customKinds = `
apiVersion: bouncer.dev/v1
kind: Policy
customKinds:
- {kind: Gadget, group: example.com, version: v1, resource: gadgets, templateLabelPaths: [spec.a.metadata.labels, spec.b.metadata.labels]}
- {kind: Widget, group: example.com, version: v1, resource: widgets, templateLabelPaths: [metadata.name.labels]}
rules:
- name: require-owner
  kinds: [Pod, Gadget, Widget]
  require: [{key: owner}, {key: environment, pattern: development}]
- name: defaults
  kinds: [Pod, Gadget, Widget]
  defaults: {environment: development}
`

// TestAdmitDecidesAsValidatingThePatchedObjectWould holds Admit, which lays
// mutate's labels over the object it read, to the chain as the API server
// runs it: mutate, its patch applied with the API server's JSON Patch
// library, the result parsed again, validate on that. Every request is
// judged by every policy, and both decisions must be equal field by field.
func TestAdmitDecidesAsValidatingThePatchedObjectWould(t *testing.T) {
	policies := map[string]*Policy{
		"default":              policy.Default(),
		"chain":                mustParse(t, chainPolicy),
		"exempted by defaults": mustParse(t, exemptedByDefaults),
		"custom kinds":         mustParse(t, customKinds),
	}
	files, _ := filepath.Glob("../../testdata/policies/*.yaml")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		policies[filepath.Base(f)] = mustParse(t, string(b))
	}
	if len(policies) < 8 {
		t.Fatalf("%d policies; testdata/policies is missing", len(policies))
	}

	named := []struct {
		name, policy string
		req          *Request
		allowed      bool
	}{
		{"a Pod that lacks a label the chain requires and defaults is admitted", "chain",
			review(Create, "", "Pod", `{"metadata":{"name":"p","labels":{"owner":"a"}}}`, ""), true},
		{"a Pod without a labels map gets every default, and is still denied for its missing owner", "chain",
			review(Create, "", "Pod", `{"metadata":{"name":"p","labels":null}}`, ""), false},
		{"a CronJob without spec gets the defaults in both templates, and is denied for their missing owner", "chain",
			review(Create, "batch", "CronJob", `{"metadata":{"name":"c","labels":{"owner":"a"}}}`, ""), false},
		{"a CronJob whose jobTemplate has no spec gets the Pod template under it", "chain",
			review(Create, "batch", "CronJob", `{"metadata":{"name":"c","labels":{"owner":"a"}},"spec":{"jobTemplate":{"metadata":{"labels":{"owner":"a"}}}}}`, ""), false},
		{"a Deployment whose selector names environment keeps it missing and is denied", "chain",
			review(Create, "apps", "Deployment", `{"metadata":{"name":"d","labels":{"owner":"a"}},"spec":{"selector":{"matchExpressions":[{"key":"environment","operator":"DoesNotExist"}]},"template":{"metadata":{"labels":{"owner":"a"}}}}}`, ""), false},
		{"a Pod a ReplicaSet controller makes gets no default and inherits its parent's verdict", "chain",
			as(rsController, review(Create, "", "Pod", podOfRS, "")), true},
		{"a ReplicaSet under a Deployment gets no template default", "chain",
			as(depController, review(Create, "apps", "ReplicaSet", rsOfDeploy, "")), true},
		{"a mirror Pod follows its Node", "chain", asNode("n1", review(Create, "", "Pod", mirrorOf("n1"), "")), true},
		{"an UPDATE gets the default on the object only and is judged against the old object", "chain",
			review(Update, "apps", "Deployment", deployNoTpl, deployNoTpl), true},
		{"a default that selects the global object exemption exempts the object", "exempted by defaults",
			review(Create, "", "Pod", `{"metadata":{"name":"p"}}`, ""), true},
		{"a default that ends a rule's exemption brings the object under the rule", "exempted by defaults",
			review(Create, "", "Pod", `{"metadata":{"name":"p","labels":{"environment":"production"}}}`, ""), false},
		{"a custom kind's two templates under one missing parent both get the default", "custom kinds",
			review(Create, "example.com", "Gadget", `{"metadata":{"name":"g","labels":{"owner":"a"}}}`, ""), false},
		{"a template place under metadata.name is judged on the patched document", "custom kinds",
			review(Create, "example.com", "Widget", `{"metadata":{"labels":{"owner":"a"}}}`, ""), false},
	}
	for _, tt := range named {
		t.Run(tt.name, func(t *testing.T) {
			p := policies[tt.policy]
			if !admitsExactly(t, p, tt.req) {
				return
			}
			a, _ := p.Admit(tt.req)
			if got := verdict.For(&a.Validate).Allowed; got != tt.allowed {
				t.Errorf("allowed = %v, want %v: %+v", got, tt.allowed, a.Validate)
			}
		})
	}

	reqs := goldenRequests(t)
	golden := len(reqs)
	rng := rand.New(rand.NewPCG(20261205, 1))
	for i := 0; i < 3000; i++ {
		reqs = append(reqs, generated(rng, i))
	}
	for _, sweep := range []struct {
		policy string
		// changes is true when the policy's defaults can change validate's
		// decision: the requests must include such a change.
		changes bool
	}{
		{"default", false}, {"e2e.yaml", false}, {"object-label-exemption.yaml", false},
		{"warn-and-audit.yaml", false}, {"guard-admins.yaml", false},
		{"chain", true}, {"exempted by defaults", true}, {"custom kinds", true},
	} {
		t.Run("every golden and generated request under "+sweep.policy, func(t *testing.T) {
			p, failed := policies[sweep.policy], 0
			patched, changed := 0, 0
			for _, r := range reqs {
				if !admitsExactly(t, p, r.req) {
					t.Logf("request: %s", r.name)
					if failed++; failed == 5 {
						t.FailNow()
					}
					continue
				}
				a, _ := p.Admit(r.req)
				if len(a.Mutate.Added) > 0 {
					patched++
					if !cmp.Equal(a.Validate, p.Validate(r.req)) {
						changed++
					}
				}
			}
			t.Logf("%d golden and %d generated requests; %d patched, on %d of them validate's decision is the patch's doing", golden, len(reqs)-golden, patched, changed)
			if sweep.changes && changed == 0 {
				t.Error("no request whose patch changes validate's decision: the requests do not test the chain")
			}
		})
	}
}

// admitsExactly reports whether Admit's decisions equal the chain's run the
// long way, and says how they differ when not.
func admitsExactly(t *testing.T, p *Policy, r *Request) bool {
	t.Helper()
	ok := true
	fail := func(format string, a ...any) {
		t.Helper()
		t.Errorf(format, a...)
		ok = false
	}
	got, gotErr := p.Admit(r)
	mutate := p.Mutate(r)
	obj, wantErr := policy.ApplyPatch(r.Object, mutate)
	var validate policy.Decision
	if wantErr == nil {
		patched := *r
		patched.Object = obj
		validate = p.Validate(&patched)
	}
	switch {
	case (gotErr == nil) != (wantErr == nil):
		fail("Admit error %v, applying the patch: %v", gotErr, wantErr)
	case wantErr != nil:
	default:
		if diff := cmp.Diff(mutate, got.Mutate); diff != "" {
			fail("mutate (-chain +Admit):\n%s", diff)
		}
		if diff := cmp.Diff(validate, got.Validate); diff != "" {
			fail("validate (-chain +Admit):\n%s\nobject: %s\npatched: %s", diff, r.Object.Bytes(), obj.Bytes())
		}
	}
	return ok
}

type namedRequest struct {
	name string
	req  *Request
}

// goldenRequests reads the AdmissionReviews of testdata/reviews and
// testdata/apiserver-captures that reach the functions.
func goldenRequests(t *testing.T) []namedRequest {
	t.Helper()
	var out []namedRequest
	for _, dir := range []string{"reviews", "apiserver-captures"} {
		files, err := filepath.Glob(filepath.Join("../../testdata", dir, "*.json"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no reviews in testdata/%s: %v", dir, err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var rv struct {
				Request *struct {
					Kind        struct{ Group, Version, Kind string }
					SubResource string
					Name        string
					Namespace   string
					Operation   string
					UserInfo    struct {
						Username string
						Groups   []string
					}
					DryRun            bool
					Object, OldObject json.RawMessage
				}
			}
			// The malformed reviews never reach the functions.
			if json.Unmarshal(b, &rv) != nil || rv.Request == nil {
				continue
			}
			q := rv.Request
			out = append(out, namedRequest{dir + "/" + filepath.Base(f), &Request{UID: "u",
				Group: q.Kind.Group, Version: q.Kind.Version, Kind: q.Kind.Kind, SubResource: q.SubResource,
				Operation: q.Operation, Namespace: q.Namespace, Name: q.Name, User: q.UserInfo.Username,
				Groups: q.UserInfo.Groups, DryRun: q.DryRun, Object: value(string(q.Object)), OldObject: value(string(q.OldObject))}})
		}
	}
	return out
}

// A generated object's kinds, with their label places (metadata.labels
// first), selector and the controllers that make them.
var genKinds = []struct {
	group, kind, apiVersion string
	places                  []string
	selector                string
	parents                 [][2]string // apiVersion, kind
}{
	{"", "Pod", "v1", nil, "", [][2]string{{"apps/v1", "ReplicaSet"}, {"batch/v1", "Job"}, {"v1", "Node"}}},
	{"apps", "Deployment", "apps/v1", []string{"spec.template.metadata.labels"}, "spec.selector", nil},
	{"apps", "ReplicaSet", "apps/v1", []string{"spec.template.metadata.labels"}, "spec.selector", [][2]string{{"apps/v1", "Deployment"}}},
	{"apps", "StatefulSet", "apps/v1", []string{"spec.template.metadata.labels"}, "spec.selector", nil},
	{"batch", "Job", "batch/v1", []string{"spec.template.metadata.labels"}, "spec.selector", [][2]string{{"batch/v1", "CronJob"}}},
	{"batch", "CronJob", "batch/v1", []string{"spec.jobTemplate.metadata.labels", "spec.jobTemplate.spec.template.metadata.labels"}, "spec.jobTemplate.spec.selector", nil},
	{"example.com", "Gadget", "example.com/v1", []string{"spec.a.metadata.labels", "spec.b.metadata.labels"}, "", nil},
	{"example.com", "Widget", "example.com/v1", []string{"metadata.name.labels"}, "", nil},
}

// labelStates are what a generated label place holds; nil is no map.
var labelStates = []any{
	nil, "null", "parent null", map[string]any{},
	map[string]any{"owner": "team-a"},
	map[string]any{"owner": "team-a", "environment": "production"},
	map[string]any{"environment": ""},
	map[string]any{"owner": nil, "app": "web"},
	map[string]any{"owner": "-bad", "tier": "front"},
	map[string]any{"owner": "a", "bouncer.dev/exempt": "true"},
	map[string]any{"owner": "a", "environment": "development", "tier": "back", "app.kubernetes.io/part-of": "shop"},
}

var users = []struct {
	user   string
	groups []string
}{
	{"alice", []string{"system:authenticated"}},
	{"system:kube-controller-manager", nil},
	{rsController, []string{"system:serviceaccounts"}},
	{"system:serviceaccount:kube-system:job-controller", nil},
	{"system:node:n1", []string{"system:nodes", "system:authenticated"}},
	{"bouncer-e2e-break-glass", nil},
}

// generated makes a random request: label maps absent, null, under a null
// parent, empty or with labels; templates absent or under a null spec;
// selectors naming a default's key; controller and node children; UPDATEs.
func generated(rng *rand.Rand, i int) namedRequest {
	k := genKinds[rng.IntN(len(genKinds))]
	object := func() map[string]any {
		obj := map[string]any{"apiVersion": k.apiVersion, "kind": k.kind}
		meta := map[string]any{}
		if rng.IntN(4) > 0 {
			meta["name"] = fmt.Sprintf("o%d", i)
		} else {
			meta["generateName"] = "o-"
		}
		obj["metadata"] = meta
		for _, place := range append([]string{policy.ObjectPlace}, k.places...) {
			segs := strings.Split(place, ".")
			switch s := labelStates[rng.IntN(len(labelStates))].(type) {
			case nil:
			case string:
				if s == "null" {
					set(obj, segs, nil)
				} else {
					set(obj, segs[:len(segs)-1], nil)
				}
			case map[string]any:
				m := map[string]any{}
				for key, v := range s {
					m[key] = v
				}
				set(obj, segs, m)
			}
		}
		if k.selector != "" {
			sel := strings.Split(k.selector, ".")
			switch rng.IntN(5) {
			case 1:
				set(obj, sel, map[string]any{"matchLabels": map[string]any{"app": "web"}})
			case 2:
				set(obj, sel, map[string]any{"matchLabels": map[string]any{"environment": "production"}})
			case 3:
				set(obj, sel, map[string]any{"matchExpressions": []any{map[string]any{"key": "environment", "operator": "DoesNotExist"}}})
			case 4:
				set(obj, sel, map[string]any{"matchExpressions": []any{map[string]any{"key": "tier", "operator": "NotIn", "values": []any{"x"}}}})
			}
		}
		if len(k.places) > 0 && rng.IntN(6) == 0 {
			// A template's parent null or missing: the patch must create it.
			segs := strings.Split(k.places[rng.IntN(len(k.places))], ".")
			n := 1 + rng.IntN(len(segs)-1)
			set(obj, segs[:n], nil)
			if rng.IntN(2) == 0 {
				delete(obj, segs[0]) // or the value at segs[:n]: set made its parents
				if n > 1 {
					set(obj, segs[:n-1], map[string]any{})
				}
			}
		}
		if m, ok := obj["metadata"].(map[string]any); ok {
			switch rng.IntN(6) {
			case 1, 2:
				if len(k.parents) > 0 {
					par := k.parents[rng.IntN(len(k.parents))]
					m["ownerReferences"] = []any{map[string]any{"apiVersion": par[0], "kind": par[1], "name": "n1", "uid": "u", "controller": true}}
				}
			case 3:
				m["ownerReferences"] = []any{map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "uid": "u"}}
			case 4:
				if rng.IntN(4) == 0 {
					m["deletionTimestamp"] = "2026-01-01T00:00:00Z"
				}
			}
		}
		return obj
	}
	js := func(v map[string]any) string {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		return string(b)
	}
	obj, old, op := js(object()), "", Create
	switch rng.IntN(10) {
	case 0, 1:
		op, old = Update, js(object())
	case 2:
		op, old = Update, obj
	case 3:
		if rng.IntN(4) == 0 {
			op, obj, old = Delete, "", obj
		}
	}
	r := review(op, k.group, k.kind, obj, old)
	u := users[rng.IntN(len(users))]
	r.User, r.Groups = u.user, u.groups
	switch rng.IntN(20) {
	case 0:
		r.Namespace = "kube-system"
	case 1:
		r.NamespaceLabels = map[string]string{"bouncer.dev/exempt": "true"}
	case 2:
		if op == Update {
			r.SubResource = "status"
		}
	}
	return namedRequest{fmt.Sprintf("generated %d: %s %s/%s by %s: %s (old %s)", i, op, k.group, k.kind, r.User, obj, old), r}
}

// set puts v at the dotted path in obj, making or replacing maps on the way.
func set(obj map[string]any, segs []string, v any) {
	for _, s := range segs[:len(segs)-1] {
		next, ok := obj[s].(map[string]any)
		if !ok {
			next = map[string]any{}
			obj[s] = next
		}
		obj = next
	}
	obj[segs[len(segs)-1]] = v
}
