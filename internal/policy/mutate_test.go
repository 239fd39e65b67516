package policy_test

import (
	"strings"
	"testing"

	"bouncer.dev/bouncer/internal/policy"
)

func TestMutate(t *testing.T) {
	def := policy.Default()
	objectExempt := mustParse(t, `
apiVersion: bouncer.dev/v1
kind: Policy
exemptions: {objectSelector: {matchLabels: {bouncer.dev/exempt: "true"}}}
rules:
- {name: d, kinds: [Pod], defaults: {environment: development}}
`)
	slashes := mustParse(t, `
apiVersion: bouncer.dev/v1
kind: Policy
rules:
- name: defaults
  kinds: [Pod]
  defaults: {app.kubernetes.io/part-of: shop, environment: development}
`)
	tests := []struct {
		name   string
		policy *Policy
		req    *Request
		want   string // the object after the patch; "" means no patch
		skip   string
	}{
		{"a Pod without a labels map gets the whole map added", def,
			review(Create, "", "Pod", `{"metadata":{"name":"p"},"spec":{}}`, ""),
			`{"metadata":{"name":"p","labels":{"environment":"development"}},"spec":{}}`, ""},
		{"a Pod with a null labels map gets the whole map added", def,
			review(Create, "", "Pod", `{"metadata":{"name":"p","labels":null}}`, ""),
			`{"metadata":{"name":"p","labels":{"environment":"development"}}}`, ""},
		{"a Pod with an empty labels map gets the key added", def,
			review(Create, "", "Pod", `{"metadata":{"name":"p","labels":{}}}`, ""),
			`{"metadata":{"name":"p","labels":{"environment":"development"}}}`, ""},
		{"a Pod with other labels gets only the missing key, and keeps the others", def,
			review(Create, "", "Pod", `{"metadata":{"name":"p","labels":{"app":"web","app.kubernetes.io/name":"web","owner":"a"}}}`, ""),
			`{"metadata":{"name":"p","labels":{"app":"web","app.kubernetes.io/name":"web","owner":"a","environment":"development"}}}`, ""},
		{"a present label is never overwritten, whatever its value", def,
			review(Create, "", "Pod", `{"metadata":{"name":"p","labels":{"environment":"prod"}}}`, ""), "", ""},
		{"a present label with an empty value is never overwritten", def,
			review(Create, "", "Pod", `{"metadata":{"name":"p","labels":{"environment":""}}}`, ""), "", ""},
		{"a default whose key contains a slash is added under an escaped pointer", slashes,
			review(Create, "", "Pod", `{"metadata":{"name":"p","labels":{"app":"web"}}}`, ""),
			`{"metadata":{"name":"p","labels":{"app":"web","app.kubernetes.io/part-of":"shop","environment":"development"}}}`, ""},
		{"a Deployment on CREATE gets the label on itself and on its pod template", def,
			review(Create, "apps", "Deployment", `{"metadata":{"name":"d","labels":{"owner":"a"}},"spec":{"replicas":2,"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[]}}}}`, ""),
			`{"metadata":{"name":"d","labels":{"owner":"a","environment":"development"}},"spec":{"replicas":2,"template":{"metadata":{"labels":{"app":"web","environment":"development"}},"spec":{"containers":[]}}}}`, ""},
		{"a Deployment whose template has no metadata gets the metadata added whole", def,
			review(Create, "apps", "Deployment", `{"metadata":{"name":"d"},"spec":{"template":{"spec":{}}}}`, ""),
			`{"metadata":{"name":"d","labels":{"environment":"development"}},"spec":{"template":{"spec":{},"metadata":{"labels":{"environment":"development"}}}}}`, ""},
		{"a Deployment with no spec gets the whole path to the template labels added", def,
			review(Create, "apps", "Deployment", `{"metadata":{"name":"d","labels":{"environment":"x"}}}`, ""),
			`{"metadata":{"name":"d","labels":{"environment":"x"}},"spec":{"template":{"metadata":{"labels":{"environment":"development"}}}}}`, ""},
		{"a CronJob on CREATE gets the label in all three places", def,
			review(Create, "batch", "CronJob", `{"metadata":{"name":"c"},"spec":{"schedule":"@daily","jobTemplate":{"spec":{"template":{"metadata":{"labels":{"a":"b"}}}}}}}`, ""),
			`{"metadata":{"name":"c","labels":{"environment":"development"}},"spec":{"schedule":"@daily","jobTemplate":{"metadata":{"labels":{"environment":"development"}},"spec":{"template":{"metadata":{"labels":{"a":"b","environment":"development"}}}}}}}`, ""},
		{"a CronJob with no spec gets both template places under one added spec", def,
			review(Create, "batch", "CronJob", `{"metadata":{"name":"c"}}`, ""),
			`{"metadata":{"name":"c","labels":{"environment":"development"}},"spec":{"jobTemplate":{"metadata":{"labels":{"environment":"development"}},"spec":{"template":{"metadata":{"labels":{"environment":"development"}}}}}}}`, ""},
		{"on UPDATE only the object's own labels are completed, never a pod template", def,
			review(Update, "batch", "Job", `{"metadata":{"name":"j","labels":{}},"spec":{"template":{"metadata":{"labels":{}}}}}`, `{"metadata":{"name":"j"}}`),
			`{"metadata":{"name":"j","labels":{"environment":"development"}},"spec":{"template":{"metadata":{"labels":{}}}}}`, ""},
		{"fields the Go types do not know survive the patch untouched", def,
			review(Create, "", "Pod", `{"metadata":{"name":"p","labels":{"a":"b"},"x-unknown":{"deep":[1,2.50,{"k":null}]}},"spec":{"futureField":true,"containers":[{"name":"c","newThing":"v"}]},"status":{"weird":1e3}}`, ""),
			`{"metadata":{"name":"p","labels":{"a":"b","environment":"development"},"x-unknown":{"deep":[1,2.50,{"k":null}]}},"spec":{"futureField":true,"containers":[{"name":"c","newThing":"v"}]},"status":{"weird":1e3}}`, ""},
		{"an object carrying the exempt label is left unchanged where a policy asks for it", objectExempt,
			review(Create, "", "Pod", podExempt, ""), "", "exempt object label"},
		{"a ReplicaSet the Deployment controller makes gets no defaults at all: it copies a parent that was judged", def,
			as(depController, review(Create, "apps", "ReplicaSet", rsOfDeploy, "")), "", ""},
		{"a ReplicaSet the Deployment controller updates gets no defaults either", def,
			as(depController, review(Update, "apps", "ReplicaSet", rsOfDeploy, rsOfDeploy)), "", ""},
		{"a ReplicaSet a Deployment controls keeps its template whoever writes it: the controller compares templates", def,
			review(Create, "apps", "ReplicaSet", rsOfDeploy, ""),
			`{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"web-69c6f74b8b","labels":{"app":"web","environment":"development"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"web","uid":"u","controller":true}]},"spec":{"template":{"metadata":{"labels":{"app":"web"}}}}}`, ""},
		{"a ReplicaSet of its own gets its template completed", def,
			review(Create, "apps", "ReplicaSet", `{"metadata":{"name":"rs","labels":{"owner":"a"}},"spec":{"template":{"metadata":{"labels":{"owner":"a"}}}}}`, ""),
			`{"metadata":{"name":"rs","labels":{"owner":"a","environment":"development"}},"spec":{"template":{"metadata":{"labels":{"owner":"a","environment":"development"}}}}}`, ""},
		{"a Job the CronJob controller makes gets no defaults: it copies a parent that was judged", def,
			as(cronController, review(Create, "batch", "Job", jobOfCron, "")), "", ""},
		{"a Job a person writes with a CronJob's ownerReference gets its template completed: no controller compares it", def,
			review(Create, "batch", "Job", jobOfCron, ""),
			`{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"nightly-29","labels":{"environment":"development"},"ownerReferences":[{"apiVersion":"batch/v1","kind":"CronJob","name":"nightly","uid":"u","controller":true}]},"spec":{"template":{"metadata":{"labels":{"owner":"a","environment":"development"}}}}}`, ""},
		{"a Pod the ReplicaSet controller makes for a ReplicaSet gets no defaults", def,
			as(rsController, review(Create, "", "Pod", podOfRS, "")), "", ""},
		{"a Pod a controller makes for a parent no rule covers gets the defaults", def,
			as(rsController, review(Create, "", "Pod", `{"metadata":{"name":"p","ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"c","uid":"u","controller":true}]}}`, "")),
			`{"metadata":{"name":"p","ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"c","uid":"u","controller":true}],"labels":{"environment":"development"}}}`, ""},
		{"a node's mirror Pod gets no defaults: the kubelet copies it from a static Pod file", def,
			asNode("n1", review(Create, "", "Pod", mirrorOf("n1"), "")), "", ""},
		{"a Pod a node writes for another node gets the defaults: it is no mirror of its own", def,
			asNode("n2", review(Create, "", "Pod", mirrorOf("n1"), "")),
			`{"metadata":{"name":"etcd-n1","ownerReferences":[{"apiVersion":"v1","kind":"Node","name":"n1","uid":"u","controller":true}],"labels":{"environment":"development"}}}`, ""},
		{"a Pod a person writes with a Node ownerReference gets the defaults", def,
			review(Create, "", "Pod", mirrorOf("n1"), ""),
			`{"metadata":{"name":"etcd-n1","ownerReferences":[{"apiVersion":"v1","kind":"Node","name":"n1","uid":"u","controller":true}],"labels":{"environment":"development"}}}`, ""},
		{"a Deployment whose selector says environment DoesNotExist gets no environment anywhere", def,
			review(Create, "apps", "Deployment", `{"metadata":{"name":"d"},"spec":{"selector":{"matchExpressions":[{"key":"environment","operator":"DoesNotExist"}]},"template":{"metadata":{"labels":{"app":"web"}}}}}`, ""), "", ""},
		{"a ReplicaSet whose selector matches environment by label gets no environment", def,
			review(Create, "apps", "ReplicaSet", `{"metadata":{"name":"rs","labels":{"environment":"prod"}},"spec":{"selector":{"matchLabels":{"app":"web","environment":"prod"}},"template":{"metadata":{"labels":{"app":"web","environment":"prod"}}}}}`, ""), "", ""},
		{"a selector that names other keys does not stop the default", def,
			review(Create, "apps", "Deployment", `{"metadata":{"name":"d","labels":{"environment":"x"}},"spec":{"selector":{"matchLabels":{"app":"web"},"matchExpressions":[{"key":"tier","operator":"NotIn","values":["db"]}]},"template":{"metadata":{"labels":{"app":"web"}}}}}`, ""),
			`{"metadata":{"name":"d","labels":{"environment":"x"}},"spec":{"selector":{"matchLabels":{"app":"web"},"matchExpressions":[{"key":"tier","operator":"NotIn","values":["db"]}]},"template":{"metadata":{"labels":{"app":"web","environment":"development"}}}}}`, ""},
		{"a CronJob whose Jobs' selector names environment gets no environment", def,
			review(Create, "batch", "CronJob", `{"metadata":{"name":"c"},"spec":{"jobTemplate":{"spec":{"selector":{"matchExpressions":[{"key":"environment","operator":"NotIn","values":["development"]}]},"template":{"metadata":{"labels":{"a":"b"}}}}}}}`, ""), "", ""},
		{"a status write that removed environment gets it back, like an UPDATE", def,
			sub("status", review(Update, "", "Pod", `{"metadata":{"name":"p","labels":{"owner":"a"}}}`, `{"metadata":{"name":"p","labels":{"owner":"a","environment":"x"}}}`)),
			`{"metadata":{"name":"p","labels":{"owner":"a","environment":"development"}}}`, ""},
		{"a request in an exempt namespace is left unchanged", def, func() *Request {
			r := review(Create, "", "Pod", `{"metadata":{"name":"p"}}`, "")
			r.Namespace = "knative-serving"
			return r
		}(), "", "exempt namespace"},
		{"DELETE is left unchanged", def, review(Delete, "", "Pod", "", `{"metadata":{"name":"p"}}`), "", "operation DELETE"},
		{"a subresource request is left unchanged", def, func() *Request {
			r := review(Update, "apps", "Deployment", `{"metadata":{"name":"d"}}`, `{"metadata":{"name":"d"}}`)
			r.SubResource, r.Kind, r.Group = "scale", "Scale", "autoscaling"
			return r
		}(), "", `subresource "scale"`},
		{"an UPDATE of an object being deleted is left unchanged", def, review(Update, "", "Pod", podDeleting, podDeleting), "", "object is being deleted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.policy.Mutate(tt.req)
			if a := answer(d); !a.Allowed || a.Code != 0 {
				t.Fatalf("mutate refused a readable object: %+v", a)
			}
			if d.Skip != tt.skip {
				t.Errorf("skip = %q, want %q", d.Skip, tt.skip)
			}
			if tt.want == "" {
				if len(d.Patch) > 0 {
					t.Fatalf("want no patch, got %+v", d.Patch)
				}
				return
			}
			if len(d.Patch) == 0 {
				t.Fatal("want a patch, got none")
			}
			got := applyPatch(t, tt.req.Object, d)
			if diff := jsonDiff(t, []byte(tt.want), got.Bytes()); diff != "" {
				t.Errorf("patched object (-want +got):\n%s", diff)
			}
			// Reinvocation: mutating the patched object again adds nothing.
			again := *tt.req
			again.Object = got
			if d2 := tt.policy.Mutate(&again); len(d2.Patch) > 0 {
				t.Errorf("second mutate is not a no-op: %+v", d2.Patch)
			}
		})
	}
}

