package escapes

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bouncer.dev/bouncer/internal/logging"
	"bouncer.dev/bouncer/internal/metrics"
	"bouncer.dev/bouncer/internal/policyfile"
	"bouncer.dev/bouncer/internal/testpki"
)

const token = "s3cret-token"

// batch builds an EventList of the captured events in testdata/auditlog.
func batch(t *testing.T, names ...string) []byte {
	t.Helper()
	var items []json.RawMessage
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "auditlog", n+".json"))
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, bytes.TrimSpace(data))
	}
	out, _ := json.Marshal(map[string]any{"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": map[string]any{}, "items": items})
	return out
}

type harness struct {
	h   http.Handler
	log *bytes.Buffer
	m   *metrics.Metrics
}

func newHarness(t *testing.T, auth Auth) *harness {
	t.Helper()
	p, _, err := policyfile.Resolve("")
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	m := metrics.New()
	return &harness{h: New(p, logging.New(&log), m, auth), log: &log, m: m}
}

func (h *harness) post(body []byte, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/audit?timeout=30s", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	return rec
}

// records returns the escape records logged so far.
func (h *harness) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(h.log.String(), "\n") {
		var r map[string]any
		if json.Unmarshal([]byte(line), &r) == nil && r["message"] == Message {
			out = append(out, r)
		}
	}
	return out
}

func (h *harness) metric(t *testing.T, series string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, series+" ") {
			return strings.TrimPrefix(line, series+" ")
		}
	}
	t.Fatalf("no series %s in:\n%s", series, rec.Body.String())
	return ""
}

func TestEachEscapeThatNeedsALookIsOneWarningRecordAndEveryEscapeIsCounted(t *testing.T) {
	h := newHarness(t, Auth{Token: TokenValue(token)})
	if got := h.metric(t, `bouncer_escapes_total{outcome="violates"}`); got != "0" {
		t.Fatalf("before any batch the violating escapes read %s, want 0: alerts need the series from the start", got)
	}
	rec := h.post(batch(t, "pod-create-escaped-violating", "pod-create-escaped-compliant", "pod-create-at-request",
		"pod-create-judged", "dry-run-create", "create-already-exists", "controller-replicaset-create"), nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	byID := map[string]map[string]any{}
	for _, r := range h.records(t) {
		if r["severity"] != "WARNING" {
			t.Errorf("record at severity %v, want WARNING", r["severity"])
		}
		byID[r[FieldAuditID].(string)] = r
	}
	want := map[string]string{
		"5b36f534-79cc-4c7d-bfce-5c2d3b9a9cef": "violates",   // a Pod without owner
		"383f1f7e-a199-4b3a-80d5-0270ae77f5f7": "not-logged", // level Request: no stored object
		"bc9d0ba4-2bd7-403f-8ba9-e0185bb7e630": "violates",   // the Deployment controller's ReplicaSet, inherited
	}
	if len(byID) != len(want) {
		t.Errorf("%d records, want %d: %v", len(byID), len(want), byID)
	}
	for id, outcome := range want {
		if r, ok := byID[id]; !ok || r[FieldOutcome] != outcome {
			t.Errorf("audit ID %s: record %v, want outcome %s", id, r, outcome)
		}
	}
	if vs, _ := byID["5b36f534-79cc-4c7d-bfce-5c2d3b9a9cef"][FieldViolations].([]any); len(vs) != 1 || !strings.Contains(vs[0].(string), `[require-owner] missing label "owner"`) {
		t.Errorf("the violating Pod's record names %v, want the rule broken", vs)
	}
	for series, n := range map[string]string{`bouncer_escapes_total{outcome="violates"}`: "2", `bouncer_escapes_total{outcome="compliant"}`: "1",
		`bouncer_escapes_total{outcome="not-logged"}`: "1"} {
		if got := h.metric(t, series); got != n {
			t.Errorf("%s = %s, want %s", series, got, n)
		}
	}
}

func TestAReSentBatchYieldsRecordsWithTheSameAuditIDs(t *testing.T) {
	h := newHarness(t, Auth{Token: TokenValue(token)})
	b := batch(t, "pod-create-escaped-violating")
	for range 2 {
		if rec := h.post(b, nil); rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	rs := h.records(t)
	if len(rs) != 2 || rs[0][FieldAuditID] != rs[1][FieldAuditID] || rs[0][FieldAuditID] == "" {
		t.Errorf("a batch sent twice gave %v: want two records with the same audit ID, by which consumers deduplicate", rs)
	}
}

func TestOnlyAWholeAuthenticatedEventListIsAnswered200(t *testing.T) {
	good := batch(t, "pod-create-escaped-violating")
	tests := []struct {
		name   string
		auth   Auth
		method string
		body   []byte
		header map[string]string
		code   int
		says   string
	}{
		{"a batch with the token is read", Auth{Token: TokenValue(token)}, "POST", good, nil, 200, ""},
		{"a batch without the token is refused", Auth{Token: TokenValue(token)}, "POST", good, map[string]string{"Authorization": ""}, 401, "bearer token"},
		{"a batch with another token is refused", Auth{Token: TokenValue(token)}, "POST", good, map[string]string{"Authorization": "Bearer guess"}, 401, "bearer token"},
		{"with no credentials configured nothing is accepted", Auth{}, "POST", good, nil, 503, "no credentials configured"},
		{"a GET is refused", Auth{Token: TokenValue(token)}, "GET", nil, nil, 405, "POST"},
		{"a body that is not JSON is refused", Auth{Token: TokenValue(token)}, "POST", good, map[string]string{"Content-Type": "text/plain"}, 415, "application/json"},
		{"a truncated batch is a 400 that says so", Auth{Token: TokenValue(token)}, "POST", good[:len(good)/2], nil, 400, "not an audit.k8s.io/v1 EventList"},
		{"an object of another kind is a 400", Auth{Token: TokenValue(token)}, "POST", []byte(`{"kind":"PodList","apiVersion":"v1","items":[]}`), nil, 400, "EventList"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.auth)
			req := httptest.NewRequest(tt.method, "/audit", bytes.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.h.ServeHTTP(rec, req)
			if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.says) {
				t.Errorf("status %d %q, want %d saying %q", rec.Code, rec.Body, tt.code, tt.says)
			}
			if tt.code != 200 && len(h.records(t)) > 0 {
				t.Errorf("a refused batch was recorded")
			}
		})
	}
}

