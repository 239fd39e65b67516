package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"bouncer.dev/bouncer/e2e/framework"
)

// The audit benchmark: a real API server is loaded with Pods and workloads,
// some violating the default policy, and four ways of judging the cluster
// are timed side by side: the listing alone (kubectl get -o json, the
// floor), bouncer audit, the pipe kubectl get -o yaml | bouncer check -, and
// kyverno apply --cluster. Before timing, each must find exactly the
// violating objects the harness created.

// auditResources are the kinds the default policy covers, and namespaces,
// as kubectl names them: what every command here lists.
const auditResources = "pods,deployments,statefulsets,daemonsets,replicasets,jobs,cronjobs,namespaces"

// auditKinds weight Pods as the commonest object of a cluster: 8 of 14.
var auditKinds = []struct {
	kind, apiVersion, resource string
	templates                  []string
}{
	{"Pod", "v1", "pods", nil}, {"Pod", "v1", "pods", nil}, {"Pod", "v1", "pods", nil}, {"Pod", "v1", "pods", nil},
	{"Pod", "v1", "pods", nil}, {"Pod", "v1", "pods", nil}, {"Pod", "v1", "pods", nil}, {"Pod", "v1", "pods", nil},
	{"Deployment", "apps/v1", "deployments", []string{"spec.template.metadata.labels"}},
	{"StatefulSet", "apps/v1", "statefulsets", []string{"spec.template.metadata.labels"}},
	{"DaemonSet", "apps/v1", "daemonsets", []string{"spec.template.metadata.labels"}},
	{"ReplicaSet", "apps/v1", "replicasets", []string{"spec.template.metadata.labels"}},
	{"Job", "batch/v1", "jobs", []string{"spec.template.metadata.labels"}},
	{"CronJob", "batch/v1", "cronjobs", []string{"spec.jobTemplate.metadata.labels", "spec.jobTemplate.spec.template.metadata.labels"}},
}

// auditNamespaces hold the objects, but for the exempt ones in kube-system.
const auditNamespaces = 10

// auditRuns is how many times each command is timed at each size.
const auditRuns = 3

// auditTiming is one command's runs at one size.
type auditTiming struct {
	runs   []time.Duration
	rssKiB int    // the largest peak RSS of the runs
	which  string // for the pipe: the process that peaked
}

// auditSize is every command's figures at one number of objects.
type auditSize struct {
	objects, violating      int
	floor, audit, pipe, kyv auditTiming
	// disagree lists the objects a command reports and the harness did not
	// create violating, and the other way round; Kyverno is not timed then.
	disagree []string
}

// auditResult is what the report shows.
type auditResult struct {
	sizes          []auditSize
	namespaces     int
	kyvernoVersion string
	skipped        string // why Kyverno was not run, if it was not
	absent         string // why bouncer audit was not run, if it was not
}

// last is the largest size.
func (a auditResult) last() auditSize {
	if len(a.sizes) == 0 {
		return auditSize{}
	}
	return a.sizes[len(a.sizes)-1]
}

// audit loads a real API server with objects and times the four commands at
// a tenth of auditObjects and at auditObjects.
func (h *harness) audit(rep *report) (err error) {
	sizes := []int{h.auditObjects / 10, h.auditObjects}
	framework.Progress("bouncer audit beside kubectl get, the check pipe and kyverno apply --cluster at %v objects", sizes)
	kyvernoPolicy := filepath.Join(h.root, "bench", "kyverno", "policy.yaml")
	if rep.audit, err = runAuditBench(h.bin, h.controlplane, h.kyverno, kyvernoPolicy, filepath.Join(h.work, "audit"), sizes); err != nil {
		return err
	}
	rep.commands = append(rep.commands,
		fmt.Sprintf("kubectl get %s -A -o json > /dev/null   # the floor; %v objects in a local kube-apiserver", auditResources, sizes),
		"bin/bouncer-audit --kubeconfig K -o json > /dev/null",
		fmt.Sprintf("kubectl get %s -A -o yaml | bin/bouncer check -", auditResources),
		"KUBECONFIG=K .cache/kyverno/v1.19.1/kyverno apply bench/kyverno/policy.yaml --cluster > FILE")
	return nil
}

