//go:build e2e

package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestReinvocationCallsMutateAgainAndTheObjectSettles adds a second mutating
// webhook that sets another label after bouncer has run. With
// reinvocationPolicy IfNeeded the API server calls bouncer's mutate again;
// it must add nothing, and the object must settle.
func TestReinvocationCallsMutateAgainAndTheObjectSettles(t *testing.T) {
	needLog(t)
	ns := namespace(t)
	url := fakeWebhook(t, func(w http.ResponseWriter, r *http.Request) {
		var review struct {
			Request struct {
				UID    string `json:"uid"`
				Object struct {
					Metadata struct {
						Labels map[string]string `json:"labels"`
					} `json:"metadata"`
				} `json:"object"`
			} `json:"request"`
		}
		_ = json.Unmarshal(readAll(r.Body), &review)
		resp := map[string]any{"uid": review.Request.UID, "allowed": true}
		if _, ok := review.Request.Object.Metadata.Labels["e2e-relabel"]; !ok {
			resp["patchType"] = "JSONPatch"
			resp["patch"] = base64.StdEncoding.EncodeToString([]byte(`[{"op":"add","path":"/metadata/labels/e2e-relabel","value":"touched"}]`))
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": resp})
	})
	// Named to sort after bouncer-mutate, so it runs second.
	cfg := fmt.Sprintf(`{"apiVersion":"admissionregistration.k8s.io/v1","kind":"MutatingWebhookConfiguration","metadata":{"name":"zz-e2e-relabel"},
"webhooks":[{"name":"relabel.e2e.bouncer.dev","clientConfig":{"url":%q,"caBundle":%q},
"rules":[{"apiGroups":[""],"apiVersions":["v1"],"operations":["CREATE"],"resources":["pods"]}],
"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":%q}},
"failurePolicy":"Fail","sideEffects":"None","admissionReviewVersions":["v1"],"timeoutSeconds":10,"reinvocationPolicy":"Never"}]}`,
		url+"/relabel", base64.StdEncoding.EncodeToString(env.CA.PEM), ns)
	if _, errOut, err := env.KIn(cfg, "apply", "-f", "-"); err != nil {
		t.Fatalf("installing the second webhook: %s", errOut)
	}
	t.Cleanup(func() { _, _, _ = env.K("delete", "mutatingwebhookconfiguration", "zz-e2e-relabel") })
	eventually(t, 30*time.Second, "the second webhook is active", func() error {
		out, errOut, err := create(t, ns, pod("probe", map[string]string{"owner": "a"}), "--dry-run=server", "-o", "jsonpath={.metadata.labels}")
		if err != nil || !strings.Contains(out, "e2e-relabel") {
			return errorf("%s %s", out, errOut)
		}
		return nil
	})

	mustCreate(t, ns, pod("twice", map[string]string{"owner": "team-a"}))
	got := labelsAt(get(t, ns, "pod", "twice"), "metadata.labels")
	want := map[string]string{"owner": "team-a", "environment": "development", "e2e-relabel": "touched"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("labels %v, want %v", got, want)
	}
	var calls []string
	eventually(t, 10*time.Second, "bouncer's mutate is logged twice for the Pod", func() error {
		calls = nil
		for _, d := range decisionsFor(t, ns, "twice") {
			if d.S("function") == "mutate" && d.S("operation") == "CREATE" && d["dryRun"] == false {
				calls = append(calls, fmt.Sprint(d["patchOps"]))
			}
		}
		if len(calls) != 2 {
			return errorf("mutate logged %d times: %v", len(calls), calls)
		}
		return nil
	})
	if calls[0] != "[add /metadata/labels/environment]" || calls[1] != "<nil>" {
		t.Errorf("patch operations per call = %v; want the label added once, then nothing", calls)
	}
}
