//go:build e2e

// The end-to-end suite: a real kube-apiserver calls bouncer's functions, real
// controllers create objects through them, and kubectl shows what a user
// sees. Run it with `make e2e`. BOUNCER_E2E_PROVIDER picks the cluster:
// local (default: the control plane as processes on this machine), node
// (the same with a real kubelet and containerd, bouncer deployed as Pods),
// knative (the node with Knative Serving, bouncer a Knative Service: only
// the TestKnative tests, `make e2e-knative`), kind, or existing.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"bouncer.dev/bouncer/e2e/framework"
	"bouncer.dev/bouncer/internal/policyfile"
)

// env is the cluster and deployment every test runs against.
var env *framework.Env

// engine is what enforces the policy: "webhook" (bouncer's functions) or
// "compiled" (bouncer compile's in-process policies, no bouncer process).
var engine = "webhook"

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
	// Once, and every caller waits for it: an interrupt and the return of a
	// failed setup both call it, and the process must not exit while the
	// first is still undoing what the cluster did to the host.
	var once sync.Once
	cleanup := func() { once.Do(func() { cleanupOnce(cancel, work) }) }
	defer cleanup()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() { <-sigs; framework.Progress("interrupted: stopping everything"); cleanup(); os.Exit(130) }()

	provider := os.Getenv("BOUNCER_E2E_PROVIDER")
	if provider == "" {
		provider = "local"
	}
	start := time.Now()
	binDir := os.Getenv("BOUNCER_CONTROLPLANE")
	if binDir == "" {
		binDir = filepath.Join(root, ".cache", "controlplane", "v1.37.2", "bin")
	}
	e2ePolicy := filepath.Join(root, "testdata", "policies", "e2e.yaml")
	switch provider {
	case "local":
		env, err = framework.Local(ctx, root, work, binDir, e2ePolicy)
	case "node":
		if reason := framework.NodeUnavailable(); reason != "" {
			fmt.Println("e2e (node provider): skipped:", reason)
			return 0
		}
		cmDir := os.Getenv("BOUNCER_CERT_MANAGER")
		if cmDir == "" {
			cmDir = filepath.Join(root, ".cache", "cert-manager", "v1.21.2")
		}
		env, err = framework.Node(ctx, root, work, binDir, cmDir, e2ePolicy)
	case "knative":
		// Asked for by name (make e2e-knative), so it fails where the node
		// provider would skip: a pass that measured nothing would mislead.
		if reason := framework.NodeUnavailable(); reason != "" {
			err = fmt.Errorf("cannot run here: %s", reason)
			break
		}
		cmDir, knDir, traefik, coredns := os.Getenv("BOUNCER_CERT_MANAGER"), os.Getenv("BOUNCER_KNATIVE"), os.Getenv("BOUNCER_TRAEFIK"), os.Getenv("BOUNCER_COREDNS")
		if cmDir == "" || knDir == "" || traefik == "" || coredns == "" {
			err = fmt.Errorf("the knative provider needs BOUNCER_CERT_MANAGER, BOUNCER_KNATIVE, BOUNCER_TRAEFIK and BOUNCER_COREDNS: run it with `make e2e-knative`")
			break
		}
		env, err = framework.Knative(ctx, root, work, binDir, cmDir, knDir, traefik, coredns, e2ePolicy)
	case "kind":
		if reason := framework.KindUnavailable(); reason != "" {
			fmt.Println("e2e (kind provider): skipped:", reason)
			return 0
		}
		env, err = framework.Kind(ctx, root, work, e2ePolicy)
	case "existing":
		env, err = framework.Existing(work, root)
	default:
		err = fmt.Errorf("unknown BOUNCER_E2E_PROVIDER %q: want local, node, knative, kind or existing", provider)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: setting up the", provider, "provider:", err)
		return 1
	}
	if env.Policy, _, err = policyfile.Resolve(env.PolicyFile); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	if e := os.Getenv("BOUNCER_E2E_ENGINE"); e != "" {
		engine = e
	}
	if engine != "webhook" && engine != "compiled" {
		fmt.Fprintf(os.Stderr, "e2e: unknown BOUNCER_E2E_ENGINE %q: want webhook or compiled\n", engine)
		return 1
	}
	if engine == "compiled" && env.Bouncer != nil {
		// Prove that nothing of bouncer's runs: the API server alone enforces.
		env.Bouncer.Proc.Stop(10 * time.Second)
		env.Bouncer, env.Logs = nil, nil
	}
	if err := installMain(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	framework.Progress("%s provider ready in %v with the %s engine; running tests", provider, time.Since(start).Round(time.Millisecond), engine)
	return m.Run()
}

// cleanupOnce stops everything the run started and removes its scratch
// directory, unless BOUNCER_E2E_KEEP is set.
func cleanupOnce(cancel context.CancelFunc, work string) {
	cancel()
	if env != nil && env.Close != nil {
		env.Close()
	}
	framework.StopAll()
	if os.Getenv("BOUNCER_E2E_KEEP") != "" {
		fmt.Fprintln(os.Stderr, "e2e: BOUNCER_E2E_KEEP is set: the logs stay in", work)
		return
	}
	_ = os.RemoveAll(work)
}

// installMain installs the engine: the webhook configurations pointing at
// the deployment with the generous timeout, or the compiled policies; then
// waits until the API server enforces them.
func installMain() error {
	if _, errOut, err := env.K("create", "namespace", probeNamespace); err != nil && !contains(errOut, "AlreadyExists") {
		return fmt.Errorf("creating %s: %s", probeNamespace, errOut)
	}
	if engine == "compiled" {
		_, _, _ = env.K("delete", "validatingwebhookconfiguration,mutatingwebhookconfiguration", "-l", "app.kubernetes.io/managed-by=bouncer-webhookconfig", "--ignore-not-found")
		args := []string{"compile"}
		if env.PolicyFile != "" {
			args = append(args, "--policy", env.PolicyFile)
		}
		out, errOut, err := framework.Run(context.Background(), time.Minute, nil, nil, env.BouncerBin, args...)
		if err != nil {
			return fmt.Errorf("bouncer compile: %v: %s", err, errOut)
		}
		if _, errOut, err := env.KIn(out, "apply", "-f", "-"); err != nil {
			return fmt.Errorf("applying the compiled policies: %s", errOut)
		}
	} else if err := env.InstallWebhooks(env.URL, generousTimeout); err != nil {
		return err
	}
	return env.WaitEnforcing(probeNamespace)
}

// needWebhook skips a test of the webhook deployment itself, or one that
// does not depend on the engine and so runs once, in webhook mode.
func needWebhook(t *testing.T, why string) {
	t.Helper()
	if engine != "webhook" {
		t.Skipf("%s: runs with the webhook engine", why)
	}
}

// denialPrefix is what kubectl prints before bouncer's message.
func denialPrefix(resource string) string {
	if engine == "compiled" {
		return fmt.Sprintf("ValidatingAdmissionPolicy 'bouncer-require-owner-%s' with binding 'bouncer-require-owner-%[1]s' denied request: ", resource)
	}
	return `admission webhook "validate.bouncer.dev" denied the request: `
}
