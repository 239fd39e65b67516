package framework

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// KindUnavailable says why the kind provider cannot run here, or "".
func KindUnavailable() string {
	if _, err := exec.LookPath("kind"); err != nil {
		return "kind (sigs.k8s.io/kind) is not on PATH"
	}
	for _, engine := range []string{"docker", "podman"} {
		if _, err := exec.LookPath(engine); err != nil {
			continue
		}
		if _, errOut, err := Run(context.Background(), 20*time.Second, nil, nil, engine, "info"); err == nil {
			return ""
		} else if engine == "docker" && !strings.Contains(errOut, "command not found") {
			return "no container engine is running (docker info: " + firstLine(errOut) + ")"
		}
	}
	return "no container engine (docker or podman) is installed"
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// Kind creates a kind cluster, loads the offline-built image, installs
// cert-manager and deploys bouncer by docs/deploying.md's plain-Kubernetes path
// (make deploy-kubernetes CERT_MANAGER=1), as the node provider does, and
// returns the Env for it. The cluster is deleted when ctx ends.
func Kind(ctx context.Context, root, work, policyFile string) (*Env, error) {
	name := fmt.Sprintf("bouncer-e2e-%d", os.Getpid())
	kc := filepath.Join(work, "kind.kubeconfig")
	step := func(timeout time.Duration, bin string, args ...string) error {
		Progress("%s %s", bin, strings.Join(args, " "))
		_, errOut, err := Run(ctx, timeout, []string{"KUBECONFIG=" + kc}, nil, bin, args...)
		if err != nil {
			return fmt.Errorf("%s %s: %v: %s", bin, strings.Join(args, " "), err, errOut)
		}
		return nil
	}
	if err := step(10*time.Minute, "kind", "create", "cluster", "--name", name, "--kubeconfig", kc, "--wait", "120s"); err != nil {
		return nil, err
	}
	go func() {
		<-ctx.Done()
		_, _, _ = Run(context.Background(), 5*time.Minute, nil, nil, "kind", "delete", "cluster", "--name", name)
	}()
	image := filepath.Join(root, "bin", "bouncer-image.tar")
	if err := step(10*time.Minute, "make", "-C", root, "image"); err != nil {
		return nil, err
	}
	if err := step(5*time.Minute, "kind", "load", "image-archive", image, "--name", name); err != nil {
		return nil, err
	}
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		return nil, err
	}
	// cert-manager as kind users install it, from its release manifest
	// (kind's nodes pull its images), then bouncer by docs/deploying.md's
	// plain-Kubernetes path, exactly as the node provider deploys it.
	for _, args := range [][]string{
		{"apply", "-f", "https://github.com/cert-manager/cert-manager/releases/download/v1.21.2/cert-manager.yaml"},
		{"-n", "cert-manager", "rollout", "status", "deployment/cert-manager", "--timeout=300s"},
		{"-n", "cert-manager", "rollout", "status", "deployment/cert-manager-cainjector", "--timeout=300s"},
		{"-n", "cert-manager", "rollout", "status", "deployment/cert-manager-webhook", "--timeout=300s"},
	} {
		if err := step(6*time.Minute, kubectl, args...); err != nil {
			return nil, err
		}
	}
	if err := step(10*time.Minute, "make", "-C", root, "deploy-kubernetes", "IMAGE="+BouncerImage, "CERT_MANAGER=1", "POLICY="+policyFile, "KUBECTL="+kubectl); err != nil {
		return nil, err
	}
	bin, err := BuildBouncer(root, work)
	if err != nil {
		return nil, err
	}
	logs := func() ([]byte, error) {
		out, errOut, err := Run(context.Background(), time.Minute, []string{"KUBECONFIG=" + kc}, nil, kubectl,
			"-n", "bouncer-system", "logs", "-l", "app.kubernetes.io/name=bouncer", "--tail=-1", "--prefix=false")
		if err != nil {
			return nil, fmt.Errorf("kubectl logs: %v: %s", err, errOut)
		}
		return []byte(out), nil
	}
	return &Env{Provider: "kind", Kubectl: kubectl, Kubeconfig: kc, URL: "https://bouncer.bouncer-system.svc", Service: "bouncer-system/bouncer",
		InjectCAFrom: "bouncer-system/bouncer-ca", PolicyFile: policyFile, BouncerBin: bin, WorkDir: work, Logs: logs}, nil
}
