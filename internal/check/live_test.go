package check

import (
	"slices"
	"strings"
	"testing"
	"time"

	"bouncer.dev/bouncer/internal/policy"
)

// A Deployment, its ReplicaSet and the ReplicaSet's Pod as a cluster lists
// them: no apiVersion or kind on the items, a uid and a creationTimestamp on
// each, and a controller ownerReference on the children.
const (
	deploymentUID = "d0000000-0000-0000-0000-000000000001"
	replicaSetUID = "r0000000-0000-0000-0000-000000000001"

	// Neither the Deployment nor its template has an owner.
	deploymentItem = `{"metadata": {"name": "web", "namespace": "shop", "uid": "` + deploymentUID + `",
	  "creationTimestamp": "2024-01-02T03:04:05Z", "labels": {"app": "web"}},
	 "spec": {"selector": {"matchLabels": {"app": "web"}},
	  "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}`
	// Owner and environment everywhere: clean.
	cleanDeploymentItem = `{"metadata": {"name": "web", "namespace": "shop", "uid": "` + deploymentUID + `",
	  "labels": {"app": "web", "owner": "team-a", "environment": "prod"}},
	 "spec": {"selector": {"matchLabels": {"app": "web"}},
	  "template": {"metadata": {"labels": {"app": "web", "owner": "team-a", "environment": "prod"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}`
)

// replicaSetItem is web's ReplicaSet, as the Deployment controller makes it
// from a template without an owner, controlled by the Deployment of uid.
func replicaSetItem(uid string) string {
	return `{"metadata": {"name": "web-5d8f", "namespace": "shop", "uid": "` + replicaSetUID + `",
	  "labels": {"app": "web", "pod-template-hash": "5d8f"},
	  "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "` + uid + `", "controller": true}]},
	 "spec": {"selector": {"matchLabels": {"app": "web", "pod-template-hash": "5d8f"}},
	  "template": {"metadata": {"labels": {"app": "web", "pod-template-hash": "5d8f"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}`
}

// podItem is a Pod without an owner in namespace ns.
const podItem = `{"metadata": {"name": "p", "namespace": "NS", "uid": "p0000000-0000-0000-0000-000000000001", "labels": {"app": "p"}},
	 "spec": {"containers": [{"name": "c", "image": "nginx"}]}}`

func newStream(t *testing.T) *Stream {
	t.Helper()
	s := (&Checker{Policy: policy.Default()}).NewStream()
	for _, ns := range []string{
		`{"metadata": {"name": "shop", "labels": {"team": "a"}}}`,
		`{"metadata": {"name": "sandbox", "labels": {"bouncer.dev/exempt": "true"}}}`,
		`{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "plain"}}`,
	} {
		if err := s.Namespace([]byte(ns)); err != nil {
			t.Fatalf("Namespace(%s): %v", ns, err)
		}
	}
	return s
}

func hasFinding(l *Live, rule string) bool {
	return slices.ContainsFunc(l.Findings, func(f Finding) bool { return f.Rule == rule })
}

func TestAStreamLendsEachNamespacesLabelsToTheObjectsInIt(t *testing.T) {
	tests := []struct {
		name, namespace string
		wantSkip        string // "" means judged
	}{
		{"an object in a namespace exempt by label is skipped", "sandbox", "exempt namespace label"},
		{"an object in a namespace without the label is judged", "plain", ""},
		{"an object in a system namespace is skipped by name", "kube-system", "exempt namespace"},
		{"an object in a namespace that was not listed is judged", "unlisted", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStream(t)
			l, err := s.Judge([]byte(strings.ReplaceAll(podItem, "NS", tt.namespace)), "v1", "Pod")
			if err != nil {
				t.Fatal(err)
			}
			if l.Skip != tt.wantSkip {
				t.Errorf("skip %q, want %q", l.Skip, tt.wantSkip)
			}
			if judged := tt.wantSkip == ""; l.Reported() != judged || hasFinding(&l, "require-owner") != judged {
				t.Errorf("reported %v, findings %+v; want judged %v", l.Reported(), l.Findings, judged)
			}
		})
	}
}

