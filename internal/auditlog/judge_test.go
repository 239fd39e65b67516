package auditlog

import (
	"encoding/json"
	"testing"
	"time"

	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/policy/policytest"
	"github.com/google/go-cmp/cmp"
)

var (
	at     = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	alice  = UserInfo{Username: "alice", Groups: []string{"dev", "system:authenticated"}}
	rsCtrl = UserInfo{Username: "system:serviceaccount:kube-system:replicaset-controller",
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"}}
)

// stored is a write of a Pod in shop by alice that the API server answered
// with code, logged at RequestResponse with obj as the stored object.
func stored(verb string, code int, obj string) *Event {
	e := &Event{Level: LevelRequestResponse, AuditID: "a-1", Stage: StageResponseComplete, Verb: verb,
		RequestURI: "/api/v1/namespaces/shop/pods", User: alice,
		ObjectRef:      &ObjectRef{Resource: "pods", Namespace: "shop", Name: "web", APIVersion: "v1"},
		ResponseStatus: &ResponseStatus{Code: code}, StageTimestamp: at}
	if obj != "" {
		e.ResponseObject = json.RawMessage(obj)
	}
	return e
}

func podJSON(labels string) string {
	return `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop","uid":"p-1","labels":` + labels +
		`},"spec":{"containers":[{"name":"c","image":"x"}]}}`
}

// escape is the Escape of a Pod write by alice, outcome and findings to
// be set.
func escape(verb, op string) Escape {
	return Escape{AuditID: "a-1", Verb: verb, Operation: op, User: "alice", Groups: alice.Groups, Time: at, Level: LevelRequestResponse,
		Object: Object{APIVersion: "v1", Kind: "Pod", Resource: "pods", Namespace: "shop", Name: "web", UID: "p-1"}}
}

var (
	missingOwner = Violation{Rule: "require-owner", Action: "deny", Key: "owner", Place: "metadata.labels", Problem: "missing",
		Message: `missing label "owner" at metadata.labels`}
	addEnvironment = []policy.Added{{Rule: "default-environment", Place: "metadata.labels", Key: "environment", Value: "development"}}
)

func TestJudgeReJudgesTheStoredObjectThroughTheWebhooksChain(t *testing.T) {
	def := policy.Default()
	with := func(e *Event, f func(*Event)) *Event { f(e); return e }
	tests := []struct {
		name string
		p    *policy.Policy
		e    *Event
		want func(x *Escape)
	}{
		{"a created Pod without owner violates, and lacks the default mutate adds", def,
			stored("create", 201, podJSON(`{"app":"web"}`)), func(x *Escape) {
				*x = escape("create", "CREATE")
				x.Outcome, x.Violations, x.Adds = Violates, []Violation{missingOwner}, addEnvironment
			}},
		{"a created Pod with owner and environment is compliant", def,
			stored("create", 201, podJSON(`{"owner":"team-a","environment":"prod"}`)), func(x *Escape) {
				*x = escape("create", "CREATE")
				x.Outcome = Compliant
			}},
		{"an invalid owner violates, naming the value and the pattern", def,
			stored("create", 201, podJSON(`{"owner":"-x-","environment":"prod"}`)), func(x *Escape) {
				*x = escape("create", "CREATE")
				x.Outcome = Violates
				x.Violations = []Violation{{Rule: "require-owner", Action: "deny", Key: "owner", Place: "metadata.labels", Problem: "invalid",
					Message: `label "owner" at metadata.labels has value "-x-", which does not match ^(?:[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$`}}
			}},
		{"a patch that stored a Pod without owner violates, whether it did before unknown", def,
			stored("patch", 200, podJSON(`{"environment":"prod"}`)), func(x *Escape) {
				*x = escape("patch", "UPDATE")
				x.Outcome, x.Violations, x.PriorUnknown = Violates, []Violation{missingOwner}, true
			}},
		{"an update that stored a compliant Pod is compliant", def,
			stored("update", 200, podJSON(`{"owner":"a","environment":"prod"}`)), func(x *Escape) {
				*x = escape("update", "UPDATE")
				x.Outcome = Compliant
			}},
		{"mutate completes only the object's own labels on an update", def,
			stored("update", 200, podJSON(`{"owner":"a"}`)), func(x *Escape) {
				*x = escape("update", "UPDATE")
				x.Outcome, x.Adds = Compliant, addEnvironment
			}},
		{"a patch answered 201 created the object (server-side apply) and is judged as a CREATE", def,
			stored("patch", 201, podJSON(`{}`)), func(x *Escape) {
				*x = escape("patch", "CREATE")
				x.Outcome, x.Violations, x.Adds = Violates, []Violation{missingOwner}, addEnvironment
			}},
		{"a Pod the ReplicaSet controller made is judged as the controller's, inherited", def,
			with(stored("create", 201, `{"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"web-","name":"web-x1","namespace":"shop","uid":"p-2",`+
				`"labels":{"app":"web"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web","uid":"r-1","controller":true}]}}`),
				func(e *Event) { e.User, e.ObjectRef.Name = rsCtrl, "" }), func(x *Escape) {
				*x = escape("create", "CREATE")
				x.User, x.Groups = rsCtrl.Username, rsCtrl.Groups
				x.Object.Name, x.Object.UID = "web-x1", "p-2"
				x.Outcome = Violates
				inherited := missingOwner
				inherited.Inherited, inherited.Message = true, missingOwner.Message+` (inherited from ReplicaSet "web")`
				x.Violations = []Violation{inherited}
			}},
		{"the same Pod sent by a person is the person's", def,
			stored("create", 201, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop","uid":"p-1",`+
				`"labels":{"app":"web"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web","uid":"r-1","controller":true}]}}`), func(x *Escape) {
				*x = escape("create", "CREATE")
				x.Outcome, x.Violations, x.Adds = Violates, []Violation{missingOwner}, addEnvironment
			}},
		{"an impersonated request is judged as whom it impersonated", policytest.Parse(t, "apiVersion: bouncer.dev/v1\nkind: Policy\n"+
			"exemptions: {users: [deployer]}\nrules: [{name: require-owner, kinds: [Pod], require: [{key: owner}]}]\n"),
			with(stored("create", 201, podJSON(`{}`)), func(e *Event) { e.ImpersonatedUser = &UserInfo{Username: "deployer"} }), func(x *Escape) {
				*x = escape("create", "CREATE")
				x.User, x.Groups, x.ImpersonatedBy = "deployer", nil, "alice"
				x.Skip = "exempt user"
			}},
		{"a warn rule's violation is reported with its action", policytest.Parse(t, "apiVersion: bouncer.dev/v1\nkind: Policy\n"+
			"rules: [{name: want-cost-center, action: warn, kinds: [Pod], require: [{key: cost-center}]}]\n"),
			stored("create", 201, podJSON(`{}`)), func(x *Escape) {
				*x = escape("create", "CREATE")
				x.Outcome = Violates
				x.Violations = []Violation{{Rule: "want-cost-center", Action: "warn", Key: "cost-center", Place: "metadata.labels", Problem: "missing",
					Message: `missing label "cost-center" at metadata.labels`}}
			}},
		{"an object the webhooks could not read would have been refused, so it violates", def,
			stored("create", 201, podJSON(`["app"]`)), func(x *Escape) {
				*x = escape("create", "CREATE")
				x.Outcome, x.Unreadable = Violates, "request.object.metadata.labels: must be a map of strings, got array"
			}},
		{"a response object that is not an object violates as unreadable", def,
			stored("create", 201, `"web"`), func(x *Escape) {
				*x = escape("create", "CREATE")
				x.Object.UID = ""
				x.Outcome, x.Unreadable = Violates, "responseObject: must be an object, got string"
			}},
		{"an unreadable response object of a kind the policy does not cover is not ours", def,
			with(stored("create", 201, `"web"`), func(e *Event) { e.ObjectRef.Resource = "configmaps" }), func(x *Escape) {
				*x = escape("create", "CREATE")
				x.Object.Kind, x.Object.Resource, x.Object.UID = "", "configmaps", ""
				x.Skip = "kind not in policy"
			}},
		{"a Pod's status write that removed owner is judged: pods/status keeps labels", def,
			with(stored("update", 200, podJSON(`{"environment":"prod"}`)), func(e *Event) { e.ObjectRef.Subresource = "status" }), func(x *Escape) {
				*x = escape("update", "UPDATE")
				x.Object.Subresource = "status"
				x.Outcome, x.Violations, x.PriorUnknown = Violates, []Violation{missingOwner}, true
			}},
		{"a Deployment's status write cannot change its labels", def,
			with(stored("update", 200, `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"shop","uid":"d-1"}}`), func(e *Event) {
				e.ObjectRef = &ObjectRef{Resource: "deployments", APIGroup: "apps", APIVersion: "v1", Namespace: "shop", Name: "web", Subresource: "status"}
			}), func(x *Escape) {
				*x = escape("update", "UPDATE")
				x.Object = Object{APIVersion: "apps/v1", Kind: "Deployment", Resource: "deployments", Subresource: "status", Namespace: "shop", Name: "web", UID: "d-1"}
				x.Skip = `subresource "status"`
			}},
		{"a kind the policy does not cover is not ours", def,
			with(stored("create", 201, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"web","namespace":"shop","uid":"c-1"}}`), func(e *Event) {
				e.ObjectRef.Resource = "configmaps"
			}), func(x *Escape) {
				*x = escape("create", "CREATE")
				x.Object.Kind, x.Object.Resource, x.Object.UID = "ConfigMap", "configmaps", "c-1"
				x.Skip = "kind not in policy"
			}},
		{"an exempt namespace is not ours", def,
			with(stored("create", 201, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"kube-system","uid":"p-1"}}`), func(e *Event) {
				e.ObjectRef.Namespace = "kube-system"
			}), func(x *Escape) {
				*x = escape("create", "CREATE")
				x.Object.Namespace = "kube-system"
				x.Skip = "exempt namespace"
			}},
		{"a write answered 409 stored nothing", def, stored("create", 409, `{"kind":"Status","apiVersion":"v1","code":409}`), func(x *Escape) {
			*x = escape("create", "")
			x.Object.UID = ""
			x.Skip = "the write stored nothing (stage ResponseComplete, code 409)"
		}},
		{"a dry run stored nothing", def, with(stored("create", 201, podJSON(`{}`)), func(e *Event) { e.RequestURI += "?dryRun=All" }), func(x *Escape) {
			*x = escape("create", "")
			x.Object.UID = ""
			x.Skip = "a dry run stores nothing"
		}},
		{"a delete stores no object to judge", def, stored("delete", 200, podJSON(`{}`)), func(x *Escape) {
			*x = escape("delete", "")
			x.Object.UID = ""
			x.Skip = `verb "delete" stores no object bouncer judges`
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want Escape
			tt.want(&want)
			if diff := cmp.Diff(want, Judge(tt.p, tt.e)); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestAWriteLoggedWithoutItsObjectIsNotLoggedWhenItIsOurs(t *testing.T) {
	def := policy.Default()
	unlogged := func(level, verb, group, resource, subresource, namespace string) *Event {
		e := stored(verb, 200, "")
		e.Level = level
		e.ObjectRef = &ObjectRef{Resource: resource, APIGroup: group, APIVersion: "v1", Subresource: subresource, Namespace: namespace, Name: "web"}
		if level == LevelRequest {
			// At level Request a patch carries the patch alone.
			e.RequestObject = json.RawMessage(`{"metadata":{"labels":{"owner":null}}}`)
		}
		return e
	}
	tests := []struct {
		name      string
		e         *Event
		kind      string
		apiVer    string
		operation string
		outcome   Outcome
		skip      string
	}{
		{"a patch at level Request carries only the patch", unlogged(LevelRequest, "patch", "", "pods", "", "shop"), "Pod", "v1", "UPDATE", NotLogged, ""},
		{"a create at level Metadata carries no object", unlogged(LevelMetadata, "create", "", "pods", "", "shop"), "Pod", "v1", "CREATE", NotLogged, ""},
		{"a workload is found by its group and resource", unlogged(LevelMetadata, "update", "apps", "deployments", "", "shop"), "Deployment", "apps/v1", "UPDATE", NotLogged, ""},
		{"a Pod's status write may change labels", unlogged(LevelMetadata, "update", "", "pods", "status", "shop"), "Pod", "v1", "UPDATE", NotLogged, ""},
		{"a scale write cannot", unlogged(LevelMetadata, "update", "apps", "deployments", "scale", "shop"), "Deployment", "apps/v1", "UPDATE", "", `subresource "scale"`},
		{"a resource of another group is not ours", unlogged(LevelMetadata, "create", "example.com", "deployments", "", "shop"), "", "example.com/v1", "CREATE", "", "kind not in policy"},
		{"a kind the policy does not cover is not ours", unlogged(LevelMetadata, "create", "", "configmaps", "", "shop"), "", "v1", "CREATE", "", "kind not in policy"},
		{"an exempt namespace is not ours", unlogged(LevelMetadata, "create", "", "pods", "", "kube-system"), "Pod", "v1", "CREATE", "", "exempt namespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := Judge(def, tt.e)
			got := []any{x.Object.Kind, x.Object.APIVersion, x.Operation, x.Outcome, x.Skip, x.Level}
			want := []any{tt.kind, tt.apiVer, tt.operation, tt.outcome, tt.skip, tt.e.Level}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("kind, apiVersion, operation, outcome, skip, level (-want +got)\n%s", diff)
			}
			if x.Violations != nil || x.PriorUnknown || x.Adds != nil {
				t.Errorf("judged what it could not see: %+v", x)
			}
		})
	}
}

func TestAnExemptUserIsNotOursEvenWhenTheObjectWasNotLogged(t *testing.T) {
	p := policytest.Parse(t, "apiVersion: bouncer.dev/v1\nkind: Policy\nexemptions: {groups: [dev]}\n"+
		"rules: [{name: require-owner, kinds: [Pod], require: [{key: owner}]}]\n")
	e := stored("create", 201, "")
	e.Level = LevelMetadata
	if x := Judge(p, e); x.Skip != "exempt user" {
		t.Errorf("got outcome %q, skip %q; want the skip exempt user", x.Outcome, x.Skip)
	}
}

func TestTimeIsWhenTheWriteWasAnsweredElseWhenItArrived(t *testing.T) {
	e := stored("create", 201, podJSON(`{}`))
	if got := Judge(policy.Default(), e).Time; !got.Equal(at) {
		t.Errorf("got %v, want the stage timestamp %v", got, at)
	}
	e.StageTimestamp, e.RequestReceivedTimestamp = time.Time{}, at.Add(-time.Second)
	if got := Judge(policy.Default(), e).Time; !got.Equal(at.Add(-time.Second)) {
		t.Errorf("got %v, want the received timestamp", got)
	}
}
