package policy

// The admission operations, as the API server spells them.
const (
	Create  = "CREATE"
	Update  = "UPDATE"
	Delete  = "DELETE"
	Connect = "CONNECT"
)

// Request is the part of an AdmissionRequest the decision reads. Object and
// OldObject are raw JSON, nil when absent or null.
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
	Object               []byte
	OldObject            []byte
	// ValidJSON is set by a caller that has already validated Object and
	// OldObject as JSON (the HTTP layer validates the whole body once). It
	// skips the validation the decision would otherwise do: setting it on
	// bytes that are not valid JSON is a bug that can panic.
	ValidJSON bool
}
