// Package admission is bouncer's thin HTTP layer: it reads an
// admission.k8s.io/v1 AdmissionReview, hands the request to a pure decision
// function and writes the answer. Everything it refuses, it refuses with a
// specific status and message.
package admission

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/rawjson"
	kjson "sigs.k8s.io/json"
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

type rawReview struct {
	APIVersion json.RawMessage `json:"apiVersion"`
	Kind       json.RawMessage `json:"kind"`
	Request    json.RawMessage `json:"request"`
}

type rawRequest struct {
	UID         json.RawMessage `json:"uid"`
	Kind        json.RawMessage `json:"kind"`
	SubResource json.RawMessage `json:"subResource"`
	Name        json.RawMessage `json:"name"`
	Namespace   json.RawMessage `json:"namespace"`
	Operation   json.RawMessage `json:"operation"`
	UserInfo    json.RawMessage `json:"userInfo"`
	Object      json.RawMessage `json:"object"`
	OldObject   json.RawMessage `json:"oldObject"`
	DryRun      json.RawMessage `json:"dryRun"`
}

type rawGVK struct {
	Group   json.RawMessage `json:"group"`
	Version json.RawMessage `json:"version"`
	Kind    json.RawMessage `json:"kind"`
}

type rawUser struct {
	Username json.RawMessage `json:"username"`
	Groups   json.RawMessage `json:"groups"`
}

// decodeReview reads body into a policy request. It returns an *httpError
// when no uid can be answered to, and a *requestError (with the uid) when
// the uid is readable but something else is not.
func decodeReview(body []byte) (*policy.Request, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, &httpError{400, "empty body: expected an admission.k8s.io/v1 AdmissionReview"}
	}
	var rv rawReview
	if err := strictDecode(body, &rv, ""); err != nil {
		return nil, &httpError{400, err.Error()}
	}
	apiVersion, err := str(rv.APIVersion, "apiVersion")
	if err != nil {
		return nil, &httpError{400, err.Error()}
	}
	if apiVersion != reviewAPIVersion {
		return nil, &httpError{400, fmt.Sprintf("apiVersion %s is not supported: bouncer speaks %s only (set admissionReviewVersions: [v1])", quote(apiVersion), reviewAPIVersion)}
	}
	if kind, err := str(rv.Kind, "kind"); err != nil || kind != reviewKind {
		return nil, &httpError{400, fmt.Sprintf("kind must be %q, got %s", reviewKind, quote(kind))}
	}
	if rawjson.IsAbsent(rv.Request) {
		return nil, &httpError{400, "request: missing: an AdmissionReview sent to a webhook must carry a request"}
	}
	if t := rawjson.Type(rv.Request); t != "object" {
		return nil, &httpError{400, "request: must be a JSON object, got " + t}
	}
	var rr rawRequest
	if err := strictDecode(rv.Request, &rr, "request"); err != nil {
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
	req := &policy.Request{UID: uid}
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
	var gvk rawGVK
	if err := strictDecode(rr.Kind, &gvk, "request.kind"); err != nil {
		return err
	}
	var err error
	for _, f := range []struct {
		raw   json.RawMessage
		name  string
		dst   *string
		needs bool
	}{
		{gvk.Group, "request.kind.group", &req.Group, false},
		{gvk.Version, "request.kind.version", &req.Version, true},
		{gvk.Kind, "request.kind.kind", &req.Kind, true},
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
		var u rawUser
		if err := strictDecode(rr.UserInfo, &u, "request.userInfo"); err != nil {
			return err
		}
		if req.User, err = str(u.Username, "request.userInfo.username"); err != nil {
			return err
		}
		if !rawjson.IsAbsent(u.Groups) {
			if t := rawjson.Type(u.Groups); t != "array" {
				return fmt.Errorf("request.userInfo.groups: must be an array of strings, got %s", t)
			}
			if err := json.Unmarshal(u.Groups, &req.Groups); err != nil {
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

// strictDecode decodes a JSON object case-sensitively, as the API server
// does, and refuses duplicate fields: two parsers must never disagree on
// which of two uids or labels counts.
func strictDecode(data []byte, v any, field string) error {
	strict, err := kjson.UnmarshalStrict(data, v, kjson.DisallowDuplicateFields)
	if err != nil {
		if ok, off := kjson.SyntaxErrorOffset(err); ok {
			return fmt.Errorf("not valid JSON at byte %d%s: %s", off, in(field), strings.TrimPrefix(err.Error(), "json: "))
		}
		if t := rawjson.Type(data); t != "object" {
			return fmt.Errorf("%s: must be a JSON object, got %s", orRoot(field), t)
		}
		return fmt.Errorf("%s: %s", orRoot(field), strings.TrimPrefix(err.Error(), "json: "))
	}
	if len(strict) > 0 {
		name := strict[0].Error()
		if fe, ok := strict[0].(kjson.FieldError); ok {
			name = fe.FieldPath()
		}
		return fmt.Errorf("duplicate field %s", quote(join(field, name)))
	}
	return nil
}

func str(raw json.RawMessage, field string) (string, error) {
	if rawjson.IsAbsent(raw) {
		return "", nil
	}
	if t := rawjson.Type(raw); t != "string" {
		return "", fmt.Errorf("%s: must be a string, got %s", field, t)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%s: not a valid JSON string", field)
	}
	return s, nil
}

func in(field string) string {
	if field == "" {
		return ""
	}
	return " in " + field
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
