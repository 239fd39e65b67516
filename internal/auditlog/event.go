// Package auditlog reads the API server's audit trail and finds in it what
// escaped bouncer: the writes that failed open past its webhooks, re-judged
// by the policy as the webhooks would have judged them. It reads both forms
// the API server writes, the log backend's JSON lines (Reader) and the
// webhook backend's EventList batches (ReadEventList), with its own small
// decoder: the server binary links this package, and must not link
// k8s.io/apiserver, so a test in e2e/auditlog holds the decoder to the API
// server's own types instead.
package auditlog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"bouncer.dev/bouncer/internal/rawjson"
)

// The audit levels and stages an Event carries, as the API server spells
// them (k8s.io/apiserver/pkg/apis/audit/v1).
const (
	LevelNone            = "None"
	LevelMetadata        = "Metadata"
	LevelRequest         = "Request"
	LevelRequestResponse = "RequestResponse"

	StageRequestReceived  = "RequestReceived"
	StageResponseStarted  = "ResponseStarted"
	StageResponseComplete = "ResponseComplete"
	StagePanic            = "Panic"
)

// APIVersion and Kind name an audit event; ListKind the webhook backend's
// batch of them.
const (
	APIVersion = "audit.k8s.io/v1"
	Kind       = "Event"
	ListKind   = "EventList"
)

var (
	levels = map[string]bool{LevelNone: true, LevelMetadata: true, LevelRequest: true, LevelRequestResponse: true}
	stages = map[string]bool{StageRequestReceived: true, StageResponseStarted: true, StageResponseComplete: true, StagePanic: true}
)

// Event is what bouncer reads of an audit.k8s.io/v1 Event. Every other
// field (sourceIPs, userAgent, ...) is skipped unread. The JSON names are the
// API server's, so an Event marshals back into a line the reader takes.
type Event struct {
	Level      string   `json:"level"`
	AuditID    string   `json:"auditID"`
	Stage      string   `json:"stage"`
	RequestURI string   `json:"requestURI"`
	Verb       string   `json:"verb"`
	User       UserInfo `json:"user"`
	// ImpersonatedUser is who the request acted as, when the authenticated
	// User impersonated someone: admission sees this identity.
	ImpersonatedUser *UserInfo       `json:"impersonatedUser,omitempty"`
	ObjectRef        *ObjectRef      `json:"objectRef,omitempty"`
	ResponseStatus   *ResponseStatus `json:"responseStatus,omitempty"`
	// RequestObject is the request's body at levels Request and
	// RequestResponse: the object for a create or an update, the patch alone
	// for a patch. ResponseObject is what the API server answered at level
	// RequestResponse: for a successful write, the object it stored.
	RequestObject  json.RawMessage `json:"requestObject,omitempty"`
	ResponseObject json.RawMessage `json:"responseObject,omitempty"`
	// RequestReceivedTimestamp is when the request reached the API server;
	// StageTimestamp when it reached the event's stage.
	RequestReceivedTimestamp time.Time         `json:"requestReceivedTimestamp"`
	StageTimestamp           time.Time         `json:"stageTimestamp"`
	Annotations              map[string]string `json:"annotations,omitempty"`
}

// UserInfo is an authenticated identity (k8s.io/api/authentication/v1).
type UserInfo struct {
	Username string   `json:"username,omitempty"`
	UID      string   `json:"uid,omitempty"`
	Groups   []string `json:"groups,omitempty"`
}

// ObjectRef is the object a request is about.
type ObjectRef struct {
	Resource        string `json:"resource,omitempty"`
	Namespace       string `json:"namespace,omitempty"`
	Name            string `json:"name,omitempty"`
	UID             string `json:"uid,omitempty"`
	APIGroup        string `json:"apiGroup,omitempty"`
	APIVersion      string `json:"apiVersion,omitempty"`
	ResourceVersion string `json:"resourceVersion,omitempty"`
	Subresource     string `json:"subresource,omitempty"`
}

