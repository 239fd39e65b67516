package verify

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"bouncer.dev/bouncer/deploy/manifests"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// Cloud Run cannot run here, so these are its documented rules, each with
// the page that states it. The accepted annotations come from Google's own
// discovery document for the Cloud Run Admin API v1 (run/v1/run-api.json in
// the google.golang.org/api module, ObjectMeta.annotations), which lists,
// for each run.googleapis.com/ and autoscaling.knative.dev annotation, the
// resources that accept it: https://cloud.google.com/run/docs/reference/rest/v1/ObjectMeta
//
// What this checks is the rules, not Cloud Run: docs/deploying.md says so.

const testImage = "europe-west1-docker.pkg.dev/project/bouncer/bouncer@sha256:0000000000000000000000000000000000000000000000000000000000000000"
const testSA = "bouncer-runtime@project.iam.gserviceaccount.com"

var (
	// Google Cloud labels (https://cloud.google.com/run/docs/configuring/services/labels,
	// https://cloud.google.com/resource-manager/docs/creating-managing-labels#requirements):
	// keys start with a lowercase letter or an international character,
	// keys and values hold only lowercase letters, digits, _ and -, at most
	// 63 characters each, and a resource has at most 64.
	labelKey   = regexp.MustCompile(`^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$`)
	labelValue = regexp.MustCompile(`^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$`)
)

// Values Cloud Run accepts for the annotations bouncer sets
// (https://cloud.google.com/run/docs/reference/yaml/v1).
var annotationValues = map[string]*regexp.Regexp{
	"run.googleapis.com/ingress":               regexp.MustCompile(`^(all|internal|internal-and-cloud-load-balancing)$`),
	"run.googleapis.com/invoker-iam-disabled":  regexp.MustCompile(`^(true|false)$`),
	"run.googleapis.com/execution-environment": regexp.MustCompile(`^(gen1|gen2)$`),
	"run.googleapis.com/startup-cpu-boost":     regexp.MustCompile(`^(true|false)$`),
	"run.googleapis.com/cpu-throttling":        regexp.MustCompile(`^(true|false)$`),
	"autoscaling.knative.dev/minScale":         regexp.MustCompile(`^[0-9]+$`),
	"autoscaling.knative.dev/maxScale":         regexp.MustCompile(`^[1-9][0-9]*$`),
}