func TestAStreamRefusesANamespaceItCannotRead(t *testing.T) {
	tests := []struct {
		name, item, want string
	}{
		{"an item that is no object", `[1, 2]`, "a listed Namespace is not an object"},
		{"an object of another kind", `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}`, `a listed Namespace reads as Pod "p"`},
		{"a Namespace without a name", `{"metadata": {"labels": {"a": "b"}}}`, `a listed Namespace reads as Namespace ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := (&Checker{Policy: policy.Default()}).NewStream().Namespace([]byte(tt.item))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestAListedObjectTakesItsAPIVersionAndKindFromTheList(t *testing.T) {
	tests := []struct {
		name                string
		item                string
		apiVersion, kind    string
		wantVersion, wantKd string
	}{
		{"an item without them takes the list's", deploymentItem, "apps/v1", "Deployment", "apps/v1", "Deployment"},
		{"an item with them keeps its own", `{"apiVersion": "apps/v1", "kind": "Deployment",` + deploymentItem[1:], "apps/v1beta9", "Widget", "apps/v1", "Deployment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := newStream(t).Judge([]byte(tt.item), tt.apiVersion, tt.kind)
			if err != nil {
				t.Fatal(err)
			}
			if l.APIVersion != tt.wantVersion || l.Kind != tt.wantKd {
				t.Errorf("read as %s %s, want %s %s", l.APIVersion, l.Kind, tt.wantVersion, tt.wantKd)
			}
			// Judged as what it is: a Deployment without an owner is denied.
			if l.Skip != "" || !l.Denied || !hasFinding(&l, "require-owner") {
				t.Errorf("skip %q, denied %v, findings %+v: want a Deployment denied for require-owner", l.Skip, l.Denied, l.Findings)
			}
			if l.UID != deploymentUID || l.Namespace != "shop" || l.Name != "web" || l.File != "" {
				t.Errorf("uid %q, object %s/%s, file %q", l.UID, l.Namespace, l.Name, l.File)
			}
		})
	}
}

func TestAChildIsReportedThroughItsListedParentOnlyWhenItHasNothingOfItsOwn(t *testing.T) {
	// A ReplicaSet with an owner, of a Deployment without one: its own
	// template still lacks environment, as the Deployment's does not.
	childWithOwner := strings.ReplaceAll(replicaSetItem(deploymentUID), `"app": "web", "pod-template-hash"`, `"app": "web", "owner": "team-a", "pod-template-hash"`)
	tests := []struct {
		name         string
		parent       string // "" when the parent is not listed
		child        string
		wantThrough  bool
		wantReported bool
	}{
		{"a child whose listed parent holds all its findings is reported through it", deploymentItem, replicaSetItem(deploymentUID), true, false},
		{"a child with a finding its parent lacks is reported on its own", cleanDeploymentItem, replicaSetItem(deploymentUID), false, true},
		{"a child whose parent was not listed is judged on its own", "", replicaSetItem(deploymentUID), false, true},
		{"a child whose controller's uid is not the listed parent's is judged on its own", deploymentItem, replicaSetItem("d0000000-0000-0000-0000-00000000ffff"), false, true},
		{"a child without a uid in its ownerReference is judged on its own", deploymentItem, replicaSetItem(""), false, true},
		{"a child with fewer findings than its parent is reported through it", deploymentItem, childWithOwner, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStream(t)
			if tt.parent != "" {
				if _, err := s.Judge([]byte(tt.parent), "apps/v1", "Deployment"); err != nil {
					t.Fatal(err)
				}
			}
			l, err := s.Judge([]byte(tt.child), "apps/v1", "ReplicaSet")
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Findings)+len(l.Adds) == 0 {
				t.Fatalf("the child has nothing to report: %+v", l)
			}
			if got := l.Through != nil; got != tt.wantThrough {
				t.Errorf("through %+v, want through the parent: %v", l.Through, tt.wantThrough)
			}
			if tt.wantThrough {
				want := Owner{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: deploymentUID}
				if *l.Through != want {
					t.Errorf("through %+v, want %+v", *l.Through, want)
				}
			}
			if l.Reported() != tt.wantReported {
				t.Errorf("Reported() = %v, want %v (findings %+v, adds %+v)", l.Reported(), tt.wantReported, l.Findings, l.Adds)
			}
		})
	}
}

func TestAPodIsReportedThroughTheReplicaSetThatWasReportedThroughItsDeployment(t *testing.T) {
	s := newStream(t)
	if _, err := s.Judge([]byte(deploymentItem), "apps/v1", "Deployment"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Judge([]byte(replicaSetItem(deploymentUID)), "apps/v1", "ReplicaSet"); err != nil {
		t.Fatal(err)
	}
	pod := `{"metadata": {"name": "web-5d8f-x", "namespace": "shop", "uid": "p1", "labels": {"app": "web", "pod-template-hash": "5d8f"},
	  "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d8f", "uid": "` + replicaSetUID + `", "controller": true}]},
	 "spec": {"containers": [{"name": "c", "image": "nginx"}]}}`
	l, err := s.Judge([]byte(pod), "v1", "Pod")
	if err != nil {
		t.Fatal(err)
	}
	if l.Through == nil || l.Through.Kind != "ReplicaSet" || l.Through.UID != replicaSetUID || l.Reported() {
		t.Errorf("through %+v, reported %v; want through ReplicaSet web-5d8f", l.Through, l.Reported())
	}
}

func TestAListedObjectsCreationTimestampIsRead(t *testing.T) {
	const item = `{"metadata": {"name": "p", "namespace": "shop", "uid": "u", "creationTimestamp": TS}, "spec": {"containers": []}}`
	tests := []struct {
		name    string
		ts      string
		want    time.Time
		wantErr string
	}{
		{"an RFC 3339 time is read", `"2024-01-02T03:04:05Z"`, time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), ""},
		{"an offset is kept", `"2024-01-02T05:04:05+02:00"`, time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), ""},
		{"null is no time", `null`, time.Time{}, ""},
		{"an empty string is no time", `""`, time.Time{}, ""},
		{"a time that is not RFC 3339 is an error naming the object", `"yesterday"`, time.Time{}, `Pod shop/p: creationTimestamp "yesterday"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := newStream(t).Judge([]byte(strings.Replace(item, "TS", tt.ts, 1)), "v1", "Pod")
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("err = %v, want %q", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case !l.Created.Equal(tt.want):
				t.Errorf("created %v, want %v", l.Created, tt.want)
			}
		})
	}
}

