package auditlog

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fullLine sets every field bouncer reads, and some it does not.
const fullLine = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"a-1","stage":"ResponseComplete",` +
	`"requestURI":"/api/v1/namespaces/shop/pods?fieldManager=kubectl","verb":"create",` +
	`"user":{"username":"alice","uid":"u-1","groups":["dev","system:authenticated"],"extra":{"k":["v"]}},` +
	`"impersonatedUser":{"username":"bob","groups":["ops"]},"sourceIPs":["10.0.0.1"],"userAgent":"kubectl",` +
	`"objectRef":{"resource":"pods","namespace":"shop","name":"web","uid":"o-1","apiGroup":"","apiVersion":"v1","resourceVersion":"7","subresource":"status"},` +
	`"responseStatus":{"metadata":{},"status":"Success","reason":"Created","message":"made","code":201},` +
	`"requestObject":{"kind":"Pod","metadata":{"name":"web"}},"responseObject":{"kind":"Pod", "metadata":{"name":"web","uid":"o-1"}},` +
	`"requestReceivedTimestamp":"2026-01-02T03:04:05.123456Z","stageTimestamp":"2026-01-02T03:04:05.234567Z",` +
	`"annotations":{"failed-open.validating.webhook.admission.k8s.io/round_0_index_0":"validate.bouncer.dev"}}`

func fullEvent() *Event {
	return &Event{Level: LevelRequestResponse, AuditID: "a-1", Stage: StageResponseComplete,
		RequestURI: "/api/v1/namespaces/shop/pods?fieldManager=kubectl", Verb: "create",
		User:             UserInfo{Username: "alice", UID: "u-1", Groups: []string{"dev", "system:authenticated"}},
		ImpersonatedUser: &UserInfo{Username: "bob", Groups: []string{"ops"}},
		ObjectRef: &ObjectRef{Resource: "pods", Namespace: "shop", Name: "web", UID: "o-1", APIVersion: "v1",
			ResourceVersion: "7", Subresource: "status"},
		ResponseStatus:           &ResponseStatus{Code: 201, Status: "Success", Reason: "Created", Message: "made"},
		RequestObject:            json.RawMessage(`{"kind":"Pod","metadata":{"name":"web"}}`),
		ResponseObject:           json.RawMessage(`{"kind":"Pod", "metadata":{"name":"web","uid":"o-1"}}`),
		RequestReceivedTimestamp: time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC),
		StageTimestamp:           time.Date(2026, 1, 2, 3, 4, 5, 234567000, time.UTC),
		Annotations:              map[string]string{"failed-open.validating.webhook.admission.k8s.io/round_0_index_0": "validate.bouncer.dev"},
	}
}

// minimal is the smallest line the reader takes.
const minimal = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a-%","stage":"ResponseComplete"}`

func minimalLine(id string) string { return strings.Replace(minimal, "%", id, 1) }

