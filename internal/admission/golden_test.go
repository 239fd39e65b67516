package admission

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bouncer.dev/bouncer/internal/logging"
	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/policyfile"
	"github.com/google/go-cmp/cmp"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
)

var update = flag.Bool("update", false, "rewrite the response part of testdata/golden/*.json; review the diff")

// testdataDir is the project's testdata/, shared with the README's curl
// examples and the hardening corpus.
const testdataDir = "../../testdata"

// goldenCase is one HTTP exchange: a request built from testdata and the
// response the real handler must give. The request part is written by hand;
// the response part is written by -update and reviewed in the diff.
type goldenCase struct {
	Description string      `json:"description"`
	Function    string      `json:"function"`         // validate, mutate or healthz
	Policy      string      `json:"policy,omitempty"` // a file under testdata/, else the default
	Request     goldenReq   `json:"request"`
	Response    *goldenResp `json:"response,omitempty"`
}

type goldenReq struct {
	Method      string          `json:"method,omitempty"`      // default POST
	ContentType *string         `json:"contentType,omitempty"` // default application/json
	BodyFile    string          `json:"bodyFile,omitempty"`    // under testdata/
	Body        json.RawMessage `json:"body,omitempty"`        // inline JSON
	BodyText    *string         `json:"bodyText,omitempty"`    // inline raw bytes
	// Generate builds a body too large to commit.
	Generate *generate `json:"generate,omitempty"`
}

// generate describes a generated CREATE review of a Pod.
type generate struct {
	Labels int `json:"labels,omitempty"` // a labels map of this many entries, owner included
	Depth  int `json:"depth,omitempty"`  // spec nested this many levels deep
	Bytes  int `json:"bytes,omitempty"`  // padded with an annotation to this many bytes
}

func (g *generate) body() []byte {
	var obj strings.Builder
	obj.WriteString(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"generated","namespace":"shop","labels":{"owner":"team-a"`)
	for i := 1; i < g.Labels; i++ {
		fmt.Fprintf(&obj, `,"example.com/label-%05d":"value-%d"`, i, i)
	}
	obj.WriteString(`}`)
	if g.Bytes > 0 {
		obj.WriteString(`,"annotations":{"pad":"`)
		obj.WriteString(strings.Repeat("x", g.Bytes))
		obj.WriteString(`"}`)
	}
	obj.WriteString(`},"spec":`)
	obj.WriteString(strings.Repeat(`{"a":`, g.Depth))
	obj.WriteString(`{}`)
	obj.WriteString(strings.Repeat(`}`, g.Depth))
	obj.WriteString(`}`)
	return []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"generated-1","kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE","namespace":"shop","object":` + obj.String() + `}}`)
}

type goldenResp struct {
	Status int `json:"status"`
	// Review is the response AdmissionReview with its patch taken out;
	// PatchedObject is request.object after applying that patch with
	// json-patch v4, as the API server would.
	Review        json.RawMessage `json:"review,omitempty"`
	PatchedObject json.RawMessage `json:"patchedObject,omitempty"`
	Text          string          `json:"text,omitempty"`
}

func TestGoldenExchanges(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testdataDir, "golden", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden cases found: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var c goldenCase
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&c); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			got := exchange(t, &c)
			if *update {
				c.Response = got
				out, _ := json.MarshalIndent(&c, "", "  ")
				if err := os.WriteFile(file, append(out, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if c.Response == nil {
				t.Fatalf("%s has no response; run go test ./internal/admission -run TestGoldenExchanges -update and review it", file)
			}
			if diff := cmp.Diff(normalize(t, c.Response), normalize(t, got)); diff != "" {
				t.Errorf("%s: %s\nresponse (-golden +got):\n%s", file, c.Description, diff)
			}
		})
	}
}

// exchange sends the case's request through the same mux bouncer serves.
func exchange(t *testing.T, c *goldenCase) *goldenResp {
	t.Helper()
	p := policy.Default()
	if c.Policy != "" {
		var err error
		if p, err = policyfile.Load(filepath.Join(testdataDir, c.Policy)); err != nil {
			t.Fatal(err)
		}
	}
	var body []byte
	switch {
	case c.Request.BodyFile != "":
		var err error
		if body, err = os.ReadFile(filepath.Join(testdataDir, c.Request.BodyFile)); err != nil {
			t.Fatal(err)
		}
	case c.Request.BodyText != nil:
		body = []byte(*c.Request.BodyText)
	case c.Request.Generate != nil:
		body = c.Request.Generate.body()
	default:
		body = c.Request.Body
	}
	method := c.Request.Method
	if method == "" {
		method = http.MethodPost
	}
	req := httptest.NewRequest(method, "/"+c.Function, bytes.NewReader(body))
	ct := "application/json"
	if c.Request.ContentType != nil {
		ct = *c.Request.ContentType
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	rec := httptest.NewRecorder()
	var logs bytes.Buffer
	Mux(p, logging.New(&logs)).ServeHTTP(rec, req)

	out := &goldenResp{Status: rec.Code}
	if rec.Header().Get("Content-Type") != "application/json" {
		out.Text = rec.Body.String()
		return out
	}
	var review struct {
		APIVersion string         `json:"apiVersion"`
		Kind       string         `json:"kind"`
		Response   map[string]any `json:"response"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &review); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, rec.Body)
	}
	checkProtocol(t, c, body, review.APIVersion, review.Kind, review.Response)
	if p64, ok := review.Response["patch"].(string); ok {
		patch, err := base64.StdEncoding.DecodeString(p64)
		if err != nil {
			t.Fatalf("patch is not base64: %v", err)
		}
		out.PatchedObject = applyReviewPatch(t, body, patch)
		delete(review.Response, "patch")
	}
	out.Review, _ = json.Marshal(review)
	return out
}

