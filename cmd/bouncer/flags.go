package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/policyfile"
)

// newFlags makes a command's flag set with a usage text that shows an example.
func newFlags(name, synopsis, example string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("bouncer "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: bouncer %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nExample:\n  %s\n", example)
	}
	return fs
}

// parse parses flags anywhere among the arguments, as kubectl does
// (`bouncer check DIR -o json`), and returns the positional arguments; ok
// is false when the command must return code. After "--" everything is
// positional.
func parse(fs *flag.FlagSet, args []string) (pos []string, code int, ok bool) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitOK, false
			}
			return nil, exitUsage, false
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), 0, true
		}
		if len(rest) == 0 {
			return pos, 0, true
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// loadPolicy resolves the policy for a command and prints what loading
// warns about to stderr, prefixed with the command's name.
func loadPolicy(name, flagPath string, stderr io.Writer) (*policy.Policy, string, bool) {
	p, source, err := policyfile.Resolve(flagPath)
	if err != nil {
		fmt.Fprintf(stderr, "bouncer %s: %v\n", name, err)
		return nil, "", false
	}
	for _, w := range p.Warnings {
		fmt.Fprintf(stderr, "bouncer %s: warning: policy %s: %s\n", name, source, w)
	}
	return p, source, true
}
