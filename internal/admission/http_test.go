package admission

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bouncer.dev/bouncer/internal/logging"
	"bouncer.dev/bouncer/internal/policy"
)

func post(t *testing.T, h http.Handler, body io.Reader, contentLength int64) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/validate", body)
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = contentLength
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestBodiesOverTheLimitAreRefusedWith413(t *testing.T) {
	var logs bytes.Buffer
	f := New(policy.Default(), policy.Validation, logging.New(&logs))
	f.MaxBodyBytes = 1 << 10
	big := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"` + strings.Repeat("x", 2<<10) + `"}}`
	tests := []struct {
		name          string
		contentLength int64
	}{
		{"a declared Content-Length over the limit is refused before reading", int64(len(big))},
		{"a chunked body that grows over the limit is refused while reading", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := post(t, f, strings.NewReader(big), tt.contentLength)
			if rec.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d, want 413; body %q", rec.Code, rec.Body)
			}
			if !strings.Contains(rec.Body.String(), "over the limit of 1024 bytes") {
				t.Errorf("message %q does not state the limit", rec.Body)
			}
		})
	}
}

func TestTheDefaultLimitAdmitsTheAPIServersWorstCase(t *testing.T) {
	// An UPDATE carries object and oldObject, each up to the API server's
	// 3 MiB request limit.
	blob := strings.Repeat("a", 3<<20-200)
	obj := `{"metadata":{"name":"p","labels":{"owner":"a"},"annotations":{"big":"` + blob + `"}}}`
	body := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"","version":"v1","kind":"Pod"},"operation":"UPDATE","namespace":"n","object":` + obj + `,"oldObject":` + obj + `}}`
	rec := post(t, New(policy.Default(), policy.Validation, logging.New(io.Discard)), strings.NewReader(body), int64(len(body)))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"allowed":true`) {
		t.Fatalf("a %d-byte review was not admitted: %d %.300s", len(body), rec.Code, rec.Body)
	}
}

func TestAPanicIsAnsweredAsARefusalWithTheUID(t *testing.T) {
	var logs bytes.Buffer
	f := &Handler{Stage: policy.Validation, Log: logging.New(&logs), MaxBodyBytes: defaultMaxBodyBytes,
		Decide: func(*policy.Request) policy.Decision { panic("boom") }}
	body, _ := os.ReadFile(filepath.Join(testdataDir, "reviews", "pod-with-owner.json"))
	rec := post(t, f, bytes.NewReader(body), int64(len(body)))
	want := `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","response":{"uid":"00000000-0000-4000-8000-000000000002","allowed":false,"status":{"metadata":{},"status":"Failure","message":"bouncer: internal error","reason":"InternalError","code":500}}}`
	if rec.Code != 200 || rec.Body.String() != want {
		t.Errorf("got %d %s\nwant 200 %s", rec.Code, rec.Body, want)
	}
	if !strings.Contains(logs.String(), `"severity":"ERROR"`) || !strings.Contains(logs.String(), `"panic":"boom"`) {
		t.Errorf("the panic was not logged as an error: %s", logs.String())
	}
}

// TestTheDecisionLogNamesTheDecisionButNoContent puts secret-looking data in
// every corner of a Pod and checks the log line carries the interface fields
// and none of it.
func TestTheDecisionLogNamesTheDecisionButNoContent(t *testing.T) {
	secrets := []string{"hunter2-env-value", "AKIA-annotation-secret", "label-value-secret", "c2VjcmV0LWRhdGE="}
	obj := `{"metadata":{"generateName":"web-","labels":{"app":"label-value-secret"},"annotations":{"token":"AKIA-annotation-secret"}},` +
		`"spec":{"containers":[{"name":"c","env":[{"name":"PASSWORD","value":"hunter2-env-value"}]}]},"data":{"k":"c2VjcmV0LWRhdGE="}}`
	body := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-1","kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE","namespace":"shop","dryRun":true,"object":` + obj + `}}`
	var logs bytes.Buffer
	log := logging.New(&logs)
	for _, fn := range policy.Stages {
		post(t, New(policy.Default(), fn, log), strings.NewReader(body), int64(len(body)))
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want one line per decision, got %d:\n%s", len(lines), logs.String())
	}
	var v, m map[string]any
	_ = json.Unmarshal([]byte(lines[0]), &v)
	_ = json.Unmarshal([]byte(lines[1]), &m)
	for _, rec := range []map[string]any{v, m} {
		for _, k := range []string{"severity", "time", "message", FieldFunction, FieldUID, FieldKind, FieldNamespace, FieldGenerateName, FieldOperation, FieldDryRun, FieldDecision, FieldLatency} {
			if _, ok := rec[k]; !ok {
				t.Errorf("log line lacks %q: %v", k, rec)
			}
		}
	}
	if v[FieldDecision] != "deny" || v[FieldCode] != 403.0 || v[FieldGenerateName] != "web-" || v[FieldDryRun] != true {
		t.Errorf("validate line = %v", v)
	}
	viol, _ := v[FieldViolations].([]any)
	if len(viol) != 1 || viol[0].(map[string]any)["key"] != "owner" || viol[0].(map[string]any)["place"] != "metadata.labels" {
		t.Errorf("violations = %v", v[FieldViolations])
	}
	if ops, _ := m[FieldPatchOps].([]any); len(ops) != 1 || ops[0] != "add /metadata/labels/environment" {
		t.Errorf("mutate patchOps = %v", m[FieldPatchOps])
	}
	for _, s := range secrets {
		if strings.Contains(logs.String(), s) {
			t.Errorf("log carries object content %q:\n%s", s, logs.String())
		}
	}
}
