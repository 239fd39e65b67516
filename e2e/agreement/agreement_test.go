// Package agreement feeds the same reviews to bouncer's Go decision code and
// to its compiled policies, evaluated with the CEL code the API server runs
// (k8s.io/apiserver's validating and mutating admission policy machinery),
// and asserts that they agree: the same verdict, the same warnings and audit
// annotations, and the same object after mutation.
package agreement

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"bouncer.dev/bouncer/internal/compile"
	"bouncer.dev/bouncer/internal/policy"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admregv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/policy/mutating/patch"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/matchconditions"
	"k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/cel/environment"
)

// compiled holds one compiled policy with its evaluators.
type compiled struct {
	name        string
	constraints *admregv1.MatchResources
	action      admregv1.ValidationAction // validating only
	validator   validating.Validator
	matcher     matchconditions.Matcher // mutating only
	patchers    []patch.Patcher
}

func load(t *testing.T, p *policy.Policy) []*compiled {
	t.Helper()
	objs := build(t, p, compile.Both)
	actions := map[string]admregv1.ValidationAction{}
	for _, o := range objs {
		if b, ok := o.(*admregv1.ValidatingAdmissionPolicyBinding); ok {
			actions[b.Spec.PolicyName] = b.Spec.ValidationActions[0]
		}
	}
	var out []*compiled
	for _, o := range objs {
		switch pol := o.(type) {
		case *admregv1.ValidatingAdmissionPolicy:
			out = append(out, &compiled{name: pol.Name, constraints: pol.Spec.MatchConstraints, action: actions[pol.Name], validator: compileValidating(t, pol)})
		case *admregv1.MutatingAdmissionPolicy:
			c := &compiled{name: pol.Name, constraints: pol.Spec.MatchConstraints}
			c.matcher, c.patchers = compileMutating(t, pol)
			out = append(out, c)
		}
	}
	return out
}

// compileValidating mirrors k8s.io/apiserver's validating compilePolicy.
func compileValidating(t *testing.T, p *admregv1.ValidatingAdmissionPolicy) validating.Validator {
	t.Helper()
	opts := plugincel.OptionalVariableDeclarations{HasAuthorizer: true}
	msgOpts := plugincel.OptionalVariableDeclarations{}
	compiler, err := plugincel.NewCompositedCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
	if err != nil {
		t.Fatal(err)
	}
	var vars []plugincel.NamedExpressionAccessor
	for _, v := range p.Spec.Variables {
		vars = append(vars, &validating.Variable{Name: v.Name, Expression: v.Expression})
	}
	compiler.CompileAndStoreVariables(vars, opts, environment.StoredExpressions)
	var conds []plugincel.ExpressionAccessor
	for i := range p.Spec.MatchConditions {
		conds = append(conds, (*matchconditions.MatchCondition)(&p.Spec.MatchConditions[i]))
	}
	matcher := matchconditions.NewMatcher(compiler.CompileCondition(conds, opts, environment.StoredExpressions), p.Spec.FailurePolicy, "policy", "validate", p.Name)
	var validations, messages, audits []plugincel.ExpressionAccessor
	for _, v := range p.Spec.Validations {
		validations = append(validations, &validating.ValidationCondition{Expression: v.Expression, Message: v.Message, Reason: v.Reason})
		messages = append(messages, &validating.MessageExpressionCondition{MessageExpression: v.MessageExpression})
	}
	for _, a := range p.Spec.AuditAnnotations {
		audits = append(audits, &validating.AuditAnnotationCondition{Key: a.Key, ValueExpression: a.ValueExpression})
	}
	v := validating.NewValidator(compiler.CompileCondition(validations, opts, environment.StoredExpressions), matcher,
		compiler.CompileCondition(audits, opts, environment.StoredExpressions),
		compiler.CompileCondition(messages, msgOpts, environment.StoredExpressions), p.Spec.FailurePolicy, nil)
	return v
}

