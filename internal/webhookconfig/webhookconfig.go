// Package webhookconfig renders bouncer's Validating and Mutating webhook
// configurations from the policy. It is the only generator: the CLI, the
// Makefile, Cloud Build, the e2e suite and webhookconfig/ all use it.
package webhookconfig

import (
	"bytes"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"bouncer.dev/bouncer/internal/kube"
	"bouncer.dev/bouncer/internal/policy"
	"sigs.k8s.io/yaml"
)

// DefaultTimeoutSeconds is the shipped timeout. The API server waits this
// long per call before failing open, and a write can wait for mutate (twice,
// with reinvocation) and validate. The process answers its first review
// within about 10 ms of exec (docs/benchmarks.md); a scale-from-zero start on Cloud Run or Knative
// adds the platform's container start, typically under 2 s for a small
// static image. 3 s covers that, as Gatekeeper's default does, while keeping
// the worst case for a dead service at about 9 s per write.
const DefaultTimeoutSeconds = 3

// Names of the generated objects and webhooks.
const (
	ValidatingName = "bouncer-validate"
	MutatingName   = "bouncer-mutate"
	ValidateHook   = "validate.bouncer.dev"
	MutateHook     = "mutate.bouncer.dev"
)

// Options are the deployment's facts the policy does not know.
type Options struct {
	// URL is the service's base URL; /validate and /mutate are appended.
	URL string
	// Service is an in-cluster Service, "namespace/name" or
	// "namespace/name:port", used instead of URL where bouncer runs as a
	// plain Deployment. Its certificate must be valid for name.namespace.svc.
	Service string
	// CABundle is the PEM CA for a private certificate; nil for publicly
	// trusted URLs such as Cloud Run's.
	CABundle []byte
	// TimeoutSeconds is 1 to 30; 0 means DefaultTimeoutSeconds.
	TimeoutSeconds int32
	// Only is "validating" or "mutating" to render one configuration, as
	// where validation runs in-process (bouncer compile --only validating).
	Only string
}

// Build returns the two configurations.
func Build(p *policy.Policy, o Options) (*kube.ValidatingWebhookConfiguration, *kube.MutatingWebhookConfiguration, error) {
	client, err := clientConfig(o)
	if err != nil {
		return nil, nil, err
	}
	timeout := o.TimeoutSeconds
	if timeout == 0 {
		timeout = DefaultTimeoutSeconds
	}
	if timeout < 1 || timeout > 30 {
		return nil, nil, fmt.Errorf("--timeout: %d is out of range: the API server accepts 1 to 30 seconds", timeout)
	}
	objSel, conds, err := Exemptions(&p.Exempt)
	if err != nil {
		return nil, nil, err
	}
	nsSel := NamespaceSelector(p.Exempt.Namespaces)
	ignore := kube.Ignore
	none := kube.SideEffectClassNone
	equivalent := kube.Equivalent
	meta := func(name string) kube.ObjectMeta {
		return kube.ObjectMeta{Name: name, Labels: map[string]string{"app.kubernetes.io/name": "bouncer", "app.kubernetes.io/managed-by": "bouncer-webhookconfig"}}
	}
	v := &kube.ValidatingWebhookConfiguration{
		TypeMeta:   kube.TypeMeta{APIVersion: kube.GroupVersion, Kind: "ValidatingWebhookConfiguration"},
		ObjectMeta: meta(ValidatingName),
		Webhooks: []kube.ValidatingWebhook{{
			Name:                    ValidateHook,
			ClientConfig:            client("/validate"),
			Rules:                   Rules(p.KindsFor(false)),
			FailurePolicy:           &ignore,
			MatchPolicy:             &equivalent,
			NamespaceSelector:       nsSel,
			ObjectSelector:          objSel,
			SideEffects:             &none,
			TimeoutSeconds:          &timeout,
			AdmissionReviewVersions: []string{"v1"},
			MatchConditions:         conds,
		}},
	}
	reinvoke := kube.IfNeededReinvocationPolicy
	m := &kube.MutatingWebhookConfiguration{
		TypeMeta:   kube.TypeMeta{APIVersion: kube.GroupVersion, Kind: "MutatingWebhookConfiguration"},
		ObjectMeta: meta(MutatingName),
		Webhooks: []kube.MutatingWebhook{{
			Name:                    MutateHook,
			ClientConfig:            client("/mutate"),
			Rules:                   Rules(p.KindsFor(true)),
			FailurePolicy:           &ignore,
			MatchPolicy:             &equivalent,
			NamespaceSelector:       nsSel,
			ObjectSelector:          objSel,
			SideEffects:             &none,
			TimeoutSeconds:          &timeout,
			AdmissionReviewVersions: []string{"v1"},
			// Mutation is idempotent, so a later webhook's change can safely
			// bring bouncer back to complete the labels again.
			ReinvocationPolicy: &reinvoke,
			MatchConditions:    conds,
		}},
	}
	return v, m, nil
}

