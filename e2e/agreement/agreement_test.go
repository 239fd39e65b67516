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
	"maps"
	"math/rand"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/policyfile"
	"bouncer.dev/bouncer/internal/rawjson"
	"bouncer.dev/bouncer/internal/spec"
	"bouncer.dev/bouncer/internal/verdict"
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
	objs := build(t, p, 0)
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
	desc        string
	gvk         schema.GroupVersionKind
	gvr         schema.GroupVersionResource
	subresource string
	op          string
	namespace   string
	nsLabels    map[string]string
	user        string
	groups      []string
	object      map[string]any
	old         map[string]any
}

// matchesRules applies resource rules as the API server does, with
// subresources spelled resource/subresource.
func matchesRules(rules []admregv1.RuleWithOperations, r *review) bool {
	res := r.gvr.Resource
	if r.subresource != "" {
		res += "/" + r.subresource
	}
	for _, rule := range rules {
		if has(rule.APIGroups, r.gvr.Group) && has(rule.APIVersions, r.gvr.Version) && has(rule.Resources, res) && hasOp(rule.Operations, r.op) {
			return true
		}
	}
	return false
}

// matchesSelectors applies a namespace selector to the namespace's labels
// (its name label included, as the API server sets it) and an object
// selector to the new or the old object.
func matchesSelectors(nsSel, objSel *metav1.LabelSelector, r *review, obj map[string]any) bool {
	if nsSel != nil {
		l := labels.Set{"kubernetes.io/metadata.name": r.namespace}
		for k, v := range r.nsLabels {
			l[k] = v
		}
		sel, _ := metav1.LabelSelectorAsSelector(nsSel)
		if !sel.Matches(l) {
			return false
		}
	}
	if objSel != nil {
		sel, _ := metav1.LabelSelectorAsSelector(objSel)
		if !sel.Matches(labels.Set(objLabels(obj))) && (r.old == nil || !sel.Matches(labels.Set(objLabels(r.old)))) {
			return false
		}
	}
	return true
}

// matches applies a policy's matchConstraints.
func (c *compiled) matches(r *review, obj map[string]any) bool {
	var rules []admregv1.RuleWithOperations
	for _, nr := range c.constraints.ResourceRules {
		rules = append(rules, nr.RuleWithOperations)
	}
	return matchesRules(rules, r) && matchesSelectors(c.constraints.NamespaceSelector, c.constraints.ObjectSelector, r, obj)
}

// hook is a webhook as the API server applies it before calling a function.
type hook struct {
	rules         []admregv1.RuleWithOperations
	nsSel, objSel *metav1.LabelSelector
	matcher       matchconditions.Matcher
}

func newHook(t *testing.T, rules []admregv1.RuleWithOperations, nsSel, objSel *metav1.LabelSelector, conds []admregv1.MatchCondition) *hook {
	t.Helper()
	compiler, err := plugincel.NewCompositedCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
	if err != nil {
		t.Fatal(err)
	}
	var acc []plugincel.ExpressionAccessor
	for i := range conds {
		acc = append(acc, (*matchconditions.MatchCondition)(&conds[i]))
	}
	ignore := admregv1.Ignore
	filter := compiler.CompileCondition(acc, plugincel.OptionalVariableDeclarations{HasAuthorizer: true}, environment.StoredExpressions)
	return &hook{rules: rules, nsSel: nsSel, objSel: objSel, matcher: matchconditions.NewMatcher(filter, &ignore, "webhook", "test", "bouncer")}
}

// calls reports whether the API server would call the webhook for r.
func (h *hook) calls(t *testing.T, r *review, obj map[string]any) bool {
	t.Helper()
	if !matchesRules(h.rules, r) || !matchesSelectors(h.nsSel, h.objSel, r, obj) {
		return false
	}
	m := h.matcher.Match(context.Background(), r.attributes(obj), nil, nil)
	if m.Error != nil {
		t.Fatalf("webhook match conditions: %v", m.Error)
	}
	return m.Matches
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
	attrs := admission.NewAttributesRecord(o, old, r.gvk, r.namespace, name, r.gvr, r.subresource, admission.Operation(r.op), nil, false,
		&user.DefaultInfo{Name: r.user, Groups: r.groups})
	va := &admission.VersionedAttributes{Attributes: attrs, VersionedKind: r.gvk, VersionedObject: admission.NewLazyObject(o)}
	if old != nil {
		va.VersionedOldObject = admission.NewLazyObject(old)
	}
	return va
}

