package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bouncer.dev/bouncer/internal/policyfile"
)

// runCLI runs the command in-process and returns its exit code and output.
func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsageErrorsExit2AndHelpIsOutput(t *testing.T) {
	t.Setenv(policyfile.EnvVar, "")
	tests := []struct {
		name     string
		args     []string
		code     int
		inStdout string // "" means stdout stays empty
		inStderr string // "" means stderr stays empty
	}{
		{"--help prints the usage to stdout", []string{"--help"}, exitOK, "Usage: bouncer audit [--kubeconfig FILE]", ""},
		{"-h prints the usage to stdout", []string{"-h"}, exitOK, "\nExample:\n  bouncer audit --apply", ""},
		{"the help names rbac", []string{"--help"}, exitOK, "bouncer audit rbac [--policy FILE]", ""},
		{"an output format that does not exist is a usage error", []string{"-o", "yaml"}, exitError, "", `bouncer audit: -o "yaml": want text, json or report`},
		{"a positional argument is a usage error that points to bouncer check", []string{"pods.yaml"}, exitError, "", `unexpected argument "pods.yaml" (audit reads the cluster; bouncer check reads files)`},
		{"a page size of 0 is a usage error", []string{"--page-size", "0"}, exitError, "", "--page-size 0: want 1 or more"},
		{"a negative page size is a usage error", []string{"--page-size=-5"}, exitError, "", "--page-size -5: want 1 or more"},
		{"an unknown flag is a usage error, with the usage", []string{"--all-namespaces"}, exitError, "", "flag provided but not defined: -all-namespaces\nUsage: bouncer audit"},
		{"a flag without its value is a usage error", []string{"--timeout"}, exitError, "", "flag needs an argument: -timeout"},
		{"a policy that does not exist is an error", []string{"--policy", "testdata/no-such-policy.yaml"}, exitError, "", "no-such-policy.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(tt.args...)
			if code != tt.code || (tt.inStdout == "") != (out == "") || !strings.Contains(out, tt.inStdout) ||
				(tt.inStderr == "") != (errOut == "") || !strings.Contains(errOut, tt.inStderr) {
				t.Errorf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errOut)
			}
		})
	}
}

// kubeconfig writes a kubeconfig whose one cluster is at server.
func kubeconfig(t *testing.T, server string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	doc := `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "` + server + `", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: not-a-real-token}
contexts:
- name: ctx
  context: {cluster: c, user: u}
current-context: ctx
`
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAClusterThatCannotBeReadExits2AndConcludesNothing(t *testing.T) {
	t.Setenv(policyfile.EnvVar, "")
	t.Setenv("KUBECONFIG", "")
	unreachable := kubeconfig(t, "https://127.0.0.1:1")
	tests := []struct {
		name string
		args []string
		want []string // in stderr
	}{
		{"an unreachable API server names the request that failed", []string{"--kubeconfig", unreachable, "--timeout", "30s"}, []string{
			"bouncer audit: reading ValidatingAdmissionPolicy bouncer-namespace-guard: GET /apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/bouncer-namespace-guard: ",
			"127.0.0.1:1",
			"bouncer audit: the cluster was not read whole; nothing is concluded and no report was deleted",
		}},
		{"an unreachable API server with -o json prints no half document", []string{"--kubeconfig", unreachable, "-o", "json", "--timeout", "30s"}, []string{
			"the cluster was not read whole",
		}},
		{"an unreachable API server with --apply writes and deletes nothing", []string{"--kubeconfig", unreachable, "--apply", "--timeout", "30s"}, []string{
			"bouncer audit: listing reports.openreports.io: GET /apis/openreports.io/v1alpha1/reports: ",
		}},
		{"a kubeconfig that does not exist names the client configuration", []string{"--kubeconfig", filepath.Join(t.TempDir(), "nope")}, []string{
			"bouncer audit: reading the client configuration: ",
		}},
		{"a context that does not exist names the client configuration", []string{"--kubeconfig", unreachable, "--context", "prod"}, []string{
			"bouncer audit: reading the client configuration: ", `"prod"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(tt.args...)
			if code != exitError {
				t.Errorf("exit %d, want %d", code, exitError)
			}
			for _, w := range tt.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			// Nothing is concluded: no summary, no result, no report.
			if out != "" || strings.Contains(errOut, "audited") {
				t.Errorf("printed a conclusion:\nstdout:\n%s\nstderr:\n%s", out, errOut)
			}
		})
	}
}