func TestTheTokenIsReadAnewSoItCanBeRotated(t *testing.T) {
	f := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(f, []byte("first\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, FromEnv(func(k string) string {
		if k == EnvTokenFile {
			return f
		}
		return ""
	}))
	b := batch(t, "pod-create-judged")
	if rec := h.post(b, map[string]string{"Authorization": "Bearer first"}); rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if err := os.WriteFile(f, []byte("second\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if rec := h.post(b, map[string]string{"Authorization": "Bearer first"}); rec.Code != 401 {
		t.Errorf("the old token still works after rotation: %d", rec.Code)
	}
	if rec := h.post(b, map[string]string{"Authorization": "Bearer second"}); rec.Code != 200 {
		t.Errorf("the new token is refused: %d %s", rec.Code, rec.Body)
	}
}

func TestAClientCertificateTheCAVerifiedIsAcceptedAndNoneIsNot(t *testing.T) {
	ca, err := testpki.NewCA("audit-client-ca")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Auth{ClientCertificates: true})
	srv := httptest.NewUnstartedServer(h.h)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.PEM)
	srv.TLS = &tls.Config{ClientCAs: pool, ClientAuth: tls.VerifyClientCertIfGiven}
	srv.StartTLS()
	defer srv.Close()
	certPEM, keyPEM, err := ca.Client("kube-apiserver")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	base := srv.Client().Transport.(*http.Transport)
	for _, tt := range []struct {
		name  string
		certs []tls.Certificate
		code  int
	}{
		{"with the API server's client certificate", []tls.Certificate{pair}, 200},
		{"without a certificate", nil, 401},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tr := base.Clone()
			tr.TLSClientConfig.Certificates = tt.certs
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/audit", bytes.NewReader(batch(t, "pod-create-judged")))
			req.Header.Set("Content-Type", "application/json")
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.code {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.code)
			}
		})
	}
}
