package main

import (
	"fmt"
	"io"

	"bouncer.dev/bouncer/internal/compile"
	"bouncer.dev/bouncer/internal/policy"
)

func runCompile(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("compile", "compile [--policy FILE] [--only validating|mutating]",
		"bouncer compile | kubectl apply -f -", stderr)
	pol := fs.String("policy", "", "policy file (default $"+policy.EnvVar+", else the embedded default)")
	only := fs.String("only", "", "emit only validating or mutating policies (without MutatingAdmissionPolicy, pair --only validating with bouncer webhookconfig --only mutating)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bouncer compile: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	p, _, err := policy.Resolve(*pol)
	if err != nil {
		fmt.Fprintln(stderr, "bouncer compile:", err)
		return exitUsage
	}
	out, err := compile.Render(p, *only)
	if err != nil {
		fmt.Fprintln(stderr, "bouncer compile:", err)
		return exitUsage
	}
	_, _ = stdout.Write(out)
	return exitOK
}