// outcome is what both engines are compared on.
type outcome struct {
	Denied   bool
	Warned   bool
	Audit    map[string]string
	Object   string
	Messages []string `json:"-"`
}

func viaCEL(t *testing.T, pols []*compiled, r *review) outcome {
	t.Helper()
	ctx := context.Background()
	var v outcome
	obj := deepCopy(r.object)
	// Mutation first, as the API server runs mutating admission first.
	for _, c := range pols {
		if c.patchers == nil || !c.matches(r, obj) {
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
		if c.validator == nil || !c.matches(r, obj) {
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
			}
		}
		for _, a := range res.AuditAnnotations {
			if a.Action == validating.AuditAnnotationActionError {
				t.Fatalf("%s: audit annotation %s: %s", c.name, a.Key, a.Error)
			}
			if a.Action == validating.AuditAnnotationActionPublish {
				if v.Audit == nil {
					v.Audit = map[string]string{}
				}
				v.Audit[a.Key] = a.Value
			}
		}
	}
	v.Object = canonical(obj)
	return v
}

// viaGo runs the webhook engine: the API server's filtering of each
// webhook configuration, then bouncer's functions, mutate first and its
// patch applied before validate.
func viaGo(t *testing.T, p *policy.Policy, vh, mh *hook, r *review) outcome {
	t.Helper()
	var v outcome
	obj := deepCopy(r.object)
	if mh.calls(t, r, obj) {
		req := r.request(t, obj)
		m := p.Mutate(req)
		a := verdict.For(&m)
		if !a.Allowed {
			t.Fatalf("mutate refused a readable object: %+v", a)
		}
		// mutate warns about a default the object's selector keeps out.
		v.Warned = len(a.Warnings) > 0
		v.Messages = append(v.Messages, a.Warnings...)
		patched, err := policy.ApplyPatch(req.Object, m)
		if err != nil {
			t.Fatal(err)
		}
		obj = nil
		_ = json.Unmarshal(patched.Bytes(), &obj)
	}
	if vh.calls(t, r, obj) {
		d := p.Validate(r.request(t, obj))
		a := verdict.For(&d)
		v.Denied, v.Warned = !a.Allowed, v.Warned || len(a.Warnings) > 0
		if len(a.AuditAnnotations) > 0 {
			v.Audit = a.AuditAnnotations
		}
		if !a.Allowed {
			v.Messages = append([]string{a.Message}, v.Messages...)
		}
		v.Messages = append(v.Messages, a.Warnings...)
	}
	v.Object = canonical(obj)
	return v
}

