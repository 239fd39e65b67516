//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"bouncer.dev/bouncer/e2e/framework"
)

// TestDeployKnativeRegistersOnlyAServiceTheAPIServerCanReach runs `make
// deploy-knative` against the real API server, with Knative's CRDs and
// ConfigMaps but no Knative controller: a stand-in writes the Service's
// status (its URL, Ready) as Knative would. Wherever the API server could
// not call the Service (the cluster-local default domain, no TLS, a host
// without DNS) the target stops with a message saying so, and registers
// nothing; with all of them in place, it registers the webhooks at the URL.
func TestDeployKnativeRegistersOnlyAServiceTheAPIServerCanReach(t *testing.T) {
	needWebhook(t, "the Knative deployment path")
	if env.Provider != "local" {
		t.Skip("installs Knative's CRD and ConfigMaps: run with the local provider")
	}
	installKnativeCRDs(t)
	t.Cleanup(func() {
		_, _, _ = env.K("-n", "bouncer-system", "delete", "ksvc", "bouncer", "--ignore-not-found")
		_, _, _ = env.K("-n", "knative-serving", "delete", "configmap", "config-domain", "config-network", "--ignore-not-found")
		if err := installMain(); err != nil {
			t.Errorf("restoring the configurations: %v", err)
		}
	})
	if _, errOut, err := env.K("create", "namespace", "knative-serving"); err != nil && !contains(errOut, "AlreadyExists") {
		t.Fatal(errOut)
	}
	configure := func(domain, tls string) {
		t.Helper()
		for _, args := range [][]string{
			{"-n", "knative-serving", "create", "configmap", "config-domain", "--from-literal=" + domain + "=", "--dry-run=client", "-o", "yaml"},
			{"-n", "knative-serving", "create", "configmap", "config-network", "--from-literal=external-domain-tls=" + tls, "--dry-run=client", "-o", "yaml"},
		} {
			y, errOut, err := env.K(args...)
			if err != nil {
				t.Fatal(errOut)
			}
			if _, errOut, err := env.KIn(y, "apply", "-f", "-"); err != nil {
				t.Fatal(errOut)
			}
		}
	}
	registeredURL := func() string {
		out, _, _ := env.K("get", "validatingwebhookconfiguration", "bouncer-validate", "-o", "jsonpath={.webhooks[0].clientConfig.url}")
		return out
	}
	before := registeredURL()
	cases := []struct {
		name, domain, tls, statusURL, want string
		caBundle                           string
		registers                          bool
	}{
		{"the default cluster-local domain stops it before anything is applied", "_example", "Disabled", "", "the Knative domain is svc.cluster.local", "", false},
		{"an external domain without TLS stops it before anything is applied", "run.example.com", "Disabled", "", "knative serves run.example.com over http", "", false},
		{"a URL whose host does not resolve stops it after the Service is Ready", "run.example.com", "Enabled", "https://bouncer.bouncer-system.nowhere.invalid", "does not resolve", "", false},
		{"an http URL stops it after the Service is Ready", "run.example.com", "Enabled", "http://localhost", "the API server calls webhooks over https only", "", false},
		{"a certificate the API server would not trust stops it after the Service is Ready", "run.example.com", "Enabled", env.URL, "does not verify against the system's roots", "", false},
		{"an https URL that resolves, with a certificate its CA_BUNDLE verifies, is registered", "run.example.com", "Enabled", env.URL, "", env.CABundle, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, _ = env.K("-n", "bouncer-system", "delete", "ksvc", "bouncer", "--ignore-not-found", "--wait")
			configure(c.domain, c.tls)
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() { defer close(done); actAsKnative(c.statusURL, stop) }()
			args := []string{"-C", "..", "deploy-knative", "IMAGE=registry.example.com/bouncer@sha256:0000000000000000000000000000000000000000000000000000000000000000", "KUBECTL=" + env.Kubectl}
			if c.caBundle != "" {
				args = append(args, "CA_BUNDLE="+c.caBundle)
			}
			// The stand-in's URL and certificate are final from the start:
			// nothing to wait for, unlike Knative issuing one and an
			// ingress loading it.
			args = append(args, "TLS_WAIT=2s", "CERT_WAIT=2")
			out, errOut, err := framework.Run(context.Background(), 8*time.Minute, []string{"KUBECONFIG=" + env.Kubeconfig}, nil, "make", args...)
			close(stop)
			<-done
			if c.registers {
				if err != nil {
					t.Fatalf("make deploy-knative failed: %v\n%s%s", err, out, errOut)
				}
				if got := registeredURL(); got != c.statusURL+"/validate" {
					t.Errorf("the validating webhook calls %q, want %q", got, c.statusURL+"/validate")
				}
				return
			}
			if err == nil || !strings.Contains(out+errOut, c.want) {
				t.Fatalf("make deploy-knative: err=%v\n%s%s\nwant it to stop with %q", err, out, errOut, c.want)
			}
			if got := registeredURL(); got != before {
				t.Errorf("the webhooks were registered at %q (were %q) although the Service is unreachable", got, before)
			}
			if c.statusURL == "" {
				if _, errOut, err := env.K("-n", "bouncer-system", "get", "ksvc", "bouncer"); err == nil || !contains(errOut, "NotFound") {
					t.Errorf("the Service was applied although the check runs before anything: %v %s", err, errOut)
				}
			}
			t.Logf("stopped: %s", lastLine(out+errOut, c.want))
		})
	}
}

// actAsKnative marks the Knative Service Ready with url, as Knative's
// controller would once it has routed it, until stop is closed.
func actAsKnative(url string, stop chan struct{}) {
	if url == "" {
		return
	}
	status := fmt.Sprintf(`{"status":{"url":%q,"conditions":[{"type":"Ready","status":"True"}]}}`, url)
	for {
		select {
		case <-stop:
			return
		case <-time.After(500 * time.Millisecond):
		}
		if _, _, err := env.K("-n", "bouncer-system", "patch", "ksvc", "bouncer", "--subresource=status", "--type=merge", "-p", status); err == nil {
			return
		}
	}
}

func lastLine(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}
