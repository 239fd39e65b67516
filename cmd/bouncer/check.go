package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"bouncer.dev/bouncer/internal/check"
	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/policyfile"
)

// checkNotes explain, in --help, whom check judges the input as.
const checkNotes = `Check judges each object as the API server would if the input were applied:
as a CREATE by an unnamed user, or by --as USER with --as-group GROUP
(repeatable), as kubectl's flags name who applies it. Mutate runs first, its
patch applied, then validate on the result.

An object with a controller ownerReference is judged as created by that
controller (a Pod by the ReplicaSet controller, and so on) only when its parent
is in the same input (same kind, name and namespace, and uid where both give
one) and is of a kind the policy covers: anyone can write an ownerReference.

A Namespace in the input is judged as created by the same identity: only the
policy's exemptionAdmins may create one that is exempt (by label or by name).
A refused Namespace is denied and exempts nothing; an allowed one lends its
labels to the objects in it. A Namespace with metadata.uid or
metadata.creationTimestamp was read from a cluster (kubectl get -o yaml): it
exists already, so it lends its labels and is not judged.

Objects the policy does not judge (kinds it does not cover, exempt namespaces)
are counted as skipped; -v names each one with the reason.

Exit codes: 0 clean, 1 something would be denied, 2 a usage or input error,
including standard input without a single document (as when kubectl failed).`

func runCheck(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fl := newFlagsWithNotes("check", "check [PATH...] [-f PATH]... [--policy FILE] [-n NS] [--as USER] [--as-group GROUP]... [-o text|json] [-v]",
		"kubectl get namespaces,pods,deployments,statefulsets,daemonsets,replicasets,jobs,cronjobs -A -o yaml | bouncer check -",
		checkNotes, stderr)
	pol := fl.String("policy", "", "policy `FILE` (default $"+policyfile.EnvVar+", else the embedded default)")
	ns := fl.String("namespace", "default", "the `NS` of manifests that name none")
	fl.StringVar(ns, "n", "default", "the `NS` of manifests that name none")
	var files, groups stringList
	fl.Var(&files, "filename", "a file, a directory (its .yaml, .yml and .json files, recursively) or - for standard input; repeatable, and `PATH` arguments work too")
	fl.Var(&files, "f", "a file, a directory or - for standard input; repeatable, and `PATH` arguments work too")
	as := fl.String("as", "", "the `USER` who applies the input (default: an unnamed user)")
	fl.Var(&groups, "as-group", "a `GROUP` of the user who applies the input; repeatable")
	format := fl.String("o", "text", "output `FORMAT`: text or json")
	verbose := fl.Bool("v", false, "also name each skipped object and why it was skipped")
	paths, code, ok := parse(fl, args)
	if !ok {
		return code
	}
	paths = append(files, paths...)
	if len(paths) == 0 {
		fmt.Fprintln(stderr, "bouncer check: name at least one file, directory, or - for standard input (as arguments or with -f)")
		return exitUsage
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "bouncer check: -o %q: want text or json\n", *format)
		return exitUsage
	}
	p, _, ok := loadPolicy("check", *pol, stderr)
	if !ok {
		return exitUsage
	}
	c := &check.Checker{Policy: p, Namespace: *ns, User: *as, Groups: groups, IdentityHint: "--as and --as-group name who applies it"}
	var objs []check.Object
	var errs []inputError
	fail := func(file string, err error) {
		fmt.Fprintln(stderr, "bouncer check:", err)
		errs = append(errs, newInputError(file, err))
	}
	nfiles := 0
	for _, arg := range paths {
		err := eachFile(arg, stdin, func(name string, data []byte) {
			nfiles++
			if arg == "-" && check.Empty(data) {
				// kubectl get ... | bouncer check - when kubectl failed.
				fail(name, errors.New("read nothing from standard input"))
				return
			}
			read, err := check.Read(name, data)
			objs = append(objs, read...)
			if err != nil {
				fail(name, err)
			}
		})
		if err != nil {
			fail(arg, err)
		}
	}
	// Every file is read before any object is judged: a Namespace anywhere
	// in the input lends its labels to the objects in it, and a parent
	// anywhere makes its children the controller's.
	results, judgeErrs := c.Judge(objs)
	for _, err := range judgeErrs {
		fail("", err)
	}
	sum := summarize(results, nfiles, len(errs))
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		// File names such as <stdin> are printed as they are.
		enc.SetEscapeHTML(false)
		if results == nil {
			results = []check.Result{}
		}
		if errs == nil {
			errs = []inputError{}
		}
		_ = enc.Encode(struct {
			Results []check.Result `json:"results"`
			Errors  []inputError   `json:"errors"`
			Summary summary        `json:"summary"`
		}{results, errs, sum})
	} else {
		printText(stdout, results, sum, *verbose)
	}
	switch {
	case len(errs) > 0:
		return exitUsage
	case sum.Denied > 0:
		return exitViolations
	}
	return exitOK
}

