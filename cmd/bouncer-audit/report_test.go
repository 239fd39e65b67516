package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"bouncer.dev/bouncer/internal/check"
	"bouncer.dev/bouncer/internal/policy"
	reports "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

var updateGolden = flag.Bool("update", false, "rewrite the testdata goldens; review the diff")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update in cmd/bouncer-audit)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("output differs from %s:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// reportPolicy has a rule of each action for Pods and Widgets, a default,
// and a rule for Deployments alone.
const reportPolicy = `apiVersion: bouncer.dev/v1
kind: Policy
customKinds:
  - {kind: Widget, group: example.com, version: v1, resource: widgets}
rules:
  - name: require-owner
    kinds: [Pod, Widget]
    require: [{key: owner}]
  - name: want-cost-center
    action: warn
    kinds: [Pod, Widget]
    require: [{key: cost-center}]
  - name: track-tier
    action: audit
    kinds: [Pod]
    require: [{key: tier}]
  - name: default-environment
    kinds: [Pod]
    defaults: {environment: development}
  - name: deployments-name-a-team
    kinds: [Deployment]
    require: [{key: team}]
`

var (
	// since is when enforcement began; the objects were created before it.
	since   = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	auditAt = time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC)
)

// judged reads one listed object with reportPolicy: a Pod without owner,
// cost-center and environment, and a cluster-scoped Widget without owner
// or cost-center.
func judged(t *testing.T) (*policy.Policy, check.Live, check.Live) {
	t.Helper()
	p, err := policy.Parse([]byte(reportPolicy))
	if err != nil {
		t.Fatal(err)
	}
	s := (&check.Checker{Policy: p}).NewStream()
	pod, err := s.Judge([]byte(`{"metadata": {"name": "web", "namespace": "shop", "uid": "0b5e0c1a-pod",
	  "creationTimestamp": "2025-05-01T10:00:00Z", "labels": {"tier": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}`), "v1", "Pod")
	if err != nil {
		t.Fatal(err)
	}
	widget, err := s.Judge([]byte(`{"metadata": {"name": "gadget", "uid": "0b5e0c1a-widget",
	  "creationTimestamp": "2025-06-01T10:00:00Z"}}`), "example.com/v1", "Widget")
	if err != nil {
		t.Fatal(err)
	}
	if !pod.Reported() || !widget.Reported() {
		t.Fatalf("nothing to report: %+v %+v", pod, widget)
	}
	return p, pod, widget
}

