package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"bouncer.dev/bouncer/e2e/framework"
)

// setup is one way the control plane enforces (or not) the policy. Every
// setup is installed at once, scoped to its own namespace, so that the
// creates can be interleaved one by one: drift in the API server, etcd or
// the machine then reaches all setups alike instead of whichever round it
// happens in.
type setup struct {
	id, name string
	denies   bool   // whether a Pod without owner is refused
	webhook  string // the configurations' name prefix, for a webhook pair
}

type cpResult struct {
	name       string
	p50s, p99s []time.Duration
	added      []time.Duration // p50 minus the same round's no-policy p50
}

// setupLabel selects a setup's namespace.
const setupLabel = "bench.bouncer.dev/setup"

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

// controlPlane times Pod creates through a real control plane.
func (h *harness) controlPlane(rep *report) (err error) {
	framework.Progress("through the control plane: %d rounds of %d creates per setup", h.rounds, h.creates)
	if rep.cp, err = timeControlPlane(h.bin, h.controlplane, filepath.Join(h.work, "cp"), h.rounds, h.creates); err != nil {
		return err
	}
	rep.rounds, rep.creates = h.rounds, h.creates
	return nil
}

// timeControlPlane times sequential Pod creates through a real API server in
// each setup, interleaving the setups create by create over the rounds.
func timeControlPlane(b binaries, binDir, dir string, rounds, creates int) ([]cpResult, error) {
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
	setups := []setup{
		{id: "none", name: "no admission policy"},
		{id: "vap", name: "in-tree VAP (one expression)", denies: true},
		{id: "compiled", name: "bouncer compile (VAP + MAP)", denies: true},
		{id: "floor", name: "floor webhook pair", webhook: "floor"},
		{id: "bouncer", name: "bouncer webhook pair", denies: true, webhook: "bouncer"},
		{id: "cr", name: "controller-runtime webhook pair", denies: true, webhook: "cr"},
	}
	urls := map[string]string{}
	for _, x := range []struct{ id, bin string }{{"floor", b.floor}, {"bouncer", b.bouncer}, {"cr", b.benchserver}} {
		var args []string
		if x.bin == b.bouncer {
			args = []string{"serve"}
		}
		if urls[x.id], err = startTLS(x.id, x.bin, args...); err != nil {
			return nil, err
		}
	}
	for _, s := range setups {
		var docs string
		switch {
		case s.id == "vap":
			docs = inTreeVAP
		case s.id == "compiled":
			if docs, _, err = framework.Run(ctx, time.Minute, nil, nil, b.bouncer, "compile"); err != nil {
				return nil, fmt.Errorf("bouncer compile: %w", err)
			}
		case s.webhook != "":
			if docs, err = env.RenderWebhooks(urls[s.id], 10); err != nil {
				return nil, err
			}
		}
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bench-" + s.id, Labels: map[string]string{setupLabel: s.id}}}
		if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			return nil, err
		}
		if docs == "" {
			continue
		}
		scoped, err := scope(docs, s.id)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		if _, errOut, err := env.KIn(scoped, "apply", "-f", "-"); err != nil {
			return nil, fmt.Errorf("%s: kubectl apply: %v: %s", s.name, err, errOut)
		}
	}
	if err := waitScoped(ctx, cs, setups); err != nil {
		return nil, err
	}
	before, err := webhookCalls(env) // the probes' calls are not the benchmark's
	if err != nil {
		return nil, err
	}

	pod := func(name string) *corev1.Pod {
		// Compliant and complete: no setup patches, so what differs between
		// setups is the cost of deciding, not of the API server applying a
		// mutation the floor never makes. Named, not generateName: a
		// generated name that collides is retried by the API server, which
		// calls the validating webhooks a second time.
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"owner": "team-a", "environment": "production"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}}}
	}
	results := make([]cpResult, len(setups))
	for i := range setups {
		results[i].name = setups[i].name
	}
	const warmup = 20
	for r := -1; r < rounds; r++ {
		n := creates
		if r < 0 {
			n = warmup // connections, caches and the webhooks' first requests
		}
		lats := make([][]time.Duration, len(setups))
		for c := 0; c < n; c++ {
			// Rotate the order so that no setup always follows another.
			for k := range setups {
				i := (k + c) % len(setups)
				t := time.Now()
				if _, err := cs.CoreV1().Pods("bench-"+setups[i].id).Create(ctx, pod(fmt.Sprintf("p-%d-%d", r+1, c)), metav1.CreateOptions{}); err != nil {
					return nil, fmt.Errorf("%s: create: %w", setups[i].name, err)
				}
				lats[i] = append(lats[i], time.Since(t))
			}
		}
		if r < 0 {
			continue
		}
		var noneP50 time.Duration
		for i := range setups {
			l := lats[i]
			sort.Slice(l, func(a, b int) bool { return l[a] < l[b] })
			p50, p99 := l[len(l)/2], l[len(l)*99/100]
			results[i].p50s = append(results[i].p50s, p50)
			results[i].p99s = append(results[i].p99s, p99)
			if i == 0 {
				noneP50 = p50
			}
			framework.Progress("round %d: %-34s p50 %v p99 %v", r+1, setups[i].name, p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond))
		}
		for i := range results {
			results[i].added = append(results[i].added, results[i].p50s[r]-noneP50)
		}
	}
	// Every webhook pair answered every one of its creates itself: no
	// request failed open, and none strayed into another setup.
	calls, err := webhookCalls(env)
	if err != nil {
		return nil, err
	}
	for _, s := range setups {
		if s.webhook == "" {
			continue
		}
		want := 2 * (warmup + rounds*creates)
		if got := calls[s.webhook] - before[s.webhook]; got != want {
			return nil, fmt.Errorf("%s: the API server reports %d answered webhook calls, want %d (one validate and one mutate per create)", s.name, got, want)
		}
	}
	_ = os.RemoveAll(dir)
	return results, nil
}

