package framework

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Progress prints a timestamped line, so a slow start shows where it is.
func Progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "e2e %s: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// BuildBouncer builds cmd/bouncer from the module at root into dir, and
// the audit's own binary beside it, where `bouncer audit` finds it.
func BuildBouncer(root, dir string) (string, error) {
	bin := filepath.Join(dir, "bouncer")
	_, errOut, err := Run(context.Background(), 5*time.Minute, []string{"CGO_ENABLED=0"}, nil, "go", "build", "-C", root, "-o", bin, "./cmd/bouncer")
	if err != nil {
		return "", fmt.Errorf("building bouncer: %v: %s", err, errOut)
	}
	_, errOut, err = Run(context.Background(), 10*time.Minute, []string{"CGO_ENABLED=0"}, nil, "go", "build", "-C", filepath.Join(root, "cmd", "bouncer-audit"),
		"-o", filepath.Join(dir, "bouncer-audit"), ".")
	if err != nil {
		return "", fmt.Errorf("building bouncer-audit: %v: %s", err, errOut)
	}
	return bin, nil
}

// Local starts the control plane and bouncer on this machine and returns
// the Env the existing provider would be given for them.
func Local(ctx context.Context, root, work, binDir, policyFile string) (*Env, error) {
	bin, err := BuildBouncer(root, work)
	if err != nil {
		return nil, err
	}
	// bouncer's port is chosen first: the API server's audit webhook
	// backend is configured, at its start, to post to bouncer's /audit.
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	url := fmt.Sprintf("https://127.0.0.1:%d", port)
	aw := &AuditWebhook{BatchMaxWait: 2 * time.Second}
	cp, err := StartLocalWith(ctx, binDir, work, Progress, func(ca *CA) ([]string, error) {
		return auditWebhookArgs(bin, work, policyFile, ca, url+"/audit", aw)
	})
	if err != nil {
		return nil, err
	}
	metricsPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	Progress("starting bouncer serve with TLS")
	b, err := StartBouncerAt(bin, work, "bouncer", cp.CA, policyFile, port, "--audit-token-file", aw.TokenFile,
		"--metrics-addr", fmt.Sprintf("127.0.0.1:%d", metricsPort))
	if err != nil {
		return nil, err
	}
	env := &Env{Provider: "local", Kubectl: filepath.Join(binDir, "kubectl"), Kubeconfig: cp.Kubeconfig,
		URL: b.URL, CABundle: cp.CA.CertPEM, PolicyFile: policyFile, BouncerBin: bin, WorkDir: work,
		Logs: FileLogs(b.Proc.LogPath), Bouncer: b, CA: cp.CA, ControlPlane: cp, AuditWebhook: aw,
		MetricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)}
	return env, nil
}

// Existing describes a deployment the user runs: KUBECONFIG, BOUNCER_URL,
// and optionally BOUNCER_CA_BUNDLE and BOUNCER_POLICY_FILE. The decision
// log and the process are out of reach, so tests needing them skip.
func Existing(work string, root string) (*Env, error) {
	url := os.Getenv("BOUNCER_URL")
	kc := os.Getenv("KUBECONFIG")
	if url == "" || kc == "" {
		return nil, fmt.Errorf("the existing provider needs KUBECONFIG and BOUNCER_URL (the deployed service's https URL)")
	}
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		return nil, fmt.Errorf("the existing provider needs kubectl on PATH: %w", err)
	}
	bin, err := BuildBouncer(root, work)
	if err != nil {
		return nil, err
	}
	return &Env{Provider: "existing", Kubectl: kubectl, Kubeconfig: kc, URL: url, CABundle: os.Getenv("BOUNCER_CA_BUNDLE"),
		PolicyFile: os.Getenv("BOUNCER_POLICY_FILE"), BouncerBin: bin, WorkDir: work}, nil
}
