package agreement

import (
	"context"
	"fmt"
	"maps"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"bouncer.dev/bouncer/internal/guard"
	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/policyfile"
	admregv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	"k8s.io/apiserver/pkg/apis/cel"
)

// namespaceWrite draws a write to a Namespace: a create or an update (of
// the Namespace, its status or its finalize subresource) that adds,
// keeps, removes or changes the exempt label, by an admin or not, of a
// namespace whose name may be on the exempt list.
func namespaceWrite(rng *rand.Rand) *review {
	names := []string{"team-a", "team-a", "kourier-system", "kube-system", "e2e-exempt", "bouncer-system"}
	name := names[rng.Intn(len(names))]
	exemptLabel := func() map[string]any {
		l := map[string]any{"kubernetes.io/metadata.name": name}
		switch rng.Intn(4) {
		case 0:
			l["bouncer.dev/exempt"] = "true"
		case 1:
			l["bouncer.dev/exempt"] = "false"
		case 2:
			l["team"] = "a"
		}
		return l
	}
	ns := func() map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name, "labels": exemptLabel()}}
	}
	who := []struct {
		user   string
		groups []string
	}{
		{"mallory", []string{"system:authenticated"}},
		{"mallory", []string{"system:authenticated", "tenants"}},
		{"kubernetes-admin", []string{"kubeadm:cluster-admins", "system:authenticated"}},
		{"admin", []string{"system:masters"}},
		{"system:serviceaccount:kube-system:namespace-controller", []string{"system:serviceaccounts", "system:authenticated"}},
		{"platform-bot", []string{"system:authenticated"}},
	}[rng.Intn(6)]
	r := &review{gvk: schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, gvr: schema.GroupVersionResource{Version: "v1", Resource: "namespaces"},
		op: "CREATE", user: who.user, groups: who.groups, object: ns()}
	if rng.Intn(2) == 0 {
		r.op, r.old = "UPDATE", ns()
		if rng.Intn(3) == 0 {
			r.old = deepCopy(r.object)
		}
		r.subresource = []string{"", "", "status", "finalize"}[rng.Intn(4)]
	}
	r.desc = fmt.Sprintf("%s Namespace %s (%s) by %s %v: labels %v, before %v", r.op, name, r.subresource, r.user, r.groups, objLabels(r.object), objLabels(r.old))
	return r
}

// TestTheNamespaceGuardAgreesWithTheGoGuard feeds random writes to
// Namespaces to the guard as the API server evaluates it and to
// policy.GuardNamespace, which bouncer check applies: the same refusals,
// with the same message.
func TestTheNamespaceGuardAgreesWithTheGoGuard(t *testing.T) {
	for _, file := range []string{"", "../../testdata/policies/e2e.yaml", "../../testdata/policies/guard-admins.yaml"} {
		name := file
		if name == "" {
			name = "the embedded default"
		}
		t.Run(name, func(t *testing.T) {
			p := policy.Default()
			if file != "" {
				var err error
				if p, err = policyfile.Load(file); err != nil {
					t.Fatal(err)
				}
			}
			objs := guard.Build(p, "test")
			vap := objs[0].(*admregv1.ValidatingAdmissionPolicy)
			c := &compiled{name: vap.Name, constraints: vap.Spec.MatchConstraints, validator: compileValidating(t, vap)}
			rng := rand.New(rand.NewSource(20261205))
			counts := map[string]int{}
			const n = 2000
			for i := 0; i < n; i++ {
				r := namespaceWrite(rng)
				var got string
				if c.matches(r, r.object) {
					res := c.validator.Validate(context.Background(), r.gvr, r.attributes(r.object), nil, nil, cel.RuntimeCELCostBudget, nil)
					for _, d := range res.Decisions {
						if d.Evaluation == validating.EvalError {
							t.Fatalf("%s: evaluation error: %+v", r.desc, d)
						}
						if d.Action == validating.ActionDeny && got == "" {
							got = d.Message
						}
					}
				}
				w := policy.NamespaceWrite{Operation: r.op, Name: r.object["metadata"].(map[string]any)["name"].(string),
					Labels: objLabels(r.object), User: r.user, Groups: r.groups}
				if r.old != nil {
					w.OldLabels = objLabels(r.old)
				}
				want := p.GuardNamespace(w)
				if got != want {
					t.Fatalf("#%d %s: the engines disagree\nCEL: %q\nGo:  %q", i, r.desc, got, want)
				}
				counts[fmt.Sprintf("refused=%v", want != "")]++
			}
			var parts []string
			for _, k := range slices.Sorted(maps.Keys(counts)) {
				parts = append(parts, fmt.Sprintf("%s:%d", k, counts[k]))
			}
			t.Logf("%d random namespace writes agree: %s", n, strings.Join(parts, " "))
		})
	}
}
