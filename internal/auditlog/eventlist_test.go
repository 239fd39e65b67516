package auditlog

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// item is an event as the webhook backend's list carries it: without its
// own kind and apiVersion, which the list gives.
const item = `{"level":"Metadata","auditID":"a-%","stage":"ResponseComplete","verb":"create",` +
	`"objectRef":{"resource":"pods","namespace":"shop","name":"web","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":201}}`

func items(ids ...string) string {
	var s []string
	for _, id := range ids {
		s = append(s, strings.Replace(item, "%", id, 1))
	}
	return strings.Join(s, ",")
}

func list(itemsJSON string) string {
	return `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` + itemsJSON + `]}`
}

func TestReadEventListReadsTheWebhookBackendsBatch(t *testing.T) {
	typed := strings.Replace(item, "%", "3", 1)
	typed = `{"kind":"Event","apiVersion":"audit.k8s.io/v1",` + typed[1:]
	got, err := ReadEventList([]byte(list(items("1", "2") + "," + typed)))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range got {
		ids = append(ids, e.AuditID)
		if e.ObjectRef == nil || e.ObjectRef.Name != "web" || e.ResponseStatus == nil || e.ResponseStatus.Code != 201 {
			t.Errorf("%s: read as %+v", e.AuditID, e)
		}
	}
	if diff := cmp.Diff([]string{"a-1", "a-2", "a-3"}, ids); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

func TestAnEmptyBatchIsReadAsNoEvents(t *testing.T) {
	for _, body := range []string{
		`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":null}`,
		`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[]}`,
	} {
		got, err := ReadEventList([]byte(body))
		if err != nil || len(got) != 0 {
			t.Errorf("%s: got %v, %v", body, got, err)
		}
	}
}

func TestReadEventListRefusesAnythingElseSayingWhatAndWhere(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"an empty body", ``, "not an EventList: not valid JSON at byte 0: unexpected end of JSON input"},
		{"a form", `a=b`, "not an EventList: not valid JSON at byte 1: invalid character 'a' looking for beginning of value"},
		{"a list of events without the list", `[` + items("1") + `]`, "not an EventList: a JSON array"},
		{"one event", strings.Replace(list(""), "EventList", "Event", 1), `not an EventList: kind "Event", apiVersion "audit.k8s.io/v1"; want kind EventList, apiVersion audit.k8s.io/v1`},
		{"the removed v1beta1", strings.Replace(list(""), "audit.k8s.io/v1", "audit.k8s.io/v1beta1", 1), `not an EventList: kind "EventList", apiVersion "audit.k8s.io/v1beta1"; want kind EventList, apiVersion audit.k8s.io/v1`},
		{"no kind", `{"apiVersion":"audit.k8s.io/v1","items":[]}`, `not an EventList: kind "", apiVersion "audit.k8s.io/v1"; want kind EventList, apiVersion audit.k8s.io/v1`},
		{"a kind that is not a string", `{"kind":1,"apiVersion":"audit.k8s.io/v1","items":[]}`, "kind: must be a string, got number"},
		{"items given twice", `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[],"items":[]}`, `duplicate key "items"`},
		{"items that are an object", `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":{}}`, "items: must be an array, got object"},
		{"an item that is a string", list(items("0", "1", "2") + `,"event"`), "items[3]: must be an audit event (a JSON object), got string"},
		{"an item whose objectRef is a string", list(items("0", "1", "2") + `,` + strings.Replace(strings.Replace(item, "%", "3", 1), `"objectRef":{`, `"objectRef":"pods","x":{`, 1)),
			"items[3].objectRef: must be an object, got string"},
		{"an item whose name is a number", list(items("0") + `,` + strings.Replace(strings.Replace(item, "%", "1", 1), `"name":"web"`, `"name":5`, 1)),
			"items[1].objectRef.name: must be a string, got number"},
		{"an item without an audit ID", list(strings.Replace(item, `"auditID":"a-%",`, "", 1)), "items[0].auditID: missing"},
		{"an item of another kind", list(`{"kind":"Pod",` + strings.Replace(item, "%", "0", 1)[1:]), `items[0]: not an audit event: kind "Pod", apiVersion ""; want kind Event, apiVersion audit.k8s.io/v1`},
		{"an item with a key given twice", list(strings.Replace(strings.Replace(item, "%", "0", 1), `"verb":"create"`, `"verb":"create","verb":"get"`, 1)), `items[0]: duplicate key "verb"`},
		{"an item with an annotation that is a number", list(strings.Replace(strings.Replace(item, "%", "0", 1), `"verb"`, `"annotations":{"k":1},"verb"`, 1)), `items[0].annotations["k"]: must be a string, got number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadEventList([]byte(tt.body))
			if err == nil {
				t.Fatalf("read %d events, want the error %s", len(got), tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("got  %s\nwant %s", err, tt.want)
			}
			if got != nil {
				t.Errorf("returned %d events with the error: a batch is read whole or not at all", len(got))
			}
		})
	}
}
