package verify

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"bouncer.dev/bouncer/internal/metrics"
	"bouncer.dev/bouncer/internal/webhookconfig"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	apiservermetrics "k8s.io/apiserver/pkg/admission/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
	"sigs.k8s.io/yaml"
)

// exposed is every series name a scrape can hold, with its labels: the
// families' own names, and a histogram's _bucket, _sum and _count.
type exposed map[string][]string

func (e exposed) add(families map[string]*dto.MetricFamily) {
	for name, f := range families {
		var ls []string
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if !slices.Contains(ls, l.GetName()) {
					ls = append(ls, l.GetName())
				}
			}
		}
		e[name] = ls
		if f.GetType() == dto.MetricType_HISTOGRAM {
			e[name+"_bucket"] = append(slices.Clone(ls), "le")
			e[name+"_sum"], e[name+"_count"] = ls, ls
		}
	}
}

// bouncerExposes scrapes bouncer's own /metrics, after one of everything,
// through Prometheus's text parser: what a Prometheus reads.
func bouncerExposes(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	m := metrics.New()
	m.Decision("validate", "require-owner", metrics.Deny)
	m.Observe("validate", 1000)
	m.Escape(metrics.EscapeViolates)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("Prometheus cannot parse bouncer's /metrics: %v", err)
	}
	return fams
}