// scope rewrites generated configurations or policies so that they apply
// only in the setup's namespace: each webhook and binding gets a namespace
// selector requirement, and each webhook configuration and webhook is
// renamed after the setup so that their metrics can be told apart.
func scope(docs, id string) (string, error) {
	var out []string
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(docs), 4096)
	for {
		var o map[string]any
		if err := dec.Decode(&o); err == io.EOF {
			break
		} else if err != nil {
			return "", err
		}
		if o == nil {
			continue
		}
		req := map[string]any{"key": setupLabel, "operator": "In", "values": []any{id}}
		addTo := func(parent map[string]any) {
			sel, _ := parent["namespaceSelector"].(map[string]any)
			if sel == nil {
				sel = map[string]any{}
				parent["namespaceSelector"] = sel
			}
			exprs, _ := sel["matchExpressions"].([]any)
			sel["matchExpressions"] = append(exprs, req)
		}
		switch kind, _ := o["kind"].(string); {
		case strings.HasSuffix(kind, "WebhookConfiguration"):
			meta := o["metadata"].(map[string]any)
			meta["name"] = id + "-" + meta["name"].(string)
			hooks, _ := o["webhooks"].([]any)
			for _, h := range hooks {
				hm := h.(map[string]any)
				hm["name"] = id + "-" + hm["name"].(string)
				addTo(hm)
			}
		case strings.HasSuffix(kind, "PolicyBinding"):
			spec := o["spec"].(map[string]any)
			mr, _ := spec["matchResources"].(map[string]any)
			if mr == nil {
				mr = map[string]any{}
				spec["matchResources"] = mr
			}
			addTo(mr)
		}
		j, err := json.Marshal(o)
		if err != nil {
			return "", err
		}
		out = append(out, string(j))
	}
	return strings.Join(out, "\n---\n"), nil
}

// waitScoped waits until the API server's informers have every setup: a Pod
// without owner is refused exactly in the setups that deny it.
func waitScoped(ctx context.Context, cs *kubernetes.Clientset, setups []setup) error {
	var last string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		last = ""
		for _, s := range setups {
			p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "probe-"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}}}
			_, err := cs.CoreV1().Pods("bench-"+s.id).Create(ctx, p, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			if (err != nil) != s.denies {
				last += fmt.Sprintf("%s: denied=%v (%v); ", s.name, err != nil, err)
			}
		}
		if last == "" {
			return nil
		}
	}
	return fmt.Errorf("the setups are not in force after 60s: %s", last)
}

// webhookCalls sums the API server's answered (HTTP 200) webhook requests
// by the setup prefix of the webhook's name.
func webhookCalls(env *framework.Env) (map[string]int, error) {
	out, errOut, err := env.K("get", "--raw", "/metrics")
	if err != nil {
		return nil, fmt.Errorf("reading metrics: %v: %s", err, errOut)
	}
	calls := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte("apiserver_admission_webhook_request_total{")) || !bytes.Contains(line, []byte(`code="200"`)) {
			continue
		}
		_, rest, _ := bytes.Cut(line, []byte(`name="`))
		name, _, _ := bytes.Cut(rest, []byte(`"`))
		id, _, _ := strings.Cut(string(name), "-")
		f := bytes.Fields(line)
		v, err := strconv.ParseFloat(string(f[len(f)-1]), 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %v", line, err)
		}
		calls[id] += int(v)
	}
	return calls, sc.Err()
}

func spread(ds []time.Duration) string {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return fmt.Sprintf("%s to %s", ms(s[0]), ms(s[len(s)-1]))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
