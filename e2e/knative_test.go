//go:build e2e

package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"bouncer.dev/bouncer/e2e/framework"
	"bouncer.dev/bouncer/internal/webhookconfig"
)

// The slow write load of the issue: five writes a second, each in its own
// request, for long enough to outlast a cold start.
const (
	knativeRate     = 5
	knativeLoadTime = 20 * time.Second
)

// TestKnativeColdStartsThroughTheActivator measures what the design claims:
// bouncer as a scale-to-zero Knative Service, deployed by `make
// deploy-knative`, behind Traefik with a certificate from cert-manager that
// the CA injector makes the API server trust. At zero, a call is held by
// Knative's activator while a Pod starts, so a write fails open only when
// the cold start outlasts timeoutSeconds. Under five writes a second through
// both webhooks it counts the writes that fail open with the shipped
// timeout and with 10 s, measures the cold start through the activator
// (the first held request to its answer), checks every other verdict, and
// with minScale 1 requires that nothing fails open.
func TestKnativeColdStartsThroughTheActivator(t *testing.T) {
	if env.Provider != "knative" {
		t.Skip("runs on the knative provider: make e2e-knative")
	}
	needWebhook(t, "measures the webhook on Knative")
	ns := "e2e-knative-load"
	if _, errOut, err := env.K("create", "namespace", ns); err != nil && !contains(errOut, "AlreadyExists") {
		t.Fatal(errOut)
	}
	image, _, _ := images()
	shipped := webhookconfig.DefaultTimeoutSeconds
	phases := []struct {
		name     string
		timeout  int
		minScale string
	}{
		{fmt.Sprintf("at zero with the shipped timeoutSeconds %d", shipped), shipped, "0"},
		{"at zero with timeoutSeconds 10", 10, "0"},
		{fmt.Sprintf("with minScale 1 and the shipped timeoutSeconds %d", shipped), shipped, "1"},
	}
	for i, p := range phases {
		t.Run(p.name, func(t *testing.T) {
			if err := env.InstallWebhooks(env.URL, p.timeout); err != nil {
				t.Fatal(err)
			}
			waitInjected(t)
			if p.minScale == "1" {
				setMinScale(t, "1")
				waitPods(t, 1, 3*time.Minute)
			} else {
				waitPods(t, 0, 4*time.Minute)
				if i == 0 {
					exemptAtZero(t)
				}
			}
			before, err := env.FailOpenCounts()
			if err != nil {
				t.Fatal(err)
			}
			probe := make(chan coldStart, 1)
			go func() { probe <- heldRequest(ns) }()
			load, err := env.StartRate(ns, knativeRate, image)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(knativeLoadTime)
			load.Drain()
			cs := <-probe
			after, err := env.FailOpenCounts()
			if err != nil {
				t.Fatal(err)
			}
			lat := load.Latencies()
			slices.Sort(lat)
			opened := load.MutateOpen.Load() + load.ValidateOpen.Load()
			first := "cold start through the activator"
			if p.minScale == "1" {
				first = "first request, warm"
			}
			t.Logf("FIGURE knative %s: %d writes at %d/s; %d failed open (mutate %d, validate %d of the writes without owner); "+
				"API server fail_open_count +%v mutate, +%v validate; %d other wrong verdicts, %d unanswered; "+
				"%s %v (%s); write latency median %v, max %v",
				p.name, load.Writes.Load(), knativeRate, opened, load.MutateOpen.Load(), load.ValidateOpen.Load(),
				after["mutate.bouncer.dev"]-before["mutate.bouncer.dev"], after["validate.bouncer.dev"]-before["validate.bouncer.dev"],
				load.Worse.Load(), load.Errors.Load(), first, cs.took.Round(time.Millisecond), cs.outcome,
				lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
			if cs.err != nil {
				t.Errorf("the held request got no verdict: %v", cs.err)
			}
			// A test may bound a duration to prove it ends: a cold start held
			// past two minutes is a hang, whatever the machine.
			if cs.took > 2*time.Minute {
				t.Errorf("the cold start through the activator took %v", cs.took)
			}
			if n := load.Worse.Load(); n > 0 {
				_, _, sample := load.WrongWindow()
				t.Errorf("%d writes that did not fail open got a wrong verdict; the last: %s", n, sample)
			}
			if n := load.Errors.Load(); n > 0 {
				t.Errorf("%d writes got no answer from the API server", n)
			}
			if p.minScale == "1" {
				if opened > 0 || after["mutate.bouncer.dev"] != before["mutate.bouncer.dev"] || after["validate.bouncer.dev"] != before["validate.bouncer.dev"] {
					t.Errorf("with minScale 1, %d writes failed open (API server counts %v -> %v)", opened, before, after)
				}
			}
		})
	}
}

// coldStart is the first held request's answer.
type coldStart struct {
	took    time.Duration
	outcome string
	err     error
}

// heldRequest posts an AdmissionReview of a Pod without owner straight to
// bouncer's /validate through Traefik and the activator, as the API server
// does but without its timeout, and times it to its answer: the cold start
// as a caller of the Knative Service sees it.
func heldRequest(ns string) coldStart {
	ca, err := os.ReadFile(env.CABundle)
	if err != nil {
		return coldStart{err: err}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return coldStart{err: fmt.Errorf("%s holds no PEM certificate", env.CABundle)}
	}
	client := &http.Client{Timeout: 3 * time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	review := map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": map[string]any{
		"uid": "6a3b2c1d-0000-4000-8000-000000000001", "kind": map[string]any{"group": "", "version": "v1", "kind": "Pod"},
		"resource":  map[string]any{"group": "", "version": "v1", "resource": "pods"},
		"namespace": ns, "name": "held", "operation": "CREATE", "userInfo": map[string]any{"username": "e2e"},
		"object": map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "held", "namespace": ns, "labels": map[string]any{"app": "held"}},
			"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": "x"}}}},
	}}
	body, _ := json.Marshal(review)
	start := time.Now()
	resp, err := client.Post(env.URL+"/validate", "application/json", bytes.NewReader(body))
	if err != nil {
		return coldStart{took: time.Since(start), err: err}
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	var got struct {
		Response struct {
			Allowed bool `json:"allowed"`
		} `json:"response"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(out, &got) != nil {
		return coldStart{took: took, err: fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, out)}
	}
	if got.Response.Allowed {
		return coldStart{took: took, err: fmt.Errorf("a Pod without owner was allowed: %.200s", out)}
	}
	return coldStart{took: took, outcome: "denied, as it must be"}
}

// exemptAtZero proves that bouncer's own scale-up does not need bouncer:
// at zero, a Pod without owner in bouncer-system is admitted at once, no
// call fails open, and nothing wakes the Service.
func exemptAtZero(t *testing.T) {
	t.Helper()
	before, err := env.FailOpenCount()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, errOut, err := create(t, "bouncer-system", pod("exempt", map[string]string{"app": "x"}), "--dry-run=server"); err != nil {
		t.Fatalf("a Pod in bouncer-system was refused: %s", errOut)
	}
	took := time.Since(start)
	time.Sleep(5 * time.Second)
	after, err := env.FailOpenCount()
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("a write in bouncer-system went to the webhooks and failed open (%v -> %v)", before, after)
	}
	if n := podCount(t); n != 0 {
		t.Errorf("a write in bouncer-system woke the Service: %d Pods", n)
	}
	t.Logf("FIGURE knative: at zero, a Pod write in bouncer-system (exempt) took %v and woke nothing", took.Round(time.Millisecond))
}

// podCount is the number of bouncer's revision Pods, terminating included.
func podCount(t *testing.T) int {
	t.Helper()
	out, errOut, err := env.K("-n", "bouncer-system", "get", "pods", "-l", "serving.knative.dev/service="+framework.KnativeService, "-o", "name")
	if err != nil {
		t.Fatal(errOut)
	}
	return len(strings.Fields(out))
}

// waitPods waits until bouncer has exactly n Pods, all Ready.
func waitPods(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	start := time.Now()
	eventually(t, timeout, fmt.Sprintf("bouncer has %d Ready Pods", n), func() error {
		out, _, err := env.K("-n", "bouncer-system", "get", "pods", "-l", "serving.knative.dev/service="+framework.KnativeService,
			"-o", `jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
		if err != nil {
			return err
		}
		lines := strings.Fields(strings.ReplaceAll(out, " ", "="))
		ready := 0
		for _, l := range lines {
			if strings.HasSuffix(l, "=True") {
				ready++
			}
		}
		if len(lines) != n || ready != n {
			return errorf("%d Pods, %d Ready", len(lines), ready)
		}
		return nil
	})
	mode, _, _ := env.K("-n", "bouncer-system", "get", "serverlessservices", "-o", "jsonpath={.items[*].spec.mode}")
	t.Logf("bouncer at %d Pods after %v (serverless services' modes: %s)", n, time.Since(start).Round(time.Second), mode)
}