// apiServerExposes is what the API server's admission metrics expose, from
// k8s.io/apiserver itself (the version of the control plane the e2e suite
// runs), after one fail-open of each of bouncer's webhooks, as its
// dispatchers record them.
func apiServerExposes(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	apiservermetrics.Metrics.ObserveWebhookFailOpen(context.Background(), webhookconfig.ValidateHook, "validating")
	apiservermetrics.Metrics.ObserveWebhookFailOpen(context.Background(), webhookconfig.MutateHook, "admit")
	fams, err := legacyregistry.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

type promRule struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert       string            `json:"alert"`
				Expr        string            `json:"expr"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

// TestTheAlertsParseAndNameMetricsThatExist holds each alert of the
// PrometheusRule to Prometheus's own parser, and each metric and label it
// reads to what bouncer and the API server really expose: a typo in either
// is an alert that never fires.
func TestTheAlertsParseAndNameMetricsThatExist(t *testing.T) {
	raw, err := os.ReadFile("../kubernetes/monitoring/prometheusrule.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var pr promRule
	if err := yaml.UnmarshalStrict(raw, &pr); err != nil {
		t.Fatal(err)
	}
	if pr.APIVersion != "monitoring.coreos.com/v1" || pr.Kind != "PrometheusRule" {
		t.Fatalf("%s/%s, want monitoring.coreos.com/v1 PrometheusRule", pr.APIVersion, pr.Kind)
	}
	// The spec is a Prometheus rule file: its own loader checks the rest
	// (names, templates in the annotations).
	spec, err := yaml.Marshal(pr.Spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, errs := rulefmt.Parse(spec, false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler)); len(errs) > 0 {
		t.Fatalf("Prometheus refuses the rule groups: %v", errs)
	}

	bouncer, apiserver := exposed{}, exposed{}
	bouncer.add(bouncerExposes(t))
	apiserver.add(apiServerExposes(t))
	const failOpen = "apiserver_admission_webhook_fail_open_count"
	if !slices.Contains(apiserver[failOpen], "name") {
		t.Fatalf("k8s.io/apiserver exposes %s with labels %v; the alert matches the webhook's name on `name`", failOpen, apiserver[failOpen])
	}

	read := map[string]bool{}
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			t.Run(r.Alert, func(t *testing.T) {
				if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
					t.Errorf("wants a severity, a summary and a description: %+v", r)
				}
				expr, err := parser.NewParser(parser.Options{}).ParseExpr(r.Expr)
				if err != nil {
					t.Fatalf("PromQL: %v\n%s", err, r.Expr)
				}
				var grouping []string
				parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
					switch n := n.(type) {
					case *parser.AggregateExpr:
						grouping = append(grouping, n.Grouping...)
					case *parser.VectorSelector:
						read[n.Name] = true
						ls, ok := bouncer[n.Name]
						if !ok {
							if ls, ok = apiserver[n.Name]; !ok {
								t.Errorf("%s: neither bouncer nor the API server exposes it", n.Name)
								return nil
							}
						}
						for _, m := range n.LabelMatchers {
							if m.Name != model.MetricNameLabel && !slices.Contains(ls, m.Name) {
								t.Errorf("%s has no label %q (it has %v)", n.Name, m.Name, ls)
							}
						}
						for _, l := range grouping {
							if !slices.Contains(ls, l) {
								t.Errorf("grouped by %q, which %s does not have (it has %v)", l, n.Name, ls)
							}
						}
						checkMatchers(t, n)
					}
					return nil
				})
			})
		}
	}
	for _, want := range []string{failOpen, metrics.EscapesName} {
		if !read[want] {
			t.Errorf("no alert reads %s", want)
		}
	}
}

// checkMatchers holds the label values the alerts match to the names they
// mean: both webhooks and no other, the violating escapes.
func checkMatchers(t *testing.T, n *parser.VectorSelector) {
	t.Helper()
	for _, m := range n.LabelMatchers {
		switch {
		case n.Name == "apiserver_admission_webhook_fail_open_count" && m.Name == "name":
			for _, hook := range []string{webhookconfig.ValidateHook, webhookconfig.MutateHook} {
				if !m.Matches(hook) {
					t.Errorf("%s does not match the webhook %s", m, hook)
				}
			}
			others := []string{"validate.bouncer.dev.example.com", "policy.kyverno.svc", ""}
			for _, hook := range []string{webhookconfig.ValidateHook, webhookconfig.MutateHook} {
				// An unescaped dot would match any character.
				for i := range hook {
					if hook[i] == '.' {
						others = append(others, hook[:i]+"x"+hook[i+1:])
					}
				}
			}
			for _, other := range others {
				if m.Matches(other) {
					t.Errorf("%s matches %q, not bouncer's", m, other)
				}
			}
		case n.Name == metrics.EscapesName && m.Name == "outcome":
			if !m.Matches(metrics.EscapeViolates) || m.Matches(metrics.EscapeCompliant) || m.Matches(metrics.EscapeNotLogged) {
				t.Errorf("%s should match %q alone", m, metrics.EscapeViolates)
			}
		}
	}
}

// TestMetricsAreScrapedFromTheirOwnPort: the plain Deployment turns metrics
// on, on a port of their own that the Pod annotations, the Service and the
// optional ServiceMonitor all name, and the default kustomization leaves
// the monitoring.coreos.com objects out (a cluster may have no such CRDs).
func TestMetricsAreScrapedFromTheirOwnPort(t *testing.T) {
	var dep, svc map[string]any
	for _, d := range docs(t, "../kubernetes/deployment.yaml") {
		switch d["kind"] {
		case "Deployment":
			dep = d
		case "Service":
			svc = d
		}
	}
	tmpl := dig(dep, "spec", "template").(map[string]any)
	ann := dig(tmpl, "metadata", "annotations").(map[string]any)
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != "9090" || ann["prometheus.io/path"] != "/metrics" {
		t.Errorf("Pod annotations %v", ann)
	}
	c := dig(tmpl, "spec", "containers").([]any)[0].(map[string]any)
	args := strings.Join(toStrings(c["args"]), " ")
	if !strings.Contains(args, "--metrics-addr :9090") {
		t.Errorf("args %q do not turn metrics on at :9090", args)
	}
	if !slices.ContainsFunc(c["ports"].([]any), func(p any) bool {
		m := p.(map[string]any)
		return m["name"] == "metrics" && m["containerPort"] == float64(9090)
	}) {
		t.Errorf("no container port metrics: 9090 in %v", c["ports"])
	}
	if !slices.ContainsFunc(dig(svc, "spec", "ports").([]any), func(p any) bool {
		m := p.(map[string]any)
		return m["name"] == "metrics" && m["targetPort"] == "metrics"
	}) {
		t.Errorf("the Service has no port metrics: %v", dig(svc, "spec", "ports"))
	}

	sm := docs(t, "../kubernetes/monitoring/servicemonitor.yaml")[0]
	if sm["apiVersion"] != "monitoring.coreos.com/v1" || sm["kind"] != "ServiceMonitor" {
		t.Errorf("%v/%v", sm["apiVersion"], sm["kind"])
	}
	sel := dig(sm, "spec", "selector", "matchLabels").(map[string]any)
	for k, v := range sel {
		if dig(svc, "metadata", "labels").(map[string]any)[k] != v {
			t.Errorf("the ServiceMonitor selects %s=%v, which the Service does not carry", k, v)
		}
	}
	ep := dig(sm, "spec", "endpoints").([]any)[0].(map[string]any)
	if ep["port"] != "metrics" || ep["path"] != "/metrics" || ep["scheme"] != "http" {
		t.Errorf("endpoint %v", ep)
	}
	if ns := dig(sm, "metadata", "namespace"); ns != dig(svc, "metadata", "namespace") {
		t.Errorf("the ServiceMonitor is in %v, the Service elsewhere", ns)
	}

	k, err := os.ReadFile("../kubernetes/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`(?m)^\s*-\s*monitoring`).Match(k) {
		t.Error("the default kustomization includes monitoring/")
	}
}

func dig(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[p]
	}
	return v
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
