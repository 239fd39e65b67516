package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestDefaultGenIsWhatGenWrites(t *testing.T) {
	want, err := source()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join("..", output))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("internal/spec/default_gen.go is not what gen writes from default.yaml; run go generate ./internal/spec")
	}
}
