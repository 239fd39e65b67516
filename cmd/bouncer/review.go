package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"

	"bouncer.dev/bouncer/internal/admission"
	"bouncer.dev/bouncer/internal/logging"
	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/policyfile"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
)

func runReview(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fl := newFlags("review", "review validate|mutate [--policy FILE] [--explain] [FILE|-]",
		"bouncer review mutate --explain testdata/reviews/pod-without-labels.json", stderr)
	pol := fl.String("policy", "", "policy file (default $"+policyfile.EnvVar+", else the embedded default)")
	explain := fl.Bool("explain", false, "also show the patch decoded and the object after applying it")
	if len(args) == 0 || (args[0] != "validate" && args[0] != "mutate") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			printHelp(fl)
			return exitOK
		}
		fmt.Fprintln(stderr, "bouncer review: name the function first: validate or mutate")
		fl.Usage()
		return exitUsage
	}
	fn := policy.Validation
	if args[0] == "mutate" {
		fn = policy.Mutation
	}
	files, code, ok := parse(fl, args[1:])
	if !ok {
		return code
	}
	if len(files) > 1 {
		fmt.Fprintf(stderr, "bouncer review: one review at a time, got %d files\n", len(files))
		return exitUsage
	}
	name := "-"
	if len(files) == 1 {
		name = files[0]
	}
	var body []byte
	var err error
	if name == "-" {
		body, err = io.ReadAll(stdin)
	} else {
		body, err = os.ReadFile(name)
	}
	if err != nil {
		fmt.Fprintln(stderr, "bouncer review:", err)
		return exitUsage
	}
	p, _, ok := loadPolicy("review", *pol, stderr)
	if !ok {
		return exitUsage
	}
	// Exactly the HTTP path: the same handler, a real request and recorder.
	h := admission.New(p, fn, logging.New(io.Discard))
	req := httptest.NewRequest(http.MethodPost, "/"+fn.String(), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		fmt.Fprintf(stderr, "bouncer review: %s: HTTP %d: %s", name, rec.Code, rec.Body.String())
		return exitUsage
	}
	var pretty bytes.Buffer
	_ = json.Indent(&pretty, rec.Body.Bytes(), "", "  ")
	fmt.Fprintln(stdout, pretty.String())

	var resp struct {
		Response struct {
			Allowed bool   `json:"allowed"`
			Patch   []byte `json:"patch"`
			Status  *struct {
				Message string `json:"message"`
			} `json:"status"`
		} `json:"response"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &resp)
	if *explain {
		if err := explainPatch(stdout, body, resp.Response.Patch); err != nil {
			fmt.Fprintln(stderr, "bouncer review:", err)
			return exitUsage
		}
	}
	if !resp.Response.Allowed {
		return exitViolations
	}
	return exitOK
}

// explainPatch prints the patch one operation a line, then the object as the
// API server would store it after applying the patch.
func explainPatch(w io.Writer, body, patch []byte) error {
	if len(patch) == 0 {
		fmt.Fprintln(w, "\n# no patch: the object is admitted unchanged")
		return nil
	}
	var ops []struct {
		Op    string          `json:"op"`
		Path  string          `json:"path"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(patch, &ops); err != nil {
		return err
	}
	fmt.Fprintln(w, "\n# patch (JSONPatch, RFC 6902):")
	for _, op := range ops {
		fmt.Fprintf(w, "#   %s %s = %s\n", op.Op, op.Path, op.Value)
	}
	var in struct {
		Request struct {
			Object json.RawMessage `json:"object"`
		} `json:"request"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return err
	}
	jp, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		return err
	}
	out, err := jp.Apply(in.Request.Object)
	if err != nil {
		return fmt.Errorf("applying the patch: %w", err)
	}
	var pretty bytes.Buffer
	_ = json.Indent(&pretty, out, "", "  ")
	fmt.Fprintln(w, "\n# object after the patch:")
	fmt.Fprintln(w, pretty.String())
	return nil
}
