package policyfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestResolveSaysWhereThePolicyCameFrom(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: bouncer.dev/v1\nkind: Policy\nrules: [{name: a, kinds: [Pod], action: block, require: [{key: owner}]}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("apiVersion: bouncer.dev/v1\nkind: Policy\nrules: [{name: a, kinds: [Pod], require: [{key: owner}]}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	absent := filepath.Join(dir, "absent.yaml")
	tests := []struct {
		name, flag, env string
		source, err     string
		notExist        bool
	}{
		{"no flag and no variable is the embedded default", "", "", "embedded default", "", false},
		{"the flag wins over the variable", good, bad, good, "", false},
		{"a file from the variable is loaded", "", good, good, "", false},
		{"a bad file from the flag is named as given",
			bad, "", bad, "policy " + bad + `: rules[0].action: unknown action "block"; want deny, warn or audit`, false},
		{"a bad file from the variable names the variable",
			"", bad, bad, "policy " + bad + ` (from $BOUNCER_POLICY): rules[0].action: unknown action "block"; want deny, warn or audit`, false},
		{"a missing file from the variable names the variable and the cause",
			"", absent, absent, "policy " + absent + " (from $BOUNCER_POLICY): cannot read it: no such file or directory", true},
		{"a missing file from the flag names the file and the cause",
			absent, "", absent, "policy " + absent + ": cannot read it: no such file or directory", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvVar, tt.env)
			p, source, err := Resolve(tt.flag)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.err || source != tt.source {
				t.Errorf("Resolve(%q) with $%s=%q: source %q, error %q\nwant source %q, error %q", tt.flag, EnvVar, tt.env, source, got, tt.source, tt.err)
			}
			if (err == nil) != (p != nil) {
				t.Errorf("policy %v with error %v", p, err)
			}
			if errors.Is(err, fs.ErrNotExist) != tt.notExist {
				t.Errorf("errors.Is(err, fs.ErrNotExist) = %v, want %v", !tt.notExist, tt.notExist)
			}
		})
	}
}
