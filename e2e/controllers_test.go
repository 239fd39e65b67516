//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// podsOf lists the Pods matching a selector.
func podsOf(t *testing.T, ns, selector string) []map[string]any {
	t.Helper()
	out, errOut, err := env.K("get", "-n", ns, "pods", "-l", selector, "-o", "json")
	if err != nil {
		t.Fatalf("listing pods: %s", errOut)
	}
	var list struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func requireLabels(what string, l map[string]string) error {
	if l["owner"] != "team-a" || l["environment"] != "development" {
		return fmt.Errorf("%s has labels %v, want owner=team-a and environment=development", what, l)
	}
	return nil
}

func TestADeploymentsReplicaSetAndPodsAreCreatedByTheControllersWithBothLabels(t *testing.T) {
	ns := namespace(t)
	mustCreate(t, ns, workload("Deployment", "web", nil))
	if _, errOut, err := env.K("-n", ns, "scale", "deployment/web", "--replicas=2"); err != nil {
		t.Fatalf("scale: %s", errOut)
	}
	eventually(t, 90*time.Second, "two Pods created by the ReplicaSet controller", func() error {
		pods := podsOf(t, ns, "app=web")
		if len(pods) != 2 {
			return fmt.Errorf("%d pods", len(pods))
		}
		for _, p := range pods {
			if err := requireLabels("pod", labelsAt(p, "metadata.labels")); err != nil {
				return err
			}
		}
		return nil
	})
	out, _, _ := env.K("get", "-n", ns, "replicasets", "-l", "app=web", "-o", "json")
	var rs struct {
		Items []map[string]any `json:"items"`
	}
	_ = json.Unmarshal([]byte(out), &rs)
	if len(rs.Items) != 1 {
		t.Fatalf("%d ReplicaSets, want 1", len(rs.Items))
	}
	for _, place := range []string{"metadata.labels", "spec.template.metadata.labels"} {
		if err := requireLabels("ReplicaSet "+place, labelsAt(rs.Items[0], place)); err != nil {
			t.Error(err)
		}
	}
}

func TestACronJobsJobAndPodsCarryBothLabels(t *testing.T) {
	ns := namespace(t)
	mustCreate(t, ns, workload("CronJob", "nightly", nil))
	if _, errOut, err := env.K("-n", ns, "create", "job", "manual", "--from=cronjob/nightly"); err != nil {
		t.Fatalf("kubectl create job --from=cronjob/nightly: %s", errOut)
	}
	job := get(t, ns, "job", "manual")
	for _, place := range []string{"metadata.labels", "spec.template.metadata.labels"} {
		if err := requireLabels("Job "+place, labelsAt(job, place)); err != nil {
			t.Error(err)
		}
	}
	eventually(t, 90*time.Second, "a Pod created by the Job controller", func() error {
		pods := podsOf(t, ns, "job-name=manual")
		if len(pods) == 0 {
			return fmt.Errorf("no pods yet")
		}
		return requireLabels("pod", labelsAt(pods[0], "metadata.labels"))
	})
}
