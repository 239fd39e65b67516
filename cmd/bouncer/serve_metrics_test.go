package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeHelpNamesMetricsAddr(t *testing.T) {
	code, out, _ := runCLI("", "serve", "--help")
	if code != exitOK || !strings.Contains(out, "--metrics-addr") || !strings.Contains(out, "off when empty") {
		t.Errorf("code %d, help:\n%s", code, out)
	}
}

func TestServeMetricsAddrServesMetricsAndOnlyThere(t *testing.T) {
	maddr := freeAddr(t)
	p := startBouncer(t, "serve", "--metrics-addr", maddr)
	metricsURL := "http://" + maddr + "/metrics"

	code, before := get(t, metricsURL)
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, before)
	}
	for _, want := range []string{
		// Present at 0 before /audit has read anything, so alerts on them work.
		`bouncer_escapes_total{outcome="violates"} 0`,
		`bouncer_escapes_total{outcome="compliant"} 0`,
		`bouncer_escapes_total{outcome="not-logged"} 0`,
		"process_start_time_seconds ",
		"go_goroutines ",
	} {
		if !strings.Contains(before, want) {
			t.Errorf("before any review, /metrics lacks %q", want)
		}
	}
	if strings.Contains(before, "bouncer_decisions_total{") {
		t.Errorf("decisions counted before any review:\n%s", before)
	}

	for _, path := range []string{"/validate", "/validate", "/mutate"} {
		resp, err := http.Post("http://"+p.addr+path, "application/json", bytes.NewReader(podReview))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	_, after := get(t, metricsURL)
	for _, want := range []string{
		`bouncer_decisions_total{function="validate",rule="require-owner",result="deny"} 2`,
		`bouncer_decisions_total{function="mutate",rule="default-environment",result="patch"} 1`,
		`bouncer_request_duration_seconds_count{function="validate"} 2`,
		`bouncer_request_duration_seconds_count{function="mutate"} 1`,
		`bouncer_request_duration_seconds_bucket{function="validate",le="+Inf"} 2`,
	} {
		if !strings.Contains(after, want) {
			t.Errorf("after the reviews, /metrics lacks %q", want)
		}
	}

	// The public address never serves /metrics; the metrics address serves
	// nothing else.
	if code, _ := get(t, "http://"+p.addr+"/metrics"); code != http.StatusNotFound {
		t.Errorf("public /metrics: %d, want 404", code)
	}
	for _, path := range []string{"/", "/healthz", "/validate", "/metrics/", "/debug/pprof/"} {
		if code, _ := get(t, "http://"+maddr+path); code != http.StatusNotFound {
			t.Errorf("metrics address %s: %d, want 404", path, code)
		}
	}
	if resp, err := http.Post(metricsURL, "text/plain", nil); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: %v %v, want 405", resp, err)
	}
	if !regexp.MustCompile(`"message":"serving".*"metricsAddr":"` + regexp.QuoteMeta(maddr) + `"`).MatchString(p.logs()) {
		t.Errorf("the serving line does not name the metrics address:\n%s", p.logs())
	}

	// It stops with the server.
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
		if p.err != nil {
			t.Errorf("exit: %v\n%s", p.err, p.logs())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("did not exit after SIGTERM")
	}
	if c, err := net.Dial("tcp", maddr); err == nil {
		c.Close()
		t.Error("the metrics address still accepts connections after exit")
	}
}

func TestServeWithoutMetricsAddrServesNoMetrics(t *testing.T) {
	p := startBouncer(t, "serve")
	if code, _ := get(t, "http://"+p.addr+"/metrics"); code != http.StatusNotFound {
		t.Errorf("public /metrics: %d, want 404", code)
	}
	if strings.Contains(p.logs(), "metricsAddr") {
		t.Errorf("metrics are on by default:\n%s", p.logs())
	}
}

func TestServeRefusesABusyMetricsAddr(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	code, _, errOut := runCLI("", "serve", "--addr", "127.0.0.1:0", "--metrics-addr", l.Addr().String())
	if code != 1 || !strings.HasPrefix(errOut, "bouncer serve: --metrics-addr: ") || !strings.Contains(errOut, "address already in use") {
		t.Errorf("code %d, stderr %q", code, errOut)
	}
}
