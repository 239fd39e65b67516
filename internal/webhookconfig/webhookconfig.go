// Package webhookconfig renders bouncer's Validating and Mutating webhook
// configurations from the policy, as k8s.io/api objects. It is the only
// generator: the CLI, the Makefile, Cloud Build, the e2e suite and
// webhookconfig/ all use it. Which requests each webhook receives is
// internal/match's to say; this package adds how the API server reaches
// the functions and how it fails.
package webhookconfig

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"bouncer.dev/bouncer/internal/guard"
	"bouncer.dev/bouncer/internal/manifest"
	"bouncer.dev/bouncer/internal/match"
	"bouncer.dev/bouncer/internal/policy"
	admregv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// DefaultTimeoutSeconds is the shipped timeout: how long the API server
// waits for each call before failing open. docs/operations.md ("The fail-open
// window") weighs it against the measured cold starts in docs/.
const DefaultTimeoutSeconds = 3

// Names of the generated objects and webhooks.
const (
	ValidatingName = "bouncer-validate"
	MutatingName   = "bouncer-mutate"
	ValidateHook   = "validate.bouncer.dev"
	MutateHook     = "mutate.bouncer.dev"
)

// ManagedBy is the app.kubernetes.io/managed-by label of what this package
// renders.
const ManagedBy = "bouncer-webhookconfig"

// InjectCAAnnotation asks cert-manager's CA injector to keep each webhook's
// caBundle equal to a Certificate's CA, through every renewal.
const InjectCAAnnotation = "cert-manager.io/inject-ca-from"

// Options are the deployment's facts the policy does not know. Errors name
// them as Options.Field; a command maps those names to its own flags.
type Options struct {
	// URL is the service's base URL; /validate and /mutate are appended.
	URL string
	// Service is an in-cluster Service, "namespace/name", with an optional
	// ":port" and "/path" prefix, used instead of URL where bouncer runs as a
	// plain Deployment. Its certificate must be valid for name.namespace.svc.
	Service string
	// CABundle is the PEM CA for a private certificate; nil for publicly
	// trusted URLs such as Cloud Run's. Given, even empty, it must hold one
	// or more PEM certificates.
	CABundle []byte
	// InjectCAFrom is a cert-manager Certificate, "namespace/name", whose CA
	// the injector writes into the caBundle and keeps current.
	InjectCAFrom string
	// CAInjectedExternally says that something else fills the caBundle of a
	// Service reference, such as OpenShift's service-ca operator. Without it
	// (or CABundle or InjectCAFrom) a Service reference is refused: the API
	// server would verify an in-cluster certificate against its system
	// roots, which never trust it, and every call would fail open.
	CAInjectedExternally bool
	// TimeoutSeconds is 1 to 30; 0 means DefaultTimeoutSeconds.
	TimeoutSeconds int32
	// Only, when set, renders that function's configuration alone, as where
	// validation runs in-process (bouncer compile --only validate).
	Only policy.Stage
}

