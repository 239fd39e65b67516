//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"bouncer.dev/bouncer/e2e/framework"
)

// escapeOut is what the test reads of `bouncer audit --audit-log -o json`.
type escapeOut struct {
	Escapes []struct {
		AuditID    string
		Verb       string
		User       string
		Time       time.Time
		Outcome    string
		FailedOpen []string `json:"failedOpen"`
		Object     struct{ Kind, Namespace, Name, Subresource string }
		Violations []struct {
			Rule      string
			Inherited bool
		}
	} `json:"escapes"`
}

// escapesMetric reads bouncer_escapes_total{outcome="violates"}.
func escapesMetric(t *testing.T) float64 {
	t.Helper()
	resp, err := http.Get(env.MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, `bouncer_escapes_total{outcome="violates"}`) {
			v, err := strconv.ParseFloat(strings.TrimSpace(line[strings.LastIndex(line, " "):]), 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	t.Fatalf("%s has no bouncer_escapes_total{outcome=\"violates\"} series", env.MetricsURL)
	return 0
}

// TestWhatEscapedIsReadFromTheAuditTrail stops the functions, lets violating
// and compliant writes fail open, starts them again, and reads the API
// server's audit trail twice: from its log file with `bouncer audit
// --audit-log`, and as the audit webhook backend posts it to bouncer's
// /audit. Both list exactly the writes that escaped in the window (the
// test's own, and the controllers' writes made in it, inherited where the
// rule says so); a write bouncer judged and a write that another webhook
// failed open on are never reported; /metrics counts what /audit logged.
func TestWhatEscapedIsReadFromTheAuditTrail(t *testing.T) {
	needWebhook(t, "escapes are fail-opens of the webhooks")
	if env.AuditWebhook == nil || env.Bouncer == nil || env.MetricsURL == "" {
		t.Skipf("the %s provider does not send the audit trail to bouncer", env.Provider)
	}
	ns := "e2e-escapes"
	if _, errOut, err := env.K("create", "namespace", ns); err != nil {
		t.Fatal(errOut)
	}
	t.Cleanup(func() { _, _, _ = env.K("delete", "namespace", ns, "--wait=false") })
	// Another webhook, dead, with failurePolicy Ignore, on this namespace's
	// Pods: its fail-opens are not bouncer's.
	other := fmt.Sprintf(`{"apiVersion":"admissionregistration.k8s.io/v1","kind":"ValidatingWebhookConfiguration","metadata":{"name":"e2e-other"},
"webhooks":[{"name":"other.e2e.dev","clientConfig":{"url":"https://127.0.0.1:1/other"},"failurePolicy":"Ignore","sideEffects":"None","admissionReviewVersions":["v1"],"timeoutSeconds":2,
"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":%q}},
"rules":[{"apiGroups":[""],"apiVersions":["v1"],"operations":["CREATE"],"resources":["pods"]}]}]}`, ns)
	if _, errOut, err := env.KIn(other, "apply", "-f", "-"); err != nil {
		t.Fatal(errOut)
	}
	t.Cleanup(func() { _, _, _ = env.K("delete", "validatingwebhookconfiguration", "e2e-other", "--ignore-not-found") })
	time.Sleep(2 * time.Second) // the API server's webhook informer
	metricBefore := escapesMetric(t)
	recordsBefore := violatingRecords(t)

	// The window: the functions stopped.
	start := time.Now()
	env.Bouncer.Proc.Stop(10 * time.Second)
	badDeploy := strings.Replace(workload("Deployment", "esc-bad-deploy", map[string]bool{"metadata.labels": false, "spec.template.metadata.labels": false}), `"replicas":0`, `"replicas":1`, 1)
	for _, m := range []string{
		pod("esc-bad", map[string]string{"app": "x"}),
		badDeploy,
		pod("esc-good", map[string]string{"owner": "team-a", "environment": "production"}),
		workload("Deployment", "esc-good-deploy", nil),
	} {
		if _, errOut, err := create(t, ns, m); err != nil {
			t.Fatalf("creating while the functions are stopped: %s", errOut)
		}
	}
	time.Sleep(3 * time.Second) // the controllers write in the window too
	if err := env.Bouncer.Start(); err != nil {
		t.Fatal(err)
	}
	if err := env.WaitEnforcing(probeNamespace); err != nil {
		t.Fatal(err)
	}
	end := time.Now()
	t.Logf("FIGURE the window: %v", end.Sub(start).Round(time.Millisecond))
	// After the window: a write bouncer judges, and one only the other
	// webhook fails open on.
	mustCreate(t, ns, pod("after-judged", map[string]string{"owner": "team-a"}))
	if _, _, err := create(t, ns, pod("after-denied", map[string]string{"app": "x"})); err == nil {
		t.Errorf("a Pod without owner was admitted after the window")
	}

	// The CLI, on the API server's audit log.
	out, errOut, err := framework.Run(context.Background(), 2*time.Minute, nil, nil, env.BouncerBin,
		"audit", "--audit-log", env.ControlPlane.AuditLog, "--policy", env.PolicyFile, "-o", "json")
	var ee interface{ ExitCode() int }
	if err == nil || !errorsAs(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("bouncer audit --audit-log: %v (want exit 1: writes escaped and violate)\n%s", err, errOut)
	}
	var got escapeOut
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("bouncer audit --audit-log -o json: %v\n%s", err, out)
	}
	violating := map[string]string{} // audit ID -> what
	seen := map[string]string{}
	for _, e := range got.Escapes {
		if e.Object.Namespace != ns {
			continue
		}
		what := e.Object.Kind + "/" + e.Object.Name
		if e.Object.Subresource != "" {
			what += "/" + e.Object.Subresource
		}
		if e.Time.Before(start.Add(-time.Second)) || e.Time.After(end.Add(time.Second)) {
			t.Errorf("%s escaped at %v, outside the window %v..%v", what, e.Time, start, end)
		}
		for _, h := range e.FailedOpen {
			if h == "other.e2e.dev" {
				t.Errorf("%s: another webhook's fail-open is reported: %v", what, e.FailedOpen)
			}
		}
		if strings.HasPrefix(e.Object.Name, "after-") {
			t.Errorf("%s was written after the window and is reported", what)
		}
		seen[what] = e.Outcome
		own := e.User == "admin"
		switch {
		case own && (e.Object.Name == "esc-bad" || e.Object.Name == "esc-bad-deploy"):
			if e.Outcome != "violates" {
				t.Errorf("%s: outcome %s, want violates", what, e.Outcome)
			}
		case own && (e.Object.Name == "esc-good" || e.Object.Name == "esc-good-deploy"):
			if e.Outcome != "compliant" {
				t.Errorf("%s: outcome %s, want compliant", what, e.Outcome)
			}
		case own:
			t.Errorf("%s: an escape by the test's user that the test did not write", what)
		case strings.HasPrefix(e.User, "system:serviceaccount:kube-system:") && strings.HasPrefix(e.Object.Name, "esc-bad-deploy"):
			// The Deployment controller's and ReplicaSet controller's
			// writes for the violating Deployment: inherited.
			if e.Outcome == "violates" {
				for _, v := range e.Violations {
					if !v.Inherited {
						t.Errorf("%s by %s: violation of %s is not marked inherited", what, e.User, v.Rule)
					}
				}
			}
		case strings.HasPrefix(e.User, "system:serviceaccount:kube-system:"):
			if e.Outcome == "violates" {
				t.Errorf("%s by %s violates, but its parent is compliant", what, e.User)
			}
		default:
			t.Errorf("%s: escaped by %s, which the test did not expect", what, e.User)
		}
		if e.Outcome == "violates" {
			violating[e.AuditID] = what
		}
	}
	for _, want := range []string{"Pod/esc-bad", "Deployment/esc-bad-deploy", "Pod/esc-good", "Deployment/esc-good-deploy"} {
		if _, ok := seen[want]; !ok {
			t.Errorf("%s escaped but is not reported; reported: %v", want, seen)
		}
	}
	t.Logf("escapes in the window, by outcome: %v", seen)

	// The function: the backend retries the batches it could not deliver
	// while bouncer was stopped (from 10 s, ×1.5), so they arrive later.
	var records []framework.Decision
	eventually(t, 90*time.Second, "the /audit function logged every violating escape", func() error {
		recs, err := env.Records("escape")
		if err != nil {
			return err
		}
		records = records[:0]
		ids := map[string]bool{}
		for _, r := range recs {
			if r.S("namespace") == ns {
				records = append(records, r)
				ids[r.S("auditID")] = true
			}
		}
		for id, what := range violating {
			if !ids[id] {
				return errorf("no record yet for %s (audit ID %s)", what, id)
			}
		}
		return nil
	})
	var delays []string
	for _, r := range records {
		if r.S("severity") != "WARNING" || r.S("outcome") == "compliant" {
			t.Errorf("record %v: want severity WARNING and no compliant escape", r)
		}
		if _, ok := violating[r.S("auditID")]; !ok && r.S("outcome") == "violates" {
			t.Errorf("/audit logged %s/%s (audit ID %s) as violating, which the CLI did not", r.S("kind"), r.S("name"), r.S("auditID"))
		}
		delays = append(delays, fmt.Sprint(r["delay"]))
	}
	sort.Strings(delays)
	t.Logf("FIGURE /audit logged %d escape records for %d violating writes; the delay from each write to its record: %v", len(records), len(violating), delays)
	if d, n := escapesMetric(t)-metricBefore, violatingRecords(t)-recordsBefore; int(d) != n {
		t.Errorf("bouncer_escapes_total{outcome=\"violates\"} rose by %v, but /audit logged %d violating escapes", d, n)
	}
}

// violatingRecords counts /audit's records of violating escapes so far.
func violatingRecords(t *testing.T) int {
	t.Helper()
	recs, err := env.Records("escape")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		if r.S("outcome") == "violates" {
			n++
		}
	}
	return n
}

func errorsAs(err error, target *interface{ ExitCode() int }) bool {
	e, ok := err.(interface{ ExitCode() int })
	if ok {
		*target = e
	}
	return ok
}