// runAuditBench starts a control plane in dir, and at each size loads it up
// to that many objects, checks that every command finds the violating ones
// and times them.
func runAuditBench(b binaries, binDir, kyverno, kyvernoPolicy, dir string, sizes []int) (auditResult, error) {
	res := auditResult{namespaces: auditNamespaces}
	if b.audit == "" {
		res.absent = "cmd/bouncer-audit does not exist in this tree"
	}
	if kyverno == "" {
		res.skipped = "BOUNCER_KYVERNO is unset (make bench sets it after `make kyverno`)"
	} else if _, err := os.Stat(kyverno); err != nil {
		res.skipped = fmt.Sprintf("the Kyverno CLI is not built: %v", err)
	} else if v, err := exec.Command(kyverno, "version").Output(); err == nil {
		res.kyvernoVersion = strings.TrimPrefix(strings.SplitN(string(v), "\n", 2)[0], "Version: ")
	}

	// make bench pins the harness to core 0; the control plane and the
	// commands get every core, as in a real cluster. Children inherit the
	// affinity of the thread that forks them, so every process is started
	// from this locked thread, which gets its affinity back at the end.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var was, all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &was); err != nil {
		return res, err
	}
	defer func() { _ = unix.SchedSetaffinity(0, &was) }()
	for i := 0; i < runtime.NumCPU() || i < 64; i++ {
		all.Set(i)
	}
	if err := unix.SchedSetaffinity(0, &all); err != nil {
		return res, fmt.Errorf("restoring CPU affinity: %w", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return res, err
	}
	defer framework.StopAll()
	cp, err := framework.StartLocal(ctx, binDir, dir, framework.Progress)
	if err != nil {
		return res, err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", cp.Kubeconfig)
	if err != nil {
		return res, err
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return res, err
	}
	api := &apiClient{c: hc, host: strings.TrimSuffix(cfg.Host, "/")}
	for n := 0; n < auditNamespaces; n++ {
		ns := map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": auditNamespace(n)}}
		if err := api.create(ctx, "/api/v1/namespaces", ns); err != nil {
			return res, err
		}
	}
	kubectl := filepath.Join(binDir, "kubectl")
	loaded := 0
	for _, n := range sizes {
		if err := api.load(ctx, loaded, n); err != nil {
			return res, err
		}
		loaded = n
		if err := api.counts(ctx, n); err != nil {
			return res, err
		}
		s, err := timeAudit(b, kubectl, kyverno, kyvernoPolicy, cp.Kubeconfig, dir, n, res.skipped != "")
		if err != nil {
			return res, err
		}
		res.sizes = append(res.sizes, s)
		if err := cp.Check(); err != nil {
			return res, err
		}
	}
	framework.StopAll()
	_ = os.RemoveAll(dir) // kept, with the control plane's logs, on an error
	return res, nil
}

func auditNamespace(n int) string { return fmt.Sprintf("audit-%02d", n) }

// auditObject is the i-th object the harness creates, and whether the
// default policy denies it. It cycles through the kinds and ten cases: a
// blank owner, an owner missing from the last label map (for a Pod: no
// labels at all) and from metadata.labels alone, which violate (the API
// server itself refuses a value the pattern refuses); no labels
// in kube-system, which is exempt; environment set everywhere, and five
// plain compliant objects. No controller makes or deletes anything: there is
// no node and no scheduler, Deployments are paused (a paused Deployment makes
// no ReplicaSet), the other workloads have zero replicas and select only
// their own Pods, and Jobs and CronJobs are suspended.
func auditObject(i int) (obj map[string]any, resource string, violates bool) {
	k := auditKinds[i%len(auditKinds)]
	places := append([]string{"metadata.labels"}, k.templates...)
	labels := make([]map[string]string, len(places))
	name := fmt.Sprintf("%s-%05d", strings.ToLower(k.kind), i)
	// Each object selects only its own Pods: a workload adopts any Pod its
	// selector matches, and with no replicas deletes it.
	for p := range labels {
		labels[p] = map[string]string{"app": name, "owner": "team-a"}
	}
	ns := auditNamespace(i % auditNamespaces)
	switch (i / len(auditKinds)) % 10 {
	case 0:
		labels[0]["owner"], violates = "", true
	case 1:
		violates = true
		if len(places) == 1 {
			labels[0] = nil
		} else {
			delete(labels[len(places)-1], "owner")
		}
	case 2:
		delete(labels[0], "owner")
		violates = true
	case 3:
		ns, labels[0] = "kube-system", nil
	case 4:
		for p := range labels {
			labels[p]["environment"] = "production"
		}
	}
	obj = manifest(k.kind, k.apiVersion, name, ns, labels)
	spec := obj["spec"].(map[string]any)
	if _, ok := spec["selector"]; ok {
		spec["selector"] = map[string]any{"matchLabels": map[string]any{"app": name}}
	}
	switch k.kind {
	case "Deployment":
		spec["replicas"], spec["paused"] = 0, true
	case "StatefulSet", "ReplicaSet":
		spec["replicas"] = 0
	case "Job", "CronJob":
		spec["suspend"] = true
	}
	return obj, k.resource, violates
}

// auditKey names an object as kyverno apply does: namespace/Kind/name.
func auditKey(obj map[string]any) string {
	m := obj["metadata"].(map[string]any)
	return fmt.Sprintf("%s/%s/%s", m["namespace"], obj["kind"], m["name"])
}

// apiClient creates objects with plain JSON requests, authenticated as the
// kubeconfig's user.
type apiClient struct {
	c    *http.Client
	host string
}

func (a *apiClient) create(ctx context.Context, path string, obj map[string]any) error {
	body, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.host+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("POST %s: %s: %.500s", path, resp.Status, b)
	}
	return nil
}