// Build returns the two configurations.
func Build(p *policy.Policy, o Options) (*admregv1.ValidatingWebhookConfiguration, *admregv1.MutatingWebhookConfiguration, error) {
	client, err := clientConfig(o)
	if err != nil {
		return nil, nil, err
	}
	timeout := o.TimeoutSeconds
	if timeout == 0 {
		timeout = DefaultTimeoutSeconds
	}
	if timeout < 1 || timeout > 30 {
		return nil, nil, fmt.Errorf("Options.TimeoutSeconds: %d is out of range: the API server accepts 1 to 30 seconds", timeout)
	}
	if o.CABundle != nil {
		if err := CheckCABundle(o.CABundle, time.Now()); err != nil {
			return nil, nil, fmt.Errorf("Options.CABundle: %v", err)
		}
	}
	switch {
	case o.CAInjectedExternally && (len(o.CABundle) > 0 || o.InjectCAFrom != ""):
		return nil, nil, fmt.Errorf("Options.CAInjectedExternally says something else fills caBundle: give it without Options.CABundle and Options.InjectCAFrom")
	case o.Service != "" && len(o.CABundle) == 0 && o.InjectCAFrom == "" && !o.CAInjectedExternally:
		return nil, nil, fmt.Errorf("Options.Service needs the CA that verifies the Service's certificate: give Options.CABundle, or Options.InjectCAFrom for cert-manager's CA injector, " +
			"or Options.CAInjectedExternally when another injector (such as OpenShift's service-ca) fills caBundle; without one the API server verifies " +
			"the certificate against its system roots, which never trust an in-cluster certificate, and every call fails open")
	}
	if o.InjectCAFrom != "" {
		if err := checkRef(o.InjectCAFrom); err != nil {
			return nil, nil, fmt.Errorf("Options.InjectCAFrom %q: %v", o.InjectCAFrom, err)
		}
		if len(o.CABundle) > 0 {
			return nil, nil, fmt.Errorf("give Options.CABundle or Options.InjectCAFrom, not both: the injector would overwrite the bundle")
		}
	}
	meta := func(name string) metav1.ObjectMeta {
		m := manifest.Meta(name, ManagedBy)
		if o.InjectCAFrom != "" {
			m.Annotations = map[string]string{InjectCAAnnotation: o.InjectCAFrom}
		}
		return m
	}
	ignore := admregv1.Ignore
	none := admregv1.SideEffectClassNone
	equivalent := admregv1.Equivalent
	vs, ms := match.WebhookScope(p, policy.Validation), match.WebhookScope(p, policy.Mutation)
	v := &admregv1.ValidatingWebhookConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: admregv1.SchemeGroupVersion.String(), Kind: "ValidatingWebhookConfiguration"},
		ObjectMeta: meta(ValidatingName),
		Webhooks: []admregv1.ValidatingWebhook{{
			Name:                    ValidateHook,
			ClientConfig:            client("/validate"),
			Rules:                   vs.Rules,
			FailurePolicy:           &ignore,
			MatchPolicy:             &equivalent,
			NamespaceSelector:       vs.NamespaceSelector,
			ObjectSelector:          vs.ObjectSelector,
			SideEffects:             &none,
			TimeoutSeconds:          &timeout,
			AdmissionReviewVersions: []string{"v1"},
			MatchConditions:         vs.Conditions,
		}},
	}
	reinvoke := admregv1.IfNeededReinvocationPolicy
	m := &admregv1.MutatingWebhookConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: admregv1.SchemeGroupVersion.String(), Kind: "MutatingWebhookConfiguration"},
		ObjectMeta: meta(MutatingName),
		Webhooks: []admregv1.MutatingWebhook{{
			Name:                    MutateHook,
			ClientConfig:            client("/mutate"),
			Rules:                   ms.Rules,
			FailurePolicy:           &ignore,
			MatchPolicy:             &equivalent,
			NamespaceSelector:       ms.NamespaceSelector,
			ObjectSelector:          ms.ObjectSelector,
			SideEffects:             &none,
			TimeoutSeconds:          &timeout,
			AdmissionReviewVersions: []string{"v1"},
			// Mutation is idempotent, so a later webhook's change can safely
			// bring bouncer back to complete the labels again.
			ReinvocationPolicy: &reinvoke,
			MatchConditions:    ms.Conditions,
		}},
	}
	return v, m, nil
}

// Render returns the namespace guard (internal/guard) and the
// configurations as one multi-document YAML stream.
func Render(p *policy.Policy, o Options) ([]byte, error) {
	v, m, err := Build(p, o)
	if err != nil {
		return nil, err
	}
	// The namespace guard comes first, with every configuration: the
	// namespace exemption is only as strong as it, and it must be in place
	// before the webhooks are.
	objs := guard.Build(p, ManagedBy)
	switch o.Only {
	case 0:
		objs = append(objs, v, m)
	case policy.Validation:
		objs = append(objs, v)
	case policy.Mutation:
		objs = append(objs, m)
	}
	return manifest.Documents("# Do not edit: regenerate with the command above (make webhookconfig).\n", objs)
}