// checkProtocol asserts what the API server requires of every answer.
func checkProtocol(t *testing.T, c *goldenCase, body []byte, apiVersion, kind string, resp map[string]any) {
	t.Helper()
	if apiVersion != "admission.k8s.io/v1" || kind != "AdmissionReview" {
		t.Errorf("answered %s %s, want admission.k8s.io/v1 AdmissionReview", apiVersion, kind)
	}
	var in struct {
		Request struct {
			UID string `json:"uid"`
		} `json:"request"`
	}
	_ = json.Unmarshal(body, &in)
	if resp["uid"] != in.Request.UID {
		t.Errorf("response.uid = %v, want the request's %q", resp["uid"], in.Request.UID)
	}
	_, hasPatch := resp["patch"]
	_, hasType := resp["patchType"]
	if hasPatch != hasType {
		t.Errorf("patch and patchType must come together: patch=%v patchType=%v", hasPatch, hasType)
	}
	if c.Function == "validate" && (hasPatch || hasType) {
		t.Errorf("validate answered with a patch or patchType; the API server rejects that")
	}
}

func applyReviewPatch(t *testing.T, body, patch []byte) json.RawMessage {
	t.Helper()
	var in struct {
		Request struct {
			Object json.RawMessage `json:"object"`
		} `json:"request"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		t.Fatal(err)
	}
	p, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		t.Fatalf("patch does not decode: %v", err)
	}
	out, err := p.Apply(in.Request.Object)
	if err != nil {
		t.Fatalf("patch does not apply: %v\n%s", err, patch)
	}
	return out
}

// normalize re-encodes the JSON parts so that formatting does not matter.
func normalize(t *testing.T, r *goldenResp) goldenResp {
	t.Helper()
	n := *r
	for _, f := range []*json.RawMessage{&n.Review, &n.PatchedObject} {
		if len(*f) == 0 {
			continue
		}
		var v any
		if err := json.Unmarshal(*f, &v); err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		*f, _ = json.Marshal(v)
	}
	return n
}