// compileMutating mirrors k8s.io/apiserver's mutating compilePolicy.
func compileMutating(t *testing.T, p *admregv1.MutatingAdmissionPolicy) (matchconditions.Matcher, []patch.Patcher) {
	t.Helper()
	opts := plugincel.OptionalVariableDeclarations{HasAuthorizer: true}
	compiler, err := plugincel.NewCompositedCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
	if err != nil {
		t.Fatal(err)
	}
	var conds []plugincel.ExpressionAccessor
	for i := range p.Spec.MatchConditions {
		conds = append(conds, (*matchconditions.MatchCondition)(&p.Spec.MatchConditions[i]))
	}
	matcher := matchconditions.NewMatcher(compiler.CompileCondition(conds, opts, environment.StoredExpressions), p.Spec.FailurePolicy, "policy", "mutate", p.Name)
	popts := opts
	popts.HasPatchTypes = true
	var patchers []patch.Patcher
	for _, m := range p.Spec.Mutations {
		ev := compiler.CompileMutatingEvaluator(&patch.JSONPatchCondition{Expression: m.JSONPatch.Expression}, popts, environment.StoredExpressions)
		if errs := ev.CompilationErrors(); len(errs) > 0 {
			t.Fatalf("%s: %v", p.Name, errs)
		}
		patchers = append(patchers, patch.NewJSONPatcher(ev))
	}
	return matcher, patchers
}

// review is one admission request, with everything both engines need.
type review struct {
	desc      string
	gvk       schema.GroupVersionKind
	gvr       schema.GroupVersionResource
	op        string
	namespace string
	user      string
	groups    []string
	object    map[string]any
	old       map[string]any
}

// matches applies a policy's matchConstraints as the API server does:
// resource and operation, the namespace's name label, and the object
// selector against the new or the old object.
func (c *compiled) matches(r *review) bool {
	mc := c.constraints
	ok := false
	for _, rule := range mc.ResourceRules {
		if has(rule.APIGroups, r.gvr.Group) && has(rule.APIVersions, r.gvr.Version) && has(rule.Resources, r.gvr.Resource) && hasOp(rule.Operations, r.op) {
			ok = true
		}
	}
	if !ok {
		return false
	}
	if mc.NamespaceSelector != nil {
		sel, _ := metav1.LabelSelectorAsSelector(mc.NamespaceSelector)
		if !sel.Matches(labels.Set{"kubernetes.io/metadata.name": r.namespace}) {
			return false
		}
	}
	if mc.ObjectSelector != nil {
		sel, _ := metav1.LabelSelectorAsSelector(mc.ObjectSelector)
		if !sel.Matches(labels.Set(objLabels(r.object))) && (r.old == nil || !sel.Matches(labels.Set(objLabels(r.old)))) {
			return false
		}
	}
	return true
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s || x == "*" {
			return true
		}
	}
	return false
}

func hasOp(ops []admregv1.OperationType, op string) bool {
	for _, o := range ops {
		if string(o) == op || o == admregv1.OperationAll {
			return true
		}
	}
	return false
}

func objLabels(o map[string]any) map[string]string {
	out := map[string]string{}
	m, _ := o["metadata"].(map[string]any)
	l, _ := m["labels"].(map[string]any)
	for k, v := range l {
		out[k], _ = v.(string)
	}
	return out
}

func (r *review) attributes(obj map[string]any) *admission.VersionedAttributes {
	o := &unstructured.Unstructured{Object: obj}
	var old runtime.Object
	if r.old != nil {
		old = &unstructured.Unstructured{Object: r.old}
	}
	name, _, _ := unstructured.NestedString(obj, "metadata", "name")
	attrs := admission.NewAttributesRecord(o, old, r.gvk, r.namespace, name, r.gvr, "", admission.Operation(r.op), nil, false,
		&user.DefaultInfo{Name: r.user, Groups: r.groups})
	va := &admission.VersionedAttributes{Attributes: attrs, VersionedKind: r.gvk, VersionedObject: admission.NewLazyObject(o)}
	if old != nil {
		va.VersionedOldObject = admission.NewLazyObject(old)
	}
	return va
}

// verdict is what both engines are compared on.
type verdict struct {
	Denied   bool
	Warned   bool
	Audited  bool
	Object   string
	Messages []string `json:"-"`
}

