package manifests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// copyRoot copies what Render reads for the overlay dir (deploy/knative,
// deploy/kubernetes/audit) into a temporary repository, with edit applied
// to the file named edited (service.yaml, or a file of the overlay).
func copyRoot(t *testing.T, dir, edited string, edit func(string) string) string {
	t.Helper()
	root := t.TempDir()
	files := []string{"service.yaml"}
	overlay, err := filepath.Glob(filepath.Join("../..", dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range overlay {
		files = append(files, filepath.Join(dir, filepath.Base(f)))
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join("../..", f))
		if err != nil {
			t.Fatal(err)
		}
		if f == edited {
			data = []byte(edit(string(data)))
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// A service.yaml that sets its own variables and volumes must keep them
// when the policy's are added: a JSON patch that adds the whole list would
// have replaced them, silently.
func TestThePolicyIsAddedBesideTheServicesOwnListsNotOverThem(t *testing.T) {
	const image = "example.com/bouncer@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	withLists := func(s string) string {
		s = strings.Replace(s, "        - image: bouncer\n", "        - image: bouncer\n"+
			"          env:\n            - {name: BOUNCER_LOG_LEVEL, value: debug}\n"+
			"          volumeMounts:\n            - {name: scratch, mountPath: /tmp}\n", 1)
		return strings.Replace(s, "      containers:\n", "      volumes:\n        - {name: scratch, emptyDir: {}}\n      containers:\n", 1)
	}
	for _, c := range []struct {
		name string
		edit func(string) string
		want [3]int // volumes, mounts, env
	}{
		{"a service with no lists gets one of each", func(s string) string { return s }, [3]int{1, 1, 1}},
		{"a service with its own lists keeps them and gets the policy's after them", withLists, [3]int{2, 2, 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := copyRoot(t, "deploy/knative", "service.yaml", c.edit)
			out, err := Render(root, Options{Platform: "knative", Image: image, PolicyConfigMap: "bouncer-policy"})
			if err != nil {
				t.Fatal(err)
			}
			var svc struct {
				Spec struct {
					Template struct {
						Spec struct {
							Volumes    []map[string]any `json:"volumes"`
							Containers []struct {
								Env          []map[string]any `json:"env"`
								VolumeMounts []map[string]any `json:"volumeMounts"`
							} `json:"containers"`
						} `json:"spec"`
					} `json:"template"`
				} `json:"spec"`
			}
			if err := yaml.Unmarshal(out, &svc); err != nil {
				t.Fatal(err)
			}
			pod := svc.Spec.Template.Spec
			got := [3]int{len(pod.Volumes), len(pod.Containers[0].VolumeMounts), len(pod.Containers[0].Env)}
			if got != c.want {
				t.Fatalf("volumes, mounts, env: %v, want %v\n%s", got, c.want, out)
			}
			last := len(pod.Containers[0].Env) - 1
			if pod.Containers[0].Env[last]["name"] != "BOUNCER_POLICY" || pod.Volumes[len(pod.Volumes)-1]["name"] != "policy" {
				t.Errorf("the policy's entries are not last:\n%s", out)
			}
		})
	}
}
