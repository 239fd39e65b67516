package auditlog

import (
	"fmt"
	"strings"
	"time"

	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/rawjson"
	"bouncer.dev/bouncer/internal/text"
)

// Outcome is what re-judging an escaped write found.
type Outcome string

const (
	// Violates: the webhooks would have refused the object, or warned or
	// audited it; Violations say how.
	Violates Outcome = "violates"
	// Compliant: the webhooks would have admitted it as it is (Adds may
	// still list the defaults mutate would have added).
	Compliant Outcome = "compliant"
	// NotLogged: the event does not carry the stored object (level Request
	// or Metadata; at level Request a patch event holds the patch alone), so
	// there is nothing to judge.
	NotLogged Outcome = "not-logged"
)

// Escape is the re-judgment of one write that the audit trail shows.
type Escape struct {
	AuditID string `json:"auditID"`
	Verb    string `json:"verb"`
	// Operation is the admission operation the write was: CREATE for a
	// create, or for an update or patch that created the object (code 201,
	// as server-side apply does); UPDATE otherwise.
	Operation string `json:"operation,omitempty"`
	Object    Object `json:"object"`
	// User and Groups are the identity admission saw: the impersonated one
	// where the request impersonated, and then ImpersonatedBy is who did.
	User           string   `json:"user"`
	Groups         []string `json:"groups,omitempty"`
	ImpersonatedBy string   `json:"impersonatedBy,omitempty"`
	// Time is when the API server answered the write: it was stored by then.
	Time  time.Time `json:"time"`
	Level string    `json:"level"`

	// Skip, when set, says why the write is not an escape of bouncer's: a
	// kind the policy does not cover, an exempt namespace or user, a write
	// that stored nothing. Nothing below is set then.
	Skip string `json:"skip,omitempty"`

	Outcome    Outcome     `json:"outcome,omitempty"`
	Violations []Violation `json:"violations,omitempty"`
	// Unreadable is set when the webhooks could not have read the object:
	// they would have refused it with code 400, so it counts as violating.
	Unreadable string `json:"unreadable,omitempty"`
	// Adds are the default labels mutate would have added and the object
	// lacks.
	Adds []policy.Added `json:"adds,omitempty"`
	// PriorUnknown is set on an UPDATE that violates: no audit level
	// carries the old object, so whether it already violated before the
	// update is unknown (the policy's allowExistingViolations would have
	// let a kept violation through with a warning).
	PriorUnknown bool `json:"priorUnknown,omitempty"`
}

// Object names what a write stored.
type Object struct {
	// APIVersion is group/version, as the object says it ("apps/v1", "v1").
	APIVersion  string `json:"apiVersion"`
	Kind        string `json:"kind"`
	Resource    string `json:"resource"`
	Subresource string `json:"subresource,omitempty"`
	Namespace   string `json:"namespace,omitempty"`
	Name        string `json:"name"`
	UID         string `json:"uid,omitempty"`
}

// Violation is one label the object misses or has wrong, as the webhook
// would have said it.
type Violation struct {
	Rule    string `json:"rule"`
	Action  string `json:"action"`
	Key     string `json:"key"`
	Place   string `json:"place"`
	Problem string `json:"problem"`
	Message string `json:"message"`
	// Inherited is set when a built-in controller made the object from a
	// parent whose template the rule covers: the violation is the parent's,
	// and the webhook would have admitted it with a warning.
	Inherited bool `json:"inherited,omitempty"`
}