func viaCEL(t *testing.T, pols []*compiled, r *review) verdict {
	t.Helper()
	ctx := context.Background()
	var v verdict
	obj := deepCopy(r.object)
	// Mutation first, as the API server runs mutating admission first.
	for _, c := range pols {
		if c.patchers == nil || !c.matches(r) {
			continue
		}
		va := r.attributes(obj)
		m := c.matcher.Match(ctx, va, nil, nil)
		if m.Error != nil {
			t.Fatalf("%s: match conditions: %v", c.name, m.Error)
		}
		if !m.Matches {
			continue
		}
		for _, p := range c.patchers {
			out, err := p.Patch(ctx, patch.Request{MatchedResource: r.gvr, VersionedAttributes: va,
				ObjectInterfaces: admission.NewObjectInterfacesFromScheme(runtime.NewScheme())}, cel.RuntimeCELCostBudget)
			if err != nil {
				t.Fatalf("%s: patch: %v", c.name, err)
			}
			obj = out.(*unstructured.Unstructured).Object
			va = r.attributes(obj)
		}
	}
	for _, c := range pols {
		if c.validator == nil || !c.matches(r) {
			continue
		}
		res := c.validator.Validate(ctx, r.gvr, r.attributes(obj), nil, nil, cel.RuntimeCELCostBudget, nil)
		for _, d := range res.Decisions {
			if d.Evaluation == validating.EvalError {
				t.Fatalf("%s: evaluation error: %+v", c.name, d)
			}
			if d.Action != validating.ActionDeny {
				continue
			}
			v.Messages = append(v.Messages, d.Message)
			switch c.action {
			case admregv1.Deny:
				v.Denied = true
			case admregv1.Warn:
				v.Warned = true
			case admregv1.Audit:
				v.Audited = true
			}
		}
	}
	v.Object = canonical(obj)
	return v
}

func viaGo(t *testing.T, p *policy.Policy, r *review) verdict {
	t.Helper()
	raw, _ := json.Marshal(r.object)
	req := &policy.Request{UID: "u", Group: r.gvk.Group, Version: r.gvk.Version, Kind: r.gvk.Kind, Operation: r.op,
		Namespace: r.namespace, User: r.user, Groups: r.groups, Object: raw}
	if r.old != nil {
		req.OldObject, _ = json.Marshal(r.old)
	}
	if n, _, _ := unstructured.NestedString(r.object, "metadata", "name"); n != "" {
		req.Name = n
	}
	m := p.Mutate(req)
	if !m.Allowed {
		t.Fatalf("mutate refused a readable object: %+v", m)
	}
	patched := raw
	if len(m.Patch) > 0 {
		ops, _ := json.Marshal(m.Patch)
		jp, err := jsonpatch.DecodePatch(ops)
		if err != nil {
			t.Fatal(err)
		}
		if patched, err = jp.Apply(raw); err != nil {
			t.Fatal(err)
		}
	}
	req.Object = patched
	d := p.Validate(req)
	var obj map[string]any
	_ = json.Unmarshal(patched, &obj)
	v := verdict{Denied: !d.Allowed, Warned: len(d.Warnings) > 0, Audited: len(d.AuditAnnotations) > 0, Object: canonical(obj)}
	if !d.Allowed {
		v.Messages = []string{d.Message}
	}
	v.Messages = append(v.Messages, d.Warnings...)
	return v
}

func canonical(o map[string]any) string { b, _ := json.Marshal(o); return string(b) }

func deepCopy(o map[string]any) map[string]any {
	b, _ := json.Marshal(o)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

var kinds = []struct {
	gvk    schema.GroupVersionKind
	gvr    schema.GroupVersionResource
	places [][]string
}{
	{schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, schema.GroupVersionResource{Version: "v1", Resource: "pods"}, [][]string{{"metadata"}}},
	{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, [][]string{{"metadata"}, {"spec", "template", "metadata"}}},
	{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"}, schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}, [][]string{{"metadata"}, {"spec", "template", "metadata"}}},
	{schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "CronJob"}, schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "cronjobs"}, [][]string{{"metadata"}, {"spec", "jobTemplate", "metadata"}, {"spec", "jobTemplate", "spec", "template", "metadata"}}},
}

// randomLabels draws a label map from the values that matter: owner valid,
// empty or refused; environment present or not; keys with slashes; the
// exempt label now and then. nil means no labels map at all.
func randomLabels(rng *rand.Rand) map[string]any {
	if rng.Intn(6) == 0 {
		return nil
	}
	l := map[string]any{}
	switch rng.Intn(4) {
	case 0:
		l["owner"] = "team-a"
	case 1:
		l["owner"] = ""
	case 2:
		l["owner"] = "Team A!"
	}
	if rng.Intn(2) == 0 {
		l["environment"] = []string{"prod", "development", ""}[rng.Intn(3)]
	}
	if rng.Intn(2) == 0 {
		l["app.kubernetes.io/name"] = "web"
	}
	if rng.Intn(3) == 0 {
		l["cost-center"] = "cc-1"
	}
	if rng.Intn(12) == 0 {
		l["bouncer.dev/exempt"] = "true"
	}
	return l
}