// load creates objects from up to n with concurrent requests.
func (a *apiClient) load(ctx context.Context, from, n int) error {
	framework.Progress("loading objects %d to %d", from, n)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next, done := atomic.Int64{}, atomic.Int64{}
	next.Store(int64(from))
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	t0 := time.Now()
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				obj, resource, _ := auditObject(i)
				m := obj["metadata"].(map[string]any)
				path := fmt.Sprintf("/apis/%s/namespaces/%s/%s", obj["apiVersion"], m["namespace"], resource)
				if obj["apiVersion"] == "v1" {
					path = fmt.Sprintf("/api/v1/namespaces/%s/%s", m["namespace"], resource)
				}
				if err := a.create(ctx, path, obj); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
				if d := done.Add(1); d%2000 == 0 {
					framework.Progress("created %d of %d objects (%.0f/s)", int(d)+from, n, float64(d)/time.Since(t0).Seconds())
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	framework.Progress("loaded %d objects in %v", n-from, time.Since(t0).Round(time.Millisecond))
	return nil
}

// counts checks that the cluster holds exactly the objects created, of each
// kind: no controller made any of its own. It waits up to half a minute for
// the counts to settle.
func (a *apiClient) counts(ctx context.Context, n int) error {
	want := map[string]int{}
	for i := 0; i < n; i++ {
		_, resource, _ := auditObject(i)
		want[resource]++
	}
	var wrong string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		wrong = ""
		for resource, path := range map[string]string{"pods": "/api/v1/pods", "deployments": "/apis/apps/v1/deployments",
			"statefulsets": "/apis/apps/v1/statefulsets", "daemonsets": "/apis/apps/v1/daemonsets", "replicasets": "/apis/apps/v1/replicasets",
			"jobs": "/apis/batch/v1/jobs", "cronjobs": "/apis/batch/v1/cronjobs"} {
			got, err := a.count(ctx, path)
			if err != nil {
				return err
			}
			if got != want[resource] {
				wrong += fmt.Sprintf("; %d %s, the harness created %d", got, resource, want[resource])
			}
		}
		if wrong == "" {
			return nil
		}
	}
	return fmt.Errorf("the cluster holds other objects than the harness created%s", wrong)
}