// clientConfig returns how the API server reaches each function.
func clientConfig(o Options) (func(path string) admregv1.WebhookClientConfig, error) {
	if (o.URL == "") == (o.Service == "") {
		return nil, fmt.Errorf("give exactly one of Options.URL (such as https://bouncer-abc123-ew.a.run.app) and Options.Service (such as bouncer-system/bouncer)")
	}
	if o.Service != "" {
		ref, err := parseService(o.Service)
		if err != nil {
			return nil, fmt.Errorf("Options.Service %q: %v", o.Service, err)
		}
		return func(path string) admregv1.WebhookClientConfig {
			s := *ref
			full := strings.TrimSuffix(*ref.Path, "/") + path
			s.Path = &full
			return admregv1.WebhookClientConfig{Service: &s, CABundle: o.CABundle}
		}, nil
	}
	base, err := checkURL(o.URL)
	if err != nil {
		return nil, err
	}
	return func(path string) admregv1.WebhookClientConfig {
		u := base + path
		return admregv1.WebhookClientConfig{URL: &u, CABundle: o.CABundle}
	}, nil
}

// parseService reads NAMESPACE/NAME[:PORT][/PATH] and applies the rules a
// Service reference must meet to work: the API server checks the port and
// path when the configuration is created (ValidateWebhookService), and only
// a Service with a DNS-1035 name in a DNS-1123 namespace can exist.
func parseService(s string) (*admregv1.ServiceReference, error) {
	ns, rest, ok := strings.Cut(s, "/")
	if !ok || ns == "" || rest == "" {
		return nil, fmt.Errorf("want NAMESPACE/NAME, NAMESPACE/NAME:PORT or NAMESPACE/NAME:PORT/PATH")
	}
	hostPort, path, hasPath := strings.Cut(rest, "/")
	name, portStr, hasPort := strings.Cut(hostPort, ":")
	if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
		return nil, fmt.Errorf("namespace %q: %s", ns, strings.Join(msgs, "; "))
	}
	if msgs := validation.IsDNS1035Label(name); len(msgs) > 0 {
		return nil, fmt.Errorf("service name %q: %s", name, strings.Join(msgs, "; "))
	}
	port := int32(443)
	if hasPort {
		n, err := strconv.Atoi(portStr)
		if err != nil || len(validation.IsValidPortNum(n)) > 0 {
			return nil, fmt.Errorf("port %q: must be a number from 1 to 65535", portStr)
		}
		port = int32(n)
	}
	prefix := ""
	if hasPath {
		prefix = "/" + path
		if err := checkServicePath(prefix + "/validate"); err != nil {
			return nil, fmt.Errorf("path %q: %v", prefix, err)
		}
	}
	return &admregv1.ServiceReference{Namespace: ns, Name: name, Port: &port, Path: &prefix}, nil
}

// checkServicePath applies the API server's rule for a service path: every
// segment a DNS-1123 subdomain (k8s.io/apiserver pkg/util/webhook).
func checkServicePath(p string) error {
	for i, seg := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		if seg == "" {
			return fmt.Errorf("segment %d is empty", i)
		}
		if msgs := validation.IsDNS1123Subdomain(seg); len(msgs) > 0 {
			return fmt.Errorf("segment %d (%q): %s", i, seg, strings.Join(msgs, "; "))
		}
	}
	return nil
}

// checkRef checks a NAMESPACE/NAME reference to a cert-manager Certificate.
func checkRef(s string) error {
	ns, name, ok := strings.Cut(s, "/")
	if !ok {
		return fmt.Errorf("want NAMESPACE/CERTIFICATE")
	}
	if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
		return fmt.Errorf("namespace %q: %s", ns, strings.Join(msgs, "; "))
	}
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		return fmt.Errorf("certificate %q: %s", name, strings.Join(msgs, "; "))
	}
	return nil
}

// checkURL applies the API server's rules for a webhook URL.
func checkURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "", fmt.Errorf("Options.URL %q: %v", raw, err)
	case u.Scheme != "https":
		return "", fmt.Errorf("Options.URL %q: the API server calls webhooks over https only", raw)
	case u.Host == "":
		return "", fmt.Errorf("Options.URL %q: no host", raw)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return "", fmt.Errorf("Options.URL %q: must have no user info, query or fragment", raw)
	}
	return strings.TrimSuffix(raw, "/"), nil
}
