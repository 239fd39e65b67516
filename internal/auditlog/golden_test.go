package auditlog

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"bouncer.dev/bouncer/internal/policy"
	"github.com/google/go-cmp/cmp"
)

// testdata holds events a real kube-apiserver v1.37.2 wrote, with a
// kube-controller-manager beside it, the default policy's webhooks stopped
// and another webhook (other.example.com) failing open on Pods; then
// bouncer started again. e2e/auditlog/capture_test.go made them and says
// how to make them again.
const testdata = "../../testdata/auditlog"

// summary is an escape in one line: outcome or skip, and each violation.
func summary(x Escape) string {
	s := x.Operation + " " + x.Object.Kind + " " + x.Object.Namespace + "/" + x.Object.Name + ": "
	if x.Skip != "" {
		return s + "skip: " + x.Skip
	}
	s += string(x.Outcome)
	for _, v := range x.Violations {
		s += fmt.Sprintf("; %s %s at %s", v.Problem, v.Key, v.Place)
		if v.Inherited {
			s += " (inherited)"
		}
	}
	if x.PriorUnknown {
		s += "; prior unknown"
	}
	return s
}

func readOne(t *testing.T, name string) *Event {
	t.Helper()
	r, err := Open(filepath.Join(testdata, name))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	evs, err := readAll(r)
	if err != nil || len(evs) != 1 {
		t.Fatalf("%s: %d events, %v", name, len(evs), err)
	}
	return evs[0]
}

func TestWhatTheAPIServerWroteIsFoundAndJudged(t *testing.T) {
	both := []string{"validate.bouncer.dev", "mutate.bouncer.dev"}
	tests := []struct {
		file       string
		failedOpen []string
		judged     string
	}{
		{"pod-create-escaped-violating.json", both, "CREATE Pod shop/escaped-violating: violates; missing owner at metadata.labels"},
		{"pod-create-escaped-compliant.json", both, "CREATE Pod shop/escaped-compliant: compliant"},
		{"pod-patch-escaped-compliant.json", both, "UPDATE Pod shop/escaped-compliant: violates; missing owner at metadata.labels; prior unknown"},
		{"deployment-create.json", both, "CREATE Deployment shop/web: violates; missing owner at spec.template.metadata.labels"},
		{"controller-replicaset-create.json", both,
			"CREATE ReplicaSet shop/web-7b679cb5d9: violates; missing owner at metadata.labels (inherited); missing owner at spec.template.metadata.labels (inherited)"},
		// The ReplicaSet controller creates with a generateName: the name is
		// the stored object's.
		{"controller-pod-create.json", both, "CREATE Pod shop/web-7b679cb5d9-t4w82: violates; missing owner at metadata.labels (inherited)"},
		{"pod-create-at-request.json", both, "CREATE Pod level-request/at-request: not-logged"},
		{"pod-patch-at-request.json", both, "UPDATE Pod level-request/at-request: not-logged"},
		{"pod-create-at-metadata.json", both, "CREATE Pod level-metadata/at-metadata: not-logged"},
		// Our webhooks failed open, but nothing got in.
		{"dry-run-create.json", nil, " Pod shop/dry-run: skip: a dry run stores nothing"},
		{"create-already-exists.json", nil, " Pod shop/escaped-violating: skip: the write stored nothing (stage ResponseComplete, code 409)"},
		// bouncer judged it; only other.example.com failed open.
		{"pod-create-judged.json", nil, "CREATE Pod shop/judged: compliant"},
		// Status writes that change no label never reach the webhooks
		// (their matchCondition), so never fail open.
		{"controller-replicaset-status-update.json", nil,
			"UPDATE ReplicaSet shop/web-7b679cb5d9: violates; missing owner at metadata.labels; missing owner at spec.template.metadata.labels; prior unknown"},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.file, ".json"), func(t *testing.T) {
			e := readOne(t, tt.file)
			if diff := cmp.Diff(tt.failedOpen, FailedOpen(e, ours)); diff != "" {
				t.Errorf("failed open (-want +got)\n%s", diff)
			}
			if got := summary(Judge(policy.Default(), e)); got != tt.judged {
				t.Errorf("judged\n got %s\nwant %s", got, tt.judged)
			}
		})
	}
}

func TestAnotherWebhooksFailOpenIsOnTheEventButNotOurs(t *testing.T) {
	e := readOne(t, "pod-create-judged.json")
	if got := FailedOpen(e, []string{"other.example.com"}); len(got) != 1 {
		t.Errorf("other.example.com failed open on this write, FailedOpen says %v", got)
	}
}

// TestTheCapturedWindowYieldsExactlyTheWritesThatEscaped reads the whole
// window, gzipped as a rotated log, as the CLI will: every write that
// failed open past our webhooks and got in, and nothing else (not the
// namespaces' own objects, the controllers' status writes that our webhooks
// never saw, the dry run, the conflict, the Pod bouncer judged).
func TestTheCapturedWindowYieldsExactlyTheWritesThatEscaped(t *testing.T) {
	r, err := Open(filepath.Join(testdata, "window.log.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p := policy.Default()
	var got []string
	events := 0
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		events++
		if FailedOpen(e, ours) == nil {
			continue
		}
		if x := Judge(p, e); x.Skip == "" {
			got = append(got, summary(x))
		}
	}
	want := []string{
		"CREATE Pod shop/escaped-violating: violates; missing owner at metadata.labels",
		"CREATE Pod shop/escaped-compliant: compliant",
		"UPDATE Pod shop/escaped-compliant: violates; missing owner at metadata.labels; prior unknown",
		"CREATE Pod level-request/at-request: not-logged",
		"UPDATE Pod level-request/at-request: not-logged",
		"CREATE Pod level-metadata/at-metadata: not-logged",
		"CREATE Deployment shop/web: violates; missing owner at spec.template.metadata.labels",
		"CREATE ReplicaSet shop/web-7b679cb5d9: violates; missing owner at metadata.labels (inherited); missing owner at spec.template.metadata.labels (inherited)",
		"CREATE Pod shop/web-7b679cb5d9-t4w82: violates; missing owner at metadata.labels (inherited)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("escapes among %d events (-want +got)\n%s", events, diff)
	}
}
