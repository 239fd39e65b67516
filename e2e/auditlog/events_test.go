// Package auditlog_test holds bouncer's audit readers (internal/auditlog) to
// the API server's own audit types and codecs, which the root module cannot
// link: the server binary must not carry k8s.io/apiserver. The events are
// encoded here exactly as the log backend and the webhook backend encode
// them (audit.Codecs.LegacyCodec(audit.k8s.io/v1)), then read back both by
// bouncer and by the API server's decoder, and the two readings compared.
package auditlog_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"bouncer.dev/bouncer/internal/auditlog"
	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	auditinternal "k8s.io/apiserver/pkg/apis/audit"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	"k8s.io/apiserver/pkg/audit"
)

// codec is the one both backends encode with (plugin/pkg/audit/log and
// plugin/pkg/audit/webhook, through webhook.NewGenericWebhook).
var codec = audit.Codecs.LegacyCodec(auditv1.SchemeGroupVersion)

// decoder is how the API server's own clients read audit.k8s.io/v1.
var decoder = audit.Codecs.UniversalDecoder(auditv1.SchemeGroupVersion)

// everyField sets every field bouncer reads, and the others too, so that a
// field bouncer skips cannot disturb one it reads.
func everyField(id string) *auditinternal.Event {
	received := metav1.NewMicroTime(time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC))
	return &auditinternal.Event{
		Level:      auditinternal.LevelRequestResponse,
		AuditID:    types.UID("a-" + id),
		Stage:      auditinternal.StageResponseComplete,
		RequestURI: "/apis/apps/v1/namespaces/shop/deployments/web/status?fieldManager=kubectl&dryRun=All",
		Verb:       "patch",
		User: authnv1.UserInfo{Username: "alice", UID: "u-1", Groups: []string{"dev", "system:authenticated"},
			Extra: map[string]authnv1.ExtraValue{"scopes": {"a", "b"}}},
		ImpersonatedUser: &authnv1.UserInfo{Username: "system:serviceaccount:ci:deployer", UID: "u-2", Groups: []string{"system:serviceaccounts"}},
		AuthenticationMetadata: &auditinternal.AuthenticationMetadata{
			ImpersonationConstraint: "impersonate:user-info"},
		SourceIPs: []string{"10.0.0.1", "10.0.0.2"},
		UserAgent: "kubectl/v1.37.2",
		ObjectRef: &auditinternal.ObjectReference{Resource: "deployments", Namespace: "shop", Name: "web", UID: "d-1",
			APIGroup: "apps", APIVersion: "v1", ResourceVersion: "42", Subresource: "status"},
		ResponseStatus: &metav1.Status{Status: metav1.StatusSuccess, Reason: "Created", Message: "made \"it\"", Code: 201,
			Details: &metav1.StatusDetails{Name: "web"}},
		RequestObject: &runtime.Unknown{ContentType: runtime.ContentTypeJSON,
			Raw: []byte(`{"metadata":{"labels":{"owner":null,"tier":"a\u0000b"}}}`)},
		ResponseObject: &runtime.Unknown{ContentType: runtime.ContentTypeJSON,
			Raw: []byte(`{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"web","labels":{"app":"web"}},"spec":{"replicas":1}}`)},
		RequestReceivedTimestamp: received,
		StageTimestamp:           metav1.NewMicroTime(received.Add(1500 * time.Microsecond)),
		Annotations: map[string]string{
			"failed-open.validating.webhook.admission.k8s.io/round_0_index_0": "validate.bouncer.dev",
			"failed-open.mutation.webhook.admission.k8s.io/round_1_index_2":   "mutate.bouncer.dev",
			"authorization.k8s.io/reason":                                     "RBAC: allowed by \"x\"",
		},
	}
}

// asBouncerReadsIt is the API server's decoded event, field by field, as
// auditlog.Event says it: the statement of what each field of ours is.
func asBouncerReadsIt(ev *auditv1.Event) auditlog.Event {
	user := func(u authnv1.UserInfo) auditlog.UserInfo {
		return auditlog.UserInfo{Username: u.Username, UID: u.UID, Groups: u.Groups}
	}
	out := auditlog.Event{Level: string(ev.Level), AuditID: string(ev.AuditID), Stage: string(ev.Stage), RequestURI: ev.RequestURI,
		Verb: ev.Verb, User: user(ev.User), Annotations: ev.Annotations,
		RequestReceivedTimestamp: ev.RequestReceivedTimestamp.UTC(), StageTimestamp: ev.StageTimestamp.UTC()}
	if ev.ImpersonatedUser != nil {
		u := user(*ev.ImpersonatedUser)
		out.ImpersonatedUser = &u
	}
	if r := ev.ObjectRef; r != nil {
		out.ObjectRef = &auditlog.ObjectRef{Resource: r.Resource, Namespace: r.Namespace, Name: r.Name, UID: string(r.UID),
			APIGroup: r.APIGroup, APIVersion: r.APIVersion, ResourceVersion: r.ResourceVersion, Subresource: r.Subresource}
	}
	if s := ev.ResponseStatus; s != nil {
		out.ResponseStatus = &auditlog.ResponseStatus{Code: int(s.Code), Status: s.Status, Reason: string(s.Reason), Message: s.Message}
	}
	if ev.RequestObject != nil {
		out.RequestObject = ev.RequestObject.Raw
	}
	if ev.ResponseObject != nil {
		out.ResponseObject = ev.ResponseObject.Raw
	}
	return out
}