// count lists path in pages and counts the items.
func (a *apiClient) count(ctx context.Context, path string) (int, error) {
	n, cont := 0, ""
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.host+path+"?limit=1000&continue="+url.QueryEscape(cont), nil)
		if err != nil {
			return 0, err
		}
		resp, err := a.c.Do(req)
		if err != nil {
			return 0, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return 0, fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		var list struct {
			Metadata struct{ Continue string }
			Items    []struct{} // each item's fields are skipped
		}
		err = json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		if err != nil {
			return 0, fmt.Errorf("GET %s: %v", path, err)
		}
		n += len(list.Items)
		if cont = list.Metadata.Continue; cont == "" {
			return n, nil
		}
	}
}

// timeAudit checks the commands' verdicts on the n objects loaded, then
// times them, alternating run by run.
func timeAudit(b binaries, kubectl, kyverno, kyvernoPolicy, kubeconfig, dir string, n int, noKyverno bool) (auditSize, error) {
	s := auditSize{objects: n}
	want := map[string]bool{}
	for i := 0; i < n; i++ {
		if obj, _, v := auditObject(i); v {
			want[auditKey(obj)] = true
		}
	}
	s.violating = len(want)
	framework.Progress("%d objects, %d violating: checking the verdicts", n, len(want))
	env := []string{"KUBECONFIG=" + kubeconfig}
	get := func(format string) *exec.Cmd {
		return command(env, kubectl, "get", auditResources, "-A", "-o", format)
	}

	// The verdicts first: bouncer audit's and the pipe's -o json.
	if b.audit != "" {
		out, err := command(env, b.audit, "--kubeconfig", kubeconfig, "-o", "json").Output()
		if exitCode(err) != 1 {
			return s, fmt.Errorf("bouncer-audit -o json: want exit 1 (violations), got %v: %s", err, stderrOf(err))
		}
		s.disagree = append(s.disagree, sameViolations("bouncer audit", out, want)...)
	}
	var pipeOut bytes.Buffer
	check := command(nil, b.bouncer, "check", "-o", "json", "-")
	check.Stdout = &pipeOut
	if _, _, _, err := runPipe(get("yaml"), check); exitCode(err) != 1 {
		return s, fmt.Errorf("kubectl get -o yaml | bouncer check -o json -: want exit 1 (violations), got %v", err)
	}
	s.disagree = append(s.disagree, sameViolations("the pipe", pipeOut.Bytes(), want)...)

	kyvernoOut := filepath.Join(dir, "kyverno.out")
	kyvernoRuns := auditRuns
	for r := 0; r < auditRuns; r++ {
		framework.Progress("%d objects: run %d of %d", n, r+1, auditRuns)
		if err := timeOne(&s.floor, 0, get("json")); err != nil {
			return s, err
		}
		if b.audit != "" {
			if err := timeOne(&s.audit, 1, command(env, b.audit, "--kubeconfig", kubeconfig, "-o", "json")); err != nil {
				return s, err
			}
		}
		t, rss, which, err := runPipe(get("yaml"), command(nil, b.bouncer, "check", "-"))
		if exitCode(err) != 1 {
			return s, fmt.Errorf("kubectl get -o yaml | bouncer check -: want exit 1 (violations), got %v", err)
		}
		s.pipe.runs = append(s.pipe.runs, t)
		if rss > s.pipe.rssKiB {
			s.pipe.rssKiB, s.pipe.which = rss, which
		}
		if noKyverno || r >= kyvernoRuns {
			continue
		}
		// kyverno apply prints every mutated object: to a file, which the
		// first run's verdicts are read from.
		f, err := os.Create(kyvernoOut)
		if err != nil {
			return s, err
		}
		kc := command(env, kyverno, "apply", kyvernoPolicy, "--cluster")
		kc.Stdout = f
		err = timeOne(&s.kyv, 1, kc)
		f.Close()
		if err != nil {
			return s, err
		}
		if r == 0 {
			out, err := os.ReadFile(kyvernoOut)
			if err != nil {
				return s, err
			}
			if d := kyvernoViolations(out, want); len(d) > 0 {
				s.disagree = append(s.disagree, d...)
				kyvernoRuns = 0
				s.kyv = auditTiming{}
			}
			// A run of minutes is timed once.
			if s.kyv.runs != nil && s.kyv.runs[0] > 2*time.Minute {
				kyvernoRuns = 1
			}
		}
		framework.Progress("%d objects: floor %v, audit %v, pipe %v, kyverno %v", n, at(s.floor.runs, r), at(s.audit.runs, r), at(s.pipe.runs, r), at(s.kyv.runs, r))
	}
	return s, nil
}

