//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// tenant is a user whose RBAC lets them create, label and patch
// namespaces (their status and finalize subresources too) and create Pods
// anywhere: a self-service namespace tenant, as Capsule, HNC or Argo CD's
// CreateNamespace make one. kubectl impersonates them with --as.
const tenant = "e2e-tenant"

var asTenant = []string{"--as=" + tenant, "--as-group=e2e-tenants"}

// grantTenant creates the tenant's ClusterRole and binding, once.
func grantTenant(t *testing.T) {
	t.Helper()
	rbac := `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: e2e-tenant}
rules:
- apiGroups: [""]
  resources: [namespaces, namespaces/status, namespaces/finalize]
  verbs: [get, list, watch, create, update, patch]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: e2e-tenant}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: e2e-tenant}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: ` + tenant + `}
`
	if _, errOut, err := env.KIn(rbac, "apply", "-f", "-"); err != nil {
		t.Fatalf("granting the tenant: %s", errOut)
	}
	// RBAC is read from an informer: wait until the tenant may create.
	eventually(t, 30*time.Second, "the tenant's RBAC takes effect", func() error {
		out, _, _ := env.K(append([]string{"auth", "can-i", "patch", "namespaces/status"}, asTenant...)...)
		if strings.TrimSpace(out) != "yes" {
			return fmt.Errorf("kubectl auth can-i: %q", out)
		}
		return nil
	})
}

// guardDenial is what kubectl prints when the namespace guard refuses a write.
func guardDenial(ns, why string) string {
	return "ValidatingAdmissionPolicy 'bouncer-namespace-guard' with binding 'bouncer-namespace-guard' denied request: " +
		`Namespace "` + ns + `" was denied by bouncer: ` + why
}

const (
	byLabel = "only exemptionAdmins may make a namespace match exemptions.namespaceSelector"
	byName  = "only exemptionAdmins may create a namespace that exemptions.namespaces names"
)

