// Package policyfile finds the policy a process runs: the --policy flag,
// else $BOUNCER_POLICY, else the embedded default. It is the only place that
// reads a policy from the file system or the environment; the decision never
// does.
package policyfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"bouncer.dev/bouncer/internal/policy"
)

// EnvVar names a policy file when no --policy flag is given.
const EnvVar = "BOUNCER_POLICY"

// Embedded is the source Resolve returns for the embedded default.
const Embedded = "embedded default"

// Resolve loads the policy named by the flag, else by $BOUNCER_POLICY, else
// the embedded default. It returns where the policy came from, for the logs.
// An error about a file that the environment named says so: whoever reads
// it may never have typed that path.
func Resolve(flagPath string) (*policy.Policy, string, error) {
	if flagPath != "" {
		p, err := Load(flagPath)
		return p, flagPath, err
	}
	path := os.Getenv(EnvVar)
	if path == "" {
		return policy.Default(), Embedded, nil
	}
	p, err := load(path, path+" (from $"+EnvVar+")")
	return p, path, err
}

// Load reads and compiles a policy file. Errors name the file and the field.
func Load(path string) (*policy.Policy, error) { return load(path, path) }

// load reads path; errors call it name.
func load(path, name string) (*policy.Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("policy %s: cannot read it: %w", name, err)
	}
	p, err := policy.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", name, err)
	}
	return p, nil
}
