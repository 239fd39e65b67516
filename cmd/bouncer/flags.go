package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"reflect"
	"strings"

	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/policyfile"
)

// streams is the stderr that run hands every command: it writes to
// standard error and also knows standard output, so that the flag code
// can print asked-for help there (help is output; an error is not)
// without every command passing both.
type streams struct {
	io.Writer           // standard error
	stdout    io.Writer // standard output
}

// newFlags makes a command's flag set with a usage text that shows an example.
func newFlags(name, synopsis, example string, stderr io.Writer) *flag.FlagSet {
	return newFlagsWithNotes(name, synopsis, example, "", stderr)
}

// newFlagsWithNotes is newFlags with paragraphs that explain the command,
// printed between the flags and the example.
func newFlagsWithNotes(name, synopsis, example, notes string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("bouncer "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: bouncer %s\n\nFlags:\n", synopsis)
		printFlags(w, fs)
		if notes != "" {
			fmt.Fprintf(w, "\n%s\n", strings.TrimRight(notes, "\n"))
		}
		fmt.Fprintf(w, "\nExample:\n  %s\n", example)
	}
	return fs
}

// printHelp prints the usage text to standard output, as asked for with -h
// or --help.
func printHelp(fs *flag.FlagSet) {
	out := fs.Output()
	if s, ok := out.(*streams); ok {
		fs.SetOutput(s.stdout)
		defer fs.SetOutput(out)
	}
	fs.Usage()
}

// parse parses flags anywhere among the arguments, as kubectl does
// (`bouncer check DIR -o json`), and returns the positional arguments; ok
// is false when the command must return code. After "--" everything is
// positional. -h and --help print the usage to standard output and exit 0;
// a bad flag prints the error and the usage to standard error.
func parse(fs *flag.FlagSet, args []string) (pos []string, code int, ok bool) {
	usage := fs.Usage
	fs.Usage = func() {} // the flag package would print it to the error stream either way
	defer func() { fs.Usage = usage }()
	for {
		if err := fs.Parse(args); err != nil {
			fs.Usage = usage
			if errors.Is(err, flag.ErrHelp) {
				printHelp(fs)
				return nil, exitOK, false
			}
			usage()
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

// printFlags lists the flags as PrintDefaults does, but with kubectl's
// spelling: one dash for a one-letter flag, two for a word, and a short
// flag beside the long one it stands for (two flags sharing a Value).
func printFlags(w io.Writer, fs *flag.FlagSet) {
	var all []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) { all = append(all, f) })
	same := func(a, b *flag.Flag) bool {
		ta, tb := reflect.TypeOf(a.Value), reflect.TypeOf(b.Value)
		return ta == tb && ta.Comparable() && a.Value == b.Value
	}
	dash := func(name string) string {
		if len(name) == 1 {
			return "-" + name
		}
		return "--" + name
	}
	for _, f := range all {
		var short *flag.Flag
		isShort := false
		for _, g := range all {
			if g != f && same(f, g) {
				if len(g.Name) < len(f.Name) {
					short = g
				} else {
					isShort = true
				}
			}
		}
		if isShort {
			continue // printed beside its long name
		}
		names := dash(f.Name)
		if short != nil {
			names = dash(short.Name) + ", " + names
		}
		typ, usage := flag.UnquoteUsage(f)
		if _, ok := f.Value.(*stringList); ok && typ == "value" {
			typ = "string"
		}
		line := "  " + names
		if typ != "" {
			line += " " + typ
		}
		line += "\n    \t" + strings.ReplaceAll(usage, "\n", "\n    \t")
		switch {
		case strings.Contains(usage, "(default "):
			// The usage says it better than the value can.
		case f.DefValue == "" || f.DefValue == "0" || f.DefValue == "false" || f.DefValue == "0s":
		case reflect.TypeOf(f.Value).String() == "*flag.stringValue":
			line += fmt.Sprintf(" (default %q)", f.DefValue)
		default:
			line += fmt.Sprintf(" (default %v)", f.DefValue)
		}
		fmt.Fprintln(w, line)
	}
}

// stringList is a repeatable flag: each use adds one value.
type stringList []string

func (l *stringList) String() string {
	if l == nil || len(*l) == 0 {
		return ""
	}
	return strings.Join(*l, ",")
}

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// loadPolicy resolves the policy for a command and prints what loading
// warns about to stderr, prefixed with the command's name.
func loadPolicy(name, flagPath string, stderr io.Writer) (*policy.Policy, string, bool) {
	p, source, err := policyfile.Resolve(flagPath)
	if err != nil {
		fmt.Fprintf(stderr, "bouncer %s: %v\n", name, err)
		return nil, "", false
	}
	where := source
	if flagPath == "" && source != policyfile.Embedded {
		where += " (from $" + policyfile.EnvVar + ")"
	}
	for _, w := range p.Warnings {
		fmt.Fprintf(stderr, "bouncer %s: warning: policy %s: %s\n", name, where, w)
	}
	return p, source, true
}
