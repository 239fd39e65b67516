package agreement

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"bouncer.dev/bouncer/internal/policy"
	admregv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	"k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/cel/environment"
)

// TestCompiledExpressionsStayFarInsideTheCostBudget evaluates every compiled
// validation, with its variables, on a CronJob carrying 100 labels of 63
// bytes at each of its three places, and reports the runtime cost the API
// server charges against its per-request budget.
func TestCompiledExpressionsStayFarInsideTheCostBudget(t *testing.T) {
	p := policy.Default()
	objs := build(t, p, policy.Validation)
	big := map[string]any{}
	for i := 0; i < 100; i++ {
		big[fmt.Sprintf("example.com/label-%03d", i)] = strings.Repeat("v", 63)
	}
	big["owner"] = strings.Repeat("o", 63)
	obj := map[string]any{"apiVersion": "batch/v1", "kind": "CronJob",
		"metadata": map[string]any{"name": "big", "labels": big},
		"spec": map[string]any{"jobTemplate": map[string]any{"metadata": map[string]any{"labels": big},
			"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{"labels": big}}}}}}
	r := &review{gvk: cronJobKind.gvk, gvr: cronJobKind.gvr, op: "UPDATE", namespace: "shop", user: "alice", object: obj, old: deepCopy(obj)}
	worst := int64(0)
	for _, o := range objs {
		vap, ok := o.(*admregv1.ValidatingAdmissionPolicy)
		if !ok || !strings.Contains(vap.Name, "cronjobs") {
			continue
		}
		compiler, err := plugincel.NewCompositedCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
		if err != nil {
			t.Fatal(err)
		}
		var vars []plugincel.NamedExpressionAccessor
		for _, v := range vap.Spec.Variables {
			vars = append(vars, &validating.Variable{Name: v.Name, Expression: v.Expression})
		}
		opts := plugincel.OptionalVariableDeclarations{HasAuthorizer: true}
		compiler.CompileAndStoreVariables(vars, opts, environment.StoredExpressions)
		var exprs []plugincel.ExpressionAccessor
		for _, v := range vap.Spec.Validations {
			exprs = append(exprs, &validating.ValidationCondition{Expression: v.Expression}, &validating.MessageExpressionCondition{MessageExpression: v.MessageExpression})
		}
		filter := compiler.CompileCondition(exprs, opts, environment.StoredExpressions)
		va := r.attributes(obj)
		_, remaining, err := filter.ForInput(context.Background(), va, plugincel.CreateAdmissionRequest(va.Attributes, metav1.GroupVersionResource(r.gvr), metav1.GroupVersionKind(r.gvk)),
			plugincel.OptionalVariableBindings{}, nil, cel.RuntimeCELCostBudget)
		if err != nil {
			t.Fatalf("%s: %v", vap.Name, err)
		}
		used := cel.RuntimeCELCostBudget - remaining
		if used > worst {
			worst = used
		}
		t.Logf("FIGURE CEL cost: %s: %d of the %d per-request budget (%.3f%%)", vap.Name, used, cel.RuntimeCELCostBudget, 100*float64(used)/float64(cel.RuntimeCELCostBudget))
	}
	if worst == 0 || worst > cel.RuntimeCELCostBudget/100 {
		t.Errorf("the costliest compiled policy used %d, want more than 0 and under 1%% of %d", worst, cel.RuntimeCELCostBudget)
	}
}
