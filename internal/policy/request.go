package policy

import "bouncer.dev/bouncer/internal/rawjson"

// The admission operations, as the API server spells them.
const (
	Create  = "CREATE"
	Update  = "UPDATE"
	Delete  = "DELETE"
	Connect = "CONNECT"
)

// Request is the part of an AdmissionRequest the decision reads. Object and
// OldObject are parsed JSON values, absent (the zero Value) when the review
// has none or null: the caller parses them, once, and the decision reads
// them without checking bounds.
type Request struct {
	UID                  string
	Group, Version, Kind string
	SubResource          string
	Operation            string
	Namespace            string
	Name                 string
	User                 string
	Groups               []string
	DryRun               bool
	Object               rawjson.Value
	OldObject            rawjson.Value
	// NamespaceLabels are the labels of the request's namespace where they
	// are known (bouncer check, from Namespace objects in its input); nil
	// otherwise. The webhooks never know them: their configurations'
	// namespaceSelector applies the namespace-label exemption.
	NamespaceLabels map[string]string
}

// NamespaceNameLabel is the label the API server sets on every Namespace,
// and keeps equal to its name: selectors may use it, and offline readers
// (bouncer check) add it where a manifest written by hand lacks it.
const NamespaceNameLabel = "kubernetes.io/metadata.name"
