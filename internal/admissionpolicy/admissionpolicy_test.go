package admissionpolicy

import (
	"bytes"
	"strings"
	"testing"

	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/policy/policytest"
	admregv1 "k8s.io/api/admissionregistration/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// The semantics of the compiled CEL are proven against the functions on
// random reviews with the API server's own CEL code (e2e/agreement) and on
// the real API server (the e2e suite, compiled engine). These tests pin the
// shape: which objects exist, that they decode strictly, and where each rule
// of the decision is carried.

// mustParse compiles a policy document or fails the test.
var mustParse = policytest.Parse

func TestTheDefaultPolicyCompilesToOnePolicyPerRuleAndGroupOfKinds(t *testing.T) {
	objs, err := Build(policy.Default(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		switch x := o.(type) {
		case *admregv1.ValidatingAdmissionPolicy:
			names = append(names, "VAP "+x.Name)
		case *admregv1.ValidatingAdmissionPolicyBinding:
			names = append(names, "VAPB "+x.Name+" "+string(x.Spec.ValidationActions[0]))
		case *admregv1.MutatingAdmissionPolicy:
			names = append(names, "MAP "+x.Name)
		case *admregv1.MutatingAdmissionPolicyBinding:
			names = append(names, "MAPB "+x.Name)
		}
	}
	want := []string{
		"VAP bouncer-namespace-guard", "VAPB bouncer-namespace-guard Deny",
		"VAP bouncer-require-owner-pods", "VAPB bouncer-require-owner-pods Deny",
		"VAP bouncer-require-owner-pods-admitted", "VAPB bouncer-require-owner-pods-admitted Warn",
		"VAP bouncer-require-owner-deployments", "VAPB bouncer-require-owner-deployments Deny",
		"VAP bouncer-require-owner-deployments-admitted", "VAPB bouncer-require-owner-deployments-admitted Warn",
		"VAP bouncer-require-owner-cronjobs", "VAPB bouncer-require-owner-cronjobs Deny",
		"VAP bouncer-require-owner-cronjobs-admitted", "VAPB bouncer-require-owner-cronjobs-admitted Warn",
		"MAP bouncer-default-environment-pods", "MAPB bouncer-default-environment-pods",
		"MAP bouncer-default-environment-deployments", "MAPB bouncer-default-environment-deployments",
		"VAP bouncer-default-environment-deployments-selector", "VAPB bouncer-default-environment-deployments-selector Warn",
		"MAP bouncer-default-environment-cronjobs", "MAPB bouncer-default-environment-cronjobs",
		"VAP bouncer-default-environment-cronjobs-selector", "VAPB bouncer-default-environment-cronjobs-selector Warn",
	}
	if strings.Join(names, "\n") != strings.Join(want, "\n") {
		t.Errorf("compiled objects:\n%s\nwant:\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
}

func TestTheRenderedStreamDecodesStrictlyIntoTheAPITypes(t *testing.T) {
	out, err := Render(policy.Default(), 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, doc := range bytes.Split(out, []byte("\n---\n")) {
		js, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			t.Fatal(err)
		}
		var tm struct{ Kind string }
		_ = yaml.Unmarshal(js, &tm)
		var into any
		switch tm.Kind {
		case "ValidatingAdmissionPolicy":
			into = &admregv1.ValidatingAdmissionPolicy{}
		case "ValidatingAdmissionPolicyBinding":
			into = &admregv1.ValidatingAdmissionPolicyBinding{}
		case "MutatingAdmissionPolicy":
			into = &admregv1.MutatingAdmissionPolicy{}
		case "MutatingAdmissionPolicyBinding":
			into = &admregv1.MutatingAdmissionPolicyBinding{}
		default:
			t.Fatalf("unexpected kind %q", tm.Kind)
		}
		if strict, err := kjson.UnmarshalStrict(js, into); err != nil || len(strict) > 0 {
			t.Fatalf("%s does not decode strictly: %v %v", tm.Kind, err, strict)
		}
		n++
	}
	if n != 24 {
		t.Errorf("%d documents, want 24", n)
	}
}

func find[T any](t *testing.T, objs []any, name string) T {
	t.Helper()
	for _, o := range objs {
		if x, ok := o.(T); ok {
			switch v := any(x).(type) {
			case *admregv1.ValidatingAdmissionPolicy:
				if v.Name == name {
					return x
				}
			case *admregv1.MutatingAdmissionPolicy:
				if v.Name == name {
					return x
				}
			}
		}
	}
	t.Fatalf("no %s", name)
	var zero T
	return zero
}

func TestTheControllerRulesAreCarriedWhereTheKindsHaveThem(t *testing.T) {
	objs, err := Build(policy.Default(), 0)
	if err != nil {
		t.Fatal(err)
	}
	dep := find[*admregv1.ValidatingAdmissionPolicy](t, objs, "bouncer-require-owner-deployments-admitted")
	var inherited string
	for _, v := range dep.Spec.Variables {
		if v.Name == "inherited" {
			inherited = v.Expression
		}
	}
	for _, want := range []string{`"system:serviceaccount:kube-system:deployment-controller"`, `request.kind.kind == "ReplicaSet"`, `r.kind == "Deployment"`, `request.kind.kind == "Job"`, `r.kind == "CronJob"`} {
		if !strings.Contains(inherited, want) {
			t.Errorf("the deployments group's inherited expression lacks %s:\n%s", want, inherited)
		}
	}
	if len(dep.Spec.AuditAnnotations) != 1 || !strings.HasPrefix(dep.Spec.AuditAnnotations[0].ValueExpression, `size(variables.inheritedViolations) == 0 ? "" :`) {
		t.Errorf("audit annotations %+v: want the parent named, and an empty string, not null, when there is nothing", dep.Spec.AuditAnnotations)
	}
	cron := find[*admregv1.ValidatingAdmissionPolicy](t, objs, "bouncer-require-owner-cronjobs-admitted")
	for _, v := range cron.Spec.Variables {
		if v.Name == "inherited" {
			t.Errorf("CronJobs have no parent, yet: %s", v.Expression)
		}
	}
	mp := find[*admregv1.MutatingAdmissionPolicy](t, objs, "bouncer-default-environment-deployments")
	expr := mp.Spec.Mutations[0].JSONPatch.Expression
	if !strings.HasPrefix(expr, `((request.userInfo.username in ["system:kube-controller-manager", `) {
		t.Errorf("what a controller copies must get no defaults:\n%.300s", expr)
	}
	if !strings.Contains(expr, `? [] : (request.operation == "CREATE" && !(((request.kind.group == "apps" && request.kind.kind == "ReplicaSet") && `) {
		t.Errorf("a ReplicaSet a Deployment controls must keep its template:\n%.300s", expr)
	}
	pods := find[*admregv1.MutatingAdmissionPolicy](t, objs, "bouncer-default-environment-pods")
	pexpr := pods.Spec.Mutations[0].JSONPatch.Expression
	if strings.Contains(pexpr, `request.operation == "CREATE" && !(`) {
		t.Errorf("Pods have no template to freeze:\n%.300s", pexpr)
	}
	if !strings.Contains(pexpr, `request.userInfo.username == "system:node:" + r.name`) {
		t.Errorf("a node's mirror Pod must get no defaults:\n%.300s", pexpr)
	}
}

func TestOnlyAndRefusals(t *testing.T) {
	objs, err := Build(policy.Default(), policy.Validation)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if _, ok := o.(*admregv1.MutatingAdmissionPolicy); ok {
			t.Fatal("--only validate emitted a MutatingAdmissionPolicy")
		}
	}
	p := mustParse(t, "apiVersion: bouncer.dev/v1\nkind: Policy\ncustomKinds: [{kind: W, group: x.io, version: v1, resource: ws, templateLabelPaths: [spec.my-template.labels]}]\nrules: [{name: a, kinds: [W], require: [{key: o}]}]\n")
	if _, err := Build(p, 0); err == nil || !strings.Contains(err.Error(), `has the field "my-template", which CEL field selection cannot name`) {
		t.Errorf("err = %v", err)
	}
}

// Each condition costs CEL evaluation on every write the policy matches, and
// the API server refuses two of one name; one that repeats another is waste.
func TestNoMatchConditionRepeatsAnother(t *testing.T) {
	for _, c := range []struct{ name, selector string }{
		{"an object selector of one requirement", `{matchLabels: {bouncer.dev/exempt: "true"}}`},
		{"an object selector of several requirements", `{matchLabels: {bouncer.dev/exempt: "true", team: infra}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := mustParse(t, "apiVersion: bouncer.dev/v1\nkind: Policy\nexemptions: {objectSelector: "+c.selector+"}\n"+
				"rules: [{name: require-owner, kinds: [Pod], require: [{key: owner}]}]\n")
			objs, err := Build(p, 0)
			if err != nil {
				t.Fatal(err)
			}
			vap := find[*admregv1.ValidatingAdmissionPolicy](t, objs, "bouncer-require-owner-pods")
			seen := map[string]string{}
			for _, m := range vap.Spec.MatchConditions {
				if other, ok := seen[m.Expression]; ok {
					t.Errorf("conditions %s and %s are the same expression: %s", other, m.Name, m.Expression)
				}
				seen[m.Expression] = m.Name
			}
		})
	}
}
