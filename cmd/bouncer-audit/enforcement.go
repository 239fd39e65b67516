package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"bouncer.dev/bouncer/internal/admissionpolicy"
	"bouncer.dev/bouncer/internal/guard"
	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/webhookconfig"
)

// Deleting a webhook configuration is the quietest way to switch bouncer
// off: nothing fails, every write is simply admitted. So the audit reads
// what enforces the policy before it reads anything else, and a missing,
// drifted or untrusting piece is a finding of its own.

// expected is one object that enforces the policy, as the generators
// render it for the policy the audit runs with.
type expected struct {
	stage    policy.Stage // 0 for the namespace guard, which serves both
	engine   string       // "webhook", "compiled" or "guard"
	kind     string
	name     string
	rendered map[string]any
}

// resources are the API resources of the kinds the generators emit.
var resources = map[string]string{
	"ValidatingWebhookConfiguration":   "validatingwebhookconfigurations",
	"MutatingWebhookConfiguration":     "mutatingwebhookconfigurations",
	"ValidatingAdmissionPolicy":        "validatingadmissionpolicies",
	"ValidatingAdmissionPolicyBinding": "validatingadmissionpolicybindings",
	"MutatingAdmissionPolicy":          "mutatingadmissionpolicies",
	"MutatingAdmissionPolicyBinding":   "mutatingadmissionpolicybindings",
}