// Render returns both configurations as one multi-document YAML stream.
func Render(p *policy.Policy, o Options) ([]byte, error) {
	v, m, err := Build(p, o)
	if err != nil {
		return nil, err
	}
	objs := []any{v, m}
	switch o.Only {
	case "":
	case "validating":
		objs = objs[:1]
	case "mutating":
		objs = objs[1:]
	default:
		return nil, fmt.Errorf("--only %q: want validating or mutating", o.Only)
	}
	return Documents("# Do not edit: regenerate with the command above (make webhookconfig).\n", objs)
}

// Documents renders objects as one multi-document YAML stream after header.
func Documents(header string, objs []any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(header)
	for i, obj := range objs {
		out, err := yaml.Marshal(obj)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(out)
	}
	return buf.Bytes(), nil
}

// clientConfig returns how the API server reaches each function.
func clientConfig(o Options) (func(path string) kube.WebhookClientConfig, error) {
	if (o.URL == "") == (o.Service == "") {
		return nil, fmt.Errorf("give exactly one of --url (such as https://bouncer-abc123-ew.a.run.app) and --service (such as bouncer-system/bouncer)")
	}
	if o.Service != "" {
		ns, rest, ok := strings.Cut(o.Service, "/")
		name, portStr, hasPort := strings.Cut(rest, ":")
		port := int64(443)
		if hasPort {
			var err error
			if port, err = strconv.ParseInt(portStr, 10, 32); err != nil || port < 1 || port > 65535 {
				ok = false
			}
		}
		if !ok || ns == "" || name == "" {
			return nil, fmt.Errorf("--service %q: want NAMESPACE/NAME or NAMESPACE/NAME:PORT", o.Service)
		}
		p32 := int32(port)
		return func(path string) kube.WebhookClientConfig {
			return kube.WebhookClientConfig{Service: &kube.ServiceReference{Namespace: ns, Name: name, Path: &path, Port: &p32}, CABundle: o.CABundle}
		}, nil
	}
	base, err := checkURL(o.URL)
	if err != nil {
		return nil, err
	}
	return func(path string) kube.WebhookClientConfig {
		u := base + path
		return kube.WebhookClientConfig{URL: &u, CABundle: o.CABundle}
	}, nil
}

// checkURL applies the API server's rules for a webhook URL.
func checkURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "", fmt.Errorf("--url %q: %v", raw, err)
	case u.Scheme != "https":
		return "", fmt.Errorf("--url %q: the API server calls webhooks over https only", raw)
	case u.Host == "":
		return "", fmt.Errorf("--url %q: no host", raw)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return "", fmt.Errorf("--url %q: must have no user info, query or fragment", raw)
	}
	return strings.TrimSuffix(raw, "/"), nil
}

// Rules lists the kinds, grouped by API group and version, for CREATE and UPDATE.
func Rules(kinds []*policy.Kind) []kube.RuleWithOperations {
	type gv struct{ g, v string }
	byGV := map[gv][]string{}
	var order []gv
	for _, k := range kinds {
		key := gv{k.Group, k.Version}
		if byGV[key] == nil {
			order = append(order, key)
		}
		byGV[key] = append(byGV[key], k.Resource)
	}
	scope := kube.AllScopes
	out := make([]kube.RuleWithOperations, 0, len(order))
	for _, key := range order {
		res := byGV[key]
		sort.Strings(res)
		out = append(out, kube.RuleWithOperations{
			Operations: []kube.OperationType{kube.Create, kube.Update},
			Rule:       kube.Rule{APIGroups: []string{key.g}, APIVersions: []string{key.v}, Resources: res, Scope: &scope},
		})
	}
	return out
}

