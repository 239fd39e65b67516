// Package payloads builds the benchmark's AdmissionReviews from the real
// kube-apiserver captures in testdata/: a small Pod, a typical Pod (a few
// containers, about 7 KB), a large Pod (about 20 KB), a Deployment, a
// CronJob, and an UPDATE carrying oldObject.
package payloads

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Payload is one review and the function it is sent to.
type Payload struct {
	Name     string
	Function string // validate or mutate
	Body     []byte
}

// All returns the payloads; root is the repository root.
func All(root string) ([]Payload, error) {
	capture := func(n string) (map[string]any, error) {
		files, _ := filepath.Glob(filepath.Join(root, "testdata", "apiserver-captures", n+"-*"))
		if len(files) == 0 {
			return nil, fmt.Errorf("capture %s not found", n)
		}
		b, err := os.ReadFile(files[0])
		if err != nil {
			return nil, err
		}
		var m map[string]any
		return m, json.Unmarshal(b, &m)
	}
	enc := func(m map[string]any) []byte { b, _ := json.Marshal(m); return b }
	var out []Payload
	add := func(name, fn string, m map[string]any) { out = append(out, Payload{name, fn, enc(m)}) }

	small, err := capture("002")
	if err != nil {
		return nil, err
	}
	add("small-pod", "validate", small)

	for _, size := range []struct {
		name       string
		containers int
		env        int
	}{{"typical-pod", 3, 12}, {"large-pod", 8, 24}} {
		m, _ := capture("002")
		req := m["request"].(map[string]any)
		obj := req["object"].(map[string]any)
		spec := obj["spec"].(map[string]any)
		base := spec["containers"].([]any)[0].(map[string]any)
		var cs []any
		for i := 0; i < size.containers; i++ {
			c := map[string]any{}
			for k, v := range base {
				c[k] = v
			}
			c["name"] = fmt.Sprintf("c%d", i)
			var env []any
			for j := 0; j < size.env; j++ {
				env = append(env, map[string]any{"name": fmt.Sprintf("SETTING_%02d", j), "value": fmt.Sprintf("value-%d-%d", i, j)})
			}
			c["env"] = env
			c["resources"] = map[string]any{"requests": map[string]any{"cpu": "100m", "memory": "64Mi"}, "limits": map[string]any{"memory": "128Mi"}}
			c["readinessProbe"] = map[string]any{"httpGet": map[string]any{"path": "/healthz", "port": 8080}, "periodSeconds": 5}
			c["volumeMounts"] = []any{map[string]any{"name": "config", "mountPath": "/etc/config", "readOnly": true}}
			cs = append(cs, c)
		}
		spec["containers"] = cs
		spec["volumes"] = []any{map[string]any{"name": "config", "configMap": map[string]any{"name": "app-config"}}}
		meta := obj["metadata"].(map[string]any)
		meta["annotations"] = map[string]any{"example.com/description": "a typical workload pod with several containers"}
		add(size.name, "validate", m)
	}
	for _, c := range []struct{ n, name string }{{"016", "deployment"}, {"030", "cronjob"}, {"006", "update-pod"}} {
		m, err := capture(c.n)
		if err != nil {
			return nil, err
		}
		add(c.name, "validate", m)
	}
	// mutate on the typical Pod, which lacks environment.
	out = append(out, Payload{"typical-pod-mutate", "mutate", out[1].Body})
	// A Pod carrying a field this k8s.io/api does not know, as a newer API
	// server would send: typed round trips drop it.
	m, _ := capture("001")
	m["request"].(map[string]any)["object"].(map[string]any)["spec"].(map[string]any)["futureField"] = map[string]any{"enabled": true}
	add("pod-newer-field-mutate", "mutate", m)
	return out, nil
}