func TestAReportListsEveryRuleThatAppliesToTheResource(t *testing.T) {
	p, pod, widget := judged(t)
	type result struct{ policy, rule, result, created string }
	tests := []struct {
		name      string
		l         check.Live
		namespace string
		kind      string
		uid       string
		results   []result
		summary   reports.ReportSummary
	}{
		{"a Pod's deny finding fails, its warn finding and its label to add warn, and the rule it meets passes", pod, "shop", "Report", "0b5e0c1a-pod",
			[]result{
				{"require-owner", "owner", "fail", "before-enforcement"},
				{"want-cost-center", "cost-center", "warn", "before-enforcement"},
				{"default-environment", "environment", "warn", "before-enforcement"},
				{"track-tier", "", "pass", ""},
			},
			reports.ReportSummary{Pass: 1, Fail: 1, Warn: 2}},
		{"a cluster-scoped Widget gets a ClusterReport, with no pass for rules that do not apply to it", widget, "", "ClusterReport", "0b5e0c1a-widget",
			[]result{
				{"require-owner", "owner", "fail", "after-enforcement"},
				{"want-cost-center", "cost-center", "warn", "after-enforcement"},
			},
			reports.ReportSummary{Fail: 1, Warn: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := resourceReport(p, &tt.l, since, auditAt)
			if want := "bouncer-audit-" + tt.uid; r.name != want {
				t.Errorf("name %q, want %q", r.name, want)
			}
			if r.namespace != tt.namespace {
				t.Errorf("namespace %q, want %q", r.namespace, tt.namespace)
			}
			var kind, name, namespace string
			var labels map[string]string
			var scope *corev1.ObjectReference
			var sum reports.ReportSummary
			var results []reports.ReportResult
			switch o := r.obj.(type) {
			case *reports.Report:
				kind, name, namespace, labels, scope, sum, results = o.Kind, o.Name, o.Namespace, o.Labels, o.Scope, o.Summary, o.Results
				if o.Source != "bouncer" || o.APIVersion != "openreports.io/v1alpha1" {
					t.Errorf("source %q, apiVersion %q", o.Source, o.APIVersion)
				}
			case *reports.ClusterReport:
				kind, name, namespace, labels, scope, sum, results = o.Kind, o.Name, o.Namespace, o.Labels, o.Scope, o.Summary, o.Results
				if o.Source != "bouncer" || o.APIVersion != "openreports.io/v1alpha1" {
					t.Errorf("source %q, apiVersion %q", o.Source, o.APIVersion)
				}
			default:
				t.Fatalf("a %T", r.obj)
			}
			if kind != tt.kind || name != r.name || namespace != tt.namespace {
				t.Errorf("%s %s/%s, want %s %s/%s", kind, namespace, name, tt.kind, tt.namespace, r.name)
			}
			if len(labels) != 2 || labels["app.kubernetes.io/managed-by"] != "bouncer" || labels["bouncer.dev/report"] != "live" {
				t.Errorf("labels %v, want managed-by bouncer and report live", labels)
			}
			wantScope := corev1.ObjectReference{APIVersion: tt.l.APIVersion, Kind: tt.l.Kind, Namespace: tt.namespace, Name: tt.l.Name, UID: types.UID(tt.uid)}
			if scope == nil || *scope != wantScope {
				t.Errorf("scope %+v, want %+v", scope, wantScope)
			}
			if sum != tt.summary {
				t.Errorf("summary %+v, want %+v", sum, tt.summary)
			}
			var got []result
			for _, res := range results {
				got = append(got, result{res.Policy, res.Rule, string(res.Result), res.Properties["created"]})
				if res.Source != "bouncer" || res.Timestamp.Seconds != auditAt.Unix() {
					t.Errorf("%s: source %q, timestamp %v", res.Policy, res.Source, res.Timestamp)
				}
				if res.Result != "pass" && res.Description == "" {
					t.Errorf("%s: %s without a message", res.Policy, res.Result)
				}
			}
			if len(got) != len(tt.results) {
				t.Fatalf("results %v, want %v", got, tt.results)
			}
			for i := range got {
				if got[i] != tt.results[i] {
					t.Errorf("result %d: %v, want %v", i, got[i], tt.results[i])
				}
			}
		})
	}
}

func TestAnUnreadableObjectIsAnErrorAndPassesNoRule(t *testing.T) {
	// A CRD may keep anything at a custom kind's template label place.
	p, err := policy.Parse([]byte(`apiVersion: bouncer.dev/v1
kind: Policy
customKinds:
  - {kind: Widget, group: example.com, version: v1, resource: widgets, templateLabelPaths: [spec.template.metadata.labels]}
rules:
  - {name: require-owner, kinds: [Widget], require: [{key: owner}]}
  - {name: default-environment, kinds: [Widget], defaults: {environment: development}}
`))
	if err != nil {
		t.Fatal(err)
	}
	l, err := (&check.Checker{Policy: p}).NewStream().Judge([]byte(`{"metadata": {"name": "w", "namespace": "shop", "uid": "w1", "labels": {"owner": "a"}},
	  "spec": {"template": {"metadata": {"labels": "owner=a"}}}}`), "example.com/v1", "Widget")
	if err != nil {
		t.Fatal(err)
	}
	// No rule judged it: all the report can say is that it could not be read.
	r := resourceReport(p, &l, since, auditAt).obj.(*reports.Report)
	if r.Summary != (reports.ReportSummary{Error: 1}) || len(r.Results) != 1 || r.Results[0].Policy != "invalid" || r.Results[0].Result != "error" {
		t.Errorf("summary %+v, results %+v", r.Summary, r.Results)
	}
}