func TestADefaultTheSelectorNamesIsLeftOutWithAWarningNamingTheSelector(t *testing.T) {
	tests := []struct {
		name, kind, group, obj string
		op                     string
		want                   []string
	}{
		{"a DoesNotExist requirement on a new Deployment", "Deployment", "apps",
			`{"metadata":{"name":"d","namespace":"shop"},"spec":{"selector":{"matchExpressions":[{"key":"environment","operator":"DoesNotExist"}]}}}`, Create,
			[]string{`bouncer: Deployment "d" in namespace "shop": [default-environment] default label "environment" not added: spec.selector names that key`}},
		{"a NotIn requirement on a CronJob's Jobs", "CronJob", "batch",
			`{"metadata":{"name":"c","namespace":"shop"},"spec":{"jobTemplate":{"spec":{"selector":{"matchExpressions":[{"key":"environment","operator":"NotIn","values":["development"]}]}}}}}`, Create,
			[]string{`bouncer: CronJob "c" in namespace "shop": [default-environment] default label "environment" not added: spec.jobTemplate.spec.selector names that key`}},
		{"no warning where every place already has the key", "ReplicaSet", "apps",
			`{"metadata":{"name":"rs","namespace":"shop","labels":{"environment":"prod"}},"spec":{"selector":{"matchLabels":{"environment":"prod"}},"template":{"metadata":{"labels":{"environment":"prod"}}}}}`, Create, nil},
		{"on UPDATE, a warning where the object's own labels lack the key", "Deployment", "apps",
			`{"metadata":{"name":"d","namespace":"shop"},"spec":{"selector":{"matchLabels":{"environment":"prod"}},"template":{"metadata":{"labels":{"environment":"prod"}}}}}`, Update,
			[]string{`bouncer: Deployment "d" in namespace "shop": [default-environment] default label "environment" not added: spec.selector names that key`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := ""
			if tt.op == Update {
				old = tt.obj
			}
			r := review(tt.op, tt.group, tt.kind, tt.obj, old)
			r.Namespace = "shop"
			d := policy.Default().Mutate(r)
			a := answer(d)
			if len(a.Patch) > 0 {
				t.Errorf("patch %+v, want none", a.Patch)
			}
			if strings.Join(a.Warnings, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("warnings:\n%q\nwant:\n%q", a.Warnings, tt.want)
			}
		})
	}
}

func TestMutateRefusesUnreadableObjects(t *testing.T) {
	d := answer(policy.Default().Mutate(review(Create, "", "Pod", `{"metadata":{"labels":"env=dev"}}`, "")))
	want := "bouncer cannot read the object: request.object.metadata.labels: must be a map of strings, got string"
	if d.Allowed || d.Code != 400 || d.Message != want || len(d.Patch) > 0 {
		t.Errorf("got allowed=%v code=%d message=%q patch=%v; want a 400 refusal %q", d.Allowed, d.Code, d.Message, d.Patch, want)
	}
}

func TestMutatePatchIsDeterministic(t *testing.T) {
	p := mustParse(t, `
apiVersion: bouncer.dev/v1
kind: Policy
rules:
- {name: d, kinds: [Pod], defaults: {z: "1", a: "2", m: "3"}}
`)
	req := review(Create, "", "Pod", `{"metadata":{"labels":{"x":"y"}}}`, "")
	var paths []string
	for _, op := range p.Mutate(req).Patch {
		paths = append(paths, op.Path)
	}
	if got := strings.Join(paths, " "); got != "/metadata/labels/a /metadata/labels/m /metadata/labels/z" {
		t.Errorf("patch paths = %s, want sorted by key", got)
	}
}