// same compares two events by their JSON, times in UTC: a failure shows
// both whole.
func same(t *testing.T, what string, want, got auditlog.Event) {
	t.Helper()
	for _, e := range []*auditlog.Event{&want, &got} {
		e.RequestReceivedTimestamp, e.StageTimestamp = e.RequestReceivedTimestamp.UTC(), e.StageTimestamp.UTC()
	}
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(w, g) {
		t.Errorf("%s: bouncer reads\n%s\nthe API server reads\n%s", what, g, w)
	}
}

// apiServerReads decodes one event with the API server's decoder.
func apiServerReads(t *testing.T, line []byte) *auditv1.Event {
	t.Helper()
	obj, _, err := decoder.Decode(line, nil, &auditv1.Event{})
	if err != nil {
		t.Fatalf("the API server's decoder: %v", err)
	}
	return obj.(*auditv1.Event)
}

func TestTheReaderReadsTheLogBackendsEncodingAsTheAPIServerDoes(t *testing.T) {
	line, err := runtime.Encode(codec, everyField("1"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(line, []byte("\n")) || bytes.Count(line, []byte("\n")) != 1 {
		t.Fatalf("the log backend writes one line per event, got %q", line)
	}
	r := auditlog.NewReader(bytes.NewReader(bytes.Repeat(line, 2)))
	for i := range 2 {
		got, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		want := asBouncerReadsIt(apiServerReads(t, line))
		same(t, "line "+strconv.Itoa(i+1), want, *got)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("after the last line: %v, want io.EOF", err)
	}
	// And each field holds what was written, not only what the API
	// server's decoder makes of it.
	got := asBouncerReadsIt(apiServerReads(t, line))
	if got.AuditID != "a-1" || got.ImpersonatedUser == nil || got.ObjectRef == nil || got.ObjectRef.Subresource != "status" ||
		got.ResponseStatus == nil || got.ResponseStatus.Code != 201 || len(got.ResponseObject) == 0 || len(got.RequestObject) == 0 ||
		got.StageTimestamp.Sub(got.RequestReceivedTimestamp) != 1500*time.Microsecond || len(got.Annotations) != 3 {
		t.Errorf("a field was lost on the way: %+v", got)
	}
}

func TestTheMinimalEventTheAPIServerWritesIsRead(t *testing.T) {
	// A non-resource request at level Metadata: no objectRef, no objects,
	// no annotations; the fields without omitempty are still written.
	ev := &auditinternal.Event{Level: auditinternal.LevelMetadata, AuditID: "a-min", Stage: auditinternal.StageResponseStarted,
		RequestURI: "/healthz", Verb: "get"}
	line, err := runtime.Encode(codec, ev)
	if err != nil {
		t.Fatal(err)
	}
	got, err := auditlog.NewReader(bytes.NewReader(line)).Next()
	if err != nil {
		t.Fatalf("%v\n%s", err, line)
	}
	same(t, "minimal", asBouncerReadsIt(apiServerReads(t, line)), *got)
}

func TestReadEventListReadsTheWebhookBackendsBatchAsTheAPIServerDoes(t *testing.T) {
	// As plugin/pkg/audit/webhook's processEvents builds it.
	var list auditinternal.EventList
	for _, id := range []string{"1", "2", "3"} {
		list.Items = append(list.Items, *everyField(id))
	}
	list.Items[1].ObjectRef, list.Items[1].ResponseObject, list.Items[1].ImpersonatedUser = nil, nil, nil
	body, err := runtime.Encode(codec, &list)
	if err != nil {
		t.Fatal(err)
	}
	got, err := auditlog.ReadEventList(body)
	if err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	obj, _, err := decoder.Decode(body, nil, &auditv1.EventList{})
	if err != nil {
		t.Fatal(err)
	}
	want := obj.(*auditv1.EventList).Items
	if len(got) != len(want) {
		t.Fatalf("bouncer reads %d events, the API server %d", len(got), len(want))
	}
	for i := range want {
		same(t, "items["+strconv.Itoa(i)+"]", asBouncerReadsIt(&want[i]), got[i])
	}
}

// TestTheCapturedFixturesReadAsTheAPIServerReadsThem holds the golden
// events in testdata/auditlog, which a real API server wrote, to the API
// server's decoder.
func TestTheCapturedFixturesReadAsTheAPIServerReadsThem(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "auditlog")
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in %s: %v", dir, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			// The lines as written: decompressed by the reader's own
			// detection, so read them through the API server separately.
			lines := rawLines(t, f)
			r, err := auditlog.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			for i, line := range lines {
				got, err := r.Next()
				if err != nil {
					t.Fatalf("line %d: %v", i+1, err)
				}
				same(t, "line "+strconv.Itoa(i+1), asBouncerReadsIt(apiServerReads(t, line)), *got)
			}
			if _, err := r.Next(); err != io.EOF {
				t.Errorf("after %d lines: %v, want io.EOF", len(lines), err)
			}
		})
	}
}

// rawLines reads a fixture's lines, gunzipping a .gz by its name.
func rawLines(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var in io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		in = zr
	}
	var out [][]byte
	sc := bufio.NewScanner(in)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		out = append(out, bytes.Clone(sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
