package framework

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"sigs.k8s.io/yaml"
)

// AuditWebhook is the API server's audit webhook backend pointed at
// bouncer's /audit, as docs/operations.md tells operators to set it up:
// the policy and the kubeconfig come from `bouncer auditconfig`.
type AuditWebhook struct {
	// TokenFile holds the bearer token /audit accepts.
	TokenFile string
	// BatchMaxWait is the backend's --audit-webhook-batch-max-wait.
	BatchMaxWait time.Duration
}

// auditWebhookArgs writes the audit policy and the webhook kubeconfig and
// returns the API server's flags for them. The policy is bouncer's rule
// first, then the suite's own rules (the first matching rule wins), as an
// operator merges it into an existing policy.
func auditWebhookArgs(bin, dir, policyFile string, ca *CA, url string, aw *AuditWebhook) ([]string, error) {
	tok := make([]byte, 32)
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}
	aw.TokenFile = filepath.Join(dir, "audit.token")
	if err := os.WriteFile(aw.TokenFile, []byte(hex.EncodeToString(tok)+"\n"), 0o600); err != nil {
		return nil, err
	}
	args := []string{"auditconfig", "policy"}
	if policyFile != "" {
		args = append(args, "--policy", policyFile)
	}
	gen, errOut, err := Run(context.Background(), time.Minute, nil, nil, bin, args...)
	if err != nil {
		return nil, fmt.Errorf("bouncer auditconfig policy: %v: %s", err, errOut)
	}
	var ours, suite map[string]any
	if err := yaml.Unmarshal([]byte(gen), &ours); err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal([]byte(auditPolicy), &suite); err != nil {
		return nil, err
	}
	rules := ours["rules"].([]any)
	// bouncer's final None goes: the suite's rules follow, and end in their own.
	ours["rules"] = append(rules[:len(rules)-1], suite["rules"].([]any)...)
	merged, err := yaml.Marshal(ours)
	if err != nil {
		return nil, err
	}
	policyPath := filepath.Join(dir, "audit-policy-bouncer.yaml")
	if err := os.WriteFile(policyPath, merged, 0o600); err != nil {
		return nil, err
	}
	kc, errOut, err := Run(context.Background(), time.Minute, nil, nil, bin, "auditconfig", "webhook", "--url", url,
		"--token-file", aw.TokenFile, "--ca-bundle", ca.CertPEM)
	if err != nil {
		return nil, fmt.Errorf("bouncer auditconfig webhook: %v: %s", err, errOut)
	}
	kcPath := filepath.Join(dir, "audit-webhook.kubeconfig")
	if err := os.WriteFile(kcPath, []byte(kc), 0o600); err != nil {
		return nil, err
	}
	return []string{"--audit-policy-file=" + policyPath, "--audit-webhook-config-file=" + kcPath,
		"--audit-webhook-mode=batch", "--audit-webhook-batch-max-wait=" + aw.BatchMaxWait.String()}, nil
}