// ResponseStatus is what bouncer reads of the response's metav1.Status.
type ResponseStatus struct {
	Code    int    `json:"code,omitempty"`
	Status  string `json:"status,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// Succeeded reports whether the request was answered with a 2xx code at
// the ResponseComplete stage: only then did a write store anything.
func (e *Event) Succeeded() bool {
	return e.Stage == StageResponseComplete && e.ResponseStatus != nil && e.ResponseStatus.Code >= 200 && e.ResponseStatus.Code < 300
}

// FieldError says which field of an event cannot be read, by its path in
// the event ("objectRef.name"; "" for the event itself).
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// under returns err with its path put under prefix, as a list names its
// items ("items[3]").
func under(prefix string, err error) error {
	fe, ok := err.(*FieldError)
	if !ok {
		return &FieldError{prefix, err.Error()}
	}
	if fe.Path == "" {
		return &FieldError{prefix, fe.Msg}
	}
	return &FieldError{prefix + "." + fe.Path, fe.Msg}
}

func wrongKind(path string, want string, got rawjson.Value) error {
	return &FieldError{path, "must be " + want + ", got " + got.Kind().String()}
}

// decodeEvent reads one event from v. A log line must say what it is
// (kind Event, apiVersion audit.k8s.io/v1): that is what tells an audit
// event from any other JSON. The webhook backend's list items may leave
// both out, as the list says it; where they are given, they must be right.
func decodeEvent(v rawjson.Value, e *Event, typed bool) error {
	var kind, apiVersion string
	var seen struct{ level, auditID, stage bool }
	ok, err := v.Fields(func(key []byte, val rawjson.Value) error {
		var err error
		switch string(key) {
		case "kind":
			kind, err = str("kind", val)
		case "apiVersion":
			apiVersion, err = str("apiVersion", val)
		case "level":
			seen.level = true
			if e.Level, err = str("level", val); err == nil && !levels[e.Level] {
				err = &FieldError{"level", "unknown level " + strconv.Quote(e.Level) + "; want Metadata, Request or RequestResponse"}
			}
		case "auditID":
			seen.auditID = true
			e.AuditID, err = str("auditID", val)
		case "stage":
			seen.stage = true
			if e.Stage, err = str("stage", val); err == nil && !stages[e.Stage] {
				err = &FieldError{"stage", "unknown stage " + strconv.Quote(e.Stage)}
			}
		case "requestURI":
			e.RequestURI, err = str("requestURI", val)
		case "verb":
			e.Verb, err = str("verb", val)
		case "user":
			err = decodeUser("user", val, &e.User)
		case "impersonatedUser":
			if !val.IsAbsent() {
				e.ImpersonatedUser = &UserInfo{}
				err = decodeUser("impersonatedUser", val, e.ImpersonatedUser)
			}
		case "objectRef":
			if !val.IsAbsent() {
				e.ObjectRef = &ObjectRef{}
				err = decodeObjectRef(val, e.ObjectRef)
			}
		case "responseStatus":
			if !val.IsAbsent() {
				e.ResponseStatus = &ResponseStatus{}
				err = decodeStatus(val, e.ResponseStatus)
			}
		case "requestObject":
			e.RequestObject = raw(val)
		case "responseObject":
			e.ResponseObject = raw(val)
		case "requestReceivedTimestamp":
			e.RequestReceivedTimestamp, err = timestamp("requestReceivedTimestamp", val)
		case "stageTimestamp":
			e.StageTimestamp, err = timestamp("stageTimestamp", val)
		case "annotations":
			e.Annotations, err = stringMap("annotations", val)
		}
		return err
	})
	switch {
	case !ok:
		return wrongKind("", "an audit event (a JSON object)", v)
	case err != nil:
		return fieldError("", err)
	}
	if typed || kind != "" || apiVersion != "" {
		if kind != Kind || apiVersion != APIVersion {
			return &FieldError{"", fmt.Sprintf("not an audit event: kind %q, apiVersion %q; want kind %s, apiVersion %s", kind, apiVersion, Kind, APIVersion)}
		}
	}
	// The API server always writes these three: without them the event
	// says neither what it is about nor when.
	switch {
	case !seen.level:
		return &FieldError{"level", "missing"}
	case !seen.auditID || e.AuditID == "":
		return &FieldError{"auditID", "missing"}
	case !seen.stage:
		return &FieldError{"stage", "missing"}
	}
	return nil
}

// fieldError turns a duplicate key, which rawjson reports bare, into an
// error that names the object it is in.
func fieldError(path string, err error) error {
	if _, ok := err.(*rawjson.DuplicateKeyError); ok {
		return &FieldError{path, err.Error()}
	}
	return err
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// str reads a string; null and absent read as "".
func str(path string, v rawjson.Value) (string, error) {
	if v.IsAbsent() {
		return "", nil
	}
	s, ok := v.Str()
	if !ok {
		return "", wrongKind(path, "a string", v)
	}
	return s, nil
}

// raw keeps a value's JSON as it was written, nil for null. The copy lets
// the reader reuse its line buffer.
func raw(v rawjson.Value) json.RawMessage {
	if v.IsAbsent() {
		return nil
	}
	return bytes.Clone(v.Bytes())
}

func decodeUser(path string, v rawjson.Value, u *UserInfo) error {
	if v.IsAbsent() {
		return nil
	}
	ok, err := v.Fields(func(key []byte, val rawjson.Value) error {
		var err error
		switch string(key) {
		case "username":
			u.Username, err = str(join(path, "username"), val)
		case "uid":
			u.UID, err = str(join(path, "uid"), val)
		case "groups":
			u.Groups, err = stringList(join(path, "groups"), val)
		}
		return err
	})
	if !ok {
		return wrongKind(path, "an object", v)
	}
	return fieldError(path, err)
}

func decodeObjectRef(v rawjson.Value, r *ObjectRef) error {
	ok, err := v.Fields(func(key []byte, val rawjson.Value) error {
		var dst *string
		switch string(key) {
		case "resource":
			dst = &r.Resource
		case "namespace":
			dst = &r.Namespace
		case "name":
			dst = &r.Name
		case "uid":
			dst = &r.UID
		case "apiGroup":
			dst = &r.APIGroup
		case "apiVersion":
			dst = &r.APIVersion
		case "resourceVersion":
			dst = &r.ResourceVersion
		case "subresource":
			dst = &r.Subresource
		default:
			return nil
		}
		var err error
		*dst, err = str("objectRef."+string(key), val)
		return err
	})
	if !ok {
		return wrongKind("objectRef", "an object", v)
	}
	return fieldError("objectRef", err)
}

func decodeStatus(v rawjson.Value, s *ResponseStatus) error {
	ok, err := v.Fields(func(key []byte, val rawjson.Value) error {
		var err error
		switch string(key) {
		case "code":
			if val.IsAbsent() {
				return nil
			}
			s.Code, err = strconv.Atoi(string(val.Bytes()))
			if err != nil || val.Kind() != rawjson.Number {
				return wrongKind("responseStatus.code", "an integer", val)
			}
		case "status":
			s.Status, err = str("responseStatus.status", val)
		case "reason":
			s.Reason, err = str("responseStatus.reason", val)
		case "message":
			s.Message, err = str("responseStatus.message", val)
		}
		return err
	})
	if !ok {
		return wrongKind("responseStatus", "an object", v)
	}
	return fieldError("responseStatus", err)
}

// timestamp reads a metav1.MicroTime: RFC 3339 with microseconds, or null
// for the zero time.
func timestamp(path string, v rawjson.Value) (time.Time, error) {
	s, err := str(path, v)
	if err != nil || s == "" {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &FieldError{path, "not an RFC 3339 time: " + strconv.Quote(s)}
	}
	return t, nil
}

func stringList(path string, v rawjson.Value) ([]string, error) {
	if v.IsAbsent() {
		return nil, nil
	}
	var out []string
	ok, err := v.Elements(func(i int, el rawjson.Value) error {
		s, ok := el.Str()
		if !ok {
			return wrongKind(fmt.Sprintf("%s[%d]", path, i), "a string", el)
		}
		out = append(out, s)
		return nil
	})
	if !ok {
		return nil, wrongKind(path, "an array of strings", v)
	}
	return out, err
}

func stringMap(path string, v rawjson.Value) (map[string]string, error) {
	if v.IsAbsent() {
		return nil, nil
	}
	out := map[string]string{}
	ok, err := v.Fields(func(key []byte, val rawjson.Value) error {
		s, ok := val.Str()
		if !ok {
			return wrongKind(path+"["+strconv.Quote(string(key))+"]", "a string", val)
		}
		out[string(key)] = s
		return nil
	})
	if !ok {
		return nil, wrongKind(path, "a map of strings", v)
	}
	return out, fieldError(path, err)
}
