package main

import (
	"fmt"
	"io"

	"bouncer.dev/bouncer/internal/version"
)

func runVersion(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("version", "version", "bouncer version", stderr)
	pos, code, ok := parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "bouncer version: unexpected argument %q\n", pos[0])
		return exitUsage
	}
	fmt.Fprintln(stdout, version.String())
	return exitOK
}
