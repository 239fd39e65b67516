package policy

import (
	"strings"
	"sync"
)

// Kind is a resource the policy can apply to: where the API server serves it
// (for the webhook rules) and every place from which the objects it creates
// take their labels (for the decision).
type Kind struct {
	Kind     string `json:"kind"`
	Group    string `json:"group"`
	Version  string `json:"version"`
	Resource string `json:"resource"`
	// TemplateLabelPaths are the label maps, besides the object's own
	// metadata.labels, that are copied onto the objects this kind creates.
	TemplateLabelPaths []string `json:"templateLabelPaths,omitempty"`

	wantOnce sync.Once
	want     map[string]string
}

// ObjectPlace is the object's own label map. It is the only place mutate
// completes on UPDATE.
const ObjectPlace = "metadata.labels"

const podTemplate = "spec.template.metadata.labels"

// builtinKinds know where their controllers copy labels from. A workload that
// lacks a label in its template would be admitted while every Pod it makes is
// refused, so the templates are checked as well.
var builtinKinds = []Kind{
	{Kind: "Pod", Group: "", Version: "v1", Resource: "pods"},
	{Kind: "Deployment", Group: "apps", Version: "v1", Resource: "deployments", TemplateLabelPaths: []string{podTemplate}},
	{Kind: "StatefulSet", Group: "apps", Version: "v1", Resource: "statefulsets", TemplateLabelPaths: []string{podTemplate}},
	{Kind: "DaemonSet", Group: "apps", Version: "v1", Resource: "daemonsets", TemplateLabelPaths: []string{podTemplate}},
	{Kind: "ReplicaSet", Group: "apps", Version: "v1", Resource: "replicasets", TemplateLabelPaths: []string{podTemplate}},
	{Kind: "Job", Group: "batch", Version: "v1", Resource: "jobs", TemplateLabelPaths: []string{podTemplate}},
	// A CronJob's Jobs take their labels from jobTemplate.metadata and their
	// Pods from the template inside it.
	{Kind: "CronJob", Group: "batch", Version: "v1", Resource: "cronjobs", TemplateLabelPaths: []string{
		"spec.jobTemplate.metadata.labels",
		"spec.jobTemplate.spec.template.metadata.labels",
	}},
}

// BuiltinKinds returns a copy of the kinds bouncer knows without declaration.
func BuiltinKinds() []Kind {
	out := make([]Kind, len(builtinKinds))
	for i := range builtinKinds {
		b := &builtinKinds[i]
		out[i] = Kind{Kind: b.Kind, Group: b.Group, Version: b.Version, Resource: b.Resource,
			TemplateLabelPaths: append([]string(nil), b.TemplateLabelPaths...)}
	}
	return out
}

// Places lists every label map of the kind, the object's own first.
func (k *Kind) Places() []string {
	return append([]string{ObjectPlace}, k.TemplateLabelPaths...)
}

// splitPath turns "spec.template.metadata.labels" into its field names.
func splitPath(p string) []string { return strings.Split(p, ".") }
