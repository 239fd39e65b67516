package framework

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"bouncer.dev/bouncer/internal/policy"
)

// Env is what every test runs against: a cluster reached with kubectl and a
// deployed bouncer reached at URL. It is the existing provider's code path;
// the local and kind providers build one and hand it over, so the path
// users run against their own deployment is exercised on every run.
type Env struct {
	Provider   string
	Kubectl    string
	Kubeconfig string
	// URL is bouncer's base URL; CABundle the PEM file that verifies it
	// ("" for a publicly trusted certificate).
	URL, CABundle string
	// Service, when set, is the in-cluster Service NAMESPACE/NAME that the
	// configurations reference instead of URL.
	Service string
	// InjectCAFrom, when set, is the cert-manager Certificate whose CA the
	// CA injector keeps in the configurations, instead of CABundle.
	InjectCAFrom string
	// PolicyFile is the policy the deployment runs ("" for the default).
	PolicyFile string
	Policy     *policy.Policy
	// BouncerBin renders webhook configurations: `bouncer webhookconfig`
	// is their only generator.
	BouncerBin string
	WorkDir    string
	// Logs returns bouncer's decision log, or nil where it cannot be read.
	Logs func() ([]byte, error)
	// Bouncer is the process, where the suite runs it; nil otherwise.
	Bouncer *Bouncer
	// CA and ControlPlane are set by the local and node providers.
	CA           *CA
	ControlPlane *ControlPlane
	// Node is set by the node and knative providers.
	Node *NodeInfo
	// AuditWebhook is set where the API server posts its audit trail to
	// bouncer's /audit (the local provider).
	AuditWebhook *AuditWebhook
	// MetricsURL is bouncer's /metrics, where the suite runs it with
	// --metrics-addr.
	MetricsURL string
	// Close, when set, stops what StopAll cannot (containers), first.
	Close func()
}

// Kubectl runs kubectl against the cluster.
func (e *Env) K(args ...string) (stdout, stderr string, err error) {
	return e.KIn("", args...)
}

// KIn runs kubectl with stdin.
func (e *Env) KIn(stdin string, args ...string) (stdout, stderr string, err error) {
	return Run(context.Background(), 60*time.Second, []string{"KUBECONFIG=" + e.Kubeconfig}, strings.NewReader(stdin), e.Kubectl, args...)
}

// RenderWebhooks runs `bouncer webhookconfig` for this deployment.
func (e *Env) RenderWebhooks(url string, timeout int) (string, error) {
	args := []string{"webhookconfig", "--url", url, "--timeout", strconv.Itoa(timeout)}
	if e.Service != "" && url == e.URL {
		args = []string{"webhookconfig", "--service", e.Service, "--timeout", strconv.Itoa(timeout)}
	}
	switch {
	case e.InjectCAFrom != "" && url == e.URL:
		args = append(args, "--inject-ca-from", e.InjectCAFrom)
	case e.CABundle != "":
		args = append(args, "--ca-bundle", e.CABundle)
	}
	if e.PolicyFile != "" {
		args = append(args, "--policy", e.PolicyFile)
	}
	out, errOut, err := Run(context.Background(), 30*time.Second, nil, nil, e.BouncerBin, args...)
	if err != nil {
		return "", fmt.Errorf("bouncer webhookconfig: %v: %s", err, errOut)
	}
	return out, nil
}

// InstallWebhooks applies the generated configurations pointing at url and
// waits until the API server enforces them.
func (e *Env) InstallWebhooks(url string, timeout int) error {
	y, err := e.RenderWebhooks(url, timeout)
	if err != nil {
		return err
	}
	if _, errOut, err := e.KIn(y, "apply", "-f", "-"); err != nil {
		return fmt.Errorf("kubectl apply: %v: %s", err, errOut)
	}
	return nil
}

// WaitEnforcing waits until a non-compliant dry-run Pod is denied by bouncer,
// which proves the API server's webhook informer has the configurations.
func (e *Env) WaitEnforcing(namespace string) error {
	pod := fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"probe","namespace":%q},"spec":{"containers":[{"name":"c","image":"busybox"}]}}`, namespace)
	var last string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		_, errOut, _ := e.KIn(pod, "create", "--dry-run=server", "-f", "-")
		if strings.Contains(errOut, "denied by bouncer") {
			return nil
		}
		last = errOut
	}
	return fmt.Errorf("bouncer does not enforce after 60s; last answer: %s", last)
}

// FailOpenCount sums apiserver_admission_webhook_fail_open_count.
func (e *Env) FailOpenCount() (float64, error) {
	byName, err := e.FailOpenCounts()
	var sum float64
	for _, v := range byName {
		sum += v
	}
	return sum, err
}

// FailOpenCounts is apiserver_admission_webhook_fail_open_count by webhook
// name (validate.bouncer.dev, mutate.bouncer.dev).
func (e *Env) FailOpenCounts() (map[string]float64, error) {
	out, errOut, err := e.K("get", "--raw", "/metrics")
	if err != nil {
		return nil, fmt.Errorf("reading metrics: %v: %s", err, errOut)
	}
	byName := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_admission_webhook_fail_open_count{") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return nil, err
		}
		name := ""
		if _, rest, ok := strings.Cut(line, `name="`); ok {
			name, _, _ = strings.Cut(rest, `"`)
		}
		byName[name] += v
	}
	return byName, sc.Err()
}

// Decision is one line of bouncer's decision log.
type Decision map[string]any

// S returns a string field.
func (d Decision) S(key string) string { s, _ := d[key].(string); return s }

// Decisions returns the decision log lines so far.
func (e *Env) Decisions() ([]Decision, error) { return e.Records("admission decision") }

// Records returns bouncer's log lines whose message is msg.
func (e *Env) Records(msg string) ([]Decision, error) {
	if e.Logs == nil {
		return nil, fmt.Errorf("the decision log is not readable with provider %s", e.Provider)
	}
	raw, err := e.Logs()
	if err != nil {
		return nil, err
	}
	var out []Decision
	for _, line := range bytes.Split(raw, []byte("\n")) {
		var d Decision
		if json.Unmarshal(line, &d) == nil && d.S("message") == msg {
			out = append(out, d)
		}
	}
	return out, nil
}

// AuditEvent is one line of the API server's audit log, as far as the
// tests read it.
type AuditEvent struct {
	Verb string `json:"verb"`
	User struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef struct {
		Resource  string `json:"resource"`
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"objectRef"`
	ResponseStatus struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	Annotations map[string]string `json:"annotations"`
}

// AuditEvents returns the API server's audit events so far, or an error
// where the audit log cannot be read.
func (e *Env) AuditEvents() ([]AuditEvent, error) {
	if e.ControlPlane == nil || e.ControlPlane.AuditLog == "" {
		return nil, fmt.Errorf("the audit log is not readable with provider %s", e.Provider)
	}
	raw, err := os.ReadFile(e.ControlPlane.AuditLog)
	if err != nil {
		return nil, err
	}
	var out []AuditEvent
	for _, line := range bytes.Split(raw, []byte("\n")) {
		var ev AuditEvent
		if json.Unmarshal(line, &ev) == nil && ev.Verb != "" {
			out = append(out, ev)
		}
	}
	return out, nil
}

// FileLogs reads a log file.
func FileLogs(path string) func() ([]byte, error) {
	return func() ([]byte, error) { return os.ReadFile(path) }
}
