//go:build e2e

// The end-to-end suite: a real kube-apiserver calls bouncer's functions, real
// controllers create objects through them, and kubectl shows what a user
// sees. Run it with `make e2e`. BOUNCER_E2E_PROVIDER picks the cluster:
// local (default: processes on this machine), kind, or existing.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"bouncer.dev/bouncer/e2e/framework"
	"bouncer.dev/bouncer/internal/policy"
)

// env is the cluster and deployment every test runs against.
var env *framework.Env

// The correctness tests use a generous timeout, so that a busy machine
// cannot turn a slow answer into a silent fail-open; the fail-open tests
// use the shipped one.
const generousTimeout = 15

// probeNamespace holds WaitEnforcing's dry-run probes.
const probeNamespace = "bouncer-e2e-probe"

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	root, _ := filepath.Abs("..")
	work, err := framework.WorkDir(os.TempDir())
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	cleanup := func() { cancel(); framework.StopAll(); _ = os.RemoveAll(work) }
	defer cleanup()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() { <-sigs; framework.Progress("interrupted: stopping everything"); cleanup(); os.Exit(130) }()

	provider := os.Getenv("BOUNCER_E2E_PROVIDER")
	if provider == "" {
		provider = "local"
	}
	start := time.Now()
	switch provider {
	case "local":
		binDir := os.Getenv("BOUNCER_CONTROLPLANE")
		if binDir == "" {
			binDir = filepath.Join(root, ".cache", "controlplane", "v1.37.2", "bin")
		}
		env, err = framework.Local(ctx, root, work, binDir, filepath.Join(root, "testdata", "policies", "e2e.yaml"))
	case "kind":
		if reason := framework.KindUnavailable(); reason != "" {
			fmt.Println("e2e (kind provider): skipped:", reason)
			return 0
		}
		env, err = framework.Kind(ctx, root, work, filepath.Join(root, "testdata", "policies", "e2e.yaml"))
	case "existing":
		env, err = framework.Existing(work, root)
	default:
		err = fmt.Errorf("unknown BOUNCER_E2E_PROVIDER %q: want local, kind or existing", provider)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: setting up the", provider, "provider:", err)
		return 1
	}
	if env.Policy, _, err = policy.Resolve(env.PolicyFile); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	if err := installMain(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	framework.Progress("%s provider ready in %v; running tests", provider, time.Since(start).Round(time.Millisecond))
	return m.Run()
}

// installMain points the webhook configurations at the deployment with the
// generous timeout and waits until they are enforced.
func installMain() error {
	if _, errOut, err := env.K("create", "namespace", probeNamespace); err != nil && !contains(errOut, "AlreadyExists") {
		return fmt.Errorf("creating %s: %s", probeNamespace, errOut)
	}
	if err := env.InstallWebhooks(env.URL, generousTimeout); err != nil {
		return err
	}
	return env.WaitEnforcing(probeNamespace)
}