func (r *review) request(t *testing.T, obj map[string]any) *policy.Request {
	t.Helper()
	parse := func(o map[string]any) rawjson.Value {
		raw, _ := json.Marshal(o)
		v, err := rawjson.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	req := &policy.Request{UID: "u", Group: r.gvk.Group, Version: r.gvk.Version, Kind: r.gvk.Kind, SubResource: r.subresource, Operation: r.op,
		Namespace: r.namespace, User: r.user, Groups: r.groups, Object: parse(obj)}
	if r.old != nil {
		req.OldObject = parse(r.old)
	}
	if n, _, _ := unstructured.NestedString(obj, "metadata", "name"); n != "" {
		req.Name = n
	}
	return req
}

func canonical(o map[string]any) string { b, _ := json.Marshal(o); return string(b) }

func deepCopy(o map[string]any) map[string]any {
	b, _ := json.Marshal(o)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// kindInfo is a kind the reviews are drawn from: where its labels are,
// whether its status can carry label changes, and the controllers' parents
// (and one kind that is no parent) its ownerReferences may name.
type kindInfo struct {
	gvk     schema.GroupVersionKind
	gvr     schema.GroupVersionResource
	places  [][]string
	status  bool
	parents [][2]string // apiVersion, kind
	// selector is where the kind's label selector is, nil for none.
	selector []string
}

func kindOf(group, kind, resource string, status bool, places [][]string, parents ...[2]string) kindInfo {
	k := kindInfo{gvk: schema.GroupVersionKind{Group: group, Version: "v1", Kind: kind}, gvr: schema.GroupVersionResource{Group: group, Version: "v1", Resource: resource},
		places: append([][]string{{"metadata"}}, places...), status: status, parents: parents}
	switch {
	case kind == "CronJob":
		k.selector = []string{"spec", "jobTemplate", "spec", "selector"}
	case kind != "Pod":
		k.selector = []string{"spec", "selector"}
	}
	return k
}

var (
	podTemplate = [][]string{{"spec", "template", "metadata"}}
	podKind     = kindOf("", "Pod", "pods", true, nil,
		[2]string{"apps/v1", "ReplicaSet"}, [2]string{"apps/v1", "StatefulSet"}, [2]string{"batch/v1", "Job"}, [2]string{"v1", "ConfigMap"}, [2]string{"v1", "Node"})
	cronJobKind = kindOf("batch", "CronJob", "cronjobs", true, [][]string{{"spec", "jobTemplate", "metadata"}, {"spec", "jobTemplate", "spec", "template", "metadata"}})
	kinds       = []kindInfo{
		podKind,
		kindOf("apps", "Deployment", "deployments", false, podTemplate),
		kindOf("apps", "StatefulSet", "statefulsets", true, podTemplate),
		kindOf("apps", "ReplicaSet", "replicasets", true, podTemplate, [2]string{"apps/v1", "Deployment"}, [2]string{"apps/v1", "StatefulSet"}),
		kindOf("batch", "Job", "jobs", true, podTemplate, [2]string{"batch/v1", "CronJob"}),
		cronJobKind,
	}
)

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

func randomObject(rng *rand.Rand, k kindInfo) map[string]any {
	obj := map[string]any{"apiVersion": k.gvk.GroupVersion().String(), "kind": k.gvk.Kind}
	for i, place := range k.places {
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
			switch rng.Intn(10) {
			case 0, 1:
				delete(cur, "name")
				cur["generateName"] = "obj-"
			case 2:
				// Neither: the API server refuses it on CREATE, after
				// mutating admission has seen it.
				delete(cur, "name")
			}
			if len(k.parents) > 0 && rng.Intn(2) == 0 {
				p := k.parents[rng.Intn(len(k.parents))]
				refs := []any{map[string]any{"apiVersion": p[0], "kind": p[1], "name": "parent-1", "uid": "u-1",
					"controller": rng.Intn(5) != 0}}
				// Sometimes a second controller, which names none in both engines.
				if rng.Intn(8) == 0 {
					q := k.parents[rng.Intn(len(k.parents))]
					refs = append(refs, map[string]any{"apiVersion": q[0], "kind": q[1], "name": "parent-2", "uid": "u-2", "controller": true})
				}
				cur["ownerReferences"] = refs
			}
		}
		if l := randomLabels(rng); l != nil {
			cur["labels"] = l
		}
	}
	if k.selector != nil && rng.Intn(2) == 0 {
		cur := obj
		for _, seg := range k.selector[:len(k.selector)-1] {
			next, ok := cur[seg].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[seg] = next
			}
			cur = next
		}
		cur[k.selector[len(k.selector)-1]] = randomSelector(rng)
	}
	return obj
}

// randomSelector draws a label selector that names the defaulted key, by
// label or by expression, or names only other keys.
func randomSelector(rng *rand.Rand) map[string]any {
	sel := map[string]any{}
	switch rng.Intn(4) {
	case 0:
		sel["matchLabels"] = map[string]any{"app": "web", "environment": "prod"}
	case 1:
		sel["matchExpressions"] = []any{map[string]any{"key": "environment", "operator": "DoesNotExist"}}
	case 2:
		sel["matchLabels"] = map[string]any{"app": "web"}
		sel["matchExpressions"] = []any{map[string]any{"key": "environment", "operator": "NotIn", "values": []any{"development"}}}
	default:
		sel["matchLabels"] = map[string]any{"app": "web"}
	}
	return sel
}

var users = []string{"alice", "alice", "alice", "bouncer-e2e-break-glass",
	"system:serviceaccount:kube-system:replicaset-controller", "system:serviceaccount:kube-system:deployment-controller",
	"system:serviceaccount:kube-system:cronjob-controller", "system:kube-controller-manager",
	// A kubelet, whose mirror Pods name their Node as parent-1, and one
	// that is not that node.
	"system:node:parent-1", "system:node:n2"}

// groupsOf is what the API server authenticates a user into.
func groupsOf(user string) []string {
	if strings.HasPrefix(user, "system:node:") {
		return []string{"system:nodes", "system:authenticated"}
	}
	return []string{"system:authenticated"}
}

