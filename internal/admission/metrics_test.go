package admission

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"bouncer.dev/bouncer/internal/logging"
	"bouncer.dev/bouncer/internal/metrics"
	"bouncer.dev/bouncer/internal/policy"
)

// samples reads the exposition's bouncer_* samples into series → value.
func samples(t *testing.T, m *metrics.Metrics) map[string]string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	out := map[string]string{}
	for _, l := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(l, "bouncer_") {
			i := strings.LastIndexByte(l, ' ')
			out[l[:i]] = l[i+1:]
		}
	}
	return out
}

func send(t *testing.T, h http.Handler, method, path, fixture string) int {
	t.Helper()
	var body []byte
	if fixture != "" {
		var err error
		if body, err = os.ReadFile("../../testdata/reviews/" + fixture + ".json"); err != nil {
			t.Fatal(err)
		}
	}
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

func TestEveryDecisionIsCountedByFunctionRuleAndResult(t *testing.T) {
	m := metrics.New()
	mux := Mux(policy.Default(), logging.New(io.Discard), WithMetrics(m))
	for _, fixture := range []string{"pod-without-owner", "pod-without-owner", "pod-exempt-namespace", "labels-not-a-map", "update-existing-violation", "pod-environment-prod"} {
		for _, path := range []string{"/validate", "/mutate"} {
			send(t, mux, http.MethodPost, path, fixture)
		}
	}
	// A request without a review is an error too: the API server fails it open.
	if code := send(t, mux, http.MethodGet, "/validate", ""); code != http.StatusMethodNotAllowed {
		t.Fatalf("GET /validate: %d", code)
	}
	got := samples(t, m)
	want := map[string]string{
		`bouncer_decisions_total{function="validate",rule="require-owner",result="deny"}`:      "2",
		`bouncer_decisions_total{function="validate",rule="require-owner",result="warn"}`:      "1", // an UPDATE kept the violation
		`bouncer_decisions_total{function="validate",rule="",result="allow"}`:                  "1",
		`bouncer_decisions_total{function="validate",rule="",result="skip"}`:                   "1",
		`bouncer_decisions_total{function="validate",rule="",result="error"}`:                  "2",
		`bouncer_decisions_total{function="mutate",rule="default-environment",result="patch"}`: "3",
		`bouncer_decisions_total{function="mutate",rule="",result="allow"}`:                    "1",
		`bouncer_decisions_total{function="mutate",rule="",result="skip"}`:                     "1",
		`bouncer_decisions_total{function="mutate",rule="",result="error"}`:                    "1",
		`bouncer_request_duration_seconds_count{function="validate"}`:                          "7",
		`bouncer_request_duration_seconds_count{function="mutate"}`:                            "6",
		`bouncer_escapes_total{outcome="violates"}`:                                            "0",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %s", k, got[k], v)
		}
	}
	result := regexp.MustCompile(`result="([^"]*)"`)
	for k := range got {
		if !strings.HasPrefix(k, metrics.DecisionsName) {
			continue
		}
		if want[k] == "" {
			t.Errorf("unexpected series %s = %s", k, got[k])
		}
		if r := result.FindStringSubmatch(k); r == nil || !slices.Contains(metrics.Results, r[1]) {
			t.Errorf("%s: a result outside the closed set %v", k, metrics.Results)
		}
	}
}

// A rule that breaks in several places, or patches several, counts once
// per review; two rules that act on one review count once each.
func TestARuleCountsOncePerReviewAndEachRuleCounts(t *testing.T) {
	p, err := policy.Parse([]byte(`apiVersion: bouncer.dev/v1
kind: Policy
rules:
  - name: need-owner
    kinds: [Deployment]
    require: [{key: owner}]
  - name: need-team
    action: warn
    kinds: [Deployment]
    require: [{key: team}]
  - name: defaults
    kinds: [Deployment]
    defaults: {environment: dev, tier: web}
`))
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	mux := Mux(p, logging.New(io.Discard), WithMetrics(m))
	send(t, mux, http.MethodPost, "/validate", "deployment-template-without-owner")
	send(t, mux, http.MethodPost, "/mutate", "deployment-template-without-owner")
	got := samples(t, m)
	for k, v := range map[string]string{
		`bouncer_decisions_total{function="validate",rule="need-owner",result="deny"}`: "1",
		`bouncer_decisions_total{function="validate",rule="need-team",result="warn"}`:  "1",
		`bouncer_decisions_total{function="mutate",rule="defaults",result="patch"}`:    "1",
	} {
		if got[k] != v {
			t.Errorf("%s = %q, want %s; all: %v", k, got[k], v, got)
		}
	}
}

// TestMetricsLeaveTheDecisionLogAlone: the same review logs the same line,
// but for its time and latency, with metrics and without.
func TestMetricsLeaveTheDecisionLogAlone(t *testing.T) {
	varying := regexp.MustCompile(`"(latency|time)":[^,}]*`)
	var with, without bytes.Buffer
	for _, c := range []struct {
		buf  *bytes.Buffer
		opts []Option
	}{{&with, []Option{WithMetrics(metrics.New())}}, {&without, nil}, {&without, []Option{WithMetrics(nil)}}} {
		mux := Mux(policy.Default(), logging.New(c.buf), c.opts...)
		for _, f := range []string{"pod-without-owner", "labels-not-a-map", "update-existing-violation"} {
			send(t, mux, http.MethodPost, "/validate", f)
			send(t, mux, http.MethodPost, "/mutate", f)
		}
		send(t, mux, http.MethodGet, "/validate", "")
	}
	strip := func(b *bytes.Buffer) string { return varying.ReplaceAllString(b.String(), "") }
	w, wo := strip(&with), strip(&without)
	if w+w != wo {
		t.Errorf("the decision log differs with metrics:\nwith:\n%s\nwithout:\n%s", w, wo)
	}
}

// A panic while deciding is answered with a refusal and counted as an error.
func TestAPanicCountsAsAnError(t *testing.T) {
	m := metrics.New()
	f := &Handler{Stage: policy.Validation, Log: logging.New(io.Discard), MaxBodyBytes: 1 << 20, Metrics: m,
		Decide: func(*policy.Request) policy.Decision { panic("boom") }}
	if code := send(t, f, http.MethodPost, "/validate", "pod-with-owner"); code != 200 {
		t.Fatalf("status %d", code)
	}
	got := samples(t, m)
	if v := got[`bouncer_decisions_total{function="validate",rule="",result="error"}`]; v != "1" {
		t.Errorf("error count %q, want 1: %v", v, got)
	}
	if v := got[`bouncer_request_duration_seconds_count{function="validate"}`]; v != "1" {
		t.Errorf("latency count %q, want 1", v)
	}
}