// TestNoOneOutsideTheExemptionAdminsCanExemptANamespace: a user who may
// create, label and patch namespaces tries every way to end up with an
// exempt one, and then a Pod without owner in it; the guard refuses each
// way, in process and failing closed, and bouncer then denies the Pod. An
// admin (system:masters) still can, and the system namespaces keep working.
func TestNoOneOutsideTheExemptionAdminsCanExemptANamespace(t *testing.T) {
	grantTenant(t)
	ns := namespace(t)
	exempt := `{"metadata":{"labels":{"bouncer.dev/exempt":"true"}}}`
	nsJSON := func(name string, labels map[string]string) string {
		l, _ := json.Marshal(labels)
		return fmt.Sprintf(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":%q,"labels":%s}}`, name, l)
	}
	created := ns + "-made"
	t.Cleanup(func() { _, _, _ = env.K("delete", "namespace", created, "--wait=false") })

	attempts := []struct {
		name, target, want string
		run                func() (string, string, error)
	}{
		{"creating a namespace with the label", created + "-x", byLabel, func() (string, string, error) {
			return env.KIn(nsJSON(created+"-x", map[string]string{"bouncer.dev/exempt": "true"}), append([]string{"create", "-f", "-"}, asTenant...)...)
		}},
		{"labelling one", ns, byLabel, func() (string, string, error) {
			return env.K(append([]string{"label", "namespace", ns, "bouncer.dev/exempt=true"}, asTenant...)...)
		}},
		{"a merge patch", ns, byLabel, func() (string, string, error) {
			return env.K(append([]string{"patch", "namespace", ns, "--type=merge", "-p", exempt}, asTenant...)...)
		}},
		{"a JSON patch", ns, byLabel, func() (string, string, error) {
			return env.K(append([]string{"patch", "namespace", ns, "--type=json", "-p", `[{"op":"add","path":"/metadata/labels/bouncer.dev~1exempt","value":"true"}]`}, asTenant...)...)
		}},
		{"a server-side apply", ns, byLabel, func() (string, string, error) {
			return env.KIn(nsJSON(ns, map[string]string{"bouncer.dev/exempt": "true"}), append([]string{"apply", "--server-side", "--field-manager=tenant", "-f", "-"}, asTenant...)...)
		}},
		{"a client-side apply", ns, byLabel, func() (string, string, error) {
			return env.KIn(nsJSON(ns, map[string]string{"bouncer.dev/exempt": "true"}), append([]string{"apply", "-f", "-"}, asTenant...)...)
		}},
		{"namespaces/status", ns, byLabel, func() (string, string, error) {
			return env.K(append([]string{"patch", "namespace", ns, "--subresource=status", "--type=merge", "-p", exempt}, asTenant...)...)
		}},
		{"namespaces/finalize", ns, byLabel, func() (string, string, error) {
			obj := get(t, "", "namespace", ns)
			obj["metadata"].(map[string]any)["labels"].(map[string]any)["bouncer.dev/exempt"] = "true"
			body, _ := json.Marshal(obj)
			return env.KIn(string(body), append([]string{"replace", "--raw", "/api/v1/namespaces/" + ns + "/finalize", "-f", "-"}, asTenant...)...)
		}},
		{"creating a namespace the policy exempts by name", "kourier-system", byName, func() (string, string, error) {
			return env.KIn(nsJSON("kourier-system", nil), append([]string{"create", "-f", "-"}, asTenant...)...)
		}},
	}
	if _, errOut, err := env.K("get", "namespace", "kourier-system"); err == nil || !contains(errOut, "NotFound") {
		t.Fatalf("kourier-system must not exist for this test: %v %s", err, errOut)
	}
	for _, a := range attempts {
		_, errOut, err := a.run()
		if err == nil || !contains(errOut, guardDenial(a.target, a.want)) {
			t.Errorf("%s: err=%v\n%s\nwant the guard's refusal %q", a.name, err, errOut, guardDenial(a.target, a.want))
		}
	}
	if l := labelsAt(get(t, "", "namespace", ns), "metadata.labels"); l["bouncer.dev/exempt"] != "" {
		t.Fatalf("the namespace ended up exempt: %v", l)
	}
	// The tenant may still do everything else with namespaces.
	if _, errOut, err := env.KIn(nsJSON(created, map[string]string{"team": "a"}), append([]string{"create", "-f", "-"}, asTenant...)...); err != nil {
		t.Fatalf("the tenant could not create an ordinary namespace: %s", errOut)
	}
	if _, errOut, err := env.K(append([]string{"label", "namespace", ns, "team=a"}, asTenant...)...); err != nil {
		t.Errorf("the tenant could not add an ordinary label: %s", errOut)
	}
	if _, errOut, err := env.K(append([]string{"label", "namespace", "kube-system", "e2e-tenant-was-here=yes"}, asTenant...)...); err != nil {
		t.Errorf("the tenant could not label kube-system, which is already exempt by name: %s", errOut)
	}
	_, _, _ = env.K("label", "namespace", "kube-system", "e2e-tenant-was-here-")
	for _, target := range []string{ns, created} {
		_, errOut, err := env.KIn(pod("no-owner", map[string]string{"app": "x"}), append([]string{"create", "-n", target, "-f", "-"}, asTenant...)...)
		if want := `Pod "no-owner" in namespace "` + target + `" was denied by bouncer: [require-owner] missing label "owner" at metadata.labels`; err == nil || !contains(errOut, want) {
			t.Errorf("a Pod without owner in %s: err=%v %s; want %q", target, err, errOut, want)
		}
	}

	// An admin may exempt a namespace, and a Pod without owner then gets in.
	if _, errOut, err := env.K("label", "namespace", created, "bouncer.dev/exempt=true"); err != nil {
		t.Fatalf("an admin (system:masters) could not exempt a namespace: %s", errOut)
	}
	eventually(t, 30*time.Second, "a Pod without owner gets into the namespace an admin exempted", func() error {
		if _, errOut, err := env.KIn(pod("exempted", map[string]string{"app": "x"}), append([]string{"create", "-n", created, "-f", "-"}, asTenant...)...); err != nil {
			return fmt.Errorf("%s", errOut)
		}
		return nil
	})
	// Keeping an exemption an admin gave is no new exemption: the tenant's
	// own labels on that namespace still go through.
	if _, errOut, err := env.K(append([]string{"label", "namespace", created, "tier=web"}, asTenant...)...); err != nil {
		t.Errorf("the tenant could not label a namespace an admin had exempted: %s", errOut)
	}
	// The system namespaces keep working: an admin's Pod without owner in
	// kube-system and bouncer-system gets in.
	for _, sys := range []string{"kube-system", "bouncer-system"} {
		if _, _, err := env.K("get", "namespace", sys); err != nil {
			if _, errOut, err := env.K("create", "namespace", sys); err != nil {
				t.Fatalf("an admin could not create %s: %s", sys, errOut)
			}
			t.Cleanup(func() { _, _, _ = env.K("delete", "namespace", sys, "--wait=false") })
		}
		name := "e2e-guard-" + strings.TrimSuffix(sys, "-system")
		if _, errOut, err := env.KIn(pod(name, map[string]string{"app": "x"}), "create", "-n", sys, "-f", "-"); err != nil {
			t.Errorf("a Pod without owner in %s was refused: %s", sys, errOut)
		}
		t.Cleanup(func() { _, _, _ = env.K("delete", "pod", "-n", sys, name, "--wait=false") })
	}
	expectTypeChecked(t, "bouncer-namespace-guard")
}

// expectTypeChecked waits until the controller-manager has type-checked a
// ValidatingAdmissionPolicy and fails on any expression warning.
func expectTypeChecked(t *testing.T, name string) {
	t.Helper()
	eventually(t, 60*time.Second, name+" is type-checked without warnings", func() error {
		out, errOut, err := env.K("get", "validatingadmissionpolicy", name, "-o", "jsonpath={.status.typeChecking}")
		if err != nil {
			return fmt.Errorf("%s", errOut)
		}
		if out == "" {
			return fmt.Errorf("not type-checked yet")
		}
		if out != "{}" {
			t.Fatalf("%s type-checks with warnings: %s", name, out)
		}
		return nil
	})
}