// inputError is an error in -o json: where the input stopped being
// readable, as far as it is known, and what was wrong.
type inputError struct {
	File     string `json:"file,omitempty"`
	Document int    `json:"document,omitempty"`
	Line     int    `json:"line,omitempty"`
	Message  string `json:"message"`
}

func newInputError(file string, err error) inputError {
	var pe *check.ParseError
	if errors.As(err, &pe) {
		return inputError{File: pe.File, Document: pe.Document, Line: pe.Line, Message: pe.Msg}
	}
	return inputError{File: file, Message: err.Error()}
}

// eachFile calls f for the file, every .yaml/.yml/.json file under the
// directory (in lexical order), or standard input for "-".
func eachFile(arg string, stdin io.Reader, f func(name string, data []byte)) error {
	if arg == "-" {
		data, err := io.ReadAll(stdin)
		if err != nil {
			return fmt.Errorf("reading standard input: %w", err)
		}
		f("<stdin>", data)
		return nil
	}
	st, err := os.Stat(arg)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		data, err := os.ReadFile(arg)
		if err != nil {
			return err
		}
		f(arg, data)
		return nil
	}
	return filepath.WalkDir(arg, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml", ".json":
			if d.IsDir() {
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			f(path, data)
		}
		return nil
	})
}

type summary struct {
	Files    int `json:"files"`
	Objects  int `json:"objects"`
	Denied   int `json:"denied"`
	Warnings int `json:"warnings"`
	Audited  int `json:"audited"`
	Adds     int `json:"labelsToAdd"`
	Skipped  int `json:"skipped"`
	Errors   int `json:"errors"`
}

func summarize(rs []check.Result, files, nerrs int) summary {
	s := summary{Files: files, Objects: len(rs), Errors: nerrs}
	for _, r := range rs {
		if r.Denied {
			s.Denied++
		}
		if r.Skip != "" {
			s.Skipped++
		}
		for _, f := range r.Findings {
			switch f.Action {
			case string(policy.Warn):
				s.Warnings++
			case string(policy.Audit):
				s.Audited++
			}
		}
		s.Adds += len(r.Adds)
	}
	return s
}

// printText writes one line per violation and per label mutate would add,
// and with verbose one per skipped object.
func printText(w io.Writer, rs []check.Result, s summary, verbose bool) {
	for _, r := range rs {
		where := fmt.Sprintf("%s#%d", r.File, r.Document)
		if r.Item != nil {
			where += fmt.Sprintf(".items[%d]", *r.Item)
		}
		obj := r.Kind + " " + r.Name
		if r.Namespace != "" {
			obj = r.Kind + " " + r.Namespace + "/" + r.Name
		}
		if verbose && r.Skip != "" {
			fmt.Fprintf(w, "%s %s: skipped: %s\n", where, obj, r.Skip)
		}
		for _, f := range r.Findings {
			if f.Rule == "" {
				fmt.Fprintf(w, "%s %s: %s: %s\n", where, obj, f.Action, f.Message)
				continue
			}
			fmt.Fprintf(w, "%s %s: %s %s: %s\n", where, obj, f.Action, f.Rule, f.Message)
		}
		for _, a := range r.Adds {
			fmt.Fprintf(w, "%s %s: mutate %s: would add %s=%s at %s\n", where, obj, a.Rule, a.Key, a.Value, a.Place)
		}
	}
	line := fmt.Sprintf("checked %s in %s: %d denied, %s, %d audited, %s, %d skipped",
		plural(s.Objects, "object", "objects"), plural(s.Files, "file", "files"), s.Denied,
		plural(s.Warnings, "warning", "warnings"), s.Audited, plural(s.Adds, "label to add", "labels to add"), s.Skipped)
	if s.Skipped > 0 && !verbose {
		line += " (-v names them)"
	}
	if s.Errors > 0 {
		line += ", " + plural(s.Errors, "error", "errors")
	}
	fmt.Fprintln(w, line)
}

// plural is "1 file", "2 files", "0 files".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
