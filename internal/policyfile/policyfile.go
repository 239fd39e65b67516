// Package policyfile finds the policy a process runs: the --policy flag,
// else $BOUNCER_POLICY, else the embedded default. It is the only place that
// reads a policy from the file system or the environment; the decision never
// does.
package policyfile

import (
	"fmt"
	"os"

	"bouncer.dev/bouncer/internal/policy"
)

// EnvVar names a policy file when no --policy flag is given.
const EnvVar = "BOUNCER_POLICY"

// Resolve loads the policy named by the flag, else by $BOUNCER_POLICY, else
// the embedded default. It returns where the policy came from, for the logs.
func Resolve(flagPath string) (*policy.Policy, string, error) {
	path := flagPath
	if path == "" {
		path = os.Getenv(EnvVar)
	}
	if path == "" {
		return policy.Default(), "embedded default", nil
	}
	p, err := Load(path)
	return p, path, err
}

// Load reads and compiles a policy file. Errors name the file and the field.
func Load(path string) (*policy.Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	p, err := policy.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	return p, nil
}
