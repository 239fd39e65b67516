package policy_test

import (
	"strings"
	"testing"

	"bouncer.dev/bouncer/internal/policy"

	"bouncer.dev/bouncer/internal/spec"
	"github.com/google/go-cmp/cmp"
)

const (
	podNoOwner   = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop","labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}`
	podOwner     = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop","labels":{"app":"web","owner":"team-a"}},"spec":{}}`
	podOwnerB    = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop","labels":{"app":"web","owner":"team-b"}},"spec":{}}`
	podBadOwner  = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop","labels":{"owner":"team a!"}},"spec":{}}`
	podNoOwnerV2 = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop","labels":{"app":"web","tier":"front"}},"spec":{}}`
	deployOK     = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"owner":"a"}},"spec":{"template":{"metadata":{"labels":{"owner":"a"}}}}}`
	deployNoTpl  = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"owner":"a"}},"spec":{"template":{"metadata":{"labels":{"app":"web"}}}}}`
	deployNone   = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"template":{}}}`
	cronNoJobs   = `{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"nightly","labels":{"owner":"a"}},"spec":{"jobTemplate":{"spec":{"template":{"metadata":{}}}}}}`
	podDeleting  = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","deletionTimestamp":"2026-01-01T00:00:00Z","finalizers":[]},"spec":{}}`
	podGenerated = `{"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"web-69c6f74b8b-","namespace":"shop","labels":{"app":"web"}},"spec":{}}`
	podExempt    = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"bouncer.dev/exempt":"true"}},"spec":{}}`
	// Made by the ReplicaSet controller: a controller ownerReference.
	podOfRS        = `{"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"web-69c6f74b8b-","labels":{"app":"web"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-69c6f74b8b","uid":"u","controller":true,"blockOwnerDeletion":true}]},"spec":{}}`
	podOfRSNotCtl  = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"app":"web"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-69c6f74b8b","uid":"u"}]},"spec":{}}`
	podOfTwoCtls   = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"app":"web"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-69c6f74b8b","uid":"u","controller":true},{"apiVersion":"v1","kind":"ConfigMap","name":"c","uid":"v","controller":true}]},"spec":{}}`
	podOfConfigMap = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"app":"web"},"ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"c","uid":"u","controller":true}]},"spec":{}}`
	rsOfDeploy     = `{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"web-69c6f74b8b","labels":{"app":"web"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"web","uid":"u","controller":true}]},"spec":{"template":{"metadata":{"labels":{"app":"web"}}}}}`
	jobOfCron      = `{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"nightly-29","ownerReferences":[{"apiVersion":"batch/v1","kind":"CronJob","name":"nightly","uid":"u","controller":true}]},"spec":{"template":{"metadata":{"labels":{"owner":"a"}}}}}`
)

const (
	rsController   = "system:serviceaccount:kube-system:replicaset-controller"
	depController  = "system:serviceaccount:kube-system:deployment-controller"
	cronController = "system:serviceaccount:kube-system:cronjob-controller"
)

// as sets the request's user.
func as(user string, r *Request) *Request { r.User = user; return r }

// asNode makes the request a kubelet's, as the API server authenticates it.
func asNode(node string, r *Request) *Request {
	r.User, r.Groups = "system:node:"+node, []string{"system:nodes", "system:authenticated"}
	return r
}

// mirrorOf is the mirror Pod a kubelet publishes for a static Pod.
func mirrorOf(node string) string {
	return `{"metadata":{"name":"etcd-` + node + `","ownerReferences":[{"apiVersion":"v1","kind":"Node","name":"` + node + `","uid":"u","controller":true}]}}`
}

// sub makes the request one of a subresource.
func sub(name string, r *Request) *Request { r.SubResource = name; return r }

