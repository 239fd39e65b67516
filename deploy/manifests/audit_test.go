package manifests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/rawjson"
	"bouncer.dev/bouncer/internal/verdict"
	reports "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

const auditImage = "example.com/bouncer@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// renderedDocs renders o and splits the output by kind.
func renderedDocs(t *testing.T, root string, o Options) map[string][]byte {
	t.Helper()
	out, err := Render(root, o)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string][]byte{}
	for _, d := range strings.Split(string(out), "\n---\n") {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(d), &meta); err != nil {
			t.Fatal(err)
		}
		if _, dup := docs[meta.Kind]; dup {
			t.Fatalf("two %ss in the rendering:\n%s", meta.Kind, out)
		}
		docs[meta.Kind] = []byte(d)
	}
	return docs
}

// strict decodes a rendered document into the Kubernetes type, refusing a
// field the type has not: a misspelled field would be dropped by the API
// server (or refused, with kubectl's field validation) only at apply time.
func strict(t *testing.T, doc []byte, into any) {
	t.Helper()
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
}

// auditCronJob renders the audit with o (Platform and Image set here) and
// returns its CronJob, decoded strictly.
func auditCronJob(t *testing.T, root string, o Options) (*batchv1.CronJob, map[string][]byte) {
	t.Helper()
	o.Platform, o.Image = "audit", auditImage
	docs := renderedDocs(t, root, o)
	var cj batchv1.CronJob
	strict(t, docs["CronJob"], &cj)
	return &cj, docs
}

