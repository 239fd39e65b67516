// Package admission is bouncer's thin HTTP layer: it reads an
// admission.k8s.io/v1 AdmissionReview, hands the request to a pure decision
// function and writes the answer. Everything it refuses, it refuses with a
// specific status and message.
package admission

import (
	"bytes"
	"encoding/json"
	"fmt"

	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/rawjson"
)

// The only AdmissionReview version bouncer speaks. v1beta1 has been unserved
// since Kubernetes 1.22 for webhook configurations of v1.
const (
	reviewAPIVersion = "admission.k8s.io/v1"
	reviewKind       = "AdmissionReview"
)

// httpError is a failure to read the review at all: no uid to answer to, so
// the answer is an HTTP status and a message.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

// requestError is a review whose uid is readable but whose request is not:
// it is answered with an AdmissionReview that refuses it with code 400.
type requestError struct{ msg string }

func (e *requestError) Error() string { return e.msg }

// fields collects an object's members named in names into dsts, refusing
// duplicates.
func fields(raw []byte, field string, names []string, dsts ...*[]byte) error {
	dup, err := rawjson.Fields(raw, func(k, v []byte) error {
		for i, n := range names {
			if string(k) == n {
				*dsts[i] = v
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: must be a JSON object, got %s", orRoot(field), rawjson.Type(raw))
	}
	if dup != "" {
		return fmt.Errorf("duplicate field %s", quote(join(field, dup)))
	}
	return nil
}

// The members read at each level of the review.
var (
	envelopeFields = []string{"apiVersion", "kind", "request"}
	requestFields  = []string{"uid", "kind", "subResource", "name", "namespace", "operation", "userInfo", "object", "oldObject", "dryRun"}
	gvkFields      = []string{"group", "version", "kind"}
	userFields     = []string{"username", "groups"}
)

type rawRequest struct {
	UID, Kind, SubResource, Name, Namespace, Operation, UserInfo, Object, OldObject, DryRun []byte
}

// decodeReview reads body into a policy request. It returns an *httpError
// when no uid can be answered to, and a *requestError (with the uid) when
// the uid is readable but something else is not. The body is validated as
// JSON once, in full; after that only the parts the policy needs are read,
// as slices of the body, never copied.
func decodeReview(body []byte) (*policy.Request, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, &httpError{400, "empty body: expected an admission.k8s.io/v1 AdmissionReview"}
	}
	if err := rawjson.Validate(body); err != nil {
		return nil, &httpError{400, err.Error()}
	}
	if t := rawjson.Type(body); t != "object" {
		return nil, &httpError{400, "body: must be a JSON object, got " + t}
	}
	var apiVersionRaw, kindRaw, requestRaw []byte
	if err := fields(body, "", envelopeFields, &apiVersionRaw, &kindRaw, &requestRaw); err != nil {
		return nil, &httpError{400, err.Error()}
	}
	apiVersion, err := str(apiVersionRaw, "apiVersion")
	if err != nil {
		return nil, &httpError{400, err.Error()}
	}
	if apiVersion != reviewAPIVersion {
		return nil, &httpError{400, fmt.Sprintf("apiVersion %s is not supported: bouncer speaks %s only (set admissionReviewVersions: [v1])", quote(apiVersion), reviewAPIVersion)}
	}
	kind, err := str(kindRaw, "kind")
	if err != nil {
		return nil, &httpError{400, err.Error()}
	}
	if kind != reviewKind {
		return nil, &httpError{400, fmt.Sprintf("kind must be %q, got %s", reviewKind, quote(kind))}
	}
	if rawjson.IsAbsent(requestRaw) {
		return nil, &httpError{400, "request: missing: an AdmissionReview sent to a webhook must carry a request"}
	}
	if t := rawjson.Type(requestRaw); t != "object" {
		return nil, &httpError{400, "request: must be a JSON object, got " + t}
	}
	var rr rawRequest
	if err := fields(requestRaw, "request", requestFields, &rr.UID, &rr.Kind, &rr.SubResource, &rr.Name, &rr.Namespace,
		&rr.Operation, &rr.UserInfo, &rr.Object, &rr.OldObject, &rr.DryRun); err != nil {
		return nil, &httpError{400, err.Error()}
	}
	if rawjson.IsAbsent(rr.UID) {
		return nil, &httpError{400, "request.uid: missing"}
	}
	uid, err := str(rr.UID, "request.uid")
	if err != nil {
		return nil, &httpError{400, err.Error()}
	}
	if uid == "" {
		return nil, &httpError{400, "request.uid: must not be empty"}
	}
	req := &policy.Request{UID: uid, ValidJSON: true}
	if err := fillRequest(req, &rr); err != nil {
		return req, &requestError{err.Error()}
	}
	return req, nil
}

// fillRequest reads everything but the uid; the objects stay raw JSON for
// the decision to read only what the policy needs.
func fillRequest(req *policy.Request, rr *rawRequest) error {
	if rawjson.IsAbsent(rr.Kind) {
		return fmt.Errorf("request.kind: missing")
	}
	var group, version, kind []byte
	if err := fields(rr.Kind, "request.kind", gvkFields, &group, &version, &kind); err != nil {
		return err
	}
	var err error
	for _, f := range []struct {
		raw   []byte
		name  string
		dst   *string
		needs bool
	}{
		{group, "request.kind.group", &req.Group, false},
		{version, "request.kind.version", &req.Version, true},
		{kind, "request.kind.kind", &req.Kind, true},
		{rr.Operation, "request.operation", &req.Operation, true},
		{rr.SubResource, "request.subResource", &req.SubResource, false},
		{rr.Name, "request.name", &req.Name, false},
		{rr.Namespace, "request.namespace", &req.Namespace, false},
	} {
		if f.needs && rawjson.IsAbsent(f.raw) {
			return fmt.Errorf("%s: missing", f.name)
		}
		if *f.dst, err = str(f.raw, f.name); err != nil {
			return err
		}
	}
	if !rawjson.IsAbsent(rr.UserInfo) {
		var username, groups []byte
		if err := fields(rr.UserInfo, "request.userInfo", userFields, &username, &groups); err != nil {
			return err
		}
		if req.User, err = str(username, "request.userInfo.username"); err != nil {
			return err
		}
		if !rawjson.IsAbsent(groups) {
			if t := rawjson.Type(groups); t != "array" {
				return fmt.Errorf("request.userInfo.groups: must be an array of strings, got %s", t)
			}
			if err := json.Unmarshal(groups, &req.Groups); err != nil {
				return fmt.Errorf("request.userInfo.groups: must be an array of strings")
			}
		}
	}
	if !rawjson.IsAbsent(rr.DryRun) {
		if t := rawjson.Type(rr.DryRun); t != "boolean" {
			return fmt.Errorf("request.dryRun: must be a boolean, got %s", t)
		}
		req.DryRun = bytes.Equal(bytes.TrimSpace(rr.DryRun), []byte("true"))
	}
	if !rawjson.IsAbsent(rr.Object) {
		req.Object = rr.Object
	}
	if !rawjson.IsAbsent(rr.OldObject) {
		req.OldObject = rr.OldObject
	}
	return nil
}

func str(raw []byte, field string) (string, error) {
	if rawjson.IsAbsent(raw) {
		return "", nil
	}
	if t := rawjson.Type(raw); t != "string" {
		return "", fmt.Errorf("%s: must be a string, got %s", field, t)
	}
	return rawjson.Unquote(raw), nil
}

func orRoot(field string) string {
	if field == "" {
		return "body"
	}
	return field
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

// quote quotes user content for a message, cut to 100 bytes.
func quote(s string) string { return rawjson.Quote(s, 100) }