func TestValidate(t *testing.T) {
	def := policy.Default()
	strict := mustParse(t, strings.Replace(string(spec.DefaultYAML()), "allowExistingViolations: true", "allowExistingViolations: false", 1))
	modes := mustParse(t, `
apiVersion: bouncer.dev/v1
kind: Policy
rules:
- name: team-owner
  kinds: [Pod]
  require: [{key: owner, pattern: "team-[a-z]+"}]
- name: want-cost-center
  action: warn
  kinds: [Pod]
  require: [{key: cost-center}]
- name: track-tier
  action: audit
  kinds: [Pod]
  require: [{key: tier}]
`)
	exemptUsers := mustParse(t, `
apiVersion: bouncer.dev/v1
kind: Policy
exemptions: {users: [break-glass], groups: ["system:masters"]}
rules:
- name: require-owner
  kinds: [Pod]
  require: [{key: owner}]
`)

	podsOnly := mustParse(t, `
apiVersion: bouncer.dev/v1
kind: Policy
rules:
- {name: require-owner, kinds: [Pod], require: [{key: owner}]}
`)
	noControllers := mustParse(t, `
apiVersion: bouncer.dev/v1
kind: Policy
controllers: []
rules:
- {name: require-owner, kinds: [Pod, ReplicaSet], require: [{key: owner}]}
`)
	objectExempt := mustParse(t, `
apiVersion: bouncer.dev/v1
kind: Policy
exemptions: {objectSelector: {matchLabels: {bouncer.dev/exempt: "true"}}}
rules:
- {name: require-owner, kinds: [Pod], require: [{key: owner}]}
`)
	type want struct {
		allowed  bool
		code     int32
		message  string // exact
		warnings []string
		audit    map[string]string
		skip     string
	}
	inherited := func(target, parent, text, creator string) want {
		return want{allowed: true, warnings: []string{"bouncer: " + target + ": inherited from " + parent + ": " + text},
			audit: map[string]string{"inherited-violation": parent + " by " + creator + ": " + text}}
	}
	denied := func(msg string) want { return want{code: 403, message: msg} }
	tests := []struct {
		name   string
		policy *Policy
		req    *Request
		want   want
	}{
		{"a Pod with owner is admitted", def, review(Create, "", "Pod", podOwner, ""), want{allowed: true}},
		{"a Pod without owner is denied, naming the object, the label and the place", def, review(Create, "", "Pod", podNoOwner, ""),
			denied(`Pod "web" in namespace "shop" was denied by bouncer: [require-owner] missing label "owner" at metadata.labels`)},
		{"a Pod whose owner the pattern refuses is denied, with the value quoted", def, review(Create, "", "Pod", podBadOwner, ""),
			denied(`Pod "web" in namespace "shop" was denied by bouncer: [require-owner] label "owner" at metadata.labels has value "team a!", which does not match ^(?:[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$`)},
		{"a Pod with an empty owner is denied: an empty owner names nobody", def,
			review(Create, "", "Pod", `{"metadata":{"name":"web","labels":{"owner":""}}}`, ""),
			denied(`Pod "web" in namespace "shop" was denied by bouncer: [require-owner] label "owner" at metadata.labels has value "", which does not match ^(?:[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$`)},
		{"the pattern is anchored at the end: a value that only starts with a match is denied", modes,
			review(Create, "", "Pod", `{"metadata":{"name":"p","labels":{"owner":"team-a1","cost-center":"x","tier":"y"}}}`, ""),
			denied(`Pod "p" in namespace "shop" was denied by bouncer: [team-owner] label "owner" at metadata.labels has value "team-a1", which does not match ^(?:team-[a-z]+)$`)},
		{"the pattern is anchored at the start: a value that only ends with a match is denied", modes,
			review(Create, "", "Pod", `{"metadata":{"name":"p","labels":{"owner":"x-team-a","cost-center":"x","tier":"y"}}}`, ""),
			denied(`Pod "p" in namespace "shop" was denied by bouncer: [team-owner] label "owner" at metadata.labels has value "x-team-a", which does not match ^(?:team-[a-z]+)$`)},
		{"a whole match of the pattern is admitted", modes,
			review(Create, "", "Pod", `{"metadata":{"name":"p","labels":{"owner":"team-a","cost-center":"x","tier":"y"}}}`, ""), want{allowed: true}},
		{"a Deployment missing owner in its template is denied, naming spec.template.metadata.labels", def, review(Create, "apps", "Deployment", deployNoTpl, ""),
			denied(`Deployment "web" in namespace "shop" was denied by bouncer: [require-owner] missing label "owner" at spec.template.metadata.labels`)},
		{"a compliant Deployment is admitted", def, review(Create, "apps", "Deployment", deployOK, ""), want{allowed: true}},
		{"one denial lists every violation of a Deployment", def, review(Create, "apps", "Deployment", deployNone, ""),
			denied(`Deployment "web" in namespace "shop" was denied by bouncer: [require-owner] missing label "owner" at metadata.labels; [require-owner] missing label "owner" at spec.template.metadata.labels`)},
		{"a CronJob is checked in jobTemplate and in the template inside it", def, review(Create, "batch", "CronJob", cronNoJobs, ""),
			denied(`CronJob "nightly" in namespace "shop" was denied by bouncer: [require-owner] missing label "owner" at spec.jobTemplate.metadata.labels; [require-owner] missing label "owner" at spec.jobTemplate.spec.template.metadata.labels`)},
		{"a controller-made Pod with only a generateName is named by it", def, review(Create, "", "Pod", podGenerated, ""),
			denied(`Pod with generateName "web-69c6f74b8b-" in namespace "shop" was denied by bouncer: [require-owner] missing label "owner" at metadata.labels`)},
		{"DELETE is let through without inspection, even with a null object", def, review(Delete, "", "Pod", "", podNoOwner), want{allowed: true, skip: "operation DELETE"}},
		{"CONNECT is let through without inspection", def, review(Connect, "", "Pod", "", ""), want{allowed: true, skip: "operation CONNECT"}},
		{"a status write that removes owner is denied like the UPDATE it is", def, sub("status", review(Update, "", "Pod", podNoOwner, podOwner)),
			denied(`Pod "web" in namespace "shop" was denied by bouncer: [require-owner] missing label "owner" at metadata.labels`)},
		{"a status write that keeps an old violation is admitted with a warning", def, sub("status", review(Update, "", "Pod", podNoOwner, podNoOwner)),
			want{allowed: true, warnings: []string{`bouncer: Pod "web" in namespace "shop": kept an existing violation, fix it: [require-owner] missing label "owner" at metadata.labels`}}},
		{"a Deployment's status write is let through: its status strategy resets labels", def,
			sub("status", review(Update, "apps", "Deployment", deployNone, deployOK)), want{allowed: true, skip: `subresource "status"`}},
		{"a scale write is let through: it cannot change labels", def,
			sub("scale", review(Update, "apps", "Deployment", deployNone, deployOK)), want{allowed: true, skip: `subresource "scale"`}},
		{"a Pod the ReplicaSet controller makes follows its parent: admitted with a warning and an audit annotation naming it", def,
			as(rsController, review(Create, "", "Pod", podOfRS, "")),
			inherited(`Pod with generateName "web-69c6f74b8b-" in namespace "shop"`, `ReplicaSet "web-69c6f74b8b"`, `[require-owner] missing label "owner" at metadata.labels`, rsController)},
		{"the ReplicaSet the Deployment controller makes follows its parent, at every place", def,
			as(depController, review(Create, "apps", "ReplicaSet", rsOfDeploy, "")),
			want{allowed: true, warnings: []string{
				`bouncer: ReplicaSet "web-69c6f74b8b" in namespace "shop": inherited from Deployment "web": [require-owner] missing label "owner" at metadata.labels`,
				`bouncer: ReplicaSet "web-69c6f74b8b" in namespace "shop": inherited from Deployment "web": [require-owner] missing label "owner" at spec.template.metadata.labels`},
				audit: map[string]string{"inherited-violation": `Deployment "web" by ` + depController + `: [require-owner] missing label "owner" at metadata.labels; [require-owner] missing label "owner" at spec.template.metadata.labels`}}},
		{"a Job the CronJob controller makes follows its parent", def, as(cronController, review(Create, "batch", "Job", jobOfCron, "")),
			inherited(`Job "nightly-29" in namespace "shop"`, `CronJob "nightly"`, `[require-owner] missing label "owner" at metadata.labels`, cronController)},
		{"the controller-manager's own user counts as a controller", def, as("system:kube-controller-manager", review(Create, "", "Pod", podOfRS, "")),
			inherited(`Pod with generateName "web-69c6f74b8b-" in namespace "shop"`, `ReplicaSet "web-69c6f74b8b"`, `[require-owner] missing label "owner" at metadata.labels`, "system:kube-controller-manager")},
		{"a controller that removes owner from its child on UPDATE is judged as anyone: it inherits only what it leaves as it was", strict,
			as(rsController, review(Update, "", "Pod", podOfRS, strings.Replace(podOfRS, `"labels":{"app":"web"}`, `"labels":{"app":"web","owner":"a"}`, 1))),
			denied(`Pod with generateName "web-69c6f74b8b-" in namespace "shop" was denied by bouncer: [require-owner] missing label "owner" at metadata.labels`)},
		{"a controller that updates its child and leaves owner missing still follows the parent", strict,
			as(rsController, review(Update, "", "Pod", podOfRS, podOfRS)),
			inherited(`Pod with generateName "web-69c6f74b8b-" in namespace "shop"`, `ReplicaSet "web-69c6f74b8b"`, `[require-owner] missing label "owner" at metadata.labels`, rsController)},
		{"a node's mirror Pod follows its static Pod file: admitted with a warning naming the Node", def,
			asNode("n1", review(Create, "", "Pod", mirrorOf("n1"), "")),
			inherited(`Pod "etcd-n1" in namespace "shop"`, `Node "n1"`, `[require-owner] missing label "owner" at metadata.labels`, "system:node:n1")},
		{"a node that publishes a Pod owned by another Node gets the ordinary verdict", def,
			asNode("n2", review(Create, "", "Pod", mirrorOf("n1"), "")),
			denied(`Pod "etcd-n1" in namespace "shop" was denied by bouncer: [require-owner] missing label "owner" at metadata.labels`)},
		{"a user named like a node but outside system:nodes gets the ordinary verdict", def,
			as("system:node:n1", review(Create, "", "Pod", mirrorOf("n1"), "")),
			denied(`Pod "etcd-n1" in namespace "shop" was denied by bouncer: [require-owner] missing label "owner" at metadata.labels`)},
		{"a person who writes the controller ownerReference by hand gets the ordinary verdict", def, review(Create, "", "Pod", podOfRS, ""),
			denied(`Pod with generateName "web-69c6f74b8b-" in namespace "shop" was denied by bouncer: [require-owner] missing label "owner" at metadata.labels`)},
		{"a controller's object without a controller ownerReference gets the ordinary verdict", def, as(rsController, review(Create, "", "Pod", podOfRSNotCtl, "")),
			denied(`Pod "web" in namespace "shop" was denied by bouncer: [require-owner] missing label "owner" at metadata.labels`)},
		{"an object with two controller references has no controller, as the API server refuses it, and gets the ordinary verdict", def, as(rsController, review(Create, "", "Pod", podOfTwoCtls, "")),
			denied(`Pod "web" in namespace "shop" was denied by bouncer: [require-owner] missing label "owner" at metadata.labels`)},
		{"a controller's object owned by a kind that makes no such children gets the ordinary verdict", def, as(rsController, review(Create, "", "Pod", podOfConfigMap, "")),
			denied(`Pod "web" in namespace "shop" was denied by bouncer: [require-owner] missing label "owner" at metadata.labels`)},
		{"a child of a parent the rule does not cover gets the ordinary verdict: nothing judged the parent", podsOnly, as(rsController, review(Create, "", "Pod", podOfRS, "")),
			denied(`Pod with generateName "web-69c6f74b8b-" in namespace "shop" was denied by bouncer: [require-owner] missing label "owner" at metadata.labels`)},
		{"with no controllers listed, a controller's child gets the ordinary verdict", noControllers, as(rsController, review(Create, "", "Pod", podOfRS, "")),
			denied(`Pod with generateName "web-69c6f74b8b-" in namespace "shop" was denied by bouncer: [require-owner] missing label "owner" at metadata.labels`)},
		{"unreadable ownerReferences from a controller are refused with code 400", def,
			as(rsController, review(Create, "", "Pod", `{"metadata":{"name":"p","ownerReferences":{"kind":"ReplicaSet"}}}`, "")),
			want{code: 400, message: "bouncer cannot read the object: request.object.metadata.ownerReferences: must be an array, got object"}},
		{"a Pod in a namespace labelled exempt is let through where the labels are known", def, func() *Request {
			r := review(Create, "", "Pod", podNoOwner, "")
			r.NamespaceLabels = map[string]string{"bouncer.dev/exempt": "true"}
			return r
		}(), want{allowed: true, skip: "exempt namespace label"}},
		{"a Pod carrying the exempt label itself is judged like any other under the default policy", def, review(Create, "", "Pod", podExempt, ""),
			denied(`Pod "web" in namespace "shop" was denied by bouncer: [require-owner] missing label "owner" at metadata.labels`)},
		{"a kind outside the policy is let through", def, review(Create, "", "ConfigMap", `{"metadata":{"name":"c"}}`, ""), want{allowed: true, skip: "kind not in policy"}},
		{"a kind of the same name in another group is let through", def, review(Create, "example.com", "Pod", podNoOwner, ""), want{allowed: true, skip: "kind not in policy"}},
		{"an UPDATE of an object being deleted is let through, so finalizers can be removed", def, review(Update, "", "Pod", podDeleting, podDeleting),
			want{allowed: true, skip: "object is being deleted"}},
		{"an UPDATE of an object being deleted is let through even when its template is unreadable", def,
			review(Update, "apps", "Deployment", `{"metadata":{"name":"d","deletionTimestamp":"2026-01-01T00:00:00Z"},"spec":{"template":"x"}}`, `{"metadata":{"name":"d"}}`),
			want{allowed: true, skip: "object is being deleted"}},
		{"an audit rule annotates a violation an UPDATE kept, rather than warning", modes,
			review(Update, "", "Pod", `{"metadata":{"name":"p","labels":{"owner":"team-a","cost-center":"x","app":"2"}}}`, `{"metadata":{"name":"p","labels":{"owner":"team-a","cost-center":"x"}}}`),
			want{allowed: true, audit: map[string]string{"track-tier": `[track-tier] missing label "tier" at metadata.labels`}}},
		{"a request in an exempt namespace is let through", def, func() *Request {
			r := review(Create, "", "Pod", podNoOwner, "")
			r.Namespace = "kube-system"
			return r
		}(), want{allowed: true, skip: "exempt namespace"}},
		{"a system namespace the policy file leaves out is still exempt", exemptUsers, func() *Request {
			r := review(Create, "", "Pod", podNoOwner, "")
			r.Namespace = "kube-node-lease"
			return r
		}(), want{allowed: true, skip: "exempt namespace"}},
		{"an object carrying the exempt label is let through where a policy asks for it", objectExempt, review(Create, "", "Pod", podExempt, ""), want{allowed: true, skip: "exempt object label"}},
		{"an exempt user is let through", exemptUsers, func() *Request {
			r := review(Create, "", "Pod", podNoOwner, "")
			r.User = "break-glass"
			return r
		}(), want{allowed: true, skip: "exempt user"}},
		{"a member of an exempt group is let through", exemptUsers, func() *Request {
			r := review(Create, "", "Pod", podNoOwner, "")
			r.Groups = []string{"system:authenticated", "system:masters"}
			return r
		}(), want{allowed: true, skip: "exempt user"}},
		{"an UPDATE that removes owner is denied", def, review(Update, "", "Pod", podNoOwner, podOwner),
			denied(`Pod "web" in namespace "shop" was denied by bouncer: [require-owner] missing label "owner" at metadata.labels`)},
		{"an UPDATE that changes owner to a refused value is denied", def, review(Update, "", "Pod", podBadOwner, podOwner),
			denied(`Pod "web" in namespace "shop" was denied by bouncer: [require-owner] label "owner" at metadata.labels has value "team a!", which does not match ^(?:[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$`)},
		{"an UPDATE that changes owner to another valid value is admitted", def, review(Update, "", "Pod", podOwnerB, podOwner), want{allowed: true}},
		{"an UPDATE of an object that already lacked owner is admitted with a warning", def, review(Update, "", "Pod", podNoOwnerV2, podNoOwner),
			want{allowed: true, warnings: []string{`bouncer: Pod "web" in namespace "shop": kept an existing violation, fix it: [require-owner] missing label "owner" at metadata.labels`}}},
		{"an UPDATE that keeps an already refused value is admitted with a warning", def, review(Update, "", "Pod", podBadOwner, podBadOwner),
			want{allowed: true, warnings: []string{`bouncer: Pod "web" in namespace "shop": kept an existing violation, fix it: [require-owner] label "owner" at metadata.labels has value "team a!", which does not match ^(?:[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$`}}},
		{"an UPDATE that swaps one refused value for another is denied", def,
			review(Update, "", "Pod", `{"metadata":{"name":"web","labels":{"owner":"b b"}}}`, podBadOwner),
			denied(`Pod "web" in namespace "shop" was denied by bouncer: [require-owner] label "owner" at metadata.labels has value "b b", which does not match ^(?:[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$`)},
		{"with allowExistingViolations false, an UPDATE of an old violation is denied", strict, review(Update, "", "Pod", podNoOwnerV2, podNoOwner),
			denied(`Pod "web" in namespace "shop" was denied by bouncer: [require-owner] missing label "owner" at metadata.labels`)},
		{"an UPDATE without an oldObject is judged like a CREATE", def, review(Update, "", "Pod", podNoOwner, ""),
			denied(`Pod "web" in namespace "shop" was denied by bouncer: [require-owner] missing label "owner" at metadata.labels`)},
		{"a warn rule admits the object with a warning", modes,
			review(Create, "", "Pod", `{"metadata":{"name":"p","labels":{"owner":"team-a","tier":"y"}}}`, ""),
			want{allowed: true, warnings: []string{`bouncer: Pod "p" in namespace "shop": [want-cost-center] missing label "cost-center" at metadata.labels`}}},
		{"an audit rule admits the object with an audit annotation", modes,
			review(Create, "", "Pod", `{"metadata":{"name":"p","labels":{"owner":"team-a","cost-center":"x"}}}`, ""),
			want{allowed: true, audit: map[string]string{"track-tier": `[track-tier] missing label "tier" at metadata.labels`}}},
		{"a denial still carries the warnings of warn rules", modes,
			review(Create, "", "Pod", `{"metadata":{"name":"p","labels":{"tier":"y"}}}`, ""),
			want{code: 403, message: `Pod "p" in namespace "shop" was denied by bouncer: [team-owner] missing label "owner" at metadata.labels`,
				warnings: []string{`bouncer: Pod "p" in namespace "shop": [want-cost-center] missing label "cost-center" at metadata.labels`}}},
		{"a CREATE without an object is refused with code 400", def, review(Create, "", "Pod", "", ""),
			want{code: 400, message: "bouncer cannot read the object: request.object: missing on CREATE"}},
		{"an object that is not a JSON object is refused with code 400", def, review(Create, "", "Pod", `"pod"`, ""),
			want{code: 400, message: "bouncer cannot read the object: request.object: must be a JSON object, got string"}},
		{"labels that are not a map are refused with code 400, naming the place", def, review(Create, "", "Pod", `{"metadata":{"name":"p","labels":["owner"]}}`, ""),
			want{code: 400, message: "bouncer cannot read the object: request.object.metadata.labels: must be a map of strings, got array"}},
		{"a label value that is not a string is refused, naming the key", def, review(Create, "", "Pod", `{"metadata":{"name":"p","labels":{"a":"b","owner":7}}}`, ""),
			want{code: 400, message: `bouncer cannot read the object: request.object.metadata.labels["owner"]: label values must be strings, got number`}},
		{"a template that is not an object is refused, naming the path", def, review(Create, "apps", "Deployment", `{"metadata":{"name":"d","labels":{"owner":"a"}},"spec":{"template":"x"}}`, ""),
			want{code: 400, message: "bouncer cannot read the object: request.object.spec.template: must be a JSON object, got string"}},
		{"a duplicate label key is refused: parsers must not disagree on which counts", def, review(Create, "", "Pod", `{"metadata":{"name":"p","labels":{"owner":"a","owner":"b"}}}`, ""),
			want{code: 400, message: `bouncer cannot read the object: request.object.metadata.labels: duplicate label "owner"`}},
		{"an unreadable oldObject is refused with code 400", def, review(Update, "", "Pod", podOwner, `[]`),
			want{code: 400, message: "bouncer cannot read the object: request.oldObject: must be a JSON object, got array"}},
		{"an unknown operation is refused with code 400", def, review("PATCH", "", "Pod", podOwner, ""),
			want{code: 400, message: `bouncer cannot read the review: request.operation: unknown operation "PATCH"; want CREATE, UPDATE, DELETE or CONNECT`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.policy.Validate(tt.req)
			a := answer(d)
			got := want{allowed: a.Allowed, code: a.Code, message: a.Message, warnings: a.Warnings, audit: a.AuditAnnotations, skip: d.Skip}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
			if len(d.Patch) > 0 {
				t.Errorf("validate returned a patch: %v", d.Patch)
			}
			// dryRun requests get exactly the same answer.
			dry := *tt.req
			dry.DryRun = true
			if diff := cmp.Diff(d, tt.policy.Validate(&dry)); diff != "" {
				t.Errorf("dry-run answer differs (-real +dry):\n%s", diff)
			}
		})
	}
}

func TestWarningsStayWithinTheAPIServerLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: bouncer.dev/v1\nkind: Policy\nrules:\n- name: many\n  action: warn\n  kinds: [Pod]\n  require:\n")
	for i := 0; i < 60; i++ {
		b.WriteString("  - key: example.com/a-rather-long-label-key-that-fills-the-warning-" + strings.Repeat("x", 10) + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "\n")
	}
	p := mustParse(t, b.String())
	long := strings.Repeat("n", 250) + "\x07\n"
	d := answer(p.Validate(review(Create, "", "Pod", `{"metadata":{"name":"`+strings.ReplaceAll(strings.ReplaceAll(long, "\x07", `\u0007`), "\n", `\n`)+`"}}`, "")))
	if !d.Allowed {
		t.Fatalf("warn rules must admit: %+v", d)
	}
	total := 0
	for _, w := range d.Warnings {
		if len(w) > 256 {
			t.Errorf("warning of %d bytes, over 256: %q", len(w), w)
		}
		for _, r := range w {
			if r < 0x20 || r == 0x7f {
				t.Errorf("warning carries control character %U: %q", r, w)
			}
		}
		total += len(w)
	}
	if total > 4096 {
		t.Errorf("warnings total %d bytes, over 4096", total)
	}
	if last := d.Warnings[len(d.Warnings)-1]; !strings.HasSuffix(last, "more warnings left out") {
		t.Errorf("the last warning should say how many were left out, got %q", last)
	}
	t.Logf("%d warnings, %d bytes", len(d.Warnings), total)
}

// TestALongNameIsShortenedNeverWhatToFix keeps a warning within its 256
// bytes by cutting the object's name, so the violation, what the user must
// fix, survives whole.
func TestALongNameIsShortenedNeverWhatToFix(t *testing.T) {
	name := strings.Repeat("a", 240)
	old := `{"metadata":{"name":"` + name + `","labels":{"app":"x"}}}`
	obj := `{"metadata":{"name":"` + name + `","labels":{"app":"y"}}}`
	r := review(Update, "", "Pod", obj, old)
	r.Name = name
	a := answer(policy.Default().Validate(r))
	const fix = `kept an existing violation, fix it: [require-owner] missing label "owner" at metadata.labels`
	if len(a.Warnings) != 1 {
		t.Fatalf("warnings %q", a.Warnings)
	}
	w := a.Warnings[0]
	if !strings.HasSuffix(w, fix) || len(w) > 256 || !strings.HasPrefix(w, `bouncer: Pod "aaaa`) || !strings.Contains(w, `"…`) {
		t.Errorf("warning %q (%d bytes): want a shortened name and the whole violation", w, len(w))
	}
	t.Logf("%d-byte warning for a %d-byte name: %s", len(w), len(name), w)
}
