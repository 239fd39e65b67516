package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"bouncer.dev/bouncer/internal/auditlog"
	"bouncer.dev/bouncer/internal/check"
	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/webhookconfig"
	reports "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"
)

// The API server marks each write that failed open past a webhook with an
// audit annotation naming the webhook. --audit-log reads its audit log and
// re-judges the object each such write stored: the list of what escaped,
// which the live audit cannot tell from what an exemption let in.

// ourWebhooks are the names whose fail-opens are bouncer's.
var ourWebhooks = []string{webhookconfig.ValidateHook, webhookconfig.MutateHook}

// escapePrefix names the escapes' reports, which never collide with the
// live audit's bouncer-audit-<uid>.
const (
	escapePrefix      = "bouncer-escape-"
	reportLabelEscape = "escape"
)

// escapeResult is one escape as printed.
type escapeResult struct {
	auditlog.Escape
	FailedOpen []string `json:"failedOpen"`
	// Now says, with cluster access, whether the object still exists and
	// still violates: "violates", "compliant", "gone", or why it is not
	// known.
	Now string `json:"now,omitempty"`
}

type escapeSummary struct {
	Events    int    `json:"events"`
	Escapes   int    `json:"escapes"`
	Violating int    `json:"violating"`
	Compliant int    `json:"compliant"`
	NotLogged int    `json:"notLogged"`
	Cluster   string `json:"cluster"`
}

// runAuditLog reads the audit log and prints each escape; it returns
// whether any escape violates.
func runAuditLog(ctx context.Context, p *policy.Policy, paths []string, c *cluster, format string, w io.Writer) (escapeSummary, error) {
	var s escapeSummary
	r, err := auditlog.Open(paths...)
	if err != nil {
		return s, err
	}
	defer r.Close()
	out := bufio.NewWriterSize(w, 64<<10)
	defer out.Flush()
	if c == nil {
		s.Cluster = "no cluster access: whether each object still exists is not checked"
	} else {
		s.Cluster = "checked"
	}
	var stream *check.Stream
	if c != nil {
		stream = (&check.Checker{Policy: p}).NewStream()
	}
	if format == "json" {
		out.WriteString("{\"escapes\": [")
	}
	now := time.Now()
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return s, err
		}
		s.Events++
		hooks := auditlog.FailedOpen(e, ourWebhooks)
		if len(hooks) == 0 {
			continue
		}
		esc := auditlog.Judge(p, e)
		if esc.Skip != "" {
			continue
		}
		res := escapeResult{Escape: esc, FailedOpen: hooks}
		s.Escapes++
		switch esc.Outcome {
		case auditlog.Violates:
			s.Violating++
		case auditlog.Compliant:
			s.Compliant++
		case auditlog.NotLogged:
			s.NotLogged++
		}
		if stream != nil && esc.Outcome != auditlog.Compliant {
			res.Now = stillViolates(ctx, c, stream, &esc.Object)
		}
		if err := printEscape(out, format, &res, s.Escapes, now); err != nil {
			return s, err
		}
	}
	if s.Events == 0 {
		// As bouncer check refuses an empty standard input: a pipe whose
		// producer failed is not a log in which nothing escaped.
		return s, fmt.Errorf("read no audit event from %s: an empty log says nothing, and is not taken for a clean one", strings.Join(paths, ", "))
	}
	if format == "json" {
		data, _ := json.Marshal(s)
		fmt.Fprintf(out, "\n],\n\"summary\": %s}\n", data)
	}
	if format == "text" {
		fmt.Fprintf(out, "read %s: %s escaped past bouncer's webhooks: %d violate, %d compliant, %d not logged (the audit policy's level was below RequestResponse); %s\n",
			plural(s.Events, "audit event", "audit events"), plural(s.Escapes, "write", "writes"), s.Violating, s.Compliant, s.NotLogged, s.Cluster)
	}
	return s, nil
}

// stillViolates reads the object now and judges it again.
func stillViolates(ctx context.Context, c *cluster, stream *check.Stream, o *auditlog.Object) string {
	group, version, ok := strings.Cut(o.APIVersion, "/")
	if !ok {
		group, version = "", o.APIVersion
	}
	data, err := c.get(ctx, resourcePath(group, version, o.Resource, o.Namespace, o.Name))
	switch {
	case err != nil:
		return "unknown: " + err.Error()
	case data == nil:
		return "gone"
	}
	l, err := stream.Judge(data, o.APIVersion, o.Kind)
	switch {
	case err != nil:
		return "unknown: " + err.Error()
	case o.UID != "" && l.UID != o.UID:
		return "gone (a new object of the same name exists)"
	case l.Denied:
		return "violates"
	}
	return "compliant"
}