func randomObject(rng *rand.Rand, k int) map[string]any {
	obj := map[string]any{"apiVersion": kinds[k].gvk.GroupVersion().String(), "kind": kinds[k].gvk.Kind}
	for i, place := range kinds[k].places {
		cur := obj
		for _, seg := range place {
			next, ok := cur[seg].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[seg] = next
			}
			cur = next
		}
		if i == 0 {
			cur["name"] = "obj"
			if rng.Intn(5) == 0 {
				delete(cur, "name")
				cur["generateName"] = "obj-"
			}
		}
		if l := randomLabels(rng); l != nil {
			cur["labels"] = l
		}
	}
	return obj
}

func reviews(rng *rand.Rand, n int) []*review {
	var out []*review
	for i := 0; i < n; i++ {
		k := rng.Intn(len(kinds))
		r := &review{gvk: kinds[k].gvk, gvr: kinds[k].gvr, op: "CREATE", namespace: []string{"shop", "shop", "shop", "kube-system", "e2e-exempt"}[rng.Intn(5)],
			user: []string{"alice", "alice", "alice", "bouncer-e2e-break-glass"}[rng.Intn(4)], groups: []string{"system:authenticated"}}
		r.object = randomObject(rng, k)
		if rng.Intn(2) == 0 {
			r.op = "UPDATE"
			if rng.Intn(2) == 0 {
				r.old = deepCopy(r.object)
				if rng.Intn(2) == 0 {
					r.old = randomObject(rng, k)
				}
			} else {
				r.old = randomObject(rng, k)
			}
			if rng.Intn(8) == 0 {
				r.object["metadata"].(map[string]any)["deletionTimestamp"] = "2026-11-24T00:00:00Z"
			}
		}
		r.desc = fmt.Sprintf("#%d %s %s in %s by %s", i, r.op, r.gvk.Kind, r.namespace, r.user)
		out = append(out, r)
	}
	return out
}

func TestTheCompiledPoliciesAgreeWithTheFunctionsOnRandomReviews(t *testing.T) {
	for _, file := range []string{"", "../../testdata/policies/e2e.yaml", "../../testdata/policies/warn-and-audit.yaml"} {
		name := file
		if name == "" {
			name = "the embedded default"
		}
		t.Run(name, func(t *testing.T) {
			p := policy.Default()
			if file != "" {
				var err error
				if p, err = policy.Load(file); err != nil {
					t.Fatal(err)
				}
			}
			pols := load(t, p)
			seed := int64(20261124)
			if s := os.Getenv("AGREEMENT_SEED"); s != "" {
				_, _ = fmt.Sscan(s, &seed)
			}
			rng := rand.New(rand.NewSource(seed))
			counts := map[string]int{}
			for _, r := range reviews(rng, 400) {
				got, want := viaCEL(t, pols, r), viaGo(t, p, r)
				if !reflect.DeepEqual(
					verdict{Denied: got.Denied, Warned: got.Warned, Audited: got.Audited, Object: got.Object},
					verdict{Denied: want.Denied, Warned: want.Warned, Audited: want.Audited, Object: want.Object}) {
					t.Fatalf("%s: the engines disagree (seed %d)\nobject %s\nold %s\nCEL: %+v\nGo:  %+v", r.desc, seed, canonical(r.object), canonical(r.old), got, want)
				}
				// A denial carries the same text: the compiled message is the
				// functions' message.
				if want.Denied && !strings.Contains(strings.Join(got.Messages, "\n"), want.Messages[0]) {
					t.Errorf("%s: denial messages differ\nCEL: %q\nGo:  %q", r.desc, got.Messages, want.Messages[0])
				}
				counts[fmt.Sprintf("denied=%v", want.Denied)]++
				if want.Warned {
					counts["warned"]++
				}
				if want.Audited {
					counts["audited"]++
				}
				if got.Object != canonical(r.object) {
					counts["mutated"]++
				}
			}
			keys := make([]string, 0, len(counts))
			for k := range counts {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var parts []string
			for _, k := range keys {
				parts = append(parts, fmt.Sprintf("%s:%d", k, counts[k]))
			}
			t.Logf("400 random reviews agree (seed %d): %s", seed, strings.Join(parts, " "))
		})
	}
}