func at(ds []time.Duration, i int) any {
	if i < len(ds) {
		return ds[i].Round(time.Millisecond)
	}
	return "-"
}

// command is name with args, with env added, its output discarded unless
// the caller sets it.
func command(env []string, name string, args ...string) *exec.Cmd {
	c := exec.Command(name, args...)
	c.Env = append(os.Environ(), env...)
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return c
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// timeOne runs c, wanting exit code want, and adds its time and peak RSS.
func timeOne(t *auditTiming, want int, c *exec.Cmd) error {
	var errOut bytes.Buffer
	c.Stderr = &errOut
	t0 := time.Now()
	if err := c.Start(); err != nil {
		return err
	}
	w := watchRSS(c)
	err := c.Wait()
	d := time.Since(t0)
	rss := w.stop()
	if exitCode(err) != want {
		return fmt.Errorf("%s: want exit %d, got %v: %.2000s", strings.Join(c.Args, " "), want, err, errOut.String())
	}
	t.runs = append(t.runs, d)
	t.rssKiB = max(t.rssKiB, rss)
	return nil
}

// runPipe runs from | to, and returns the time from the start of the first
// to the end of both, the larger peak RSS of the two and whose it was. A
// failure of from is an error; to's exit is returned as err.
func runPipe(from, to *exec.Cmd) (time.Duration, int, string, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return 0, 0, "", err
	}
	var fromErr, toErr bytes.Buffer
	from.Stdout, from.Stderr = pw, &fromErr
	to.Stdin, to.Stderr = pr, &toErr
	t0 := time.Now()
	if err := from.Start(); err != nil {
		pr.Close()
		pw.Close()
		return 0, 0, "", err
	}
	if err := to.Start(); err != nil {
		pr.Close()
		pw.Close()
		_ = from.Wait()
		return 0, 0, "", err
	}
	pr.Close()
	pw.Close()
	wf, wt := watchRSS(from), watchRSS(to)
	errFrom, errTo := from.Wait(), to.Wait()
	d := time.Since(t0)
	a, b := wf.stop(), wt.stop()
	if errFrom != nil {
		return 0, 0, "", fmt.Errorf("%s: %v: %.2000s", strings.Join(from.Args, " "), errFrom, fromErr.String())
	}
	if c := exitCode(errTo); c != 0 && c != 1 {
		return 0, 0, "", fmt.Errorf("%s: %v: %.2000s", strings.Join(to.Args, " "), errTo, toErr.String())
	}
	if a >= b {
		return d, a, filepath.Base(from.Path), errTo
	}
	return d, b, filepath.Base(to.Path), errTo
}