// enforcers renders every object that may enforce p: the namespace guard,
// the two webhook configurations, and the compiled policies and bindings of
// each stage (none when the policy cannot be compiled).
func enforcers(p *policy.Policy) ([]expected, error) {
	var out []expected
	add := func(stage policy.Stage, engine string, objs ...any) error {
		for _, o := range objs {
			data, err := json.Marshal(o)
			if err != nil {
				return err
			}
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				return err
			}
			meta, _ := m["metadata"].(map[string]any)
			name, _ := meta["name"].(string)
			kind, _ := m["kind"].(string)
			out = append(out, expected{stage: stage, engine: engine, kind: kind, name: name, rendered: m})
		}
		return nil
	}
	if err := add(0, "guard", guard.Build(p, "")...); err != nil {
		return nil, err
	}
	// The URL is not the policy's: the client configuration is compared by
	// whether its CA trusts anything, not by where it points.
	v, m, err := webhookconfig.Build(p, webhookconfig.Options{URL: "https://bouncer.invalid"})
	if err != nil {
		return nil, err
	}
	if err := add(policy.Validation, "webhook", v); err != nil {
		return nil, err
	}
	if err := add(policy.Mutation, "webhook", m); err != nil {
		return nil, err
	}
	for _, stage := range policy.Stages {
		objs, err := admissionpolicy.Build(p, stage)
		if err != nil {
			// Not expressible in CEL: only the webhooks can enforce it.
			break
		}
		// The guard leads every rendering; it was added above.
		if err := add(stage, "compiled", objs[len(guard.Build(p, "")):]...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Finding is a problem with enforcement itself.
type Finding struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Problem string `json:"problem"`
}

// enforcement is what the audit learned about enforcement.
type enforcement struct {
	Findings []Finding `json:"findings"`
	// Engines names what enforces each stage: webhook, compiled, or none.
	Validation string `json:"validation"`
	Mutation   string `json:"mutation"`
	// Since is when validation began to be enforced: the oldest
	// creationTimestamp among the objects that enforce it. Zero when
	// nothing does.
	Since time.Time `json:"since,omitzero"`
}

// readEnforcement reads every object enforcers names and judges whether
// the policy is enforced as it renders.
func readEnforcement(ctx context.Context, c *cluster, p *policy.Policy, now time.Time) (*enforcement, error) {
	exp, err := enforcers(p)
	if err != nil {
		return nil, err
	}
	e := &enforcement{}
	type found struct {
		present, missing []expected
		since            time.Time
		problems         []Finding
	}
	byEngine := map[string]*found{} // "stage/engine"
	for _, x := range exp {
		path, err := enforcerPath(x)
		if err != nil {
			return nil, err
		}
		data, err := c.get(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("reading %s %s: %w", x.kind, x.name, err)
		}
		key := fmt.Sprint(x.stage, "/", x.engine)
		f := byEngine[key]
		if f == nil {
			f = &found{}
			byEngine[key] = f
		}
		if data == nil {
			f.missing = append(f.missing, x)
			continue
		}
		var live map[string]any
		if err := json.Unmarshal(data, &live); err != nil {
			return nil, fmt.Errorf("reading %s %s: %v", x.kind, x.name, err)
		}
		f.present = append(f.present, x)
		if t := created(live); !t.IsZero() && (f.since.IsZero() || t.Before(f.since)) {
			f.since = t
		}
		for _, problem := range compare(x, live, now) {
			f.problems = append(f.problems, Finding{Kind: x.kind, Name: x.name, Problem: problem})
		}
	}
	// The guard: every piece, whichever engine runs.
	if g := byEngine["0/guard"]; g != nil {
		for _, x := range g.missing {
			e.Findings = append(e.Findings, Finding{x.kind, x.name, "missing: anyone who may label a namespace can exempt it from the policy"})
		}
		e.Findings = append(e.Findings, g.problems...)
	}
	for _, stage := range policy.Stages {
		engine := &e.Validation
		what := "validation"
		if stage == policy.Mutation {
			engine, what = &e.Mutation, "mutation"
		}
		wh, cp := byEngine[fmt.Sprint(stage, "/webhook")], byEngine[fmt.Sprint(stage, "/compiled")]
		var chosen *found
		switch {
		case wh != nil && len(wh.present) > 0:
			*engine, chosen = "webhook", wh
		case cp != nil && len(cp.present) > 0:
			*engine, chosen = "compiled", cp
		default:
			*engine = "none"
			var names []string
			for _, f := range []*found{wh, cp} {
				if f != nil {
					for _, x := range f.missing {
						names = append(names, x.kind+" "+x.name)
					}
				}
			}
			kind, name := "", ""
			if wh != nil && len(wh.missing) > 0 {
				kind, name = wh.missing[0].kind, wh.missing[0].name
			}
			e.Findings = append(e.Findings, Finding{kind, name, fmt.Sprintf("%s is not enforced: none of %s exists", what, strings.Join(names, ", "))})
			continue
		}
		for _, x := range chosen.missing {
			e.Findings = append(e.Findings, Finding{x.kind, x.name, fmt.Sprintf("missing: %s runs compiled, and this piece of it is gone", what)})
		}
		e.Findings = append(e.Findings, chosen.problems...)
		if stage == policy.Validation {
			e.Since = chosen.since
		}
	}
	return e, nil
}

// enforcerPath is the URL path of one expected object.
func enforcerPath(x expected) (string, error) {
	res, ok := resources[x.kind]
	if !ok {
		return "", fmt.Errorf("bouncer renders a %s, which the audit cannot read", x.kind)
	}
	apiVersion, _ := x.rendered["apiVersion"].(string)
	group, version, _ := strings.Cut(apiVersion, "/")
	return resourcePath(group, version, res, "", x.name), nil
}

// created is an object's creationTimestamp.
func created(obj map[string]any) time.Time {
	meta, _ := obj["metadata"].(map[string]any)
	s, _ := meta["creationTimestamp"].(string)
	t, _ := time.Parse(time.RFC3339, s)
	return t
}

// compare says how the live object differs from what the policy renders.
// Webhook configurations are compared webhook by webhook without where they
// point and their timeout (the deployment's choices, given to
// webhookconfig as flags), and their caBundle must trust something. The
// admission policies and bindings are compared by spec.
func compare(x expected, live map[string]any, now time.Time) []string {
	var problems []string
	if ws, ok := x.rendered["webhooks"].([]any); ok {
		lws, _ := live["webhooks"].([]any)
		if len(lws) != len(ws) {
			return []string{fmt.Sprintf("drifted: %d webhooks where the policy renders %d", len(lws), len(ws))}
		}
		for i := range ws {
			w, _ := ws[i].(map[string]any)
			lw, _ := lws[i].(map[string]any)
			if lw == nil {
				return []string{fmt.Sprintf("drifted: webhooks[%d] is not an object", i)}
			}
			if p := caProblem(lw, now); p != "" {
				problems = append(problems, fmt.Sprintf("webhooks[%d] (%v): %s", i, lw["name"], p))
			}
			if d := diff(strip(w), strip(lw), fmt.Sprintf("webhooks[%d]", i)); d != "" {
				problems = append(problems, "drifted from what the policy renders: "+d)
			}
		}
		return problems
	}
	if d := diff(x.rendered["spec"], live["spec"], "spec"); d != "" {
		problems = append(problems, "drifted from what the policy renders: "+d)
	}
	return problems
}

// strip drops a webhook's fields that are the deployment's, not the policy's.
func strip(w map[string]any) map[string]any {
	out := make(map[string]any, len(w))
	for k, v := range w {
		if k != "clientConfig" && k != "timeoutSeconds" {
			out[k] = v
		}
	}
	return out
}

// caProblem says why the API server could not trust the webhook's server,
// "" when it can. A URL without a caBundle is verified against the system
// roots, as a Cloud Run URL is; a Service never is.
func caProblem(w map[string]any, now time.Time) string {
	cc, _ := w["clientConfig"].(map[string]any)
	b64, _ := cc["caBundle"].(string)
	if b64 == "" {
		if cc["service"] != nil {
			return "caBundle is empty: the API server verifies an in-cluster Service's certificate against its system roots, which never trust it, so every call fails open"
		}
		return ""
	}
	pemBytes, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "caBundle is not base64: " + err.Error()
	}
	if err := webhookconfig.CheckCABundle(pemBytes, now); err != nil {
		return "caBundle " + err.Error() + "; every call fails open"
	}
	return ""
}

