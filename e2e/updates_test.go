//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"
)

// breakGlass runs kubectl as the policy's exempt user, whose requests never
// reach bouncer: the way to make an object that predates the policy.
var breakGlass = []string{"--as=bouncer-e2e-break-glass", "--as-group=system:masters"}

func needBreakGlass(t *testing.T) {
	t.Helper()
	if !env.Policy.Exempt.ExemptsUser("bouncer-e2e-break-glass", nil) {
		t.Skip("the deployment's policy does not exempt the user bouncer-e2e-break-glass")
	}
}

func TestAnUpdateThatRemovesOwnerIsDenied(t *testing.T) {
	ns := namespace(t)
	mustCreate(t, ns, pod("web", map[string]string{"owner": "team-a"}))
	want := `Pod "web" in namespace "` + ns + `" was denied by bouncer: [require-owner] missing label "owner" at metadata.labels`
	_, errOut, err := env.K("-n", ns, "label", "pod", "web", "owner-")
	if err == nil || !strings.Contains(errOut, want) {
		t.Errorf("kubectl label pod web owner-: err=%v\n%s\nwant %q", err, errOut, want)
	}
	// An empty owner is a valid label value that the default pattern refuses.
	_, errOut, err = env.K("-n", ns, "label", "pod", "web", "--overwrite", "owner=")
	if err == nil || !strings.Contains(errOut, `has value "", which does not match`) {
		t.Errorf("changing owner to a value the pattern refuses: err=%v %s", err, errOut)
	}
	if got := labelsAt(get(t, ns, "pod", "web"), "metadata.labels")["owner"]; got != "team-a" {
		t.Errorf("owner = %q after the refused updates", got)
	}
}

func TestAnUpdateOfAnObjectThatAlreadyBrokeThePolicyIsAdmittedWithAWarning(t *testing.T) {
	needBreakGlass(t)
	ns := namespace(t)
	if _, errOut, err := env.KIn(pod("legacy", map[string]string{"app": "old"}), append([]string{"create", "-n", ns, "-f", "-"}, breakGlass...)...); err != nil {
		t.Fatalf("creating the legacy Pod as the exempt user: %s", errOut)
	}
	out, errOut, err := env.K("-n", ns, "label", "pod", "legacy", "tier=frontend")
	if err != nil {
		t.Fatalf("the update was refused: %s", errOut)
	}
	want := `bouncer: Pod "legacy" in namespace "` + ns + `": kept an existing violation, fix it: [require-owner] missing label "owner" at metadata.labels`
	if !strings.Contains(out+errOut, want) || !strings.Contains(out+errOut, "Warning: ") {
		t.Errorf("kubectl printed:\n%s%s\nwant:\n%s", out, errOut, want)
	}
	if l := labelsAt(get(t, ns, "pod", "legacy"), "metadata.labels"); l["tier"] != "frontend" {
		t.Errorf("labels %v: the update did not land", l)
	}
}

func TestStatusUpdatesAreNeverBlocked(t *testing.T) {
	needBreakGlass(t)
	ns := namespace(t)
	if _, errOut, err := env.KIn(pod("legacy", nil), append([]string{"create", "-n", ns, "-f", "-"}, breakGlass...)...); err != nil {
		t.Fatalf("creating the legacy Pod: %s", errOut)
	}
	_, errOut, err := env.K("-n", ns, "patch", "pod", "legacy", "--subresource=status", "--type=merge",
		"-p", `{"status":{"conditions":[{"type":"example.com/E2E","status":"True"}]}}`)
	if err != nil {
		t.Errorf("a status update of a non-compliant Pod was refused: %s", errOut)
	}
}

// TestFinalizerRemovalAfterDeletionSucceeds removes the finalizer and, in the
// same UPDATE, the owner label: only the deletion exemption admits that, and
// without it the namespace would never finish terminating.
func TestFinalizerRemovalAfterDeletionSucceeds(t *testing.T) {
	ns := namespace(t)
	p := strings.Replace(pod("held", map[string]string{"owner": "team-a"}), `"labels"`, `"finalizers":["example.com/hold"],"labels"`, 1)
	mustCreate(t, ns, p)
	if _, errOut, err := env.K("-n", ns, "delete", "pod", "held", "--wait=false"); err != nil {
		t.Fatalf("delete: %s", errOut)
	}
	_, errOut, err := env.K("-n", ns, "patch", "pod", "held", "--type=json",
		"-p", `[{"op":"remove","path":"/metadata/finalizers"},{"op":"remove","path":"/metadata/labels/owner"}]`)
	if err != nil {
		t.Fatalf("removing the finalizer of a deleted Pod was refused: %s", errOut)
	}
	eventually(t, 30*time.Second, "the Pod is gone", func() error {
		if _, errOut, err := env.K("-n", ns, "get", "pod", "held"); err == nil || !strings.Contains(errOut, "NotFound") {
			return errorf("still there: %s", errOut)
		}
		return nil
	})
	if env.Logs != nil {
		var skipped bool
		for _, d := range decisionsFor(t, ns, "held") {
			skipped = skipped || (d.S("function") == "validate" && d.S("operation") == "UPDATE" && d.S("skip") == "object is being deleted")
		}
		if !skipped {
			t.Errorf("no decision log line shows the UPDATE let through as being deleted: %v", decisionsFor(t, ns, "held"))
		}
	}
}
