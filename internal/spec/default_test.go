package spec

import (
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