func TestAReportsDigestChangesWithWhatItSaysAndNothingElse(t *testing.T) {
	p, pod, _ := judged(t)
	base := resourceReport(p, &pod, since, auditAt)
	fewer := pod
	fewer.Findings = pod.Findings[1:]
	recreated := pod
	recreated.Created = since.Add(time.Hour)
	tests := []struct {
		name string
		r    report
		same bool
	}{
		{"the same object audited later has the same digest", resourceReport(p, &pod, since, auditAt.Add(24*time.Hour)), true},
		{"a finding fewer changes it", resourceReport(p, &fewer, since, auditAt), false},
		{"an object created after enforcement changes it", resourceReport(p, &recreated, since, auditAt), false},
		{"enforcement that began at another time, still after the object, does not change it", resourceReport(p, &pod, since.Add(-24*time.Hour), auditAt), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.digest == base.digest; got != tt.same {
				t.Errorf("same digest %v, want %v", got, tt.same)
			}
		})
	}
}

func TestAReportReadBackFromTheClusterHasTheDigestItWasWrittenWith(t *testing.T) {
	p, pod, widget := judged(t)
	rs := []report{resourceReport(p, &pod, since, auditAt), resourceReport(p, &widget, since, auditAt),
		*enforcementReportFor(&enforcement{Findings: []Finding{{"ValidatingWebhookConfiguration", "bouncer-validate", "missing"}, {"", "", "validation is not enforced"}}}, auditAt)}
	for _, r := range rs {
		t.Run(r.name, func(t *testing.T) {
			data, err := json.Marshal(r.obj)
			if err != nil {
				t.Fatal(err)
			}
			// What the API server adds is not what the report says.
			var m map[string]any
			_ = json.Unmarshal(data, &m)
			m["metadata"].(map[string]any)["resourceVersion"] = "42"
			m["metadata"].(map[string]any)["managedFields"] = []any{map[string]any{"manager": "bouncer"}}
			data, _ = json.Marshal(m)
			name, ns, dig, err := existingDigest(data)
			if err != nil {
				t.Fatal(err)
			}
			if name != r.name || ns != r.namespace || dig != r.digest {
				t.Errorf("read back as %s/%s %s, written as %s/%s %s: --apply would write it again each run", ns, name, dig, r.namespace, r.name, r.digest)
			}
		})
	}
}

func TestEraPlacesACreationAgainstWhenEnforcementBegan(t *testing.T) {
	tests := []struct {
		name             string
		created, started time.Time
		want             string
	}{
		{"an object created before enforcement is a legacy one", since.Add(-time.Second), since, "before-enforcement"},
		{"an object created after enforcement got in despite it", since.Add(time.Second), since, "after-enforcement"},
		{"an object created as enforcement began counts as after", since, since, "after-enforcement"},
		{"without enforcement there is no era", since, time.Time{}, "unknown"},
		{"without a creation time there is no era", time.Time{}, since, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := era(tt.created, tt.started); got != tt.want {
				t.Errorf("era = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReportOutputMatchesTheGolden(t *testing.T) {
	p, pod, widget := judged(t)
	var buf bytes.Buffer
	out, err := newOutput("report", &buf, false)
	if err != nil {
		t.Fatal(err)
	}
	if !out.wantsReports() {
		t.Fatal("-o report does not want reports")
	}
	enf := &enforcement{Findings: []Finding{{"MutatingWebhookConfiguration", "bouncer-mutate", "missing: mutation runs compiled, and this piece of it is gone"}},
		Validation: "webhook", Mutation: "webhook", Since: since}
	for _, r := range []report{resourceReport(p, &pod, enf.Since, auditAt), resourceReport(p, &widget, enf.Since, auditAt), *enforcementReportFor(enf, auditAt)} {
		if err := out.report(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := out.finish(summary{}, enf); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.yaml", buf.String())
}
