package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"bouncer.dev/bouncer/e2e/framework"
	"sigs.k8s.io/yaml"
)

// The CLI benchmark: `bouncer check` and `kyverno apply` judge the same
// generated manifests with the same policy (the embedded default, and
// bench/kyverno/policy.yaml written for Kyverno). They are timed only after
// they agree on every manifest: the same objects denied, and the same object
// after each engine's mutation.

// check times bouncer check and kyverno apply over the same generated
// manifests, once they agree on every one.
func (h *harness) check(rep *report) (err error) {
	framework.Progress("bouncer check and kyverno apply over %d manifests", h.checkFiles)
	manifests := filepath.Join(h.work, "manifests")
	if err := writeCorpus(manifests, h.checkFiles); err != nil {
		return err
	}
	kyvernoPolicy := filepath.Join(h.root, "bench", "kyverno", "policy.yaml")
	if rep.check, err = runCheckBench(h.bin.bouncer, h.kyverno, kyvernoPolicy, manifests, h.work, h.checkFiles, 3); err != nil {
		return err
	}
	rep.commands = append(rep.commands,
		fmt.Sprintf("taskset -c 0,1 bin/bouncer check DIR   # %d generated manifests, one a file", h.checkFiles),
		"taskset -c 0,1 .cache/kyverno/v1.19.1/kyverno apply bench/kyverno/policy.yaml --resource DIR",
		fmt.Sprintf("taskset -c %s bin/bouncer check DIR   # unpinned: every online CPU, %d cores", rep.check.cpus, rep.check.cores),
		fmt.Sprintf("taskset -c %s .cache/kyverno/v1.19.1/kyverno apply bench/kyverno/policy.yaml --resource DIR", rep.check.cpus))
	return nil
}

// checkResult is what the report shows.
type checkResult struct {
	files, denied, mutated int
	bouncer, kyverno       []time.Duration
	// The same runs unpinned: on every online CPU (cpus, a taskset list),
	// cores of them.
	bouncerAll, kyvernoAll []time.Duration
	cpus                   string
	cores                  int
	kyvernoVersion         string
	kyvernoSize            int64
	disagree               []string // non-empty: not timed
	skipped                string   // why Kyverno was not run, if it was not
}

// The kinds the default policy covers, with where each keeps label maps
// besides metadata.labels; Pods are weighted as the commonest manifest.
var corpusKinds = []struct {
	kind, apiVersion string
	templates        []string
}{
	{"Pod", "v1", nil}, {"Pod", "v1", nil}, {"Pod", "v1", nil}, {"Pod", "v1", nil},
	{"Deployment", "apps/v1", []string{"spec.template.metadata.labels"}},
	{"StatefulSet", "apps/v1", []string{"spec.template.metadata.labels"}},
	{"DaemonSet", "apps/v1", []string{"spec.template.metadata.labels"}},
	{"ReplicaSet", "apps/v1", []string{"spec.template.metadata.labels"}},
	{"Job", "batch/v1", []string{"spec.template.metadata.labels"}},
	{"CronJob", "batch/v1", []string{"spec.jobTemplate.metadata.labels", "spec.jobTemplate.spec.template.metadata.labels"}},
}

// writeCorpus writes n manifests, one a file, cycling through the kinds and
// ten cases: a blank owner, an owner missing from the last label map (for a
// Pod: no labels at all), an owner the pattern refuses, environment already
// set everywhere, an exempt namespace, the exemption label on the object
// itself (no exemption: only a Namespace's label exempts), environment set
// on the object but not its templates, and three compliant objects that only
// get environment added. Names are unique because Kyverno names its output
// files after them.
func writeCorpus(dir string, n int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		k := corpusKinds[i%len(corpusKinds)]
		places := append([]string{"metadata.labels"}, k.templates...)
		labels := make([]map[string]string, len(places))
		for p := range labels {
			labels[p] = map[string]string{"app": "web", "owner": "team-a"}
		}
		ns := "shop"
		switch (i / len(corpusKinds)) % 10 {
		case 0:
			labels[0]["owner"] = ""
		case 1:
			if len(places) == 1 {
				labels[0] = nil
			} else {
				delete(labels[len(places)-1], "owner")
			}
		case 2:
			labels[0]["owner"] = "-team-a"
		case 3:
			for p := range labels {
				labels[p]["environment"] = "production"
			}
		case 4:
			ns = "kube-system"
			labels[0] = nil
		case 5:
			labels[0] = map[string]string{"bouncer.dev/exempt": "true"}
		case 6:
			labels[0]["environment"] = "staging"
		}
		name := fmt.Sprintf("%s-%05d", strings.ToLower(k.kind), i)
		obj := manifest(k.kind, k.apiVersion, name, ns, labels)
		b, err := yaml.Marshal(obj)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name+".yaml"), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// manifest builds a realistic object; labels[0] is metadata.labels and the
