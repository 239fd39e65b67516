package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"bouncer.dev/bouncer/internal/check"
	"bouncer.dev/bouncer/internal/policy"
	reports "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The reports follow Kyverno since 1.10: one report per resource, its scope
// naming the resource, so that no report grows with its namespace (a report
// per namespace passes etcd's 1.5 MiB limit at a few thousand objects).
//
// A resource that passes every rule gets no report. Completeness would cost
// one etcd object, and a write, per compliant resource: at 20,000 objects,
// 20,000 reports that say nothing, against the handful that need a look.
// A resource that is reported lists every rule that applies to it, the ones
// it passes too, so its report is complete about it.
const (
	// source is the results' source, which Policy Reporter groups by.
	source = "bouncer"
	// livePrefix names the live audit's reports: the reader of the API
	// server's audit trail names its own reports bouncer-escape-..., so
	// neither ever overwrites or deletes the other's.
	livePrefix = "bouncer-audit-"
	// enforcementReport holds the findings about enforcement itself.
	enforcementReport = "bouncer-audit-enforcement"
	// reportLabel marks the live audit's reports, so that --apply finds
	// the ones that no longer describe the cluster.
	reportLabel     = "bouncer.dev/report"
	reportLabelLive = "live"
	managedByLabel  = "app.kubernetes.io/managed-by"
)

var (
	reportType        = metav1.TypeMeta{APIVersion: reports.SchemeGroupVersion.String(), Kind: "Report"}
	clusterReportType = metav1.TypeMeta{APIVersion: reports.SchemeGroupVersion.String(), Kind: "ClusterReport"}
)

// report is one report to write: a Report in a namespace, or a
// ClusterReport where namespace is "".
type report struct {
	name, namespace string
	obj             any
	// digest identifies what the report says, without its timestamps, so
	// that a report that says the same is not written again.
	digest string
}

// era says when a violating object was created, against when enforcement
// began: before is a legacy object, after one that got in despite it (a
// fail-open, an exemption, or a change after creation).
func era(created, since time.Time) string {
	switch {
	case since.IsZero() || created.IsZero():
		return "unknown"
	case created.Before(since):
		return "before-enforcement"
	}
	return "after-enforcement"
}

// resourceReport is the report of one listed object.
func resourceReport(p *policy.Policy, l *check.Live, since, now time.Time) report {
	ts := metav1.Timestamp{Seconds: now.Unix()}
	props := func(extra map[string]string) map[string]string {
		m := map[string]string{"created": era(l.Created, since)}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	var results []reports.ReportResult
	broken := map[string]bool{}
	unreadable := false
	for _, f := range l.Findings {
		res := reports.Result("fail")
		if f.Action == string(policy.Warn) {
			res = "warn"
		}
		rule := f.Rule
		if rule == "" {
			rule = "invalid"
			res = "error"
			unreadable = true
		}
		broken[rule] = true
		results = append(results, reports.ReportResult{Source: source, Policy: rule, Rule: f.Key, Result: res, Timestamp: ts,
			Description: f.Message, Properties: props(map[string]string{"action": f.Action, "place": f.Place, "problem": f.Problem})})
	}
	for _, a := range l.Adds {
		broken[a.Rule] = true
		results = append(results, reports.ReportResult{Source: source, Policy: a.Rule, Rule: a.Key, Result: "warn", Timestamp: ts,
			Description: "label " + a.Key + " is missing at " + a.Place + ": mutate would add " + a.Key + "=" + a.Value + " on a write it judged",
			Properties:  props(map[string]string{"action": "mutate", "place": a.Place, "default": a.Value})})
	}
	group, _, ok := strings.Cut(l.APIVersion, "/")
	if !ok {
		group = "" // the core group's "v1"
	}
	// An object that could not be read was judged by no rule: it passes none.
	if k := p.Kind(group, l.Kind); k != nil && !unreadable {
		for _, r := range p.Rules {
			if r.AppliesTo(k) && !broken[r.Name] {
				results = append(results, reports.ReportResult{Source: source, Policy: r.Name, Result: "pass", Timestamp: ts})
			}
		}
	}
	sum := summarize(results)
	scope := &corev1.ObjectReference{APIVersion: l.APIVersion, Kind: l.Kind, Namespace: l.Namespace, Name: l.Name, UID: types.UID(l.UID)}
	return build(livePrefix+l.UID, l.Namespace, scope, sum, results)
}

// enforcementReportFor is the ClusterReport of the findings about
// enforcement; nil when there are none.
func enforcementReportFor(e *enforcement, now time.Time) *report {
	if len(e.Findings) == 0 {
		return nil
	}
	ts := metav1.Timestamp{Seconds: now.Unix()}
	var results []reports.ReportResult
	for _, f := range e.Findings {
		var subjects []corev1.ObjectReference
		if f.Kind != "" {
			subjects = []corev1.ObjectReference{{APIVersion: "admissionregistration.k8s.io/v1", Kind: f.Kind, Name: f.Name}}
		}
		results = append(results, reports.ReportResult{Source: source, Policy: "bouncer-enforcement", Rule: f.Kind, Result: "fail",
			Timestamp: ts, Description: f.Problem, Subjects: subjects})
	}
	r := build(enforcementReport, "", nil, reports.ReportSummary{Fail: len(results)}, results)
	return &r
}

// summarize counts the results by their value.
func summarize(results []reports.ReportResult) reports.ReportSummary {
	var sum reports.ReportSummary
	for _, r := range results {
		switch r.Result {
		case "pass":
			sum.Pass++
		case "fail":
			sum.Fail++
		case "warn":
			sum.Warn++
		case "error":
			sum.Error++
		case "skip":
			sum.Skip++
		}
	}
	return sum
}

// build assembles a Report or ClusterReport and its digest.
func build(name, namespace string, scope *corev1.ObjectReference, sum reports.ReportSummary, results []reports.ReportResult) report {
	meta := metav1.ObjectMeta{Name: name, Namespace: namespace,
		Labels: map[string]string{managedByLabel: "bouncer", reportLabel: reportLabelLive}}
	var obj any
	if namespace == "" {
		obj = &reports.ClusterReport{TypeMeta: clusterReportType, ObjectMeta: meta, Source: source, Scope: scope, Summary: sum, Results: results}
	} else {
		obj = &reports.Report{TypeMeta: reportType, ObjectMeta: meta, Source: source, Scope: scope, Summary: sum, Results: results}
	}
	return report{name: name, namespace: namespace, obj: obj, digest: digest(scope, sum, results)}
}

// digest hashes what a report says, timestamps aside.
func digest(scope *corev1.ObjectReference, sum reports.ReportSummary, results []reports.ReportResult) string {
	rs := make([]reports.ReportResult, len(results))
	copy(rs, results)
	for i := range rs {
		rs[i].Timestamp = metav1.Timestamp{}
	}
	data, _ := json.Marshal(struct {
		Scope   *corev1.ObjectReference
		Summary reports.ReportSummary
		Results []reports.ReportResult
	}{scope, sum, rs})
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// existingDigest is the digest of a report read from the cluster.
func existingDigest(item []byte) (name, namespace, dig string, err error) {
	var r reports.Report // a ClusterReport has the same fields
	if err := json.Unmarshal(item, &r); err != nil {
		return "", "", "", err
	}
	return r.Name, r.Namespace, digest(r.Scope, r.Summary, r.Results), nil
}
