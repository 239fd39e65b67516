package auditlog

import (
	"net/url"
	"slices"
	"strings"
)

// The audit annotations the API server adds when a webhook with
// failurePolicy Ignore fails: the key ends in round_{r}_index_{i} (the
// reinvocation round and the webhook's place in the chain), the value is the
// webhook's name.
const (
	FailedOpenValidating = "failed-open.validating.webhook.admission.k8s.io/"
	FailedOpenMutating   = "failed-open.mutation.webhook.admission.k8s.io/"
)

// FailedOpen returns which of the named webhooks failed open on a write
// that got in, in the order of webhooks; nil for none. Other webhooks'
// fail-opens are not ours. A write got in only if the API server answered
// it with a 2xx code (ResponseComplete): a write refused after admission, by
// another webhook, a quota or a conflict, stored nothing, and a dry run
// stores nothing either.
func FailedOpen(e *Event, webhooks []string) []string {
	if !e.Succeeded() || DryRun(e) {
		return nil
	}
	var out []string
	for key, name := range e.Annotations {
		if !slices.Contains(webhooks, name) || slices.Contains(out, name) {
			continue
		}
		rest, ok := strings.CutPrefix(key, FailedOpenValidating)
		if !ok {
			rest, ok = strings.CutPrefix(key, FailedOpenMutating)
		}
		if ok && roundIndex(rest) {
			out = append(out, name)
		}
	}
	// The annotations are a map: the order is the caller's.
	slices.SortFunc(out, func(a, b string) int { return slices.Index(webhooks, a) - slices.Index(webhooks, b) })
	return out
}

// roundIndex reports whether s is round_{r}_index_{i}, both decimal.
func roundIndex(s string) bool {
	r, ok := strings.CutPrefix(s, "round_")
	if !ok {
		return false
	}
	r, i, ok := strings.Cut(r, "_index_")
	return ok && digits(r) && digits(i)
}

func digits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// DryRun reports whether the request was a dry run (?dryRun=All): the API
// server admitted it, webhooks and fail-opens included, and stored nothing.
func DryRun(e *Event) bool {
	_, query, ok := strings.Cut(e.RequestURI, "?")
	if !ok {
		return false
	}
	// As the API server reads it (url.URL.Query): what parses counts.
	q, _ := url.ParseQuery(query)
	for _, v := range q["dryRun"] {
		if v != "" {
			return true
		}
	}
	return false
}
