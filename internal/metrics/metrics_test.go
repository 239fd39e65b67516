package metrics

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	return rec.Body.String()
}

func TestANilMetricsIsANoOp(t *testing.T) {
	var m *Metrics
	m.Decision("validate", "r", Deny)
	m.Observe("validate", time.Millisecond)
	m.Escape(EscapeViolates)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("nil Handler answered %d, want 404", rec.Code)
	}
}

func TestEveryEscapeOutcomeIsPresentAtZeroFromTheStart(t *testing.T) {
	out := scrape(t, New())
	for _, o := range Outcomes {
		if want := `bouncer_escapes_total{outcome="` + o + `"} 0` + "\n"; !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if !strings.Contains(out, "# TYPE bouncer_escapes_total counter\n") {
		t.Errorf("no TYPE line for the escapes")
	}
	// No decision yet: the family is absent, not an empty header.
	if strings.Contains(out, DecisionsName) || strings.Contains(out, DurationName) {
		t.Errorf("decisions or latency before any request:\n%s", out)
	}
}

func TestCountsMove(t *testing.T) {
	m := New()
	m.Decision("validate", "require-owner", Deny)
	m.Decision("validate", "require-owner", Deny)
	m.Decision("mutate", "", Allow)
	m.Escape(EscapeViolates)
	m.Escape(EscapeNotLogged)
	m.Escape(EscapeNotLogged)
	m.Observe("validate", 300*time.Microsecond)
	m.Observe("validate", 2*time.Second)
	out := scrape(t, m)
	for _, want := range []string{
		"# HELP bouncer_decisions_total ",
		"# TYPE bouncer_decisions_total counter\n",
		`bouncer_decisions_total{function="validate",rule="require-owner",result="deny"} 2` + "\n",
		`bouncer_decisions_total{function="mutate",rule="",result="allow"} 1` + "\n",
		`bouncer_escapes_total{outcome="violates"} 1` + "\n",
		`bouncer_escapes_total{outcome="compliant"} 0` + "\n",
		`bouncer_escapes_total{outcome="not-logged"} 2` + "\n",
		"# TYPE bouncer_request_duration_seconds histogram\n",
		`bouncer_request_duration_seconds_bucket{function="validate",le="0.00025"} 0` + "\n",
		`bouncer_request_duration_seconds_bucket{function="validate",le="0.0005"} 1` + "\n",
		`bouncer_request_duration_seconds_bucket{function="validate",le="1"} 1` + "\n",
		`bouncer_request_duration_seconds_bucket{function="validate",le="2.5"} 2` + "\n",
		`bouncer_request_duration_seconds_bucket{function="validate",le="+Inf"} 2` + "\n",
		`bouncer_request_duration_seconds_count{function="validate"} 2` + "\n",
		`bouncer_request_duration_seconds_sum{function="validate"} 2.0003` + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q", want)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
}

func TestTheProcessOwnMetricsAreServed(t *testing.T) {
	out := scrape(t, New())
	for _, name := range []string{"process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds", "go_goroutines", "go_memstats_alloc_bytes"} {
		if !regexp.MustCompile(`(?m)^` + name + `(\{[^}]*\})? `).MatchString(out) {
			t.Errorf("no %s", name)
		}
	}
}

// TestEachSampleLineIsWellFormed holds the exposition to the text format's
// grammar: comments, or name{labels} value. The deploy module parses it
// with Prometheus's own parser too.
func TestEachSampleLineIsWellFormed(t *testing.T) {
	m := New()
	m.Decision("validate", `a"b\c`+"\n", Warn) // never a rule's name, but escaped all the same
	sample := regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*",? ?)*\})? \S+$`)
	for _, l := range strings.Split(strings.TrimSuffix(scrape(t, m), "\n"), "\n") {
		if !strings.HasPrefix(l, "# ") && !sample.MatchString(l) {
			t.Errorf("malformed line %q", l)
		}
	}
	out := scrape(t, m)
	if want := `bouncer_decisions_total{function="validate",rule="a\"b\\c\n",result="warn"} 1`; !strings.Contains(out, want) {
		t.Errorf("missing %s", want)
	}
}

func TestConcurrentCountsAddUp(t *testing.T) {
	m := New()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				m.Decision("validate", "r", Deny)
				m.Observe("validate", time.Microsecond)
				m.Escape(EscapeCompliant)
			}
		}()
	}
	wg.Wait()
	out := scrape(t, m)
	for _, want := range []string{
		`bouncer_decisions_total{function="validate",rule="r",result="deny"} 8000`,
		`bouncer_request_duration_seconds_count{function="validate"} 8000`,
		`bouncer_escapes_total{outcome="compliant"} 8000`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s", want)
		}
	}
}

// Two Metrics do not share series: each has its own sets.
func TestMetricsAreIndependent(t *testing.T) {
	a, b := New(), New()
	a.Decision("validate", "", Allow)
	if strings.Contains(scrape(t, b), DecisionsName) {
		t.Error("a decision counted in one Metrics shows in another")
	}
}

func BenchmarkDecision(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for b.Loop() {
		m.Decision("validate", "require-owner", Deny)
		m.Observe("validate", 40*time.Microsecond)
	}
}
