package spec

import (
	"bytes"
	"os"
	"reflect"
	"testing"
)

// TestTheGeneratedDefaultIsDefaultYAMLRead keeps the Go value the binary
// compiles at start (default_gen.go) equal to the YAML people read and edit.
// gen's own test holds default_gen.go to what gen writes, byte for byte.
func TestTheGeneratedDefaultIsDefaultYAMLRead(t *testing.T) {
	fromYAML, err := Read(DefaultYAML())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(Default(), fromYAML) {
		t.Fatal("Default() differs from default.yaml read; run go generate ./internal/spec")
	}
	if a, b := Default(), Default(); a == b || &a.Rules[0] == &b.Rules[0] {
		t.Fatal("Default() shares its value between calls")
	}
}

// TestTheDocsShowDefaultYAMLLessItsComments: docs/policy.md shows the
// default policy; it is default.yaml with the comments and blank lines
// taken out, so it cannot drift from the one home of those values.
func TestTheDocsShowDefaultYAMLLessItsComments(t *testing.T) {
	doc, err := os.ReadFile("../../docs/policy.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := bytes.Cut(doc, []byte("```yaml\n"))
	if ok {
		block, _, ok = bytes.Cut(block, []byte("```"))
	}
	if !ok {
		t.Fatal("docs/policy.md has no yaml block")
	}
	var want bytes.Buffer
	for _, l := range bytes.Split(DefaultYAML(), []byte("\n")) {
		if t := bytes.TrimSpace(l); len(t) == 0 || t[0] == '#' {
			continue
		}
		want.Write(l)
		want.WriteByte('\n')
	}
	if !bytes.Equal(block, want.Bytes()) {
		t.Errorf("docs/policy.md's default policy differs from default.yaml without comments:\n%s\nwant:\n%s", block, want.Bytes())
	}
}