// acceptedAnnotations reads the discovery document's table: annotation →
// the resources ("Service", "Revision", ...) that accept it.
func acceptedAnnotations(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-json", "google.golang.org/api").Output()
	if err != nil {
		t.Fatalf("go list -m google.golang.org/api: %v", err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("locating google.golang.org/api: %v %s", err, out)
	}
	raw, err := os.ReadFile(filepath.Join(mod.Dir, "run", "v1", "run-api.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Revision string `json:"revision"`
		Schemas  map[string]struct {
			Properties map[string]struct {
				Description string `json:"description"`
			} `json:"properties"`
		} `json:"schemas"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	desc := doc.Schemas["ObjectMeta"].Properties["annotations"].Description
	table := map[string][]string{}
	for _, m := range regexp.MustCompile("`([a-z0-9.-]+/[A-Za-z-]+)`: ([A-Za-z ,]+)").FindAllStringSubmatch(desc, -1) {
		for _, r := range strings.Split(m[2], ",") {
			if r = strings.TrimSpace(r); r != "" {
				table[m[1]] = append(table[m[1]], r)
			}
		}
	}
	if len(table) < 30 || table["run.googleapis.com/ingress"] == nil {
		t.Fatalf("the discovery document's annotation table did not parse: %v", table)
	}
	t.Logf("Cloud Run Admin API discovery revision %s: %d restricted annotations", doc.Revision, len(table))
	return table
}

// cloudRunProblems lists every way a Service breaks Cloud Run's rules.
func cloudRunProblems(svc map[string]any, accepted map[string][]string) []string {
	var p []string
	bad := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	meta := obj(svc, "metadata")
	tmpl := obj(svc, "spec", "template")
	tmeta := obj(tmpl, "metadata")
	spec := obj(tmpl, "spec")
	for _, place := range []struct {
		where string
		m     map[string]any
	}{{"metadata.labels", obj(meta, "labels")}, {"spec.template.metadata.labels", obj(tmeta, "labels")}} {
		if len(place.m) > 64 {
			bad("%s: %d labels, over 64", place.where, len(place.m))
		}
		for k, v := range place.m {
			if !labelKey.MatchString(k) {
				bad("%s: key %q is not a Google Cloud label key (lowercase letters, digits, _ and -, starting with a letter)", place.where, k)
			}
			if s, _ := v.(string); !labelValue.MatchString(s) {
				bad("%s[%s]: value %q is not a Google Cloud label value", place.where, k, s)
			}
		}
	}
	for _, place := range []struct {
		where, resource string
		m               map[string]any
	}{{"metadata.annotations", "Service", obj(meta, "annotations")}, {"spec.template.metadata.annotations", "Revision", obj(tmeta, "annotations")}} {
		for k, v := range place.m {
			if !strings.HasPrefix(k, "run.googleapis.com/") && !strings.HasPrefix(k, "autoscaling.knative.dev/") {
				continue
			}
			if !contains(accepted[k], place.resource) && !contains(accepted[k], "All resources") {
				bad("%s: %s is not accepted on a %s (accepted on: %v)", place.where, k, place.resource, accepted[k])
			}
			if re := annotationValues[k]; re != nil {
				if s, _ := v.(string); !re.MatchString(s) {
					bad("%s[%s]: value %q, want %s", place.where, k, s, re)
				}
			}
		}
	}
	ann := obj(meta, "annotations")
	if ann["run.googleapis.com/invoker-iam-disabled"] != "true" {
		bad("metadata.annotations: run.googleapis.com/invoker-iam-disabled is not \"true\": the API server cannot send an identity token")
	}
	if ann["run.googleapis.com/ingress"] != "all" {
		bad("metadata.annotations: run.googleapis.com/ingress is %v: a GKE control plane calls from outside the VPC, so it must be all", ann["run.googleapis.com/ingress"])
	}
	sa, _ := spec["serviceAccountName"].(string)
	if !strings.HasSuffix(sa, ".iam.gserviceaccount.com") || strings.Contains(sa, "-compute@developer.") {
		bad("spec.template.spec.serviceAccountName %q: want a dedicated service account, not the default compute one", sa)
	}
	env, _ := obj(tmeta, "annotations")["run.googleapis.com/execution-environment"].(string)
	// Memory (https://cloud.google.com/run/docs/configuring/services/memory-limits):
	// at least 128 MiB on the first generation, 512 MiB on the second; when
	// the environment is not pinned Cloud Run may pick either.
	minMemory := map[string]string{"gen1": "128Mi", "gen2": "512Mi", "": "512Mi"}[env]
	cpuLimit := 0.0
	containers, _ := spec["containers"].([]any)
	if len(containers) != 1 {
		bad("spec.template.spec.containers: %d containers; bouncer's service has one", len(containers))
	}
	for i, c := range containers {
		cm, _ := c.(map[string]any)
		limits := obj(cm, "resources", "limits")
		mem, err := resource.ParseQuantity(fmt.Sprint(limits["memory"]))
		switch {
		case err != nil:
			bad("containers[%d]: memory limit %v: %v", i, limits["memory"], err)
		case mem.Cmp(resource.MustParse(minMemory)) < 0:
			bad("containers[%d]: memory %s is under the %s minimum of execution environment %q", i, mem.String(), minMemory, env)
		case mem.Cmp(resource.MustParse("32Gi")) > 0:
			bad("containers[%d]: memory %s is over 32Gi", i, mem.String())
		}
		// CPU (https://cloud.google.com/run/docs/configuring/services/cpu):
		// 0.08 to 8; above 1, whole numbers only.
		cpu, err := resource.ParseQuantity(fmt.Sprint(limits["cpu"]))
		if err != nil {
			bad("containers[%d]: cpu limit %v: %v", i, limits["cpu"], err)
			continue
		}
		cpuLimit = cpu.AsApproximateFloat64()
		if cpuLimit < 0.08 || cpuLimit > 8 || (cpuLimit > 1 && cpuLimit != float64(int(cpuLimit))) {
			bad("containers[%d]: cpu %s: want 0.08 to 1, or a whole number up to 8", i, cpu.String())
		}
		if cpuLimit < 1 && env == "gen2" {
			bad("containers[%d]: cpu under 1 needs the first-generation execution environment", i)
		}
		// Health checks (https://cloud.google.com/run/docs/configuring/healthchecks):
		// periodSeconds 1 to 240, timeoutSeconds 1 to 240 and at most the period.
		for _, probe := range []string{"startupProbe", "livenessProbe"} {
			pr := obj(cm, probe)
			if pr == nil {
				continue
			}
			period, timeout := num(pr["periodSeconds"], 10), num(pr["timeoutSeconds"], 1)
			if period < 1 || period > 240 || timeout < 1 || timeout > 240 || timeout > period {
				bad("containers[%d].%s: periodSeconds %v and timeoutSeconds %v out of Cloud Run's range", i, probe, period, timeout)
			}
		}
	}
	// Concurrency (https://cloud.google.com/run/docs/about-concurrency): at
	// most 1000, and 1 when a container has less than one CPU.
	if cc := num(spec["containerConcurrency"], 0); cc > 1000 || (cpuLimit < 1 && cc != 1) {
		bad("spec.template.spec.containerConcurrency %v: at most 1000, and 1 with less than one CPU (cpu %v)", cc, cpuLimit)
	}
	// run/v1 RevisionSpec.timeoutSeconds: at most 3600.
	if ts := num(spec["timeoutSeconds"], 300); ts < 1 || ts > 3600 {
		bad("spec.template.spec.timeoutSeconds %v: 1 to 3600", ts)
	}
	sort.Strings(p)
	return p
}

func obj(m map[string]any, path ...string) map[string]any {
	for _, k := range path {
		m, _ = m[k].(map[string]any)
	}
	return m
}

func num(v any, def float64) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case string:
		f, err := strconv.ParseFloat(n, 64)
		if err == nil {
			return f
		}
	}
	return def
}

// named finds the element of a list of objects with the given name.
func named(list any, name string) map[string]any {
	l, _ := list.([]any)
	for _, e := range l {
		if m, _ := e.(map[string]any); m["name"] == name {
			return m
		}
	}
	return nil
}

// firstDoc returns the first document of a YAML stream that is not a
// Namespace: the Service or the Deployment.
func firstDoc(y []byte) []byte {
	for _, d := range strings.Split(string(y), "\n---\n") {
		if !strings.Contains(d, "kind: Namespace") {
			return []byte(d)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func decode(t *testing.T, y []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal(y, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func render(t *testing.T, o manifests.Options) []byte {
	t.Helper()
	out, err := manifests.Render("../..", o)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTheCloudRunRenderingMeetsCloudRunsDocumentedRules(t *testing.T) {
	accepted := acceptedAnnotations(t)
	for _, o := range []manifests.Options{
		{Platform: "cloudrun", Image: testImage, ServiceAccount: testSA},
		{Platform: "cloudrun", Image: testImage, ServiceAccount: testSA, PolicySecret: "bouncer-policy:3"},
	} {
		t.Run(fmt.Sprintf("policy secret %q", o.PolicySecret), func(t *testing.T) {
			if p := cloudRunProblems(decode(t, render(t, o)), accepted); len(p) > 0 {
				t.Errorf("the Cloud Run rendering breaks Cloud Run's rules:\n  %s", strings.Join(p, "\n  "))
			}
		})
	}
}

// TestTheCloudRunRulesRefuseWhatCloudRunRefuses: the check fails on the
// rendering from before these rules were encoded, and on each kind of
// mistake.
func TestTheCloudRunRulesRefuseWhatCloudRunRefuses(t *testing.T) {
	accepted := acceptedAnnotations(t)
	before, err := os.ReadFile("testdata/cloudrun-before-fix.yaml")
	if err != nil {
		t.Fatal(err)
	}
	good := string(render(t, manifests.Options{Platform: "cloudrun", Image: testImage, ServiceAccount: testSA}))
	tests := []struct {
		name, yaml, want string
	}{
		{"the rendering before the fix is refused for its Kubernetes-style label", string(before), `key "app.kubernetes.io/name" is not a Google Cloud label key`},
		{"the rendering before the fix is refused for 128 MiB with the environment unpinned", string(before), `memory 128Mi is under the 512Mi minimum of execution environment ""`},
		{"the rendering before the fix is refused for the default service account", string(before), `serviceAccountName "": want a dedicated service account`},
		{"an uppercase label value is refused", strings.Replace(good, "owner: platform", "owner: Platform", 1), `value "Platform" is not a Google Cloud label value`},
		{"a Knative annotation Cloud Run does not accept is refused", strings.Replace(good, "autoscaling.knative.dev/maxScale", "autoscaling.knative.dev/target", 1), "autoscaling.knative.dev/target is not accepted on a Revision"},
		{"a Service annotation on the revision is refused", strings.Replace(good, "run.googleapis.com/startup-cpu-boost", "run.googleapis.com/ingress", 1), "run.googleapis.com/ingress is not accepted on a Revision"},
		{"second-generation with 128 MiB is refused", strings.Replace(good, "execution-environment: gen1", "execution-environment: gen2", 1), `memory 128Mi is under the 512Mi minimum of execution environment "gen2"`},
		{"less than one CPU with concurrency 100 is refused", strings.Replace(good, `cpu: "1"`, `cpu: 500m`, 1), "containerConcurrency 100: at most 1000, and 1 with less than one CPU"},
		{"concurrency over 1000 is refused", strings.Replace(good, "containerConcurrency: 100", "containerConcurrency: 1001", 1), "containerConcurrency 1001"},
		{"a missing invoker-iam-disabled is refused", strings.Replace(good, "run.googleapis.com/invoker-iam-disabled", "run.googleapis.com/description", 1), "invoker-iam-disabled is not \"true\""},
		{"internal ingress is refused", strings.Replace(good, "run.googleapis.com/ingress: all", "run.googleapis.com/ingress: internal", 1), "ingress is internal"},
		{"a request timeout over an hour is refused", strings.Replace(good, "timeoutSeconds: 10", "timeoutSeconds: 3601", 1), "timeoutSeconds 3601"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := cloudRunProblems(decode(t, []byte(tt.yaml)), accepted)
			if !strings.Contains(strings.Join(p, "\n"), tt.want) {
				t.Errorf("problems:\n  %s\nwant one containing %q", strings.Join(p, "\n  "), tt.want)
			}
		})
	}
}

func TestTheRenderStepRefusesWhatCannotWork(t *testing.T) {
	tests := []struct {
		name string
		o    manifests.Options
		want string
	}{
		{"Cloud Run without a service account", manifests.Options{Platform: "cloudrun", Image: testImage}, "Cloud Run needs a dedicated service account"},
		{"Cloud Run with the default compute account", manifests.Options{Platform: "cloudrun", Image: testImage, ServiceAccount: "123-compute@developer.gserviceaccount.com"}, "the default compute account usually holds Editor"},
		{"Cloud Run with a ConfigMap", manifests.Options{Platform: "cloudrun", Image: testImage, ServiceAccount: testSA, PolicyConfigMap: "p"}, "Cloud Run has no ConfigMaps"},
		{"an unknown platform", manifests.Options{Platform: "lambda", Image: testImage}, `unknown platform "lambda"`},
		{"no image", manifests.Options{Platform: "knative"}, `--image ""`},
		{"two policy sources", manifests.Options{Platform: "knative", Image: testImage, PolicySecret: "a", PolicyConfigMap: "b"}, "not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := manifests.Render("../..", tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestTheCustomPolicyIsMountedWhereBouncerLooks: every platform's policy
// volume holds policy.yaml at the path BOUNCER_POLICY names.
func TestTheCustomPolicyIsMountedWhereBouncerLooks(t *testing.T) {
	for _, o := range []manifests.Options{
		{Platform: "knative", Image: testImage, PolicySecret: "bouncer-policy"},
		{Platform: "knative", Image: testImage, PolicyConfigMap: "bouncer-policy"},
		{Platform: "cloudrun", Image: testImage, ServiceAccount: testSA, PolicySecret: "bouncer-policy"},
		{Platform: "kubernetes", Image: testImage, PolicyConfigMap: "bouncer-policy"},
	} {
		t.Run(fmt.Sprintf("%s secret=%q configmap=%q", o.Platform, o.PolicySecret, o.PolicyConfigMap), func(t *testing.T) {
			spec := obj(decode(t, firstDoc(render(t, o))), "spec", "template", "spec")
			c := spec["containers"].([]any)[0].(map[string]any)
			env := c["env"].([]any)[0].(map[string]any)
			mount := named(c["volumeMounts"], "policy")
			vol := named(spec["volumes"], "policy")
			if env["name"] != "BOUNCER_POLICY" || env["value"] != manifests.PolicyFile || mount["mountPath"] != manifests.PolicyMount || mount["name"] != vol["name"] {
				t.Fatalf("env %v, mount %v, volume %v", env, mount, vol)
			}
			file := "policy.yaml" // a Kubernetes Secret's or ConfigMap's key
			if items, ok := obj(vol, "secret")["items"].([]any); ok {
				file = items[0].(map[string]any)["path"].(string)
			}
			if filepath.Join(manifests.PolicyMount, file) != manifests.PolicyFile {
				t.Errorf("the volume holds %s, BOUNCER_POLICY names %s", file, manifests.PolicyFile)
			}
		})
	}
}
