package policy

import "strings"

// Kind is a resource the policy can apply to, compiled: where the API server
// serves it (for the webhook rules), every place from which the objects it
// creates take their labels (for the decision), and how the built-in
// controllers and subresources treat it.
type Kind struct {
	Kind     string
	Group    string
	Version  string
	Resource string
	// Paths are the kind's label maps as dotted paths, the object's own
	// metadata.labels first, then the templates its objects copy labels from.
	Paths []string
	// StatusLabels is true when the kind's status subresource keeps changes
	// to metadata.labels (its status strategy does not reset them), so a
	// label can be removed there without the main resource seeing it.
	StatusLabels bool
	// Parents are the kinds whose built-in controllers create this kind from
	// their templates: such a child follows its parent's verdict.
	Parents []GroupKind
	// FrozenUnder are the kinds whose controllers find their child of this
	// kind by comparing templates. mutate never changes the template of a
	// child that one of them controls: the controller would not recognise it
	// and would create another, which would be mutated again, without end
	// (the ReplicaSet storm, kubernetes/kubernetes#57167).
	FrozenUnder []GroupKind
	// Selector is the path of the label selector by which the kind's
	// controller claims what it makes, "" when it has none. mutate never
	// adds a default whose key the selector names: an added label could
	// take the objects out of their own selector (a key that the selector
	// says must not exist, or not have that value), and the controller
	// would release each one and make another, without end.
	Selector string
	// MirroredByNodes is true for Pods: a kubelet publishes each static Pod
	// as a mirror Pod, owned by its Node and copied from a file that only
	// the node's administrator can write.
	MirroredByNodes bool

	segments [][]string
	selector []string
	want     map[string]string // the field names the object reader keeps, interned
}

// objectPlace is the object's own label map. It is the only place mutate
// completes on UPDATE, and on a child whose template is frozen.
const objectPlace = "metadata.labels"

const (
	podTemplate = "spec.template.metadata.labels"
	selector    = "spec.selector"
)

var (
	deployment  = GroupKind{"apps", "Deployment"}
	replicaSet  = GroupKind{"apps", "ReplicaSet"}
	statefulSet = GroupKind{"apps", "StatefulSet"}
	daemonSet   = GroupKind{"apps", "DaemonSet"}
	job         = GroupKind{"batch", "Job"}
	cronJob     = GroupKind{"batch", "CronJob"}
)

// builtinKinds know where their controllers copy labels from, what their
// status strategies keep, and which controller makes them from which parent
// (all read in the k8s.io/kubernetes v1.37 source; docs/controllers.md cites
// the files). A workload that lacks a label in its template would be
// admitted while every Pod it makes is refused, so templates are checked.
var builtinKinds = []Kind{
	// pods/status keeps label changes (pkg/registry/core/pod/strategy.go).
	{Kind: "Pod", Group: "", Version: "v1", Resource: "pods", StatusLabels: true, MirroredByNodes: true,
		Parents: []GroupKind{replicaSet, statefulSet, daemonSet, job}},
	// deployments/status resets metadata.labels: nothing to watch there.
	{Kind: "Deployment", Group: "apps", Version: "v1", Resource: "deployments", Paths: []string{podTemplate}, Selector: selector},
	{Kind: "StatefulSet", Group: "apps", Version: "v1", Resource: "statefulsets", Paths: []string{podTemplate}, StatusLabels: true, Selector: selector},
	{Kind: "DaemonSet", Group: "apps", Version: "v1", Resource: "daemonsets", Paths: []string{podTemplate}, StatusLabels: true, Selector: selector},
	// The Deployment controller finds its ReplicaSet by comparing templates
	// (pkg/controller/deployment/util: EqualIgnoreHash).
	{Kind: "ReplicaSet", Group: "apps", Version: "v1", Resource: "replicasets", Paths: []string{podTemplate}, StatusLabels: true,
		Parents: []GroupKind{deployment}, FrozenUnder: []GroupKind{deployment}, Selector: selector},
	{Kind: "Job", Group: "batch", Version: "v1", Resource: "jobs", Paths: []string{podTemplate}, StatusLabels: true,
		Parents: []GroupKind{cronJob}, Selector: selector},
	// A CronJob's Jobs take their labels from jobTemplate.metadata and their
	// Pods from the template inside it.
	{Kind: "CronJob", Group: "batch", Version: "v1", Resource: "cronjobs", StatusLabels: true, Paths: []string{
		"spec.jobTemplate.metadata.labels",
		"spec.jobTemplate.spec.template.metadata.labels",
	}, Selector: "spec.jobTemplate.spec.selector"},
}

// identityFields are read from metadata besides the label places.
var identityFields = []string{"metadata", "name", "generateName", "namespace", "deletionTimestamp", "labels",
	"ownerReferences", "apiVersion", "kind", "controller", "matchLabels", "matchExpressions"}

// finish completes a kind: its label paths with the object's own first, their
// segments, and the set of field names the reader keeps.
func (k *Kind) finish() {
	k.Paths = append([]string{objectPlace}, k.Paths...)
	k.want = map[string]string{}
	for _, f := range identityFields {
		k.want[f] = f
	}
	if k.Selector != "" {
		k.selector = strings.Split(k.Selector, ".")
		for _, seg := range k.selector {
			k.want[seg] = seg
		}
	}
	k.segments = make([][]string, len(k.Paths))
	for i, p := range k.Paths {
		k.segments[i] = strings.Split(p, ".")
		for _, seg := range k.segments[i] {
			k.want[seg] = seg
		}
	}
}

// GroupKind returns the kind's group and name.
func (k *Kind) GroupKind() GroupKind { return GroupKind{k.Group, k.Kind} }
