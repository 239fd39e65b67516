//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"bouncer.dev/bouncer/e2e/framework"
)

// TestTheKindProviderSkipsCleanlyWithoutAnEngine runs the suite with the
// kind provider on a machine without a container engine: it must pass with
// one line saying why it skipped.
func TestTheKindProviderSkipsCleanlyWithoutAnEngine(t *testing.T) {
	needWebhook(t, "the kind provider")
	reason := framework.KindUnavailable()
	if reason == "" {
		t.Skip("a container engine and kind are present: run the kind provider itself with BOUNCER_E2E_PROVIDER=kind")
	}
	out, errOut, err := framework.Run(context.Background(), 5*time.Minute, []string{"BOUNCER_E2E_PROVIDER=kind"}, nil,
		"go", "test", "-v", "-tags", "e2e", "-count=1", "-run", "TestAPodWithOwnerIsAdmitted", ".")
	if err != nil {
		t.Fatalf("the kind provider failed instead of skipping: %v\n%s%s", err, out, errOut)
	}
	want := "e2e (kind provider): skipped: " + reason
	if !strings.Contains(out, want) {
		t.Errorf("output:\n%s\nwant the line %q", out, want)
	}
}
