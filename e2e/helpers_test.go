//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"bouncer.dev/bouncer/e2e/framework"
)

func contains(s, sub string) bool { return strings.Contains(s, sub) }

var nonName = regexp.MustCompile(`[^a-z0-9-]+`)

// namespace creates a namespace for one test and deletes it afterwards. It
// also asserts that no webhook call failed open during the test: under
// failurePolicy Ignore, a failed call would silently admit the request.
func namespace(t *testing.T) string {
	t.Helper()
	name := nonName.ReplaceAllString(strings.ToLower(t.Name()), "-")
	if len(name) > 50 {
		name = name[:50]
	}
	name = "e2e-" + strings.Trim(name, "-")
	if _, errOut, err := env.K("create", "namespace", name); err != nil {
		t.Fatalf("creating namespace %s: %s", name, errOut)
	}
	before, err := env.FailOpenCount()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		after, err := env.FailOpenCount()
		if err != nil {
			t.Error(err)
		} else if after != before {
			t.Errorf("apiserver_admission_webhook_fail_open_count moved from %v to %v during the test: a call failed open", before, after)
		}
		if cp := env.ControlPlane; cp != nil {
			if err := cp.Check(); err != nil {
				t.Error(err)
			}
		}
		_, _, _ = env.K("delete", "namespace", name, "--wait=false")
	})
	return name
}

// apply creates the manifest with kubectl as a user would.
func create(t *testing.T, ns, manifest string, extra ...string) (stdout, stderr string, err error) {
	t.Helper()
	return env.KIn(manifest, append([]string{"create", "-n", ns, "-f", "-"}, extra...)...)
}

// mustCreate creates the manifest and fails the test if it is refused.
func mustCreate(t *testing.T, ns, manifest string, extra ...string) string {
	t.Helper()
	out, errOut, err := create(t, ns, manifest, extra...)
	if err != nil {
		t.Fatalf("kubectl create was refused: %v\n%s", err, errOut)
	}
	return out + errOut
}

// mustDeny creates the manifest and fails the test unless bouncer denies it
// with exactly the want message.
func mustDeny(t *testing.T, ns, manifest, want string, extra ...string) {
	t.Helper()
	_, errOut, err := create(t, ns, manifest, extra...)
	if err == nil {
		t.Fatalf("kubectl create succeeded; want bouncer's denial %q", want)
	}
	if !strings.Contains(errOut, want) {
		t.Fatalf("kubectl said:\n%s\nwant it to contain:\n%s", errOut, want)
	}
}

// get returns the object as decoded JSON.
func get(t *testing.T, ns, kind, name string) map[string]any {
	t.Helper()
	out, errOut, err := env.K("get", "-n", ns, kind, name, "-o", "json")
	if err != nil {
		t.Fatalf("kubectl get %s %s: %s", kind, name, errOut)
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(out), &obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

// labelsAt returns the labels at a dotted path such as spec.template.metadata.labels.
func labelsAt(obj map[string]any, path string) map[string]string {
	var cur any = obj
	for _, seg := range strings.Split(path, ".") {
		m, _ := cur.(map[string]any)
		cur = m[seg]
	}
	out := map[string]string{}
	m, _ := cur.(map[string]any)
	for k, v := range m {
		out[k], _ = v.(string)
	}
	return out
}

// eventually polls f until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if err = f(); err == nil {
			return
		}
	}
	t.Fatalf("%s: not true after %v: %v", what, timeout, err)
}

// needLog skips a test that reads the decision log where it is unreadable.
func needLog(t *testing.T) {
	t.Helper()
	if env.Logs == nil {
		t.Skipf("the decision log is not readable with the %s provider", env.Provider)
	}
}

// decisionsFor returns the decision log lines about one object in ns.
func decisionsFor(t *testing.T, ns, name string) []framework.Decision {
	t.Helper()
	all, err := env.Decisions()
	if err != nil {
		t.Fatal(err)
	}
	var out []framework.Decision
	for _, d := range all {
		if d.S("namespace") == ns && (name == "" || d.S("name") == name || strings.HasPrefix(d.S("generateName"), name)) {
			out = append(out, d)
		}
	}
	return out
}

func pod(name string, labels map[string]string) string {
	l, _ := json.Marshal(labels)
	return fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":%q,"labels":%s},"spec":{"containers":%s}}`, name, l, containers())
}

// images are what test Pods run: nothing runs them on the local provider;
// on the node provider they must already be there, since no registry can
// be reached, so they are the pause image built and imported offline.
func images() (current, next, pullPolicy string) {
	if env.Node != nil {
		return framework.PauseImage, framework.PauseImageNext, "Never"
	}
	return "registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10.1", "IfNotPresent"
}

// containers is a Pod spec's containers, as JSON.
func containers() string {
	img, _, pull := images()
	return fmt.Sprintf(`[{"name":"c","image":%q,"imagePullPolicy":%q}]`, img, pull)
}