// setMinScale sets the Service's minScale, which makes a new revision, and
// waits until it serves.
func setMinScale(t *testing.T, v string) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"autoscaling.knative.dev/minScale":%q}}}}}`, v)
	if _, errOut, err := env.K("-n", "bouncer-system", "patch", "ksvc", framework.KnativeService, "--type=merge", "-p", patch); err != nil {
		t.Fatal(errOut)
	}
	eventually(t, 3*time.Minute, "the new revision serves", func() error {
		out, _, _ := env.K("-n", "bouncer-system", "get", "ksvc", framework.KnativeService, "-o",
			`jsonpath={.status.latestCreatedRevisionName} {.status.latestReadyRevisionName} {.status.conditions[?(@.type=="Ready")].status}`)
		f := strings.Fields(out)
		if len(f) != 3 || f[0] != f[1] || f[2] != "True" {
			return errorf("%s", out)
		}
		return nil
	})
}

// waitInjected waits until the CA injector has filled both configurations'
// caBundle: until then every call fails open.
func waitInjected(t *testing.T) {
	t.Helper()
	eventually(t, time.Minute, "the CA injector filled caBundle", func() error {
		for _, k := range []string{"validatingwebhookconfiguration/bouncer-validate", "mutatingwebhookconfiguration/bouncer-mutate"} {
			out, _, _ := env.K("get", k, "-o", "jsonpath={.webhooks[*].clientConfig.caBundle}")
			if strings.TrimSpace(out) == "" {
				return errorf("%s has no caBundle", k)
			}
		}
		return nil
	})
}