// defaults are the values the API server gives fields the generators leave
// out; a field absent on one side compares equal to its default.
var defaults = map[string]any{
	"scope":              "*",
	"matchPolicy":        "Equivalent",
	"namespaceSelector":  map[string]any{},
	"objectSelector":     map[string]any{},
	"failurePolicy":      "Fail",
	"reinvocationPolicy": "Never",
}

// diff returns the first difference between want and got as a JSON path,
// "" when they are equal but for the API server's defaults. Every field
// counts, extra ones too: a namespaceSelector or matchResources added by
// hand exempts as surely as a deleted rule.
func diff(want, got any, path string) string {
	if empty(want) && empty(got) {
		return ""
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return path + " is not an object"
		}
		keys := map[string]bool{}
		for k := range w {
			keys[k] = true
		}
		for k := range g {
			keys[k] = true
		}
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			wv, wok := w[k]
			gv, gok := g[k]
			if !wok {
				wv = defaults[k]
			}
			if !gok {
				gv = defaults[k]
			}
			if d := diff(wv, gv, path+"."+k); d != "" {
				return d
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s has %d items, the policy renders %d", path, lenOf(got), len(w))
		}
		for i := range w {
			if d := diff(w[i], g[i], fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
		return ""
	default:
		if fmt.Sprint(want) != fmt.Sprint(got) {
			return fmt.Sprintf("%s is %s, the policy renders %s", path, short(got), short(want))
		}
		return ""
	}
}

func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	case string:
		return x == ""
	}
	return false
}

func lenOf(v any) int {
	if l, ok := v.([]any); ok {
		return len(l)
	}
	return 0
}

// short prints a value for a finding, cut: these are the cluster's
// configurations, not user content, but a long expression helps no one.
func short(v any) string {
	data, _ := json.Marshal(v)
	s := string(data)
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}
