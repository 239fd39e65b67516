//go:build e2e

package e2e

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestDefaultsNeverTakeObjectsOutOfTheirOwnSelector creates a ReplicaSet
// and a Deployment whose selectors exclude the defaulted key on purpose
// (environment DoesNotExist, environment NotIn [development]). A default
// added to their templates would make the API server refuse them
// ("selector does not match template labels"); one added to their Pods or
// the Deployment's ReplicaSet would take each out of its selector, and the
// controller would release it and make another, without end. bouncer
// leaves the key alone with a warning naming the selector, and adds
// nothing to what the controllers copy: a minute later each still has
// exactly its own objects.
func TestDefaultsNeverTakeObjectsOutOfTheirOwnSelector(t *testing.T) {
	ns := namespace(t)
	tpl := fmt.Sprintf(`{"metadata":{"labels":{"app":"%%s","owner":"team-a"}},"spec":{"containers":%s}}`, containers())
	rs := fmt.Sprintf(`{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"keep-out","labels":{"owner":"team-a"}},"spec":{"replicas":2,`+
		`"selector":{"matchLabels":{"app":"keep-out"},"matchExpressions":[{"key":"environment","operator":"DoesNotExist"}]},"template":%s}}`,
		fmt.Sprintf(tpl, "keep-out"))
	dep := fmt.Sprintf(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"not-dev","labels":{"owner":"team-a"}},"spec":{"replicas":2,`+
		`"selector":{"matchLabels":{"app":"not-dev"},"matchExpressions":[{"key":"environment","operator":"NotIn","values":["development"]}]},"template":%s}}`,
		fmt.Sprintf(tpl, "not-dev"))
	for _, c := range []struct{ manifest, kind, name string }{{rs, "ReplicaSet", "keep-out"}, {dep, "Deployment", "not-dev"}} {
		out := mustCreate(t, ns, c.manifest)
		want := fmt.Sprintf(`bouncer: %s %q in namespace %q: [default-environment] default label "environment" not added: spec.selector names that key`, c.kind, c.name, ns)
		if !strings.Contains(out, want) {
			t.Errorf("creating the %s printed:\n%s\nwant the warning %q", c.kind, out, want)
		}
		obj := get(t, ns, strings.ToLower(c.kind), c.name)
		for _, place := range []string{"metadata.labels", "spec.template.metadata.labels"} {
			if l := labelsAt(obj, place); l["environment"] != "" {
				t.Errorf("%s %s got environment at %s: %v", c.kind, c.name, place, l)
			}
		}
	}
	if env.Node == nil {
		stop := make(chan struct{})
		kubelet := actAsKubelet(t, ns, stop)
		defer func() { close(stop); kubelet.Wait() }()
	}
	// What each controller owns, by name: the same names a minute on mean
	// nothing was released and replaced.
	owned := func() (string, error) {
		var parts []string
		for _, res := range []string{"replicasets", "pods"} {
			for _, o := range items(t, ns, res, "") {
				m := o["metadata"].(map[string]any)
				if l := labelsAt(o, "metadata.labels"); l["environment"] != "" {
					return "", fmt.Errorf("%s %s got environment: %v", res, name(o), l)
				}
				refs, _ := m["ownerReferences"].([]any)
				if name(o) == "keep-out" {
					parts = append(parts, res+"/keep-out")
					continue
				}
				if len(refs) != 1 {
					return "", fmt.Errorf("%s %s has %d owners: released by its controller", res, name(o), len(refs))
				}
				parts = append(parts, res+"/"+name(o)+"<-"+refs[0].(map[string]any)["name"].(string))
			}
		}
		sort.Strings(parts)
		return strings.Join(parts, " "), nil
	}
	var first string
	eventually(t, 60*time.Second, "the ReplicaSets and their Pods exist", func() error {
		got, err := owned()
		if err != nil {
			return err
		}
		if n := strings.Count(got, "pods/"); n != 4 {
			return fmt.Errorf("%d Pods, want 2 of each: %s", n, got)
		}
		if n := strings.Count(got, "replicasets/"); n != 2 {
			return fmt.Errorf("%d ReplicaSets, want keep-out and the Deployment's one: %s", n, got)
		}
		first = got
		return nil
	})
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(3 * time.Second) {
		got, err := owned()
		if err != nil {
			t.Fatal(err)
		}
		if got != first {
			t.Fatalf("the owned objects changed:\nbefore %s\nnow    %s", first, got)
		}
	}
	t.Logf("FIGURE selectors: a minute on, still exactly %s", first)
}
