//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
)

// workload builds a manifest of kind whose label places carry owner where
// withOwner says so, keyed by place; absent keys mean "carries owner".
func workload(kind, name string, withOwner map[string]bool) string {
	has := func(place string) bool { v, ok := withOwner[place]; return !ok || v }
	labels := func(place string, extra map[string]string) string {
		m := map[string]string{}
		for k, v := range extra {
			m[k] = v
		}
		if has(place) {
			m["owner"] = "team-a"
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	app := map[string]string{"app": name}
	containers := containers()
	podTemplate := func(place string, restart string) string {
		return fmt.Sprintf(`{"metadata":{"labels":%s},"spec":{"restartPolicy":%q,"containers":%s}}`, labels(place, app), restart, containers)
	}
	// The object's own labels are never empty: the API server's Job
	// defaulting copies the template's labels onto a Job that has none.
	meta := fmt.Sprintf(`{"name":%q,"labels":%s}`, name, labels("metadata.labels", app))
	const tpl = "spec.template.metadata.labels"
	switch kind {
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet":
		replicas := `"replicas":0,`
		if kind == "DaemonSet" {
			replicas = ""
		}
		return fmt.Sprintf(`{"apiVersion":"apps/v1","kind":%q,"metadata":%s,"spec":{%s"selector":{"matchLabels":{"app":%q}},"template":%s}}`,
			kind, meta, replicas, name, podTemplate(tpl, "Always"))
	case "Job":
		return fmt.Sprintf(`{"apiVersion":"batch/v1","kind":"Job","metadata":%s,"spec":{"suspend":true,"template":%s}}`, meta, podTemplate(tpl, "Never"))
	case "CronJob":
		return fmt.Sprintf(`{"apiVersion":"batch/v1","kind":"CronJob","metadata":%s,"spec":{"schedule":"@daily","jobTemplate":{"metadata":{"labels":%s},"spec":{"template":%s}}}}`,
			meta, labels("spec.jobTemplate.metadata.labels", nil), podTemplate("spec.jobTemplate.spec.template.metadata.labels", "Never"))
	}
	panic("unknown kind " + kind)
}
