package admission

import (
	"bouncer.dev/bouncer/internal/metrics"
	"bouncer.dev/bouncer/internal/policy"
)

// Option configures a Handler.
type Option func(*Handler)

// WithMetrics counts every decision and times every request in m. A nil m
// counts nothing.
func WithMetrics(m *metrics.Metrics) Option {
	return func(h *Handler) { h.Metrics = m }
}

type ruleResult struct{ rule, result string }

// countDecision counts a decision once for each rule that acted on it, by
// what that rule did, or once with no rule when none did.
func (f *Handler) countDecision(d *policy.Decision) {
	if f.Metrics == nil {
		return
	}
	fn := f.Stage.String()
	switch {
	case d.Unreadable != nil:
		f.Metrics.Decision(fn, "", metrics.Error)
		return
	case d.Skip != "":
		f.Metrics.Decision(fn, "", metrics.Skip)
		return
	}
	// A rule breaks or patches in several places at once; it counts once per
	// result. Policies have few rules, so a linear scan beats a map.
	seen := make([]ruleResult, 0, 8)
	add := func(rule, result string) {
		for _, s := range seen {
			if s.rule == rule && s.result == result {
				return
			}
		}
		seen = append(seen, ruleResult{rule, result})
		f.Metrics.Decision(fn, rule, result)
	}
	for _, v := range d.Violations {
		add(v.Rule, violationResult(v))
	}
	for _, a := range d.Added {
		add(a.Rule, metrics.Patch)
	}
	for _, u := range d.Untouched {
		add(u.Rule, metrics.Warn)
	}
	if len(seen) == 0 {
		if len(d.Patch) > 0 {
			f.Metrics.Decision(fn, "", metrics.Patch)
			return
		}
		f.Metrics.Decision(fn, "", metrics.Allow)
	}
}

// violationResult is what a violation did to the request, as the answer
// (verdict.For) says it: kept and inherited violations only warn.
func violationResult(v policy.Violation) string {
	switch {
	case v.Existing, v.Inherited:
		return metrics.Warn
	case v.Action == policy.Deny:
		return metrics.Deny
	case v.Action == policy.Audit:
		return metrics.Audit
	}
	return metrics.Warn
}
