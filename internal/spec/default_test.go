package spec

import (
	"bytes"
	"flag"
	"os"
	"reflect"
	"testing"

	"sigs.k8s.io/yaml"
)

var updateDefault = flag.Bool("update", false, "rewrite default.json from default.yaml")

// TestDefaultJSONIsTheDefaultYAML keeps the JSON the binary reads at start
// equal to the YAML people read and edit.
func TestDefaultJSONIsTheDefaultYAML(t *testing.T) {
	want, err := yaml.YAMLToJSONStrict(defaultYAML)
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	if *updateDefault {
		if err := os.WriteFile("default.json", want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(defaultJSON, want) {
		t.Fatal("default.json is not default.yaml converted; run go test ./internal/spec -run DefaultJSON -update")
	}
	fromYAML, err := Read(DefaultYAML())
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, err := Read(DefaultJSON())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromJSON, fromYAML) {
		t.Fatal("the default read from JSON differs from the one read from YAML")
	}
}