// readAll reads every event, stopping at the first error.
func readAll(r *Reader) ([]*Event, error) {
	var out []*Event
	for {
		e, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
}

func TestTheReaderReadsEveryFieldBouncerUses(t *testing.T) {
	r := NewReader(strings.NewReader(fullLine + "\n"))
	got, err := readAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*Event{fullEvent()}, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

func TestAnEventMarshalsBackIntoALineTheReaderTakes(t *testing.T) {
	b, err := json.Marshal(fullEvent())
	if err != nil {
		t.Fatal(err)
	}
	line := `{"kind":"Event","apiVersion":"audit.k8s.io/v1",` + string(b[1:])
	got, err := readAll(NewReader(strings.NewReader(line)))
	if err != nil {
		t.Fatal(err)
	}
	want := fullEvent()
	want.ResponseObject = json.RawMessage(`{"kind":"Pod","metadata":{"name":"web","uid":"o-1"}}`) // Marshal compacts it
	if diff := cmp.Diff([]*Event{want}, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

func TestNullAndAbsentFieldsReadAsTheirZeroValues(t *testing.T) {
	line := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a","stage":"ResponseComplete",` +
		`"requestURI":null,"user":{"username":"u","groups":null},"impersonatedUser":null,"objectRef":null,"responseStatus":null,` +
		`"requestObject":null,"responseObject":null,"requestReceivedTimestamp":null,"stageTimestamp":null,"annotations":null}`
	got, err := readAll(NewReader(strings.NewReader(line)))
	if err != nil {
		t.Fatal(err)
	}
	want := []*Event{{Level: LevelMetadata, AuditID: "a", Stage: StageResponseComplete, User: UserInfo{Username: "u"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

func TestALineThatIsNotAnAuditEventIsAnErrorNamingItsLine(t *testing.T) {
	tests := []struct {
		name, line, want string
	}{
		{"a line of text", `2026-01-02 AUDIT: id="a" stage="ResponseComplete"`, "line 2: not a JSON audit event (the log backend writes JSON lines with --audit-log-format=json; the legacy text format cannot be read)"},
		{"broken JSON", `{"kind":"Event",`, "line 2: not valid JSON at byte 16: unexpected end of JSON input"},
		{"two values on one line", minimalLine("x") + minimalLine("y"), "line 2: not valid JSON at byte 110: invalid character '{' after top-level value"},
		{"JSON that is not an object", `["Event"]`, "line 2: not a JSON audit event (the log backend writes JSON lines with --audit-log-format=json; the legacy text format cannot be read)"},
		{"an object that is not an event", `{"level":"Metadata","auditID":"a","stage":"ResponseComplete"}`, `line 2: not an audit event: kind "", apiVersion ""; want kind Event, apiVersion audit.k8s.io/v1`},
		{"another kind", strings.Replace(minimal, `"Event"`, `"Pod"`, 1), `line 2: not an audit event: kind "Pod", apiVersion "audit.k8s.io/v1"; want kind Event, apiVersion audit.k8s.io/v1`},
		{"the removed v1beta1", strings.Replace(minimal, "audit.k8s.io/v1", "audit.k8s.io/v1beta1", 1), `line 2: not an audit event: kind "Event", apiVersion "audit.k8s.io/v1beta1"; want kind Event, apiVersion audit.k8s.io/v1`},
		{"no audit ID", strings.Replace(minimal, `"auditID":"a-%",`, "", 1), "line 2: auditID: missing"},
		{"an empty audit ID", strings.Replace(minimal, `"a-%"`, `""`, 1), "line 2: auditID: missing"},
		{"no level", strings.Replace(minimal, `"level":"Metadata",`, "", 1), "line 2: level: missing"},
		{"no stage", strings.Replace(minimal, `,"stage":"ResponseComplete"`, "", 1), "line 2: stage: missing"},
		{"an unknown level", strings.Replace(minimal, `"Metadata"`, `"Everything"`, 1), `line 2: level: unknown level "Everything"; want Metadata, Request or RequestResponse`},
		{"an unknown stage", strings.Replace(minimal, `"ResponseComplete"`, `"Done"`, 1), `line 2: stage: unknown stage "Done"`},
		{"a verb that is a number", strings.Replace(minimal, `}`, `,"verb":1}`, 1), "line 2: verb: must be a string, got number"},
		{"a user that is a string", strings.Replace(minimal, `}`, `,"user":"alice"}`, 1), "line 2: user: must be an object, got string"},
		{"a group that is not a string", strings.Replace(minimal, `}`, `,"user":{"groups":["a",2]}}`, 1), "line 2: user.groups[1]: must be a string, got number"},
		{"groups that are not a list", strings.Replace(minimal, `}`, `,"impersonatedUser":{"groups":"a"}}`, 1), "line 2: impersonatedUser.groups: must be an array of strings, got string"},
		{"an objectRef that is a list", strings.Replace(minimal, `}`, `,"objectRef":[]}`, 1), "line 2: objectRef: must be an object, got array"},
		{"an objectRef name that is a number", strings.Replace(minimal, `}`, `,"objectRef":{"name":7}}`, 1), "line 2: objectRef.name: must be a string, got number"},
		{"a response code that is a string", strings.Replace(minimal, `}`, `,"responseStatus":{"code":"201"}}`, 1), "line 2: responseStatus.code: must be an integer, got string"},
		{"a response code that is a fraction", strings.Replace(minimal, `}`, `,"responseStatus":{"code":201.5}}`, 1), "line 2: responseStatus.code: must be an integer, got number"},
		{"an annotation that is not a string", strings.Replace(minimal, `}`, `,"annotations":{"a":true}}`, 1), `line 2: annotations["a"]: must be a string, got boolean`},
		{"annotations that are a list", strings.Replace(minimal, `}`, `,"annotations":["a"]}`, 1), "line 2: annotations: must be a map of strings, got array"},
		{"a timestamp that is not RFC 3339", strings.Replace(minimal, `}`, `,"stageTimestamp":"yesterday"}`, 1), `line 2: stageTimestamp: not an RFC 3339 time: "yesterday"`},
		{"a key given twice", strings.Replace(minimal, `}`, `,"verb":"create","verb":"delete"}`, 1), `line 2: duplicate key "verb"`},
		{"a nested key given twice", strings.Replace(minimal, `}`, `,"objectRef":{"name":"a","name":"b"}}`, 1), `line 2: objectRef: duplicate key "name"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readAll(NewReader(strings.NewReader(minimalLine("1") + "\n" + tt.line + "\n")))
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("got %v, want a *LineError", err)
			}
			if err.Error() != tt.want {
				t.Errorf("got  %s\nwant %s", err, tt.want)
			}
		})
	}
}

func TestReadingGoesOnPastALineThatIsNotAnEvent(t *testing.T) {
	r := NewReader(strings.NewReader(minimalLine("1") + "\nnot an event\n" + minimalLine("3") + "\n"))
	var ids []string
	var errs []string
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		ids = append(ids, e.AuditID)
	}
	if diff := cmp.Diff([]string{"a-1", "a-3"}, ids); diff != "" {
		t.Errorf("events (-want +got)\n%s", diff)
	}
	if len(errs) != 1 || !strings.HasPrefix(errs[0], "line 2: ") {
		t.Errorf("errors: %q, want one for line 2", errs)
	}
}

func TestBlankLinesAndWindowsLineEndsHoldNothingAndCountAsLines(t *testing.T) {
	r := NewReader(strings.NewReader("\n" + minimalLine("2") + "\r\n  \r\n\n" + minimalLine("5")))
	var got []string
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		_, line := r.Position()
		got = append(got, e.AuditID+"@"+string(rune('0'+line)))
	}
	if diff := cmp.Diff([]string{"a-2@2", "a-5@5"}, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

func TestALineLongerThanMaxLineEndsTheReadingAndSaysSo(t *testing.T) {
	long := `{"kind":"Event","x":"` + strings.Repeat("a", MaxLine) + `"}`
	r := NewReader(strings.NewReader(minimalLine("1") + "\n" + long + "\n" + minimalLine("3") + "\n"))
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	_, err := r.Next()
	if want := "line 2: longer than 16 MiB, more than any audit event (is this an audit log?)"; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	if _, again := r.Next(); again != err {
		t.Errorf("reading went on after the long line: %v", again)
	}
}

func TestALineJustUnderMaxLineIsRead(t *testing.T) {
	pad := MaxLine - len(minimalLine("1")) - len(`,"x":""`) - 1
	line := strings.Replace(minimalLine("1"), `}`, `,"x":"`+strings.Repeat("a", pad)+`"}`, 1)
	got, err := readAll(NewReader(strings.NewReader(line + "\n")))
	if err != nil || len(got) != 1 {
		t.Fatalf("got %d events, %v", len(got), err)
	}
}

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func write(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOpenReadsTheFilesInOrderPlainOrGzippedByTheirMagicBytes(t *testing.T) {
	dir := t.TempDir()
	// Rotated files, oldest first: gzipped under a name that does not say
	// so, two gzip members (logrotate's copytruncate then append), and the
	// live file.
	oldest := write(t, dir, "audit-2026-01-01T00-00-00.000.log", gzipped(t, minimalLine("1")+"\n"+minimalLine("2")+"\n"))
	twoMembers := write(t, dir, "audit-2026-01-02T00-00-00.000.log.gz",
		append(gzipped(t, minimalLine("3")+"\n"), gzipped(t, minimalLine("4")+"\n")...))
	live := write(t, dir, "audit.log", []byte(minimalLine("5")+"\n"+minimalLine("6")))
	r, err := Open(oldest, twoMembers, live)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []string
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		file, line := r.Position()
		got = append(got, e.AuditID+" "+filepath.Base(file)+":"+string(rune('0'+line)))
	}
	want := []string{
		"a-1 audit-2026-01-01T00-00-00.000.log:1", "a-2 audit-2026-01-01T00-00-00.000.log:2",
		"a-3 audit-2026-01-02T00-00-00.000.log.gz:1", "a-4 audit-2026-01-02T00-00-00.000.log.gz:2",
		"a-5 audit.log:1", "a-6 audit.log:2",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

func TestAnErrorNamesTheFileAndItsLine(t *testing.T) {
	dir := t.TempDir()
	a := write(t, dir, "a.log", []byte(minimalLine("1")+"\n"))
	b := write(t, dir, "b.log.gz", gzipped(t, minimalLine("1")+"\n{}\n"))
	r, err := Open(a, b)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = readAll(r)
	if want := b + `: line 2: not an audit event: kind "", apiVersion ""; want kind Event, apiVersion audit.k8s.io/v1`; err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

func TestATruncatedGzipFileEndsTheReadingWithAnError(t *testing.T) {
	dir := t.TempDir()
	z := gzipped(t, minimalLine("1")+"\n"+minimalLine("2")+"\n")
	p := write(t, dir, "cut.log.gz", z[:len(z)-6])
	r, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := readAll(r)
	if err == nil || !strings.HasPrefix(err.Error(), p+": after line ") || !strings.HasSuffix(err.Error(), "unexpected EOF") {
		t.Errorf("got %d events and %v, want the file, its last line and unexpected EOF", len(got), err)
	}
}

func TestOpenRefusesWhatItCannotReadBeforeReadingAnything(t *testing.T) {
	dir := t.TempDir()
	ok := write(t, dir, "audit.log", []byte(minimalLine("1")+"\n"))
	tests := []struct {
		name  string
		paths []string
		want  string
	}{
		{"no file", nil, "no audit log to read"},
		{"a missing file after a good one", []string{ok, filepath.Join(dir, "nope.log")}, "audit log: stat " + filepath.Join(dir, "nope.log") + ": no such file or directory"},
		{"a directory", []string{dir}, "audit log " + dir + ": is a directory; name its files"},
		{"the standard input twice", []string{"-", ok, "-"}, `the standard input ("-") can be read only once`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(tt.paths...)
			if err == nil || err.Error() != tt.want {
				t.Errorf("got %v, want %s", err, tt.want)
			}
		})
	}
}

func TestADashReadsTheStandardInputGzippedOrNot(t *testing.T) {
	for _, gz := range []bool{false, true} {
		data := []byte(minimalLine("1") + "\n")
		if gz {
			data = gzipped(t, string(data))
		}
		f := write(t, t.TempDir(), "stdin", data)
		in, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		saved := os.Stdin
		os.Stdin = in
		r, err := Open("-")
		if err != nil {
			t.Fatal(err)
		}
		got, err := readAll(r)
		os.Stdin = saved
		in.Close()
		if err != nil || len(got) != 1 || got[0].AuditID != "a-1" {
			t.Errorf("gzip %v: got %v, %v", gz, got, err)
		}
		if file, _ := r.Position(); file != "stdin" {
			t.Errorf("gzip %v: the standard input is named %q, want stdin", gz, file)
		}
	}
}

func TestCloseReleasesTheOpenFileAndEndsTheReading(t *testing.T) {
	dir := t.TempDir()
	a := write(t, dir, "a.log", []byte(minimalLine("1")+"\n"+minimalLine("2")+"\n"))
	r, err := Open(a, a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err == nil || err == io.EOF {
		t.Errorf("Next after Close: %v, want an error", err)
	}
}

// TestMemoryStaysFlatOverAManyLinedLog reads the same lines twice over and
// sixteen times over and compares the heap each leaves in use: the reader
// keeps no event once Next has returned it.
func TestMemoryStaysFlatOverAManyLinedLog(t *testing.T) {
	line := strings.Replace(fullLine, `"annotations"`, `"x":"`+strings.Repeat("p", 4000)+`","annotations"`, 1) + "\n"
	peak := func(n int) uint64 {
		r := NewReader(io.MultiReader(repeatReader(line, n)...))
		var max uint64
		for i := 0; ; i++ {
			if _, err := r.Next(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			if i%500 == 0 {
				if h := heapInUse(); h > max {
					max = h
				}
			}
		}
		return max
	}
	small, large := peak(500), peak(8000) // about 2.5 MB and 40 MB of log
	t.Logf("peak heap in use: %d KiB, %d KiB", small>>10, large>>10)
	if large > small+4<<20 {
		t.Errorf("the heap grew from %d MiB to %d MiB as the log grew sixteenfold", small>>20, large>>20)
	}
}

func repeatReader(s string, n int) []io.Reader {
	rs := make([]io.Reader, n)
	for i := range rs {
		rs[i] = strings.NewReader(s)
	}
	return rs
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