func NamespaceSelector(ns map[string]bool) *kube.LabelSelector {
	names := make([]string, 0, len(ns))
	for n := range ns {
		names = append(names, n)
	}
	sort.Strings(names)
	return &kube.LabelSelector{MatchExpressions: []kube.LabelSelectorRequirement{{
		Key: "kubernetes.io/metadata.name", Operator: kube.LabelSelectorOpNotIn, Values: names,
	}}}
}

// Exemptions compiles the object selector and users and groups so that
// exempt requests never leave the API server. An objectSelector selects
// what is sent, so the exemption is negated: one requirement negates into
// one; a selector of several (an AND) negates into an OR, which only a CEL
// match condition can say.
func Exemptions(e *policy.Exemption) (*kube.LabelSelector, []kube.MatchCondition, error) {
	var conds []kube.MatchCondition
	var objSel *kube.LabelSelector
	if s := e.Spec.ObjectSelector; s != nil {
		reqs := SelectorRequirements(s)
		if len(reqs) == 1 {
			objSel = &kube.LabelSelector{MatchExpressions: []kube.LabelSelectorRequirement{negate(reqs[0])}}
		} else {
			conds = append(conds, kube.MatchCondition{Name: "not-exempt-object", Expression: "!(" + SelectorCEL("object", reqs) + ")"})
		}
	}
	if len(e.Spec.Users) > 0 {
		conds = append(conds, kube.MatchCondition{Name: "not-exempt-user",
			Expression: "!(request.userInfo.username in " + CELStrings(e.Spec.Users) + ")"})
	}
	if len(e.Spec.Groups) > 0 {
		conds = append(conds, kube.MatchCondition{Name: "not-exempt-group",
			Expression: "!request.userInfo.groups.exists(g, g in " + CELStrings(e.Spec.Groups) + ")"})
	}
	return objSel, conds, nil
}

// SelectorRequirements flattens matchLabels into In requirements, in order.
func SelectorRequirements(s *kube.LabelSelector) []kube.LabelSelectorRequirement {
	keys := make([]string, 0, len(s.MatchLabels))
	for k := range s.MatchLabels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []kube.LabelSelectorRequirement
	for _, k := range keys {
		out = append(out, kube.LabelSelectorRequirement{Key: k, Operator: kube.LabelSelectorOpIn, Values: []string{s.MatchLabels[k]}})
	}
	return append(out, s.MatchExpressions...)
}

func negate(r kube.LabelSelectorRequirement) kube.LabelSelectorRequirement {
	ops := map[kube.LabelSelectorOperator]kube.LabelSelectorOperator{
		kube.LabelSelectorOpIn:           kube.LabelSelectorOpNotIn,
		kube.LabelSelectorOpNotIn:        kube.LabelSelectorOpIn,
		kube.LabelSelectorOpExists:       kube.LabelSelectorOpDoesNotExist,
		kube.LabelSelectorOpDoesNotExist: kube.LabelSelectorOpExists,
	}
	r.Operator = ops[r.Operator]
	return r
}

// SelectorCEL renders label selector requirements on obj's labels as CEL.
func SelectorCEL(obj string, reqs []kube.LabelSelectorRequirement) string {
	labels := obj + ".metadata.labels"
	has := "has(" + obj + ".metadata.labels)"
	var parts []string
	for _, r := range reqs {
		key := strconv.Quote(r.Key)
		switch r.Operator {
		case kube.LabelSelectorOpIn:
			parts = append(parts, fmt.Sprintf("(%s && %s in %s && %s[%s] in %s)", has, key, labels, labels, key, CELStrings(r.Values)))
		case kube.LabelSelectorOpNotIn:
			parts = append(parts, fmt.Sprintf("!(%s && %s in %s && %s[%s] in %s)", has, key, labels, labels, key, CELStrings(r.Values)))
		case kube.LabelSelectorOpExists:
			parts = append(parts, fmt.Sprintf("(%s && %s in %s)", has, key, labels))
		case kube.LabelSelectorOpDoesNotExist:
			parts = append(parts, fmt.Sprintf("!(%s && %s in %s)", has, key, labels))
		}
	}
	return strings.Join(parts, " && ")
}

// CELStrings renders a CEL list of string literals.
func CELStrings(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