func printEscape(w *bufio.Writer, format string, r *escapeResult, n int, now time.Time) error {
	switch format {
	case "json":
		data, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if n > 1 {
			w.WriteByte(',')
		}
		w.WriteString("\n  ")
		w.Write(data)
	case "report":
		rep := escapeReport(r, now)
		data, err := yaml.Marshal(rep.obj)
		if err != nil {
			return err
		}
		if n > 1 {
			w.WriteString("---\n")
		}
		w.Write(data)
	default:
		o := &r.Object
		obj := o.Kind + " " + o.Name
		if o.Namespace != "" {
			obj = o.Kind + " " + o.Namespace + "/" + o.Name
		}
		if o.Subresource != "" {
			obj += " (" + o.Subresource + ")"
		}
		what := fmt.Sprintf("%s by %s at %s, audit ID %s", r.Verb, r.User, r.Time.UTC().Format(time.RFC3339), r.AuditID)
		if r.Now != "" {
			what += "; now: " + r.Now
		}
		switch r.Outcome {
		case auditlog.Violates:
			for _, v := range r.Violations {
				action := v.Action
				if v.Inherited {
					// The webhook admits a controller's child with a
					// warning; the message names the parent.
					action = string(policy.Warn)
				}
				fmt.Fprintf(w, "%s: escaped and violates: %s %s: %s (%s)\n", obj, action, v.Rule, v.Message, what)
			}
			if r.Unreadable != "" {
				fmt.Fprintf(w, "%s: escaped and violates: unreadable: %s (%s)\n", obj, r.Unreadable, what)
			}
			if r.PriorUnknown {
				fmt.Fprintf(w, "%s: whether it already violated before this %s is unknown: no audit level carries the old object\n", obj, r.Verb)
			}
		case auditlog.Compliant:
			fmt.Fprintf(w, "%s: escaped, compliant (%s)\n", obj, what)
		default:
			fmt.Fprintf(w, "%s: escaped, object not logged: the audit policy logged it below RequestResponse (%s)\n", obj, what)
		}
	}
	return nil
}

// escapeReport is an escape's report: one per escaped write, named by its
// audit ID, so that re-reading a log writes the same names.
func escapeReport(r *escapeResult, now time.Time) report {
	ts := metav1.Timestamp{Seconds: now.Unix()}
	props := map[string]string{"auditID": r.AuditID, "verb": r.Verb, "user": r.User, "outcome": string(r.Outcome),
		"failedOpen": strings.Join(r.FailedOpen, ","), "time": r.Time.UTC().Format(time.RFC3339)}
	if r.Now != "" {
		props["now"] = r.Now
	}
	var results []reports.ReportResult
	switch r.Outcome {
	case auditlog.Violates:
		for _, v := range r.Violations {
			res := reports.Result("fail")
			if v.Action == string(policy.Warn) || v.Inherited {
				res = "warn"
			}
			results = append(results, reports.ReportResult{Source: source, Policy: v.Rule, Rule: v.Key, Result: res, Timestamp: ts,
				Description: "escaped: " + v.Message, Properties: props})
		}
		if r.Unreadable != "" {
			results = append(results, reports.ReportResult{Source: source, Policy: "unreadable", Result: "error", Timestamp: ts,
				Description: "escaped: " + r.Unreadable, Properties: props})
		}
	case auditlog.Compliant:
		results = append(results, reports.ReportResult{Source: source, Policy: "escape", Result: "pass", Timestamp: ts,
			Description: "escaped, compliant", Properties: props})
	default:
		results = append(results, reports.ReportResult{Source: source, Policy: "escape", Result: "skip", Timestamp: ts,
			Description: "escaped, object not logged", Properties: props})
	}
	sum := summarize(results)
	o := &r.Object
	scope := &corev1.ObjectReference{APIVersion: o.APIVersion, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name, UID: types.UID(o.UID)}
	rep := build(escapePrefix+r.AuditID, o.Namespace, scope, sum, results)
	setReportLabel(rep.obj, reportLabelEscape)
	return rep
}

// setReportLabel marks a report as the live audit's or the escapes'.
func setReportLabel(obj any, value string) {
	switch x := obj.(type) {
	case *reports.Report:
		x.Labels[reportLabel] = value
	case *reports.ClusterReport:
		x.Labels[reportLabel] = value
	}
}