// rest are the kind's templates in order. A nil map is left out.
func manifest(kind, apiVersion, name, ns string, labels []map[string]string) map[string]any {
	meta := func(l map[string]string) map[string]any {
		m := map[string]any{}
		if l != nil {
			m["labels"] = l
		}
		return m
	}
	pod := map[string]any{"containers": []any{map[string]any{"name": "app", "image": "registry.example/app:1.4.2",
		"ports": []any{map[string]any{"containerPort": 8080}}, "resources": map[string]any{"requests": map[string]any{"cpu": "100m", "memory": "128Mi"}}}}}
	m := meta(labels[0])
	m["name"], m["namespace"] = name, ns
	obj := map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": m}
	selector := map[string]any{"matchLabels": map[string]any{"app": "web"}}
	switch kind {
	case "Pod":
		obj["spec"] = pod
	case "Job":
		p := map[string]any{"restartPolicy": "Never", "containers": pod["containers"]}
		obj["spec"] = map[string]any{"template": map[string]any{"metadata": meta(labels[1]), "spec": p}}
	case "CronJob":
		p := map[string]any{"restartPolicy": "OnFailure", "containers": pod["containers"]}
		obj["spec"] = map[string]any{"schedule": "0 3 * * *", "jobTemplate": map[string]any{"metadata": meta(labels[1]),
			"spec": map[string]any{"template": map[string]any{"metadata": meta(labels[2]), "spec": p}}}}
	default:
		spec := map[string]any{"selector": selector, "template": map[string]any{"metadata": meta(labels[1]), "spec": pod}}
		if kind == "StatefulSet" {
			spec["serviceName"] = "web"
		}
		if kind != "DaemonSet" {
			spec["replicas"] = 3
		}
		obj["spec"] = spec
	}
	return obj
}

