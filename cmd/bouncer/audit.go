package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// auditBinary is the audit's own binary. The audit reads the cluster through
// client-go and writes OpenReports objects, whose types import
// k8s.io/api/core/v1; linked here they would slow every cold start of the
// server (deps_test.go), so they live in a binary of their own, shipped
// beside this one, and `bouncer audit` runs it.
const auditBinary = "bouncer-audit"

func runAudit(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	bin, err := findAudit()
	if err != nil {
		fmt.Fprintln(stderr, "bouncer audit:", err)
		return exitUsage
	}
	argv := append([]string{bin}, args...)
	if stdout == io.Writer(os.Stdout) && stdin == io.Reader(os.Stdin) {
		// The audit takes this process's place: its exit code, its signals
		// (a CronJob's SIGTERM) and its terminal are the user's.
		err := syscall.Exec(bin, argv, os.Environ())
		fmt.Fprintf(stderr, "bouncer audit: running %s: %v\n", bin, err)
		return exitUsage
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode()
	case err != nil:
		fmt.Fprintf(stderr, "bouncer audit: running %s: %v\n", bin, err)
		return exitUsage
	}
	return exitOK
}

// findAudit looks beside this binary first (the image has /bouncer and
// /bouncer-audit; make build writes both into bin/), then on $PATH.
func findAudit() (string, error) {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), auditBinary)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath(auditBinary); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("the audit is a binary of its own, %s, and it is neither beside this one nor on $PATH: "+
		"make build writes both into bin/, and the image holds both", auditBinary)
}
