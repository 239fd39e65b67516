// Package admission is bouncer's thin HTTP layer: it reads an
// admission.k8s.io/v1 AdmissionReview, hands the request to a pure decision
// function and writes the answer. Everything it refuses, it refuses with a
// specific status and message.
package admission

import (
	"fmt"

	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/rawjson"
	"bouncer.dev/bouncer/internal/text"
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

// member names one field of a JSON object and where to keep its value: a
// name and its destination are written side by side, so they cannot drift
// apart.
type member struct {
	name string
	dst  *rawjson.Value
}

// fields keeps the named members of the object v, refusing duplicates.
func fields(v rawjson.Value, field string, members ...member) error {
	ok, err := v.Fields(func(k []byte, val rawjson.Value) error {
		for _, m := range members {
			if string(k) == m.name {
				*m.dst = val
				break
			}
		}
		return nil
	})
	if !ok {
		return fmt.Errorf("%s: must be a JSON object, got %s", orRoot(field), v.Kind())
	}
	if d, isDup := err.(*rawjson.DuplicateKeyError); isDup {
		return fmt.Errorf("duplicate field %s", quote(join(field, d.Key)))
	}
	return err
}

// decodeReview reads body into a policy request. It returns an *httpError
// when no uid can be answered to, and a *requestError (with the uid) when
// the uid is readable but something else is not. The body is validated as
// JSON once, in full; after that only the parts the policy needs are read,
// as slices of the body, never copied.
func decodeReview(body []byte) (*policy.Request, error) {
	if isBlank(body) {
		return nil, &httpError{400, "empty body: expected an admission.k8s.io/v1 AdmissionReview"}
	}
	doc, err := rawjson.Parse(body)
	if err != nil {
		return nil, &httpError{400, err.Error()}
	}
	if doc.Kind() != rawjson.Object {
		return nil, &httpError{400, "body: must be a JSON object, got " + doc.Kind().String()}
	}
	var apiVersionRaw, kindRaw, requestRaw rawjson.Value
	if err := fields(doc, "", member{"apiVersion", &apiVersionRaw}, member{"kind", &kindRaw}, member{"request", &requestRaw}); err != nil {
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
	if requestRaw.IsAbsent() {
		return nil, &httpError{400, "request: missing: an AdmissionReview sent to a webhook must carry a request"}
	}
	if requestRaw.Kind() != rawjson.Object {
		return nil, &httpError{400, "request: must be a JSON object, got " + requestRaw.Kind().String()}
	}
	var rr rawRequest
	if err := fields(requestRaw, "request",
		member{"uid", &rr.uid}, member{"kind", &rr.kind}, member{"subResource", &rr.subResource}, member{"name", &rr.name},
		member{"namespace", &rr.namespace}, member{"operation", &rr.operation}, member{"userInfo", &rr.userInfo},
		member{"object", &rr.object}, member{"oldObject", &rr.oldObject}, member{"dryRun", &rr.dryRun}); err != nil {
		return nil, &httpError{400, err.Error()}
	}
	if rr.uid.IsAbsent() {
		return nil, &httpError{400, "request.uid: missing"}
	}
	uid, err := str(rr.uid, "request.uid")
	if err != nil {
		return nil, &httpError{400, err.Error()}
	}
	if uid == "" {
		return nil, &httpError{400, "request.uid: must not be empty"}
	}
	req := &policy.Request{UID: uid}
	if err := rr.fill(req); err != nil {
		return req, &requestError{err.Error()}
	}
	return req, nil
}

// rawRequest holds the members of request that bouncer reads.
type rawRequest struct {
	uid, kind, subResource, name, namespace, operation, userInfo, object, oldObject, dryRun rawjson.Value
}

// fill reads everything but the uid; the objects stay parsed JSON for the
// decision to read only what the policy needs.
func (rr *rawRequest) fill(req *policy.Request) error {
	if rr.kind.IsAbsent() {
		return fmt.Errorf("request.kind: missing")
	}
	var group, version, kind rawjson.Value
	if err := fields(rr.kind, "request.kind", member{"group", &group}, member{"version", &version}, member{"kind", &kind}); err != nil {
		return err
	}
	var err error
	for _, f := range []struct {
		raw   rawjson.Value
		name  string
		dst   *string
		needs bool
	}{
		{group, "request.kind.group", &req.Group, false},
		{version, "request.kind.version", &req.Version, true},
		{kind, "request.kind.kind", &req.Kind, true},
		{rr.operation, "request.operation", &req.Operation, true},
		{rr.subResource, "request.subResource", &req.SubResource, false},
		{rr.name, "request.name", &req.Name, false},
		{rr.namespace, "request.namespace", &req.Namespace, false},
	} {
		if f.needs && f.raw.IsAbsent() {
			return fmt.Errorf("%s: missing", f.name)
		}
		if *f.dst, err = str(f.raw, f.name); err != nil {
			return err
		}
	}
	if !rr.userInfo.IsAbsent() {
		var username, groups rawjson.Value
		if err := fields(rr.userInfo, "request.userInfo", member{"username", &username}, member{"groups", &groups}); err != nil {
			return err
		}
		if req.User, err = str(username, "request.userInfo.username"); err != nil {
			return err
		}
		if !groups.IsAbsent() {
			ok, err := groups.Elements(func(_ int, g rawjson.Value) error {
				s, ok := g.Str()
				if !ok {
					return fmt.Errorf("request.userInfo.groups: must be an array of strings")
				}
				req.Groups = append(req.Groups, s)
				return nil
			})
			if !ok {
				return fmt.Errorf("request.userInfo.groups: must be an array of strings, got %s", groups.Kind())
			}
			if err != nil {
				return err
			}
		}
	}
	if !rr.dryRun.IsAbsent() {
		if rr.dryRun.Kind() != rawjson.Bool {
			return fmt.Errorf("request.dryRun: must be a boolean, got %s", rr.dryRun.Kind())
		}
		req.DryRun = rr.dryRun.True()
	}
	if !rr.object.IsAbsent() {
		req.Object = rr.object
	}
	if !rr.oldObject.IsAbsent() {
		req.OldObject = rr.oldObject
	}
	return nil
}

func str(v rawjson.Value, field string) (string, error) {
	if v.IsAbsent() {
		return "", nil
	}
	s, ok := v.Str()
	if !ok {
		return "", fmt.Errorf("%s: must be a string, got %s", field, v.Kind())
	}
	return s, nil
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
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
func quote(s string) string { return text.Quote(s, 100) }
