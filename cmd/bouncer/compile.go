package main

import (
	"fmt"
	"io"

	"bouncer.dev/bouncer/internal/admissionpolicy"
	"bouncer.dev/bouncer/internal/policyfile"
)

func runCompile(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("compile", "compile [--policy FILE] [--only validate|mutate]",
		"bouncer compile | kubectl apply -f -", stderr)
	pol := fs.String("policy", "", "policy file (default $"+policyfile.EnvVar+", else the embedded default)")
	only := fs.String("only", "", "emit only the validate or the mutate policies (without MutatingAdmissionPolicy, pair --only validate with bouncer webhookconfig --only mutate)")
	pos, code, ok := parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "bouncer compile: unexpected argument %q\n", pos[0])
		return exitUsage
	}
	fn, err := parseOnly(*only)
	if err != nil {
		fmt.Fprintln(stderr, "bouncer compile:", err)
		return exitUsage
	}
	p, _, ok := loadPolicy("compile", *pol, stderr)
	if !ok {
		return exitUsage
	}
	out, err := admissionpolicy.Render(p, fn)
	if err != nil {
		fmt.Fprintln(stderr, "bouncer compile:", err)
		return exitUsage
	}
	_, _ = stdout.Write(out)
	return exitOK
}
