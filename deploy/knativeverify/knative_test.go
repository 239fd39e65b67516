// Package knativeverify checks bouncer's Knative rendering with Knative's
// own code: (*v1.Service).SetDefaults and Validate from knative.dev/serving,
// what Knative's admission webhook runs on every Service, as
// https://knative.dev/docs/serving/ describes. The CRD's schema is checked
// separately, by a server-side dry-run in the e2e suite.
package knativeverify

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"knative.dev/pkg/apis"
	"knative.dev/serving/pkg/apis/config"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/yaml"
)

const image = "registry.example.com/bouncer@sha256:0000000000000000000000000000000000000000000000000000000000000000"

// render runs the project's render step, the one the Makefile uses.
func render(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"run", "./render", "--platform", "knative", "--image", image}, args...)...)
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("render: %v\n%s", err, msg)
	}
	return string(out)
}

// knativeErrors decodes the Service strictly into Knative's type, defaults
// it and validates it as Knative's webhook does on create, and returns the
// errors (warnings, such as a missing securityContext, are not errors).
func knativeErrors(t *testing.T, doc string) (*v1.Service, error) {
	t.Helper()
	var svc v1.Service
	if err := yaml.UnmarshalStrict([]byte(doc), &svc); err != nil {
		t.Fatalf("the rendering does not decode into knative.dev/serving's v1.Service: %v", err)
	}
	ctx := config.ToContext(apis.WithinCreate(context.Background()), config.FromContextOrDefaults(context.Background()))
	svc.SetDefaults(ctx)
	if fe := svc.Validate(ctx).Filter(apis.ErrorLevel); fe != nil {
		return &svc, fe
	}
	return &svc, nil
}

func TestKnativeAcceptsTheRenderedService(t *testing.T) {
	for _, args := range [][]string{nil, {"--policy-secret", "bouncer-policy"}, {"--policy-configmap", "bouncer-policy"}} {
		t.Run(strings.Join(append([]string{"render"}, args...), " "), func(t *testing.T) {
			svc, err := knativeErrors(t, render(t, args...))
			if err != nil {
				t.Fatalf("Knative's validation refuses the rendering: %v", err)
			}
			c := svc.Spec.Template.Spec.Containers[0]
			// The queue-proxy probes aggressively only when the readiness
			// probe's period is 0 (knative.dev/serving pkg/queue/readiness,
			// shouldProbeAggressively); a startup probe is not wanted either.
			if c.ReadinessProbe == nil || c.ReadinessProbe.PeriodSeconds != 0 {
				t.Errorf("readiness probe after Knative's defaults: %+v; want periodSeconds 0, so cold starts are probed every 50 ms", c.ReadinessProbe)
			}
			if c.StartupProbe != nil {
				t.Errorf("a startup probe: %+v", c.StartupProbe)
			}
			if svc.Spec.Template.Spec.ContainerConcurrency == nil || *svc.Spec.Template.Spec.ContainerConcurrency == 0 {
				t.Errorf("containerConcurrency was lost: %v", svc.Spec.Template.Spec.ContainerConcurrency)
			}
		})
	}
}

// TestKnativeRefusesABrokenRendering shows the check can fail: each broken
// variant of the rendering is refused by Knative's own code.
func TestKnativeRefusesABrokenRendering(t *testing.T) {
	good := render(t)
	tests := []struct {
		name, from, to, want string
	}{
		{"a request timeout over Knative's 600 s maximum", "timeoutSeconds: 10", "timeoutSeconds: 3600", "timeoutSeconds"},
		{"a concurrency over 1000", "containerConcurrency: 100", "containerConcurrency: 1001", "containerConcurrency"},
		{"a scale annotation on the Service instead of its template", "  name: bouncer\n", "  name: bouncer\n  annotations:\n    autoscaling.knative.dev/minScale: \"1\"\n", "minScale"},
		{"a readiness probe with a failure threshold but no period", "        readinessProbe:\n          httpGet:\n", "        readinessProbe:\n          failureThreshold: 3\n          httpGet:\n", "failureThreshold"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			broken := strings.Replace(good, tt.from, tt.to, 1)
			if broken == good {
				t.Fatalf("the rendering has no %q to break:\n%s", tt.from, good)
			}
			_, err := knativeErrors(t, broken)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Knative's validation: %v; want an error about %s", err, tt.want)
			}
		})
	}
}
