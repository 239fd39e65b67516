// Package policytest holds what the tests of the packages built on the
// policy share.
package policytest

import (
	"testing"

	"bouncer.dev/bouncer/internal/policy"
)

// Parse compiles a policy document or fails the test.
func Parse(t testing.TB, doc string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("policy does not parse: %v", err)
	}
	return p
}