// sameViolations compares the results of bouncer audit or bouncer check -o
// json with the violating objects.
func sameViolations(who string, out []byte, want map[string]bool) []string {
	var j struct {
		Results []struct {
			Kind, Namespace, Name string
			Denied                bool
		}
	}
	if err := json.Unmarshal(out, &j); err != nil {
		return []string{fmt.Sprintf("%s -o json: %v: %.500s", who, err, out)}
	}
	got := map[string]bool{}
	for _, r := range j.Results {
		if r.Denied {
			got[r.Namespace+"/"+r.Kind+"/"+r.Name] = true
		}
	}
	return diffSets(who, got, want)
}

// kyvernoViolations compares the objects kyverno apply failed with the
// violating ones; its summary must show no warning nor error.
func kyvernoViolations(out []byte, want map[string]bool) []string {
	var diff []string
	got := map[string]bool{}
	summary := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		for _, m := range kyvernoFailed.FindAllStringSubmatch(sc.Text(), -1) {
			got[m[1]] = true
		}
		if m := kyvernoSummary.FindStringSubmatch(sc.Text()); m != nil {
			summary = true
			if m[2] != "0" || m[3] != "0" {
				diff = append(diff, "kyverno apply --cluster reported warnings or errors: "+m[0])
			}
		}
	}
	if err := sc.Err(); err != nil {
		return append(diff, "reading kyverno apply's output: "+err.Error())
	}
	if !summary {
		return append(diff, fmt.Sprintf("kyverno apply --cluster printed no summary:\n%.2000s", out))
	}
	return append(diff, diffSets("kyverno apply --cluster", got, want)...)
}

// diffSets lists the objects who reports and the harness did not create
// violating, and the other way round, sorted.
func diffSets(who string, got, want map[string]bool) []string {
	var diff []string
	for k := range got {
		if !want[k] {
			diff = append(diff, fmt.Sprintf("%s: %s reports it, but it is compliant or exempt", k, who))
		}
	}
	for k := range want {
		if !got[k] {
			diff = append(diff, fmt.Sprintf("%s: violates, but %s does not report it", k, who))
		}
	}
	slices.Sort(diff)
	return diff
}

// auditTargets evaluates the audit targets at the largest size.
func (r *report) auditTargets() []string {
	a := r.audit
	if len(a.sizes) == 0 {
		return nil
	}
	first, last := a.sizes[0], a.last()
	var out []string
	const timeTarget = "| `bouncer audit`, %s objects | ≤ 1.5× the floor's time (`kubectl get -o json`) | %s | %s |"
	if len(last.audit.runs) == 0 {
		return append(out, fmt.Sprintf(timeTarget, thousands(last.objects), "not run: "+a.absent, met(false)))
	}
	au, fl := median(last.audit.runs), median(last.floor.runs)
	out = append(out, fmt.Sprintf(timeTarget, thousands(last.objects), fmt.Sprintf("%.2f× (%s vs %s)", float64(au)/float64(fl), secs(au), secs(fl)), met(float64(au) <= 1.5*float64(fl))))
	var disagree int
	for _, s := range a.sizes {
		disagree += len(s.disagree)
	}
	const kyvTarget = "| `bouncer audit` vs `kyverno apply --cluster`, %s objects | ≥ 5× faster, same verdicts | %s | %s |"
	switch {
	case disagree > 0:
		out = append(out, fmt.Sprintf(kyvTarget, thousands(last.objects), fmt.Sprintf("%d disagreements: see below", disagree), met(false)))
	case len(last.kyv.runs) > 0:
		k := median(last.kyv.runs)
		out = append(out, fmt.Sprintf(kyvTarget, thousands(last.objects), fmt.Sprintf("%.1f× faster (%s vs %s), the same %s violating objects", float64(k)/float64(au), secs(au), secs(k), thousands(last.violating)), met(float64(k) >= 5*float64(au))))
	}
	grow := float64(last.audit.rssKiB-first.audit.rssKiB) / 1024
	out = append(out, fmt.Sprintf("| `bouncer audit` peak RSS | under 100 MiB, ≤ +10 MiB from %s to %s objects | %s at %s, %+.1f MiB from %s | %s |",
		thousands(first.objects), thousands(last.objects), mib(last.audit.rssKiB), thousands(last.objects), grow, thousands(first.objects),
		met(last.audit.rssKiB < 100*1024 && grow <= 10)))
	return out
}

