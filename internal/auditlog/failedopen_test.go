package auditlog

import (
	"testing"

	"bouncer.dev/bouncer/internal/webhookconfig"
	"github.com/google/go-cmp/cmp"
)

var ours = []string{webhookconfig.ValidateHook, webhookconfig.MutateHook}

const (
	validating = FailedOpenValidating + "round_0_index_0"
	mutating   = FailedOpenMutating + "round_0_index_0"
)

func TestFailedOpenNamesOurWebhooksThatFailedOpenOnAWriteThatGotIn(t *testing.T) {
	created := func(annotations map[string]string) *Event {
		return &Event{Stage: StageResponseComplete, RequestURI: "/api/v1/namespaces/shop/pods", Verb: "create",
			ResponseStatus: &ResponseStatus{Code: 201}, Annotations: annotations}
	}
	with := func(e *Event, f func(*Event)) *Event { f(e); return e }
	both := map[string]string{validating: "validate.bouncer.dev", mutating: "mutate.bouncer.dev"}
	tests := []struct {
		name string
		e    *Event
		want []string
	}{
		{"validate failed open", created(map[string]string{validating: "validate.bouncer.dev"}), []string{"validate.bouncer.dev"}},
		{"mutate failed open", created(map[string]string{mutating: "mutate.bouncer.dev"}), []string{"mutate.bouncer.dev"}},
		{"both failed open, named in the caller's order", created(both), []string{"validate.bouncer.dev", "mutate.bouncer.dev"}},
		{"a later round and index count", created(map[string]string{FailedOpenValidating + "round_1_index_12": "validate.bouncer.dev"}), []string{"validate.bouncer.dev"}},
		{"a webhook failing open twice is named once", created(map[string]string{
			FailedOpenMutating + "round_0_index_0": "mutate.bouncer.dev", FailedOpenMutating + "round_1_index_0": "mutate.bouncer.dev"}), []string{"mutate.bouncer.dev"}},
		{"another webhook's fail-open is not ours", created(map[string]string{FailedOpenValidating + "round_0_index_1": "other.example.com"}), nil},
		{"ours among others' are ours alone", created(map[string]string{validating: "validate.bouncer.dev", FailedOpenValidating + "round_0_index_1": "other.example.com"}),
			[]string{"validate.bouncer.dev"}},
		{"a write our webhooks judged has no fail-open", created(map[string]string{
			"mutation.webhook.admission.k8s.io/round_0_index_0": `{"configuration":"bouncer-mutate","webhook":"mutate.bouncer.dev","mutated":true}`}), nil},
		{"our name under another key is not a fail-open", created(map[string]string{"validate.bouncer.dev/require-owner": "validate.bouncer.dev"}), nil},
		{"a key that is not round and index is not a fail-open", created(map[string]string{FailedOpenValidating + "round_x_index_0": "validate.bouncer.dev",
			FailedOpenValidating + "round_0_index_": "validate.bouncer.dev", FailedOpenValidating + "r0": "validate.bouncer.dev"}), nil},
		{"no annotations", created(nil), nil},
		{"an update that got in", with(created(both), func(e *Event) { e.Verb, e.ResponseStatus.Code = "update", 200 }), []string{"validate.bouncer.dev", "mutate.bouncer.dev"}},
		{"a write refused later did not get in", with(created(both), func(e *Event) { e.ResponseStatus.Code = 409 }), nil},
		{"a write another webhook refused did not get in", with(created(both), func(e *Event) { e.ResponseStatus.Code = 403 }), nil},
		{"a write without a response status is not known to have got in", with(created(both), func(e *Event) { e.ResponseStatus = nil }), nil},
		{"a stage before the response is not the end of the write", with(created(both), func(e *Event) { e.Stage = StageResponseStarted }), nil},
		{"a panic got nothing in", with(created(both), func(e *Event) { e.Stage = StagePanic }), nil},
		{"a dry run stores nothing", with(created(both), func(e *Event) { e.RequestURI += "?dryRun=All&fieldManager=kubectl" }), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, FailedOpen(tt.e, ours)); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestDryRunIsReadFromTheRequestQueryAsTheAPIServerReadsIt(t *testing.T) {
	tests := []struct {
		uri  string
		want bool
	}{
		{"/api/v1/namespaces/shop/pods?dryRun=All", true},
		{"/api/v1/namespaces/shop/pods?fieldManager=kubectl-create&dryRun=All", true},
		{"/api/v1/namespaces/shop/pods?dryRun=", false},
		{"/api/v1/namespaces/shop/pods?dryRun", false},
		{"/api/v1/namespaces/shop/pods?fieldManager=dryRun%3DAll", false},
		{"/api/v1/namespaces/shop/pods/dryRun=All", false},
		{"/api/v1/namespaces/shop/pods", false},
		{"/api/v1/namespaces/shop/pods?x=%zz&dryRun=All", true}, // a bad pair elsewhere spoils nothing
	}
	for _, tt := range tests {
		if got := DryRun(&Event{RequestURI: tt.uri}); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.uri, got, tt.want)
		}
	}
}
