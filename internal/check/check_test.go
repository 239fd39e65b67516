package check

import (
	"testing"

	"bouncer.dev/bouncer/internal/policy"
)

func mustParse(t *testing.T, doc string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTheControllerIdentityIsTheOneThatCreatesTheChild(t *testing.T) {
	var (
		pod        = policy.GroupKind{Kind: "Pod"}
		replicaSet = policy.GroupKind{Group: "apps", Kind: "ReplicaSet"}
		deployment = policy.GroupKind{Group: "apps", Kind: "Deployment"}
		job        = policy.GroupKind{Group: "batch", Kind: "Job"}
		cronJob    = policy.GroupKind{Group: "batch", Kind: "CronJob"}
		daemonSet  = policy.GroupKind{Group: "apps", Kind: "DaemonSet"}
		widget     = policy.GroupKind{Group: "example.com", Kind: "Widget"}
	)
	const rules = "rules: [{name: a, kinds: [Pod], require: [{key: o}]}]\n"
	def := policy.Default()
	kcmOnly := mustParse(t, "apiVersion: bouncer.dev/v1\nkind: Policy\ncontrollers: [system:kube-controller-manager]\n"+rules)
	none := mustParse(t, "apiVersion: bouncer.dev/v1\nkind: Policy\ncontrollers: []\n"+rules)
	tests := []struct {
		name          string
		p             *policy.Policy
		child, parent policy.GroupKind
		want          string
	}{
		{"a ReplicaSet's Pod is the ReplicaSet controller's", def, pod, replicaSet, "system:serviceaccount:kube-system:replicaset-controller"},
		{"a DaemonSet's Pod is the DaemonSet controller's", def, pod, daemonSet, "system:serviceaccount:kube-system:daemon-set-controller"},
		{"a Job's Pod is the Job controller's", def, pod, job, "system:serviceaccount:kube-system:job-controller"},
		{"a Deployment's ReplicaSet is the Deployment controller's", def, replicaSet, deployment, "system:serviceaccount:kube-system:deployment-controller"},
		{"a CronJob's Job is the CronJob controller's", def, job, cronJob, "system:serviceaccount:kube-system:cronjob-controller"},
		{"a pair no built-in controller makes falls back to the policy's first controller", def, pod, widget, "system:kube-controller-manager"},
		{"a policy without that controller falls back to its first", kcmOnly, pod, replicaSet, "system:kube-controller-manager"},
		{"a policy without controllers gets the real creator", none, pod, replicaSet, "system:serviceaccount:kube-system:replicaset-controller"},
		{"a policy without controllers and a pair no built-in controller makes gets nobody", none, pod, widget, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Checker{Policy: tt.p}
			if got := c.controllerIdentity(tt.child, tt.parent); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSuggestNamesTheKindThatWasMeant(t *testing.T) {
	c := &Checker{Policy: policy.Default()}
	tests := []struct {
		name, group, kind, want string
	}{
		{"two letters swapped", "apps", "Deploymnet", "apps/v1 Deployment"},
		{"the wrong group", "", "Deployment", "apps/v1 Deployment"},
		{"the wrong case", "apps", "statefulset", "apps/v1 StatefulSet"},
		{"a letter missing", "batch", "CronJb", "batch/v1 CronJob"},
		{"an unrelated kind", "", "ConfigMap", ""},
		{"a short kind is too short to guess", "", "Po", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.suggest(tt.group, tt.kind); got != tt.want {
				t.Errorf("suggest(%q, %q) = %q, want %q", tt.group, tt.kind, got, tt.want)
			}
		})
	}
}

func TestEmptyInputHoldsNoDocument(t *testing.T) {
	tests := []struct {
		name, data string
		want       bool
	}{
		{"nothing", "", true},
		{"white space", " \n\t\n", true},
		{"comments and separators", "# a\n---\n--- # b\n", true},
		{"an empty List", "apiVersion: v1\nkind: List\nitems: []\n", false},
		{"a value that is no object", "replicas: 3\n", false},
		{"content on a separator line, which Read refuses", "--- {}\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Empty([]byte(tt.data)); got != tt.want {
				t.Errorf("Empty(%q) = %v, want %v", tt.data, got, tt.want)
			}
		})
	}
}
