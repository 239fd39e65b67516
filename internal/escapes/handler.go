// Package escapes is the /audit function: it receives the API server's
// audit trail from the audit webhook backend (audit.k8s.io/v1 EventLists),
// finds each write that failed open past bouncer's webhooks, re-judges the
// object it stored, and writes one decision-log record per escape that
// needs a look, and counts every escape.
//
// It is stateless, and the backend re-sends a batch on any error, even
// when a 200 was lost on the way: the same escape can be recorded twice.
// Every record carries the write's audit ID; consumers deduplicate by it.
package escapes

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"bouncer.dev/bouncer/internal/auditlog"
	"bouncer.dev/bouncer/internal/metrics"
	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/webhookconfig"
	"go.uber.org/zap"
)

// MaxBody bounds a batch. The backend sends at most 400 events a batch by
// default (--audit-webhook-batch-max-size); at RequestResponse an event
// holds the object twice, so a batch of large objects is a few MiB.
const MaxBody = 64 << 20

// Webhooks are bouncer's webhook names, whose fail-opens are ours.
var Webhooks = []string{webhookconfig.ValidateHook, webhookconfig.MutateHook}

// Handler serves /audit.
type Handler struct {
	policy  *policy.Policy
	log     *zap.Logger
	metrics *metrics.Metrics
	auth    Auth
}

// New returns the /audit handler.
func New(p *policy.Policy, log *zap.Logger, m *metrics.Metrics, auth Auth) *Handler {
	return &Handler{policy: p, log: log.With(zap.String("function", "audit")), metrics: m, auth: auth}
}

// Record fields, beside the decision log's kind, namespace and name.
const (
	Message         = "escape"
	FieldAuditID    = "auditID"
	FieldOutcome    = "outcome"
	FieldUser       = "user"
	FieldVerb       = "verb"
	FieldWebhooks   = "failedOpen"
	FieldViolations = "violations"
	FieldPrior      = "priorUnknown"
	FieldReceived   = "received"
	FieldDelay      = "delay"
)

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer func() { h.metrics.Observe("audit", time.Since(start)) }()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "bouncer: /audit takes the audit webhook backend's POST of an audit.k8s.io/v1 EventList", http.StatusMethodNotAllowed)
		return
	}
	if code, msg := h.auth.check(r); code != 0 {
		if code == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="bouncer-audit"`)
		}
		h.log.Warn("audit post refused", zap.Int("code", code), zap.String("reason", msg))
		http.Error(w, "bouncer: "+msg, code)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		http.Error(w, fmt.Sprintf("bouncer: Content-Type %q: want application/json, as the audit webhook backend sends", r.Header.Get("Content-Type")), http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, fmt.Sprintf("bouncer: the batch is larger than %d bytes: lower --audit-webhook-batch-max-size", MaxBody), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "bouncer: reading the batch: "+err.Error(), http.StatusBadRequest)
		return
	}
	// Read whole or not at all: a 200 tells the backend the batch is done
	// with, so it is answered only for a batch that was read entirely.
	events, err := auditlog.ReadEventList(body)
	if err != nil {
		http.Error(w, "bouncer: not an audit.k8s.io/v1 EventList: "+err.Error(), http.StatusBadRequest)
		return
	}
	escapes := 0
	for i := range events {
		e := &events[i]
		hooks := auditlog.FailedOpen(e, Webhooks)
		if len(hooks) == 0 {
			continue
		}
		esc := auditlog.Judge(h.policy, e)
		if esc.Skip != "" {
			continue
		}
		escapes++
		h.metrics.Escape(string(esc.Outcome))
		if esc.Outcome == auditlog.Compliant {
			continue
		}
		h.record(e, &esc, hooks, start)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, "{}")
	if escapes > 0 {
		h.log.Info("audit batch read", zap.Int("events", len(events)), zap.Int("escapes", escapes))
	}
}

// record writes one escape at severity WARNING. Like the decision log, it
// names the object and the labels involved, never their values.
func (h *Handler) record(e *auditlog.Event, esc *auditlog.Escape, hooks []string, now time.Time) {
	var rules []string
	for _, v := range esc.Violations {
		rules = append(rules, "["+v.Rule+"] "+v.Message)
	}
	ref := esc.Object
	fields := []zap.Field{
		zap.String(FieldAuditID, e.AuditID),
		zap.String(FieldOutcome, string(esc.Outcome)),
		zap.String(FieldVerb, e.Verb),
		zap.String(FieldUser, clip(esc.User)),
		zap.String("kind", clip(ref.Kind)),
		zap.String("namespace", clip(ref.Namespace)),
		zap.String("name", clip(ref.Name)),
		zap.Strings(FieldWebhooks, hooks),
		zap.Time(FieldReceived, e.RequestReceivedTimestamp),
		zap.Duration(FieldDelay, now.Sub(e.RequestReceivedTimestamp)),
	}
	if ref.Subresource != "" {
		fields = append(fields, zap.String("subresource", clip(ref.Subresource)))
	}
	if esc.Unreadable != "" {
		rules = append(rules, "unreadable: "+esc.Unreadable)
	}
	if len(rules) > 0 {
		fields = append(fields, zap.Strings(FieldViolations, rules))
	}
	if esc.PriorUnknown {
		fields = append(fields, zap.Bool(FieldPrior, true))
	}
	h.log.Warn(Message, fields...)
}

// clip bounds a name from the request in a log line.
func clip(s string) string {
	if len(s) > 253 {
		return s[:253]
	}
	return strings.ToValidUTF8(s, "?")
}