// Judge re-judges the object a write stored, through the webhooks' own
// chain (policy.Admit: mutate, its patch applied, then validate), as the
// request's user made it: a controller's write of a child is judged as the
// controller's, and comes out Inherited where the rule says so. The object
// is the event's responseObject, the stored object, which only level
// RequestResponse carries; the requestObject is not it (at level Request a
// patch event carries the patch alone, and a create's body lacks what the
// API server and other webhooks added). The caller picks the events, with
// FailedOpen: Judge judges any event it is given.
func Judge(p *policy.Policy, e *Event) Escape {
	x := Escape{AuditID: e.AuditID, Verb: e.Verb, Level: e.Level, Time: e.StageTimestamp}
	if x.Time.IsZero() {
		x.Time = e.RequestReceivedTimestamp
	}
	who := &e.User
	if e.ImpersonatedUser != nil {
		who, x.ImpersonatedBy = e.ImpersonatedUser, e.User.Username
	}
	x.User, x.Groups = who.Username, who.Groups
	var ref ObjectRef
	if e.ObjectRef != nil {
		ref = *e.ObjectRef
	}
	x.Object = Object{Resource: ref.Resource, Subresource: ref.Subresource, Namespace: ref.Namespace, Name: ref.Name, UID: ref.UID}
	if ref.APIVersion != "" {
		x.Object.APIVersion = groupVersion(ref.APIGroup, ref.APIVersion)
	}
	if k := kindOf(p, ref); k != nil {
		// The stored object, where the event carries it, says it again.
		x.Object.Kind = k.Kind
		if x.Object.APIVersion == "" {
			x.Object.APIVersion = groupVersion(k.Group, k.Version)
		}
	}

	code := 0
	if e.ResponseStatus != nil {
		code = e.ResponseStatus.Code
	}
	switch {
	case !e.Succeeded():
		x.Skip = fmt.Sprintf("the write stored nothing (stage %s, code %d)", e.Stage, code)
		return x
	case DryRun(e):
		x.Skip = "a dry run stores nothing"
		return x
	case ref.Resource == "":
		x.Skip = "not a request for an object"
		return x
	}
	switch e.Verb {
	case "create":
		x.Operation = policy.Create
	case "update", "patch":
		// An update or patch that creates the object (server-side apply, or
		// a PUT where the resource allows it) is admitted as a CREATE, and
		// answered 201 Created.
		x.Operation = policy.Update
		if code == 201 {
			x.Operation = policy.Create
		}
	default:
		x.Skip = "verb " + text.Quote(e.Verb, 40) + " stores no object bouncer judges"
		return x
	}

	if len(e.ResponseObject) == 0 {
		judgeUnlogged(p, &x, ref)
		return x
	}
	obj, err := rawjson.Parse(e.ResponseObject)
	var h header
	if err == nil {
		h, err = readHeader(obj)
	}
	if err != nil {
		// What cannot be read is ours only if the request's resource is.
		if x.Object.Kind == "" {
			x.Skip = skipKind
		} else {
			x.Outcome, x.Unreadable = Violates, "responseObject: "+err.Error()
		}
		return x
	}
	if h.apiVersion != "" {
		x.Object.APIVersion = h.apiVersion
	}
	if h.kind != "" {
		x.Object.Kind = h.kind
	}
	if x.Object.Name == "" {
		x.Object.Name = h.name // a create with generateName
	}
	if x.Object.Namespace == "" {
		x.Object.Namespace = h.namespace
	}
	if x.Object.UID == "" {
		x.Object.UID = h.uid // creates carry it only in the object
	}
	group, version := splitAPIVersion(x.Object.APIVersion)
	req := &policy.Request{UID: e.AuditID, Group: group, Version: version, Kind: x.Object.Kind, SubResource: ref.Subresource,
		Operation: x.Operation, Namespace: ref.Namespace, Name: ref.Name, User: who.Username, Groups: who.Groups, Object: obj}
	a, err := p.Admit(req)
	if err != nil {
		x.Outcome, x.Unreadable = Violates, err.Error()
		return x
	}
	v, m := a.Validate, a.Mutate
	if v.Skip != "" && m.Skip != "" {
		// Neither function would have judged it. An exemption says more
		// than a kind that only the other stage covers.
		x.Skip = v.Skip
		if v.Skip == skipKind {
			x.Skip = m.Skip
		}
		return x
	}
	for _, d := range []policy.Decision{m, v} {
		if d.Unreadable != nil {
			x.Outcome, x.Unreadable = Violates, d.Unreadable.Error()
			return x
		}
	}
	x.Adds = m.Added
	x.Outcome = Compliant
	for _, pv := range v.Violations {
		w := Violation{Rule: pv.Rule, Action: string(pv.Action), Key: pv.Key, Place: pv.Place, Problem: string(pv.Problem),
			Message: pv.Detail(), Inherited: pv.Inherited}
		if pv.Inherited && v.Parent != nil {
			w.Message += " (inherited from " + v.Parent.String() + ")"
		}
		x.Violations = append(x.Violations, w)
		x.Outcome = Violates
	}
	x.PriorUnknown = x.Outcome == Violates && x.Operation == policy.Update
	return x
}

// skipKind is the decision's reason for a kind the policy does not cover.
const skipKind = "kind not in policy"

// judgeUnlogged decides, without the object, whether the write is one of
// ours: its kind covered, its subresource one that can change labels, its
// namespace and user not exempt. It is then NotLogged.
func judgeUnlogged(p *policy.Policy, x *Escape, ref ObjectRef) {
	k := kindOf(p, ref)
	switch {
	case k == nil:
		x.Skip = skipKind
	case ref.Subresource != "" && !(ref.Subresource == "status" && x.Operation == policy.Update && k.StatusLabels):
		x.Skip = "subresource " + text.Quote(ref.Subresource, 40)
	case p.Exempt.Namespaces[ref.Namespace]:
		x.Skip = "exempt namespace"
	case p.Exempt.ExemptsUser(x.User, x.Groups):
		x.Skip = "exempt user"
	default:
		x.Outcome = NotLogged
	}
}

// kindOf finds the policy's kind by the resource the request named.
func kindOf(p *policy.Policy, ref ObjectRef) *policy.Kind {
	for _, k := range p.Kinds() {
		if k.Resource == ref.Resource && k.Group == ref.APIGroup {
			return k
		}
	}
	return nil
}

// groupVersion joins an API group and version as apiVersion spells them:
// the core group's is the version alone.
func groupVersion(group, version string) string {
	if group == "" {
		return version
	}
	return group + "/" + version
}

func splitAPIVersion(apiVersion string) (group, version string) {
	group, version, ok := strings.Cut(apiVersion, "/")
	if !ok {
		return "", apiVersion
	}
	return group, version
}

// header is the stored object's type and identity.
type header struct {
	apiVersion, kind     string
	name, namespace, uid string
}

// readHeader reads the stored object's apiVersion, kind and metadata's name,
// namespace and uid; nothing else of it.
func readHeader(obj rawjson.Value) (header, error) {
	var h header
	ok, err := obj.Fields(func(key []byte, val rawjson.Value) error {
		var err error
		switch string(key) {
		case "apiVersion":
			h.apiVersion, err = str("apiVersion", val)
		case "kind":
			h.kind, err = str("kind", val)
		case "metadata":
			if val.IsAbsent() {
				return nil
			}
			ok, err := val.Fields(func(key []byte, val rawjson.Value) error {
				var err error
				switch string(key) {
				case "name":
					h.name, err = str("metadata.name", val)
				case "namespace":
					h.namespace, err = str("metadata.namespace", val)
				case "uid":
					h.uid, err = str("metadata.uid", val)
				}
				return err
			})
			if !ok {
				return wrongKind("metadata", "an object", val)
			}
			return fieldError("metadata", err)
		}
		return err
	})
	if !ok {
		return h, wrongKind("", "an object", obj)
	}
	return h, fieldError("", err)
}
