// Command bouncer is the one binary of bouncer: the production admission
// server and the tools around its policy.
package main

import (
	"fmt"
	"io"
	"os"
)

type command struct {
	name, summary string
	run           func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

// Exit codes shared by every command.
const (
	exitOK         = 0
	exitViolations = 1
	exitUsage      = 2
)

func commands() []command {
	return []command{
		{"serve", "serve /validate, /mutate and /healthz over HTTP or HTTPS", runServe},
		{"webhookconfig", "render the Validating and Mutating webhook configurations", runWebhookConfig},
		{"auditconfig", "render the audit policy and the audit webhook kubeconfig that send escapes to /audit", runAuditConfig},
		{"compile", "compile the policy to ValidatingAdmissionPolicy and MutatingAdmissionPolicy", runCompile},
		{"check", "check manifests offline, or a live cluster's objects, against the policy", runCheck},
		{"audit", "audit a live cluster: what violates, and whether enforcement is on (runs " + auditBinary + ")", runAudit},
		{"review", "run one AdmissionReview through validate or mutate and print the answer", runReview},
		{"version", "print the version, commit and Go version", runVersion},
	}
}

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "bouncer: name a command")
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return exitOK
	case "-version", "--version":
		args = append([]string{"version"}, args[1:]...)
	}
	// Help that a command prints on -h goes to stdout; see streams.
	errs := &streams{Writer: stderr, stdout: stdout}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdin, stdout, errs)
		}
	}
	fmt.Fprintf(stderr, "bouncer: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "bouncer: Kubernetes admission webhooks for a declarative label policy.")
	fmt.Fprintln(w, "\nUsage: bouncer COMMAND [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'bouncer COMMAND --help' for a command's flags and an example, 'bouncer --version' for the version.")
}
