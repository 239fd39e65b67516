package main

import (
	"context"
	"runtime"

	"fmt"
	"golang.org/x/sys/unix"
	"os"
	"path/filepath"
	"sort"
	"time"

	"bouncer.dev/bouncer/e2e/framework"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// setup is one way the control plane enforces (or not) the policy.
type setup struct {
	name    string
	install func() error
}

type cpResult struct {
	name       string
	p50s, p99s []time.Duration
	added      []time.Duration // p50 minus the same round's no-policy p50
}

const inTreeVAP = `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: bench-intree-owner}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [pods]}]
  validations:
  - expression: "has(object.metadata.labels) && 'owner' in object.metadata.labels"
    message: "owner is required"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: bench-intree-owner}
spec: {policyName: bench-intree-owner, validationActions: [Deny]}
`

// controlPlane times sequential Pod creates through a real API server in
// each setup, alternating the setups over the rounds.
func controlPlane(b binaries, binDir, dir string, rounds, creates int) ([]cpResult, error) {
	// The harness runs on core 0 for the loopback runs; the control plane
	// and its webhooks get every core, as in a real cluster. Children
	// inherit the affinity of the thread that forks them, so every process
	// is started from this locked thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var all unix.CPUSet
	for i := 0; i < runtime.NumCPU() || i < 64; i++ {
		all.Set(i)
	}
	if err := unix.SchedSetaffinity(0, &all); err != nil {
		return nil, fmt.Errorf("restoring CPU affinity: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer framework.StopAll()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	cp, err := framework.StartLocal(ctx, binDir, dir, framework.Progress)
	if err != nil {
		return nil, err
	}
	env := &framework.Env{Kubectl: filepath.Join(binDir, "kubectl"), Kubeconfig: cp.Kubeconfig, CABundle: cp.CA.CertPEM, BouncerBin: b.bouncer}
	cfg, err := clientcmd.BuildConfigFromFlags("", cp.Kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 5000, 5000
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	startTLS := func(name string, bin string, args ...string) (string, error) {
		port, err := framework.FreePort()
		if err != nil {
			return "", err
		}
		cert, key, err := cp.CA.Serving(dir, name)
		if err != nil {
			return "", err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		a := append(append([]string{}, args...), "--addr", addr, "--tls-cert", cert, "--tls-key", key)
		if bin == b.benchserver || bin == b.floor {
			a = append(append([]string{}, args...), "-addr", addr, "-tls-cert", cert, "-tls-key", key)
		}
		if _, err := framework.Start(name, dir, bin, nil, a...); err != nil {
			return "", err
		}
		time.Sleep(300 * time.Millisecond)
		return "https://" + addr, nil
	}
	floorURL, err := startTLS("floor", b.floor)
	if err != nil {
		return nil, err
	}
	bouncerURL, err := startTLS("bouncer", b.bouncer, "serve")
	if err != nil {
		return nil, err
	}
	crURL, err := startTLS("controller-runtime", b.benchserver)
	if err != nil {
		return nil, err
	}
	clear := func() {
		_, _, _ = env.K("delete", "validatingwebhookconfiguration,mutatingwebhookconfiguration", "-l", "app.kubernetes.io/managed-by=bouncer-webhookconfig", "--ignore-not-found")
		_, _, _ = env.K("delete", "validatingadmissionpolicy,validatingadmissionpolicybinding,mutatingadmissionpolicy,mutatingadmissionpolicybinding", "-l", "app.kubernetes.io/managed-by=bouncer-compile", "--ignore-not-found")
		_, _, _ = env.K("delete", "validatingadmissionpolicy,validatingadmissionpolicybinding", "bench-intree-owner", "--ignore-not-found")
	}
	webhooks := func(url string) func() error {
		return func() error { clear(); return env.InstallWebhooks(url, 10) }
	}
	apply := func(y string) error {
		clear()
		if _, errOut, err := env.KIn(y, "apply", "-f", "-"); err != nil {
			return fmt.Errorf("%s", errOut)
		}
		return nil
	}
	compiled, errOut, err := framework.Run(ctx, time.Minute, nil, nil, b.bouncer, "compile")
	if err != nil {
		return nil, fmt.Errorf("bouncer compile: %s", errOut)
	}
	setups := []setup{
		{"no admission policy", func() error { clear(); return nil }},
		{"in-tree VAP (one expression)", func() error { return apply(inTreeVAP) }},
		{"bouncer compile (VAP + MAP)", func() error { return apply(compiled) }},
		{"floor webhook pair", webhooks(floorURL)},
		{"bouncer webhook pair", webhooks(bouncerURL)},
		{"controller-runtime webhook pair", webhooks(crURL)},
	}
	results := make([]cpResult, len(setups))
	for i := range setups {
		results[i].name = setups[i].name
	}
	for r := 0; r < rounds; r++ {
		ns := fmt.Sprintf("bench-%d", r)
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			return nil, err
		}
		var noneP50 time.Duration
		for k := 0; k < len(setups); k++ {
			// Alternate: start each round at a different setup, but always
			// measure "none" in the round for the added latency.
			i := (k + r) % len(setups)
			s := setups[i]
			if err := s.install(); err != nil {
				return nil, fmt.Errorf("%s: %w", s.name, err)
			}
			time.Sleep(2 * time.Second) // the API server's informers catch up
			lats := make([]time.Duration, 0, creates)
			for n := 0; n < creates+20; n++ {
				// Compliant and complete: no setup patches, so what differs
				// between setups is the cost of deciding, not of the API
				// server applying a mutation the floor never makes.
				pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "p-", Labels: map[string]string{"owner": "team-a", "environment": "production"}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}}}
				t := time.Now()
				if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
					return nil, fmt.Errorf("%s: create: %w", s.name, err)
				}
				if n >= 20 {
					lats = append(lats, time.Since(t))
				}
			}
			sort.Slice(lats, func(a, b int) bool { return lats[a] < lats[b] })
			p50, p99 := lats[len(lats)/2], lats[len(lats)*99/100]
			results[i].p50s = append(results[i].p50s, p50)
			results[i].p99s = append(results[i].p99s, p99)
			if i == 0 {
				noneP50 = p50
			}
			framework.Progress("round %d: %-34s p50 %v p99 %v", r+1, s.name, p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond))
		}
		for i := range results {
			results[i].added = append(results[i].added, results[i].p50s[r]-noneP50)
		}
		_ = cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	}
	clear()
	_ = os.RemoveAll(dir)
	return results, nil
}

func spread(ds []time.Duration) string {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return fmt.Sprintf("%s to %s", ms(s[0]), ms(s[len(s)-1]))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
