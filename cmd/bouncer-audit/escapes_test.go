package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

const window = "../../testdata/auditlog/window.log.gz"

func TestTheAuditLogListsExactlyTheEscapesOfTheCapturedWindow(t *testing.T) {
	t.Setenv("KUBECONFIG", "/nonexistent") // no cluster: the log alone
	var out, errb bytes.Buffer
	code := run([]string{"--audit-log", window, "-o", "json"}, &out, &errb)
	if code != exitViolations {
		t.Fatalf("exit %d, want 1 (escapes violate)\n%s", code, errb.String())
	}
	var got struct {
		Escapes []struct {
			AuditID, Outcome string
			Object           struct{ Kind, Name string }
		}
		Summary escapeSummary
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	s := got.Summary
	if s.Events != 23 || s.Escapes != 9 || s.Violating != 5 || s.Compliant != 1 || s.NotLogged != 3 {
		t.Errorf("summary %+v: want 23 events, 9 escapes: 5 violating, 1 compliant, 3 not logged", s)
	}
	for _, e := range got.Escapes {
		if strings.HasPrefix(e.Object.Name, "judged") || e.Object.Name == "dry-run" {
			t.Errorf("%s %s is reported: bouncer judged it, or it stored nothing", e.Object.Kind, e.Object.Name)
		}
	}
}

func TestTheAuditLogPrintsOneLinePerViolationAndSaysWhatIsUnknown(t *testing.T) {
	t.Setenv("KUBECONFIG", "/nonexistent")
	var out, errb bytes.Buffer
	run([]string{"--audit-log", window}, &out, &errb)
	for _, want := range []string{
		`Pod shop/escaped-violating: escaped and violates: deny require-owner: missing label "owner" at metadata.labels (create by admin`,
		`Pod shop/escaped-compliant: whether it already violated before this patch is unknown`,
		`escaped, object not logged`,
		`ReplicaSet shop/web-7b679cb5d9: escaped and violates: warn require-owner:`,
		`read 23 audit events: 9 writes escaped past bouncer's webhooks: 5 violate, 1 compliant, 3 not logged`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the text does not say:\n%s\nit printed:\n%s", want, out.String())
		}
	}
}

func TestEscapeReportsAreNamedByAuditIDAndLabelledApartFromTheLiveAudit(t *testing.T) {
	t.Setenv("KUBECONFIG", "/nonexistent")
	var out, errb bytes.Buffer
	run([]string{"--audit-log", window, "-o", "report"}, &out, &errb)
	text := out.String()
	if n := strings.Count(text, "name: bouncer-escape-"); n != 9 {
		t.Errorf("%d escape reports, want 9", n)
	}
	if strings.Contains(text, "name: bouncer-audit-") || !strings.Contains(text, "bouncer.dev/report: escape") {
		t.Errorf("escape reports must be named bouncer-escape-<audit ID> and labelled bouncer.dev/report=escape:\n%s", text)
	}
}

func TestTheAuditLogRefusesApplyAndAnUnreadableFile(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--audit-log", window, "--apply"}, &out, &errb); code != exitError {
		t.Errorf("--apply with --audit-log: exit %d, want 2", code)
	}
	errb.Reset()
	if code := run([]string{"--audit-log", "/nonexistent/audit.log"}, &out, &errb); code != exitError || !strings.Contains(errb.String(), "/nonexistent/audit.log") {
		t.Errorf("a missing log: exit %d, stderr %q; want 2 naming the file", code, errb.String())
	}
}

func TestAnEmptyAuditLogIsAnErrorNotACleanLog(t *testing.T) {
	t.Setenv("KUBECONFIG", "/nonexistent")
	empty := t.TempDir() + "/audit.log"
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"--audit-log", empty}, &out, &errb); code != exitError || !strings.Contains(errb.String(), "read no audit event") {
		t.Errorf("an empty log: exit %d, stderr %q; want 2 saying it read nothing", code, errb.String())
	}
}