// The audit's CronJob runs `/bouncer audit --apply` from the deployed
// image, as the ServiceAccount bound by `bouncer audit rbac`, with its
// token, and, for a custom policy, the functions' own ConfigMap or Secret
// mounted where BOUNCER_POLICY names it: at the CronJob's pod template.
func TestTheAuditCronJobRunsTheImageWithTheDeployedPolicy(t *testing.T) {
	for _, c := range []struct {
		name   string
		o      Options
		source string // the policy volume's object, "" for none
	}{
		{"the embedded default", Options{}, ""},
		{"a ConfigMap", Options{PolicyConfigMap: "bouncer-policy"}, "configmap/bouncer-policy"},
		{"a Secret", Options{PolicySecret: "bouncer-policy"}, "secret/bouncer-policy"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cj, docs := auditCronJob(t, "../..", c.o)
			if cj.Name != "bouncer-audit" || cj.Namespace != "bouncer-system" {
				t.Errorf("CronJob %s/%s, want bouncer-system/bouncer-audit", cj.Namespace, cj.Name)
			}
			var sa corev1.ServiceAccount
			strict(t, docs["ServiceAccount"], &sa)
			if sa.Name != "bouncer-audit" || sa.Namespace != "bouncer-system" || sa.AutomountServiceAccountToken == nil || !*sa.AutomountServiceAccountToken {
				t.Errorf("ServiceAccount %s/%s automount %v: want bouncer-system/bouncer-audit with its token", sa.Namespace, sa.Name, sa.AutomountServiceAccountToken)
			}
			if len(docs) != 2 {
				t.Errorf("the rendering holds %d documents, want the ServiceAccount and the CronJob (the CRDs and RBAC are applied on their own)", len(docs))
			}

			pod := cj.Spec.JobTemplate.Spec.Template.Spec
			if pod.ServiceAccountName != sa.Name || pod.AutomountServiceAccountToken == nil || !*pod.AutomountServiceAccountToken {
				t.Errorf("the Pod runs as %q, token mounted %v: want %s with its token", pod.ServiceAccountName, pod.AutomountServiceAccountToken, sa.Name)
			}
			if len(pod.Containers) != 1 {
				t.Fatalf("%d containers, want 1", len(pod.Containers))
			}
			ctr := pod.Containers[0]
			if ctr.Image != auditImage {
				t.Errorf("image %q, want %q", ctr.Image, auditImage)
			}
			if !slices.Equal(ctr.Command, []string{"/bouncer"}) || !slices.Equal(ctr.Args, []string{"audit", "--apply"}) {
				t.Errorf("command %v args %v, want /bouncer audit --apply", ctr.Command, ctr.Args)
			}

			var env []string
			for _, e := range ctr.Env {
				env = append(env, e.Name+"="+e.Value)
			}
			if c.source == "" {
				if len(env) > 0 || len(ctr.VolumeMounts) > 0 || len(pod.Volumes) > 0 {
					t.Errorf("the embedded default mounts something: env %v, mounts %v, volumes %v", env, ctr.VolumeMounts, pod.Volumes)
				}
				return
			}
			if !slices.Equal(env, []string{"BOUNCER_POLICY=" + PolicyFile}) {
				t.Errorf("env %v, want BOUNCER_POLICY=%s", env, PolicyFile)
			}
			if len(ctr.VolumeMounts) != 1 || ctr.VolumeMounts[0].MountPath != PolicyMount || !ctr.VolumeMounts[0].ReadOnly ||
				len(pod.Volumes) != 1 || pod.Volumes[0].Name != ctr.VolumeMounts[0].Name {
				t.Fatalf("mounts %+v, volumes %+v: want the policy's volume read-only at %s", ctr.VolumeMounts, pod.Volumes, PolicyMount)
			}
			var got string
			switch v := pod.Volumes[0].VolumeSource; {
			case v.ConfigMap != nil:
				got = "configmap/" + v.ConfigMap.Name
			case v.Secret != nil:
				got = "secret/" + v.Secret.SecretName
			}
			if got != c.source {
				t.Errorf("the policy's volume holds %q, want %q", got, c.source)
			}
			// The functions, as the plain Deployment, get the same volume,
			// mount and variable.
			fo := c.o
			fo.Platform, fo.Image = "kubernetes", auditImage
			var d appsv1.Deployment
			strict(t, renderedDocs(t, "../..", fo)["Deployment"], &d)
			fpod := d.Spec.Template.Spec
			fctr := fpod.Containers[0]
			if !slices.ContainsFunc(fpod.Volumes, func(v corev1.Volume) bool { return reflect.DeepEqual(v, pod.Volumes[0]) }) ||
				!slices.ContainsFunc(fctr.VolumeMounts, func(m corev1.VolumeMount) bool { return reflect.DeepEqual(m, ctr.VolumeMounts[0]) }) ||
				!slices.ContainsFunc(fctr.Env, func(e corev1.EnvVar) bool { return reflect.DeepEqual(e, ctr.Env[0]) }) {
				t.Errorf("the functions get the policy otherwise: volumes %+v, mounts %+v, env %+v", fpod.Volumes, fctr.VolumeMounts, fctr.Env)
			}
		})
	}
}

// A CronJob patched at a Deployment's paths would carry a stray
// spec.template, which the strict decoding refuses; and the service account
// is set where the audit's Pod takes it.
func TestTheAuditPatchesLandInTheJobTemplate(t *testing.T) {
	cj, _ := auditCronJob(t, "../..", Options{ServiceAccount: "auditor", PolicyConfigMap: "p"})
	if got := cj.Spec.JobTemplate.Spec.Template.Spec.ServiceAccountName; got != "auditor" {
		t.Errorf("serviceAccountName %q, want auditor", got)
	}
	// Lists the CronJob holds already are appended to, not replaced.
	withLists := func(s string) string {
		return strings.Replace(s, "          containers:\n            - name: audit\n",
			"          volumes:\n            - {name: scratch, emptyDir: {}}\n"+
				"          containers:\n            - name: audit\n"+
				"              env:\n                - {name: HOME, value: /tmp}\n"+
				"              volumeMounts:\n                - {name: scratch, mountPath: /tmp}\n", 1)
	}
	root := copyRoot(t, "deploy/kubernetes/audit", "deploy/kubernetes/audit/cronjob.yaml", withLists)
	cj, _ = auditCronJob(t, root, Options{PolicySecret: "p"})
	pod := cj.Spec.JobTemplate.Spec.Template.Spec
	ctr := pod.Containers[0]
	if len(pod.Volumes) != 2 || len(ctr.VolumeMounts) != 2 || len(ctr.Env) != 2 ||
		pod.Volumes[0].Name != "scratch" || ctr.Env[0].Name != "HOME" || ctr.Env[1].Name != "BOUNCER_POLICY" || pod.Volumes[1].Secret == nil {
		t.Errorf("volumes %+v, mounts %+v, env %+v: want the CronJob's own first, the policy's after them", pod.Volumes, ctr.VolumeMounts, ctr.Env)
	}
}

