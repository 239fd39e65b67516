package main

import (
	"fmt"
	"io"

	"bouncer.dev/bouncer/internal/version"
)

func runVersion(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("version", "version", "bouncer version", stderr)
	if code, ok := parse(fs, args); !ok {
		return code
	}
	fmt.Fprintln(stdout, version.String())
	return exitOK
}
