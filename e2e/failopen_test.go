//go:build e2e

package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"bouncer.dev/bouncer/e2e/framework"
	"bouncer.dev/bouncer/internal/webhookconfig"
)

// TestFailOpen installs the configurations with the shipped tight timeout
// and breaks the function three ways. Each time a Pod create must still
// succeed, and the API server must count the fail-open. A write may wait for
// mutate (called at most twice) and validate, so the bound is three timeouts
// plus a wide margin for a busy machine. The figures go in docs/operations.md.
func TestFailOpen(t *testing.T) {
	if env.Bouncer == nil {
		t.Skipf("the %s provider cannot stop the function", env.Provider)
	}
	if _, errOut, err := env.K("create", "namespace", "e2e-failopen"); err != nil && !contains(errOut, "AlreadyExists") {
		t.Fatal(errOut)
	}
	t.Cleanup(func() {
		if err := installMain(); err != nil {
			t.Errorf("restoring the configurations: %v", err)
		}
		_, _, _ = env.K("delete", "namespace", "e2e-failopen", "--wait=false")
	})
	timeout := webhookconfig.DefaultTimeoutSeconds
	bound := time.Duration(3*timeout)*time.Second + 20*time.Second

	stopped, err := framework.StartBouncer(env.BouncerBin, env.WorkDir, "bouncer-stopped", env.CA, env.PolicyFile)
	if err != nil {
		t.Fatal(err)
	}
	stopped.Proc.Stop(10 * time.Second)

	cases := []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"the function stopped", func(*testing.T) string { return stopped.URL }},
		{"the function hanging past timeoutSeconds", func(t *testing.T) string {
			return fakeWebhook(t, func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-time.After(60 * time.Second):
				}
			})
		}},
		{"the function answering garbage", func(t *testing.T) string {
			return fakeWebhook(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte("this is not an AdmissionReview"))
			})
		}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := env.InstallWebhooks(c.url(t), timeout); err != nil {
				t.Fatal(err)
			}
			eventually(t, 90*time.Second, "the broken configuration is in effect", func() error {
				_, errOut, err := create(t, "e2e-failopen", pod("probe", nil), "--dry-run=server")
				if err != nil {
					return errorf("still enforced: %s", strings.TrimSpace(errOut))
				}
				return nil
			})
			before, err := env.FailOpenCount()
			if err != nil {
				t.Fatal(err)
			}
			name := "failopen-" + string(rune('a'+i))
			start := time.Now()
			_, errOut, err := create(t, "e2e-failopen", pod(name, nil))
			took := time.Since(start)
			if err != nil {
				t.Fatalf("the Pod create failed instead of failing open: %s", errOut)
			}
			after, err := env.FailOpenCount()
			if err != nil {
				t.Fatal(err)
			}
			if after <= before {
				t.Errorf("apiserver_admission_webhook_fail_open_count stayed at %v", before)
			}
			if took > bound {
				t.Errorf("the create took %v, over the bound of %v", took, bound)
			}
			t.Logf("FIGURE fail-open (%s): Pod create took %v with timeoutSeconds=%d; fail_open_count %v -> %v",
				c.name, took.Round(time.Millisecond), timeout, before, after)
		})
	}
}