func mib(kib int) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

// thousands writes n with a comma every three digits.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// writeAudit reports the audit benchmark.
func (r *report) writeAudit(w func(string, ...any)) {
	a := r.audit
	if len(a.sizes) == 0 {
		return
	}
	w("## bouncer audit of a live cluster")
	w("")
	w("A local kube-apiserver v1.37.2 and etcd on this machine hold the objects, created by the harness in %d", a.namespaces)
	w("namespaces and kube-system: Pods (8 in 14), and Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs")
	w("and CronJobs that no controller expands (paused, no replicas, suspended; there is no node), which the")
	w("harness checks by counting each kind. 3 in 10 violate the default policy (a blank or missing")
	w("`owner`), 1 in 10 is in kube-system, exempt. Every command lists %s,", strings.ReplaceAll(auditResources, ",", ", "))
	w("with every core, as the API server has. The harness compares what `bouncer audit -o json`, the pipe")
	w("with `bouncer check -o json -` and the first timed `kyverno apply --cluster` (its output read from a")
	w("file) report with the violating objects it created; any difference is listed here. The medians are of %d runs, the four", auditRuns)
	w("commands alternating; peak RSS is the process's own high-water mark (VmHWM, sampled while it runs: wait4's maxrss carries the harness's own across the exec), the largest of the runs (for the pipe,")
	w("of the larger process, named). bouncer itself is not installed, so `bouncer audit` also reports its")
	w("configurations missing.")
	w("")
	if a.absent != "" {
		w("`bouncer audit` was not run: %s.", a.absent)
		w("")
	}
	if a.skipped != "" {
		w("Kyverno was not run: %s.", a.skipped)
		w("")
	}
	for _, s := range a.sizes {
		if len(s.disagree) == 0 {
			continue
		}
		w("**At %s objects, %d disagreements with the objects created violating** (Kyverno's times are dropped when it disagrees). The first of them:", thousands(s.objects), len(s.disagree))
		w("")
		for i, d := range s.disagree {
			if i == 20 {
				break
			}
			w("- %s", d)
		}
		w("")
	}
	w("| command, objects | runs (alternating) | median | × the floor | peak RSS | |")
	w("|---|---|---|---|---|---|")
	for _, s := range a.sizes {
		fl := median(s.floor.runs)
		row := func(name string, t auditTiming, rss, last string) {
			if len(t.runs) == 0 {
				return
			}
			var runs []string
			for _, d := range t.runs {
				runs = append(runs, secs(d))
			}
			m := median(t.runs)
			w("| %s, %s objects | %s | %s | %.2f× | %s | %s |", name, thousands(s.objects), strings.Join(runs, ", "), secs(m), float64(m)/float64(fl), rss, last)
		}
		row("kubectl get -o json (the floor)", s.floor, mib(s.floor.rssKiB), "")
		row("bouncer audit", s.audit, mib(s.audit.rssKiB), "")
		row("kubectl get -o yaml into bouncer check -", s.pipe, fmt.Sprintf("%s (%s)", mib(s.pipe.rssKiB), s.pipe.which), "")
		vs := ""
		if len(s.audit.runs) > 0 && len(s.kyv.runs) > 0 {
			vs = fmt.Sprintf("%.1f× bouncer audit's time", float64(median(s.kyv.runs))/float64(median(s.audit.runs)))
		}
		row("kyverno apply --cluster "+a.kyvernoVersion, s.kyv, mib(s.kyv.rssKiB), vs)
	}
	w("")
}

// auditMarkdown is the audit's section alone, for bench -only audit.
func (r *report) auditMarkdown() string {
	var b strings.Builder
	r.writeAudit(func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) })
	return b.String()
}
