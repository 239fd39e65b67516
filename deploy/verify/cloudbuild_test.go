// Package verify holds the tests that check bouncer's deployment artifacts
// against the real formats they are written for.
package verify

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	cloudbuild "google.golang.org/api/cloudbuild/v1"
	"sigs.k8s.io/yaml"
)

// TestCloudBuildDecodesStrictlyIntoTheAPITypes catches a misspelled field,
// which Cloud Build would otherwise reject only at submit time.
func TestCloudBuildDecodesStrictlyIntoTheAPITypes(t *testing.T) {
	raw, err := os.ReadFile("../../cloudbuild.yaml")
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSONStrict(raw)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	var b cloudbuild.Build
	if err := dec.Decode(&b); err != nil {
		t.Fatalf("cloudbuild.yaml does not decode into cloudbuild/v1 Build: %v", err)
	}
	var ids []string
	for _, s := range b.Steps {
		if s.Name == "" {
			t.Errorf("step %q has no builder image", s.Id)
		}
		ids = append(ids, s.Id)
	}
	want := "unit-tests image deploy allow-apiserver webhooks"
	if got := strings.Join(ids, " "); got != want {
		t.Errorf("steps %q, want %q in that order", got, want)
	}

	// Every $_VAR used is defined, and every one defined is used.
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`\$\{?(_[A-Z0-9_]+)`).FindAllStringSubmatch(string(raw), -1) {
		used[m[1]] = true
	}
	for v := range used {
		if _, ok := b.Substitutions[v]; !ok {
			t.Errorf("$%s is used but has no default under substitutions", v)
		}
	}
	var defined []string
	for v := range b.Substitutions {
		defined = append(defined, v)
		if !used[v] {
			t.Errorf("substitution %s is defined but never used", v)
		}
	}
	sort.Strings(defined)
	t.Logf("substitutions: %v", defined)
}
