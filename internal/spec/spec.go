// Package spec is bouncer's policy document as people write it: the types of
// the YAML (or JSON) file, its strict reading, and the embedded default. It
// says nothing about what a policy means; internal/policy compiles a spec
// into the policy that decides, and refuses one that makes no sense.
package spec

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// APIVersion and DocumentKind identify a policy document.
const (
	APIVersion   = "bouncer.dev/v1"
	DocumentKind = "Policy"
)

// Policy is the policy document.
type Policy struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// AllowExistingViolations admits UPDATEs that keep a violation the object
	// already had, with a warning. Defaults to true.
	AllowExistingViolations *bool `json:"allowExistingViolations,omitempty"`
	// Controllers are the identities of the built-in workload controllers.
	// A child one of them creates for a parent the policy covers (a Deployment's
	// ReplicaSet, a ReplicaSet's Pods) follows its parent's verdict: its
	// template's violations are warnings. nil means DefaultControllers(); an
	// empty list turns the rule off.
	Controllers *[]string `json:"controllers,omitempty"`
	// ExemptionAdmins are the only identities that may make a namespace
	// exempt: label it so that exemptions.namespaceSelector selects it, or
	// create one whose name exemptions.namespaces lists. nil means
	// DefaultExemptionAdmins(). A guard evaluated in the API server itself
	// (a ValidatingAdmissionPolicy with failurePolicy Fail) enforces it.
	ExemptionAdmins *Identities  `json:"exemptionAdmins,omitempty"`
	Exemptions      Exemptions   `json:"exemptions"`
	CustomKinds     []CustomKind `json:"customKinds,omitempty"`
	Rules           []Rule       `json:"rules"`
}

// Identities are users and groups, as the API server authenticates them.
type Identities struct {
	Users  []string `json:"users,omitempty"`
	Groups []string `json:"groups,omitempty"`
}

// The defaults below have one home, default.yaml: a policy that leaves a
// setting out gets the default policy's value, read from it (through its
// generated Go value, default_gen.go).

// DefaultControllers are default.yaml's controllers: the
// kube-controller-manager's identities, the service accounts of the
// controllers that create Pods, ReplicaSets and Jobs when it runs with
// --use-service-account-credentials (as kubeadm and managed clusters run
// it), and its own user when it does not.
func DefaultControllers() []string { return *defaultSpec().Controllers }

// DefaultExemptionAdmins are default.yaml's exemptionAdmins: the cluster's
// administrators wherever a group names them.
func DefaultExemptionAdmins() Identities { return *defaultSpec().ExemptionAdmins }

// SystemNamespaces are default.yaml's exempt namespaces, which every policy
// exempts whether it lists them or not: the control plane's, Knative's and
// bouncer's own. Blocking them can stop the cluster or bouncer's scale-up.
func SystemNamespaces() []string { return defaultSpec().Exemptions.Namespaces }

// Exemptions let requests through unchanged.
type Exemptions struct {
	Namespaces []string `json:"namespaces,omitempty"`
	// NamespaceSelector exempts every object in the namespaces it selects.
	// Only ExemptionAdmins may make a namespace match it.
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
	// ObjectSelector exempts the objects whose own labels it selects: anyone
	// who may write such an object can use it, so a policy with one loads
	// with a warning.
	ObjectSelector *metav1.LabelSelector `json:"objectSelector,omitempty"`
	Users          []string              `json:"users,omitempty"`
	Groups         []string              `json:"groups,omitempty"`
}

// Rule is one rule.
type Rule struct {
	Name       string            `json:"name"`
	Action     string            `json:"action,omitempty"`
	Kinds      []string          `json:"kinds"`
	Require    []Requirement     `json:"require,omitempty"`
	Defaults   map[string]string `json:"defaults,omitempty"`
	Exemptions *Exemptions       `json:"exemptions,omitempty"`
}

// Requirement is a label that must be present, optionally with a value that
// matches Pattern in full.
type Requirement struct {
	Key     string `json:"key"`
	Pattern string `json:"pattern,omitempty"`
}

// CustomKind declares a custom resource the rules can name.
type CustomKind struct {
	Kind     string `json:"kind"`
	Group    string `json:"group"`
	Version  string `json:"version"`
	Resource string `json:"resource"`
	// TemplateLabelPaths are the label maps, besides the object's own
	// metadata.labels, that are copied onto the objects this kind creates.
	TemplateLabelPaths []string `json:"templateLabelPaths,omitempty"`
}