// runCheckBench compares and then times the two CLIs on dir. Both run on both
// cores: the harness itself is pinned to one, and a CLI is not a server. Each
// run is timed again unpinned, on every online CPU of the machine.
func runCheckBench(bouncer, kyverno, policyFile, dir, work string, n, runs int) (checkResult, error) {
	res := checkResult{files: n}
	both := func(name string, args ...string) *exec.Cmd {
		return exec.Command("taskset", append([]string{"-c", "0,1", name}, args...)...)
	}
	var err error
	if res.cpus, res.cores, err = onlineCPUs(); err != nil {
		return res, err
	}
	all := func(name string, args ...string) *exec.Cmd {
		return exec.Command("taskset", append([]string{"-c", res.cpus, name}, args...)...)
	}
	// bouncer's verdicts, and its additions applied to the input.
	out, err := both(bouncer, "check", "-o", "json", dir).Output()
	if err != nil && exitCode(err) != 1 {
		return res, fmt.Errorf("bouncer check -o json: %v", err)
	}
	var bj struct {
		Results []struct {
			File, Kind, Namespace, Name string
			Denied                      bool
			Adds                        []struct{ Place, Key, Value string }
		}
	}
	if err := json.Unmarshal(out, &bj); err != nil {
		return res, fmt.Errorf("bouncer check -o json: %v", err)
	}
	bDenied := map[string]bool{}
	bAfter := map[string]map[string]any{}
	for _, r := range bj.Results {
		if r.Denied {
			bDenied[r.Namespace+"/"+r.Kind+"/"+r.Name] = true
		}
		if len(r.Adds) == 0 {
			continue
		}
		res.mutated++
		obj, err := readObject(r.File)
		if err != nil {
			return res, err
		}
		for _, a := range r.Adds {
			setLabel(obj, a.Place, a.Key, a.Value)
		}
		bAfter[r.Name] = obj
	}
	res.denied = len(bDenied)

	if kyverno == "" {
		res.skipped = "BOUNCER_KYVERNO is unset (make bench sets it after `make kyverno`)"
	} else if st, err := os.Stat(kyverno); err != nil {
		res.skipped = fmt.Sprintf("the Kyverno CLI is not built: %v", err)
	} else {
		res.kyvernoSize = st.Size()
		if v, err := exec.Command(kyverno, "version").Output(); err == nil {
			res.kyvernoVersion = strings.TrimPrefix(strings.SplitN(string(v), "\n", 2)[0], "Version: ")
		}
		mutated := filepath.Join(work, "kyverno-mutated") + "/"
		if err := os.MkdirAll(mutated, 0o755); err != nil {
			return res, err
		}
		ko, err := both(kyverno, "apply", policyFile, "--resource", dir, "-o", mutated).CombinedOutput()
		if err != nil && exitCode(err) != 1 {
			return res, fmt.Errorf("kyverno apply: %v\n%.2000s", err, ko)
		}
		res.disagree = compareKyverno(string(ko), bDenied, bAfter, dir, mutated)
		if len(res.disagree) > 0 {
			return res, nil
		}
	}

	// Alternate the two, pinned and unpinned, so that drift on this shared
	// machine hits all four.
	timed := func(cmd *exec.Cmd, into *[]time.Duration) error {
		t := time.Now()
		if err := cmd.Run(); exitCode(err) != 1 {
			return fmt.Errorf("%s: want exit 1 (violations), got %v", strings.Join(cmd.Args, " "), err)
		}
		*into = append(*into, time.Since(t))
		return nil
	}
	for i := 0; i < runs; i++ {
		for _, run := range []struct {
			taskset                  func(string, ...string) *exec.Cmd
			bouncerInto, kyvernoInto *[]time.Duration
		}{{both, &res.bouncer, &res.kyverno}, {all, &res.bouncerAll, &res.kyvernoAll}} {
			if err := timed(run.taskset(bouncer, "check", dir), run.bouncerInto); err != nil {
				return res, err
			}
			if res.skipped != "" {
				continue
			}
			if err := timed(run.taskset(kyverno, "apply", policyFile, "--resource", dir), run.kyvernoInto); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

// onlineCPUs returns the machine's online CPUs as a taskset list, such as
// "0-7", and how many of them a command run under that list gets (a cgroup
// may allow fewer). runtime.NumCPU cannot say: it counts the CPUs this
// process may use, and make bench pins the harness to one.
func onlineCPUs() (cpus string, cores int, err error) {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return "", 0, err
	}
	cpus = strings.TrimSpace(string(b))
	out, err := exec.Command("taskset", "-c", cpus, "nproc").Output()
	if err != nil {
		return "", 0, fmt.Errorf("taskset -c %s nproc: %v", cpus, err)
	}
	cores, err = strconv.Atoi(strings.TrimSpace(string(out)))
	return cpus, cores, err
}

// kyvernoFailed is how kyverno apply names a resource that failed a rule. It
// is not anchored: the first one follows the last mutation message on the
// same line.
var (
	kyvernoFailed  = regexp.MustCompile(`policy bouncer-default -> resource (\S+) failed:`)
	kyvernoSummary = regexp.MustCompile(`^pass: \d+, fail: (\d+), warn: (\d+), error: (\d+), skip: \d+`)
)

// compareKyverno lists every manifest on which Kyverno and bouncer differ:
// the verdict, or the object after mutation (Kyverno writes each mutated
// object to NAME-mutated.yaml; an object it leaves alone must be one bouncer
// adds nothing to).
func compareKyverno(out string, bDenied map[string]bool, bAfter map[string]map[string]any, dir, mutated string) []string {
	var diff []string
	kDenied := map[string]bool{}
	summary := false
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if m := kyvernoFailed.FindStringSubmatch(sc.Text()); m != nil {
			kDenied[m[1]] = true
		}
		if m := kyvernoSummary.FindStringSubmatch(sc.Text()); m != nil {
			summary = true
			if m[2] != "0" || m[3] != "0" {
				diff = append(diff, "kyverno apply reported warnings or errors: "+m[0])
			}
		}
	}
	if !summary {
		return append(diff, fmt.Sprintf("kyverno apply printed no summary:\n%.2000s", out))
	}
	for k := range kDenied {
		if !bDenied[k] {
			diff = append(diff, k+": Kyverno denies, bouncer admits")
		}
	}
	for k := range bDenied {
		if !kDenied[k] {
			diff = append(diff, k+": bouncer denies, Kyverno admits")
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return append(diff, err.Error())
	}
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".yaml")
		in, err := readObject(filepath.Join(dir, e.Name()))
		if err != nil {
			return append(diff, err.Error())
		}
		kAfter, err := readObject(filepath.Join(mutated, name+"-mutated.yaml"))
		if os.IsNotExist(err) {
			kAfter, err = in, nil
		}
		if err != nil {
			return append(diff, err.Error())
		}
		want := bAfter[name]
		if want == nil {
			want = in
		}
		if !reflect.DeepEqual(kAfter, want) {
			kb, _ := json.Marshal(kAfter)
			wb, _ := json.Marshal(want)
			diff = append(diff, fmt.Sprintf("%s: after mutation Kyverno has %s, bouncer %s", name, kb, wb))
		}
	}
	return diff
}

// readObject reads one YAML document into the form encoding/json gives, so
// that two objects compare equal exactly when their JSON does.
func readObject(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	// Kyverno ends each document with a separator.
	b, _, _ = bytes.Cut(b, []byte("\n---"))
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return m, nil
}

// setLabel sets key=value in the label map at the dotted place, creating the
// maps on the way as the mutate patch does.
func setLabel(obj map[string]any, place, key, value string) {
	m := obj
	for _, f := range strings.Split(place, ".") {
		next, ok := m[f].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[f] = next
		}
		m = next
	}
	m[key] = value
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}
