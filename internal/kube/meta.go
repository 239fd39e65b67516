package kube

// TypeMeta is metav1.TypeMeta.
type TypeMeta struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
}

// ObjectMeta is the part of metav1.ObjectMeta that generated objects set.
type ObjectMeta struct {
	Name   string            `json:"name,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
}

// StatusReason is metav1.StatusReason.
type StatusReason string

// StatusReasonForbidden is metav1.StatusReasonForbidden.
const StatusReasonForbidden StatusReason = "Forbidden"