// namespaces are drawn with their labels: one is exempt by name in the e2e
// policy, one by the exempt namespace label, one carries it set to false.
var namespaces = []struct {
	name   string
	labels map[string]string
}{
	{"shop", nil}, {"shop", nil}, {"shop", nil}, {"kube-system", nil}, {"e2e-exempt", nil},
	{"migrations", map[string]string{"bouncer.dev/exempt": "true"}}, {"teams", map[string]string{"bouncer.dev/exempt": "false"}},
}

func reviews(rng *rand.Rand, n int) []*review {
	var out []*review
	for i := 0; i < n; i++ {
		k := kinds[rng.Intn(len(kinds))]
		ns := namespaces[rng.Intn(len(namespaces))]
		r := &review{gvk: k.gvk, gvr: k.gvr, op: "CREATE", namespace: ns.name, nsLabels: ns.labels,
			user: users[rng.Intn(len(users))]}
		r.groups = groupsOf(r.user)
		r.object = randomObject(rng, k)
		if k.gvk.Kind == "Pod" && strings.HasPrefix(r.user, "system:node:") && rng.Intn(2) == 0 {
			// What a kubelet writes: a mirror Pod owned by a Node.
			r.object["metadata"].(map[string]any)["ownerReferences"] = []any{map[string]any{
				"apiVersion": "v1", "kind": "Node", "name": "parent-1", "uid": "n-1", "controller": true}}
		}
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
			if k.status && rng.Intn(3) == 0 {
				// A status write: usually changing no label, as the kubelet's.
				r.subresource = "status"
				if rng.Intn(3) != 0 {
					r.old = deepCopy(r.object)
				}
			} else if rng.Intn(8) == 0 {
				r.object["metadata"].(map[string]any)["deletionTimestamp"] = "2026-11-24T00:00:00Z"
			}
		}
		sub := ""
		if r.subresource != "" {
			sub = "/" + r.subresource
		}
		r.desc = fmt.Sprintf("#%d %s %s%s in %s by %s", i, r.op, r.gvk.Kind, sub, r.namespace, r.user)
		out = append(out, r)
	}
	return out
}

func TestTheCompiledPoliciesAgreeWithTheFunctionsOnRandomReviews(t *testing.T) {
	for _, file := range []string{"", "strict", "../../testdata/policies/e2e.yaml", "../../testdata/policies/warn-and-audit.yaml", "../../testdata/policies/object-label-exemption.yaml", "../../testdata/policies/custom.yaml"} {
		name := file
		switch name {
		case "":
			name = "the embedded default"
		case "strict":
			name = "the default with allowExistingViolations false"
		}
		t.Run(name, func(t *testing.T) {
			p := policy.Default()
			if file == "strict" {
				var err error
				if p, err = policy.Parse([]byte(strings.Replace(string(spec.DefaultYAML()), "allowExistingViolations: true", "allowExistingViolations: false", 1))); err != nil {
					t.Fatal(err)
				}
			} else if file != "" {
				var err error
				if p, err = policyfile.Load(file); err != nil {
					t.Fatal(err)
				}
			}
			pols := load(t, p)
			vw, mw := webhooks(t, p)
			vh := newHook(t, vw.Rules, vw.NamespaceSelector, vw.ObjectSelector, vw.MatchConditions)
			mh := newHook(t, mw.Rules, mw.NamespaceSelector, mw.ObjectSelector, mw.MatchConditions)
			seed := int64(20261124)
			if s := os.Getenv("AGREEMENT_SEED"); s != "" {
				_, _ = fmt.Sscan(s, &seed)
			}
			rng := rand.New(rand.NewSource(seed))
			counts := map[string]int{}
			const n = 1000
			for _, r := range reviews(rng, n) {
				got, want := viaCEL(t, pols, r), viaGo(t, p, vh, mh, r)
				if !reflect.DeepEqual(
					outcome{Denied: got.Denied, Warned: got.Warned, Audit: got.Audit, Object: got.Object},
					outcome{Denied: want.Denied, Warned: want.Warned, Audit: want.Audit, Object: want.Object}) {
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
				for k := range want.Audit {
					counts["audit:"+k]++
				}
				if got.Object != canonical(r.object) {
					counts["mutated"]++
				}
			}
			var parts []string
			for _, k := range slices.Sorted(maps.Keys(counts)) {
				parts = append(parts, fmt.Sprintf("%s:%d", k, counts[k]))
			}
			t.Logf("%d random reviews agree (seed %d): %s", n, seed, strings.Join(parts, " "))
		})
	}
}
