//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"bouncer.dev/bouncer/e2e/framework"
)

// TestAuditingALiveClusterShowsWhatWouldBeDenied pipes `kubectl get -o yaml`
// into `bouncer check -`, the audit in docs/cli.md: an object that slipped in
// (here created by the exempt user, as during a fail-open window) is
// reported, and a compliant one is not.
func TestAuditingALiveClusterShowsWhatWouldBeDenied(t *testing.T) {
	needBreakGlass(t)
	ns := namespace(t)
	mustCreate(t, ns, pod("good", map[string]string{"owner": "team-a"}))
	if _, errOut, err := env.KIn(pod("slipped", map[string]string{"app": "x"}), append([]string{"create", "-n", ns, "-f", "-"}, breakGlass...)...); err != nil {
		t.Fatal(errOut)
	}
	listing, errOut, err := env.K("get", "pods,deployments,statefulsets,daemonsets,jobs,cronjobs", "-n", ns, "-o", "yaml")
	if err != nil {
		t.Fatal(errOut)
	}
	args := []string{"check", "-"}
	if env.PolicyFile != "" {
		args = []string{"check", "--policy", env.PolicyFile, "-"}
	}
	out, errOut, err := framework.Run(context.Background(), time.Minute, nil, strings.NewReader(listing), env.BouncerBin, args...)
	if err == nil {
		t.Fatalf("bouncer check exited 0 on a cluster with a violation:\n%s", out)
	}
	want := "<stdin>#1.items[1] Pod " + ns + `/slipped: deny require-owner: missing label "owner" at metadata.labels`
	if !strings.Contains(out, want) {
		t.Errorf("bouncer check printed:\n%s%s\nwant the line:\n%s", out, errOut, want)
	}
	if strings.Contains(out, "/good: deny") {
		t.Errorf("the compliant Pod is reported:\n%s", out)
	}
}
