// Package verify holds the tests that check bouncer's deployment artifacts
// against the real formats and rules they are written for.
package verify

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	cloudbuild "google.golang.org/api/cloudbuild/v1"
	"sigs.k8s.io/yaml"
)

func readCloudBuild(t *testing.T) ([]byte, *cloudbuild.Build) {
	t.Helper()
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
	return raw, &b
}

// TestCloudBuildDecodesStrictlyIntoTheAPITypes catches a misspelled field,
// which Cloud Build would otherwise reject only at submit time.
func TestCloudBuildDecodesStrictlyIntoTheAPITypes(t *testing.T) {
	raw, b := readCloudBuild(t)
	var ids []string
	for _, s := range b.Steps {
		if s.Name == "" {
			t.Errorf("step %q has no builder image", s.Id)
		}
		ids = append(ids, s.Id)
	}
	want := "unit-tests image push runtime-account render deploy webhooks"
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
	defined := slices.Sorted(maps.Keys(b.Substitutions))
	for _, v := range defined {
		if !used[v] {
			t.Errorf("substitution %s is defined but never used", v)
		}
	}
	t.Logf("substitutions: %v", defined)
	// Cloud Build substitutes $NAME and ${NAME}; a shell's $( or $VAR must
	// be written $$( and $$VAR, or the build is refused at submit.
	for i, line := range strings.Split(string(raw), "\n") {
		if m := regexp.MustCompile(`(^|[^$])\$(\(|[a-z])`).FindString(line); m != "" && !strings.HasPrefix(strings.TrimSpace(line), "#") {
			t.Errorf("cloudbuild.yaml:%d: unescaped %q for the shell: write $$", i+1, m)
		}
	}
}

// TestCloudBuildPinsItsBuildersAndDeclaresItsImage: builder images carry a
// version (never latest, never bare), the pushed image is declared under
// images so Cloud Build records its digest, and the binary is stamped from
// substitutions, since `gcloud builds submit` uploads no .git.
func TestCloudBuildPinsItsBuildersAndDeclaresItsImage(t *testing.T) {
	raw, b := readCloudBuild(t)
	pinned := regexp.MustCompile(`^[a-z0-9./-]+:[0-9]+\.[0-9]+(\.[0-9]+)?(-[a-z]+)?$|@sha256:[0-9a-f]{64}$`)
	for _, s := range b.Steps {
		img := s.Name
		if strings.HasPrefix(img, "${") {
			img = b.Substitutions[strings.Trim(img, "${}")]
		}
		if !pinned.MatchString(img) {
			t.Errorf("step %s runs %q, which is not pinned to a version", s.Id, img)
		}
	}
	if len(b.Images) != 1 || !strings.HasSuffix(b.Images[0], ":build-${BUILD_ID}") {
		t.Fatalf("images: %v; want the one image, tagged build-${BUILD_ID}", b.Images)
	}
	if !strings.Contains(string(raw), `docker push "$$repo:build-${BUILD_ID}"`) {
		t.Error("the push step does not push the image declared under images")
	}
	for _, want := range []string{`make build VERSION="$$version" COMMIT="$$commit"`, `commit="${_COMMIT}"; [ -n "$$commit" ] || commit="${COMMIT_SHA}"`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("the image step does not stamp the binary from substitutions: no %q", want)
		}
	}
	if strings.Contains(string(raw), "allUsers") {
		t.Error("cloudbuild.yaml grants allUsers; the service disables the invoker check declaratively instead")
	}
}

// TestCloudBuildServesAndCompilesOnePolicyVersion: Cloud Run resolves a
// secret's "latest" when each instance starts, and the webhooks step reads
// the policy again to compile its exemptions into the configurations. Both
// must name the one version resolved once, or a secret updated during (or
// after) the build gives the service and the configurations two policies.
func TestCloudBuildServesAndCompilesOnePolicyVersion(t *testing.T) {
	_, b := readCloudBuild(t)
	steps := map[string]string{}
	for _, s := range b.Steps {
		steps[s.Id] = strings.Join(s.Args, " ")
	}
	for _, c := range []struct{ step, want string }{
		{"runtime-account", `gcloud secrets versions describe latest --secret="${_POLICY_SECRET}" --format='value(name.basename())' > /workspace/policy.version`},
		{"render", `--policy-secret "${_POLICY_SECRET}:$$(cat /workspace/policy.version)"`},
		{"webhooks", `gcloud secrets versions access "$$(cat /workspace/policy.version)"`},
	} {
		if !strings.Contains(steps[c.step], c.want) {
			t.Errorf("step %s does not use the pinned policy version: no %q", c.step, c.want)
		}
	}
	for id, args := range steps {
		if strings.Contains(args, "versions access latest") {
			t.Errorf("step %s reads the policy's latest version, which may differ from the one deployed", id)
		}
	}
}
