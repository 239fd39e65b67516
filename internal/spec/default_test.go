package spec

import (
	"bytes"
	"flag"
	"os"
	"reflect"
	"testing"
)

var updateDefault = flag.Bool("update", false, "rewrite default_gen.go from default.yaml")

// TestTheGeneratedDefaultIsDefaultYAMLRead keeps the Go value the binary
// compiles at start equal to the YAML people read and edit.
func TestTheGeneratedDefaultIsDefaultYAMLRead(t *testing.T) {
	fromYAML, err := Read(DefaultYAML())
	if err != nil {
		t.Fatal(err)
	}
	src, err := goSource(fromYAML)
	if err != nil {
		t.Fatal(err)
	}
	if *updateDefault {
		if err := os.WriteFile("default_gen.go", src, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if gen, err := os.ReadFile("default_gen.go"); err != nil || !bytes.Equal(gen, src) {
		t.Fatal("default_gen.go is not default.yaml's value; run go test ./internal/spec -run GeneratedDefault -update")
	}
	if !reflect.DeepEqual(Default(), fromYAML) {
		t.Fatal("Default() differs from default.yaml read")
	}
	if a, b := Default(), Default(); a == b || &a.Rules[0] == &b.Rules[0] {
		t.Fatal("Default() shares its value between calls")
	}
}