// The schedule's facts: hourly, never two at once, bounded in time, a
// small history, a Pod that is not restarted in place, and a failure
// policy that names the container it judges.
func TestTheAuditIsScheduledHourlyOneAtATime(t *testing.T) {
	cj, _ := auditCronJob(t, "../..", Options{})
	s := cj.Spec
	if s.Schedule != "0 * * * *" || s.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		t.Errorf("schedule %q, concurrency %q: want hourly, Forbid", s.Schedule, s.ConcurrencyPolicy)
	}
	if s.SuccessfulJobsHistoryLimit == nil || *s.SuccessfulJobsHistoryLimit > 3 || s.FailedJobsHistoryLimit == nil || *s.FailedJobsHistoryLimit > 3 {
		t.Errorf("history limits %v, %v: want small ones", s.SuccessfulJobsHistoryLimit, s.FailedJobsHistoryLimit)
	}
	job := s.JobTemplate.Spec
	if job.ActiveDeadlineSeconds == nil || *job.ActiveDeadlineSeconds >= 3600 {
		t.Errorf("activeDeadlineSeconds %v: want a deadline within the hour", job.ActiveDeadlineSeconds)
	}
	pod := job.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %q: want Never (a pod failure policy needs it)", pod.RestartPolicy)
	}
	// Exit 1 is a finished audit that found something: no retry.
	var failOnOne bool
	for _, r := range job.PodFailurePolicy.Rules {
		if r.OnExitCodes == nil {
			continue
		}
		if n := r.OnExitCodes.ContainerName; n == nil || *n != pod.Containers[0].Name {
			t.Errorf("a pod failure rule names container %v; the audit's is %s", n, pod.Containers[0].Name)
		}
		failOnOne = failOnOne || (r.Action == batchv1.PodFailurePolicyActionFailJob && slices.Equal(r.OnExitCodes.Values, []int32{1}))
	}
	if !failOnOne {
		t.Error("exit 1 (violations found, reports written) is retried: want FailJob")
	}
	sc, csc := pod.SecurityContext, pod.Containers[0].SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser != 65532 ||
		csc == nil || csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem || csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
		t.Errorf("security contexts %+v, %+v: want non-root 65532, read-only, no escalation", sc, csc)
	}
	lim := pod.Containers[0].Resources.Limits.Memory()
	if lim.IsZero() || lim.Value() > 512<<20 {
		t.Errorf("memory limit %v: want one, sized for an audit under 100 MiB", lim)
	}
}

// bouncer's own default policy admits the CronJob as it is, in any
// namespace, and mutate adds nothing: owner and environment are on the
// CronJob, its jobTemplate and its pod template.
func TestTheAuditCronJobPassesBouncersDefaultPolicy(t *testing.T) {
	_, docs := auditCronJob(t, "../..", Options{PolicyConfigMap: "bouncer-policy"})
	js, err := yaml.YAMLToJSON(docs["CronJob"])
	if err != nil {
		t.Fatal(err)
	}
	v, err := rawjson.Parse(js)
	if err != nil {
		t.Fatal(err)
	}
	p := policy.Default()
	for _, ns := range []string{"default", "bouncer-system"} {
		chain, err := p.Admit(&policy.Request{UID: "u", Group: "batch", Version: "v1", Kind: "CronJob", Operation: policy.Create, Namespace: ns, Object: v})
		if err != nil {
			t.Fatal(err)
		}
		if a := verdict.For(&chain.Validate); !a.Allowed || len(a.Warnings) > 0 {
			t.Errorf("the CronJob in %s: %+v", ns, a)
		}
		if len(chain.Mutate.Added) > 0 {
			t.Errorf("the CronJob in %s gets labels added: %+v", ns, chain.Mutate.Added)
		}
	}
}