func TestAClusterScopedObjectIsReportedWithoutTheCheckersNamespace(t *testing.T) {
	p := mustParse(t, "apiVersion: bouncer.dev/v1\nkind: Policy\n"+
		"customKinds: [{kind: Widget, group: example.com, version: v1, resource: widgets}]\n"+
		"rules: [{name: a, kinds: [Widget], require: [{key: owner}]}]\n")
	s := (&Checker{Policy: p, Namespace: "default"}).NewStream()
	l, err := s.Judge([]byte(`{"metadata": {"name": "w", "uid": "w1"}}`), "example.com/v1", "Widget")
	if err != nil {
		t.Fatal(err)
	}
	if l.Namespace != "" || !l.Denied {
		t.Errorf("namespace %q, denied %v; want no namespace, denied", l.Namespace, l.Denied)
	}
}

func TestKindOrderListsParentsBeforeTheirChildren(t *testing.T) {
	kinds := KindOrder(policy.Default())
	at := map[string]int{}
	for i, k := range kinds {
		if _, dup := at[k.Kind]; dup {
			t.Errorf("%s listed twice", k.Kind)
		}
		at[k.Kind] = i
	}
	if len(kinds) != len(policy.Default().Kinds()) {
		t.Errorf("%d kinds, the policy covers %d", len(kinds), len(policy.Default().Kinds()))
	}
	tests := []struct {
		name          string
		before, after string
	}{
		{"a Deployment before its ReplicaSet", "Deployment", "ReplicaSet"},
		{"a ReplicaSet before its Pod", "ReplicaSet", "Pod"},
		{"a CronJob before its Job", "CronJob", "Job"},
		{"a Job before its Pod", "Job", "Pod"},
		{"a StatefulSet before its Pod", "StatefulSet", "Pod"},
		{"a DaemonSet before its Pod", "DaemonSet", "Pod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, okb := at[tt.before]
			a, oka := at[tt.after]
			if !okb || !oka || b >= a {
				t.Errorf("%s at %d (%v), %s at %d (%v)", tt.before, b, okb, tt.after, a, oka)
			}
		})
	}
}

func TestAForgedControllerReferenceReportsNothingThroughTheObjectItNames(t *testing.T) {
	// Anyone who may write a Pod may write an ownerReference: this one names
	// the violating Deployment itself, whose controller makes no Pods.
	pod := `{"metadata": {"name": "forged", "namespace": "shop", "uid": "p2", "labels": {"app": "web"},
	  "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "` + deploymentUID + `", "controller": true}]},
	 "spec": {"containers": [{"name": "c", "image": "nginx"}]}}`
	// And this one gives the Deployment's uid under another kind's name.
	rs := strings.ReplaceAll(replicaSetItem(deploymentUID), `"kind": "Deployment"`, `"kind": "StatefulSet"`)
	tests := []struct {
		name, item, apiVersion, kind string
	}{
		{"a Pod naming a Deployment as its controller is reported on its own", pod, "v1", "Pod"},
		{"a ReplicaSet naming the Deployment's uid as a StatefulSet is reported on its own", rs, "apps/v1", "ReplicaSet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStream(t)
			if _, err := s.Judge([]byte(deploymentItem), "apps/v1", "Deployment"); err != nil {
				t.Fatal(err)
			}
			l, err := s.Judge([]byte(tt.item), tt.apiVersion, tt.kind)
			if err != nil {
				t.Fatal(err)
			}
			if l.Through != nil || !l.Reported() || !l.Denied {
				t.Errorf("through %+v, reported %v, denied %v: want it reported on its own, denied", l.Through, l.Reported(), l.Denied)
			}
		})
	}
}

func TestACleanChildIsNotCountedAsReportedThroughItsParent(t *testing.T) {
	s := newStream(t)
	if _, err := s.Judge([]byte(deploymentItem), "apps/v1", "Deployment"); err != nil {
		t.Fatal(err)
	}
	clean := strings.ReplaceAll(replicaSetItem(deploymentUID), `"app": "web", "pod-template-hash": "5d8f"}`, `"app": "web", "owner": "a", "environment": "prod", "pod-template-hash": "5d8f"}`)
	l, err := s.Judge([]byte(clean), "apps/v1", "ReplicaSet")
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Findings)+len(l.Adds) != 0 {
		t.Fatalf("the child is not clean: %+v %+v", l.Findings, l.Adds)
	}
	if l.Through != nil || l.Reported() {
		t.Errorf("a clean child: through %+v, reported %v; want neither", l.Through, l.Reported())
	}
}
