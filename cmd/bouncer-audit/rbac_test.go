package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/policyfile"
	rbacv1 "k8s.io/api/rbac/v1"
)

// rolesFor renders the audit's ClusterRole and binding for p.
func rolesFor(t *testing.T, p *policy.Policy, namespace, serviceAccount string) (*rbacv1.ClusterRole, *rbacv1.ClusterRoleBinding) {
	t.Helper()
	objs, err := rbacFor(p, namespace, serviceAccount)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 {
		t.Fatalf("%d objects, want a ClusterRole and its binding", len(objs))
	}
	return objs[0].(*rbacv1.ClusterRole), objs[1].(*rbacv1.ClusterRoleBinding)
}

// grants flattens a role into "verb group/resource[/name]" lines.
func grants(rules []rbacv1.PolicyRule) []string {
	var out []string
	for _, r := range rules {
		for _, v := range r.Verbs {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					if len(r.ResourceNames) == 0 {
						out = append(out, v+" "+g+"/"+res)
					}
					for _, n := range r.ResourceNames {
						out = append(out, v+" "+g+"/"+res+"/"+n)
					}
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

func TestTheAuditsRoleGrantsWhatItReadsAndWritesAndNothingMore(t *testing.T) {
	p := policy.Default()
	role, binding := rolesFor(t, p, "bouncer-system", "bouncer-audit")
	var want []string
	for _, v := range []string{"get", "list"} {
		for _, gr := range []string{"/namespaces", "/pods", "apps/daemonsets", "apps/deployments", "apps/replicasets", "apps/statefulsets", "batch/cronjobs", "batch/jobs"} {
			want = append(want, v+" "+gr)
		}
	}
	exp, err := enforcers(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range exp {
		g := "get admissionregistration.k8s.io/" + resources[x.kind] + "/" + x.name
		if !slices.Contains(want, g) {
			want = append(want, g)
		}
	}
	for _, v := range []string{"get", "list", "create", "update", "patch", "delete"} {
		want = append(want, v+" openreports.io/reports", v+" openreports.io/clusterreports")
	}
	slices.Sort(want)
	got := grants(role.Rules)
	if !slices.Equal(got, want) {
		t.Errorf("the role grants\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	tests := []struct {
		name string
		bad  func(g string) bool
	}{
		{"no wildcard", func(g string) bool { return strings.Contains(g, "*") }},
		{"no secrets", func(g string) bool { return strings.Contains(g, "secrets") }},
		{"no write outside openreports.io", func(g string) bool {
			return !strings.HasPrefix(g, "get ") && !strings.HasPrefix(g, "list ") && !strings.Contains(g, " openreports.io/")
		}},
		{"no admission configuration that is not named", func(g string) bool {
			return strings.Contains(g, "admissionregistration") && strings.Count(g, "/") != 2
		}},
		{"no list of admission configurations", func(g string) bool {
			return strings.HasPrefix(g, "list admissionregistration")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, g := range got {
				if tt.bad(g) {
					t.Errorf("grants %s", g)
				}
			}
		})
	}
	if binding.RoleRef.Kind != "ClusterRole" || binding.RoleRef.Name != role.Name || role.Name != "bouncer-audit" {
		t.Errorf("binding refers to %s %s, role is %s", binding.RoleRef.Kind, binding.RoleRef.Name, role.Name)
	}
	if want := []rbacv1.Subject{{Kind: "ServiceAccount", Name: "bouncer-audit", Namespace: "bouncer-system"}}; !slices.Equal(binding.Subjects, want) {
		t.Errorf("subjects %+v, want %+v", binding.Subjects, want)
	}
}

func TestACustomKindAddsItsResourceToTheAuditsRole(t *testing.T) {
	p, err := policyfile.Load("../../testdata/policies/custom.yaml")
	if err != nil {
		t.Fatal(err)
	}
	role, _ := rolesFor(t, p, "bouncer-system", "bouncer-audit")
	got := grants(role.Rules)
	tests := []struct {
		name  string
		grant string
		want  bool
	}{
		{"the custom kind may be got", "get example.com/widgets", true},
		{"the custom kind may be listed", "list example.com/widgets", true},
		{"the built-in kinds it covers may be listed", "list apps/deployments", true},
		{"namespaces may always be listed", "list /namespaces", true},
		{"a kind it does not cover may not", "list apps/daemonsets", false},
		{"the custom kind may not be written", "update example.com/widgets", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if slices.Contains(got, tt.grant) != tt.want {
				t.Errorf("%s granted: %v, want %v; the role grants %q", tt.grant, !tt.want, tt.want, got)
			}
		})
	}
}

func TestAuditRBACOfTheDefaultPolicyMatchesTheGolden(t *testing.T) {
	t.Setenv(policyfile.EnvVar, "")
	var out, errb bytes.Buffer
	if code := run([]string{"rbac"}, &out, &errb); code != exitOK || errb.Len() > 0 {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	golden(t, "rbac-default.yaml", out.String())
}

func TestTheAuditRBACCommandLine(t *testing.T) {
	t.Setenv(policyfile.EnvVar, "")
	tests := []struct {
		name string
		args []string
		code int
		want string // in stdout when the code is 0, else in stderr; the other stays empty
	}{
		{"the namespace and name are the subject's", []string{"rbac", "--namespace", "ops", "--service-account", "auditor"},
			exitOK, "- kind: ServiceAccount\n  name: auditor\n  namespace: ops\n"},
		{"a custom policy renders its kinds", []string{"rbac", "--policy", "../../testdata/policies/custom.yaml"}, exitOK, "- example.com\n  resources:\n  - widgets\n"},
		{"a policy that does not exist is an error", []string{"rbac", "--policy", "testdata/no-such-policy.yaml"}, exitError, "no-such-policy.yaml"},
		{"an unknown flag is a usage error", []string{"rbac", "--all"}, exitError, "flag provided but not defined: -all\nUsage: bouncer audit rbac"},
		{"a policy given as an argument is a usage error, not the default's role", []string{"rbac", "../../testdata/policies/custom.yaml"}, exitError,
			`unexpected argument "../../testdata/policies/custom.yaml" (give the policy with --policy)`},
		{"--help is output", []string{"rbac", "--help"}, exitOK, "Usage: bouncer audit rbac [--policy FILE]"},
		{"-h is output", []string{"rbac", "-h"}, exitOK, "  -service-account NAME\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tt.args, &out, &errb)
			where := out.String()
			if tt.code != exitOK {
				where = errb.String()
			}
			if code != tt.code || !strings.Contains(where, tt.want) || code == exitOK && errb.Len() > 0 || code != exitOK && out.Len() > 0 {
				t.Errorf("exit %d, want %d; stdout %q, stderr %q; want %q", code, tt.code, out.String(), errb.String(), tt.want)
			}
		})
	}
}