// The plain Deployment's rendering stays what it was: the audit beside it
// is applied on its own.
func TestTheKubernetesRenderingHoldsNoAudit(t *testing.T) {
	docs := renderedDocs(t, "../..", Options{Platform: "kubernetes", Image: auditImage})
	for kind := range docs {
		if kind == "CronJob" || kind == "CustomResourceDefinition" {
			t.Errorf("the kubernetes rendering holds a %s", kind)
		}
	}
}

const reportsModule = "github.com/openreports/reports-api"

// The OpenReports CRDs in deploy/kubernetes/audit are the module's own, byte
// for byte, at the version deploy/go.mod requires, which is the version
// the audit's types come from; and they serve the group, version and kinds
// of those types.
func TestTheOpenReportsCRDsAreTheModulesOwn(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-json", reportsModule).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", reportsModule, err)
	}
	var mod struct{ Version, Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go list -m %s: %v\n%s", reportsModule, err, out)
	}
	theirs, err := filepath.Glob(filepath.Join(mod.Dir, "config", "crd", "*.yaml"))
	if err != nil || len(theirs) == 0 {
		t.Fatalf("%s@%s has no config/crd/*.yaml: %v", reportsModule, mod.Version, err)
	}
	ours, err := filepath.Glob("../kubernetes/audit/openreports.io_*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	base := func(l []string) (b []string) {
		for _, f := range l {
			b = append(b, filepath.Base(f))
		}
		return b
	}
	if !slices.Equal(base(ours), base(theirs)) {
		t.Errorf("deploy/kubernetes/audit holds %v, %s@%s's config/crd holds %v", base(ours), reportsModule, mod.Version, base(theirs))
	}

	scheme := runtime.NewScheme()
	if err := reports.Install(scheme); err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, f := range theirs {
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ourFile := filepath.Join("../kubernetes/audit", filepath.Base(f))
		got, err := os.ReadFile(ourFile)
		if err != nil {
			t.Error(err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s@%s's config/crd/%s: copy it again (cp %s %s)", ourFile, reportsModule, mod.Version, filepath.Base(f), f, ourFile)
		}
		var crd struct {
			Spec struct {
				Group string
				Names struct{ Kind string }
				Scope string
				// Versions' served and storage flags.
				Versions []struct {
					Name            string
					Served, Storage bool
				}
			}
		}
		if err := yaml.Unmarshal(want, &crd); err != nil {
			t.Fatal(err)
		}
		for _, v := range crd.Spec.Versions {
			if v.Served {
				served[fmt.Sprintf("%s/%s, Kind=%s (%s)", crd.Spec.Group, v.Name, crd.Spec.Names.Kind, crd.Spec.Scope)] = true
			}
		}
	}
	for _, c := range []struct{ kind, scope string }{{"Report", "Namespaced"}, {"ClusterReport", "Cluster"}} {
		gvk := reports.SchemeGroupVersion.WithKind(c.kind)
		if !scheme.Recognizes(gvk) || !served[fmt.Sprintf("%s, Kind=%s (%s)", gvk.GroupVersion(), c.kind, c.scope)] {
			t.Errorf("no CRD serves %s %s; they serve %v", c.scope, gvk, slices.Sorted(maps.Keys(served)))
		}
	}

	// The audit builds its reports with the same module: the same version,
	// or the CRDs installed could refuse what it writes.
	auditMod, err := os.ReadFile("../../cmd/bouncer-audit/go.mod")
	if os.IsNotExist(err) {
		t.Skip("no cmd/bouncer-audit/go.mod yet: its OpenReports version is not compared")
	} else if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*(?:require\s+)?` + regexp.QuoteMeta(reportsModule) + `\s+(\S+)`).FindSubmatch(auditMod)
	if m == nil {
		t.Fatalf("cmd/bouncer-audit/go.mod requires no %s", reportsModule)
	}
	if string(m[1]) != mod.Version {
		t.Errorf("cmd/bouncer-audit builds reports with %s@%s, the CRDs here are %s's", reportsModule, m[1], mod.Version)
	}
}
