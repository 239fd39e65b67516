package main

import (
	"strings"
	"testing"
)

func TestReviewAnswersExactlyAsTheHTTPPath(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		inStdout []string
		inStderr string
	}{
		{"an admitted review exits 0", []string{"review", "validate", "../../testdata/reviews/pod-with-owner.json"}, exitOK,
			[]string{`"uid": "00000000-0000-4000-8000-000000000002"`, `"allowed": true`}, ""},
		{"a denied review exits 1 and prints the denial", []string{"review", "validate", "../../testdata/reviews/pod-without-owner.json"}, exitViolations,
			[]string{`"allowed": false`, `"code": 403`, `missing label \"owner\" at metadata.labels`}, ""},
		{"--explain decodes the patch and shows the patched object", []string{"review", "mutate", "--explain", "../../testdata/reviews/pod-without-labels.json"}, exitOK,
			[]string{`"patchType": "JSONPatch"`, "#   add /metadata/labels = {\"environment\":\"development\"}", "# object after the patch:", `"environment": "development"`}, ""},
		{"--explain says when there is no patch", []string{"review", "mutate", "--explain", "../../testdata/reviews/pod-environment-prod.json"}, exitOK,
			[]string{"# no patch: the object is admitted unchanged"}, ""},
		{"an unreadable review exits 2 with the HTTP answer", []string{"review", "validate", "../../testdata/reviews/v1beta1.json"}, exitUsage,
			nil, `HTTP 400: bouncer: apiVersion "admission.k8s.io/v1beta1" is not supported`},
		{"no function is a usage error", []string{"review", "../../testdata/reviews/pod-with-owner.json"}, exitUsage, nil, "name the function first"},
		{"a missing file is a usage error", []string{"review", "mutate", "/nonexistent.json"}, exitUsage, nil, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI("", tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.inStderr) {
				t.Errorf("exit %d (want %d), stderr %q (want %q)\n%s", code, tt.code, errOut, tt.inStderr, out)
			}
			for _, s := range tt.inStdout {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
		})
	}
}

func TestReviewReadsStandardInput(t *testing.T) {
	code, out, _ := runCLI(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"s","kind":{"group":"","version":"v1","kind":"Pod"},"operation":"DELETE"}}`, "review", "validate", "-")
	if code != exitOK || !strings.Contains(out, `"uid": "s"`) {
		t.Errorf("exit %d\n%s", code, out)
	}
}

func TestVersionPrintsVersionCommitAndGo(t *testing.T) {
	code, out, _ := runCLI("", "version")
	if code != exitOK || !strings.HasPrefix(out, "bouncer ") || !strings.Contains(out, "commit ") || !strings.Contains(out, "go1.") {
		t.Errorf("exit %d: %q", code, out)
	}
}

func TestEveryCommandHasHelpWithAnExample(t *testing.T) {
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			code, out, _ := runCLI("", c.name, "--help")
			if code != exitOK || !strings.Contains(out, "Usage: bouncer "+c.name) || !strings.Contains(out, "Example:\n  bouncer") && !strings.Contains(out, "Example:\n  kubectl") {
				t.Errorf("exit %d, help on stdout:\n%s", code, out)
			}
		})
	}
	if code, _, _ := runCLI("", "nonsense"); code != exitUsage {
		t.Errorf("an unknown command exits %d, want 2", code)
	}
}
