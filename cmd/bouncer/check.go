package main

import (
	"encoding/json"
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

func runCheck(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fl := newFlags("check", "check [--policy FILE] [--namespace NS] [-o text|json] PATH...",
		"kubectl get namespaces,pods,deployments,statefulsets,daemonsets,replicasets,jobs,cronjobs -A -o yaml | bouncer check -", stderr)
	pol := fl.String("policy", "", "policy file (default $"+policyfile.EnvVar+", else the embedded default)")
	ns := fl.String("namespace", "default", "namespace for manifests that name none")
	format := fl.String("o", "text", "output: text or json")
	paths, code, ok := parse(fl, args)
	if !ok {
		return code
	}
	if len(paths) == 0 {
		fmt.Fprintln(stderr, "bouncer check: name at least one file, directory, or - for standard input")
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
	c := &check.Checker{Policy: p, Namespace: *ns}
	var objs []check.Object
	files, failed := 0, false
	for _, arg := range paths {
		err := eachFile(arg, stdin, func(name string, data []byte) {
			files++
			read, err := check.Read(name, data)
			objs = append(objs, read...)
			if err != nil {
				fmt.Fprintln(stderr, "bouncer check:", err)
				failed = true
			}
		})
		if err != nil {
			fmt.Fprintln(stderr, "bouncer check:", err)
			failed = true
		}
	}
	// Every file is read before any object is judged: a Namespace anywhere
	// in the input lends its labels to the objects in it.
	results, err := c.Judge(objs)
	if err != nil {
		fmt.Fprintln(stderr, "bouncer check:", err)
		failed = true
	}
	sum := summarize(results, files)
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		// File names such as <stdin> are printed as they are.
		enc.SetEscapeHTML(false)
		if results == nil {
			results = []check.Result{}
		}
		_ = enc.Encode(struct {
			Results []check.Result `json:"results"`
			Summary summary        `json:"summary"`
		}{results, sum})
	} else {
		printText(stdout, results, sum)
	}
	switch {
	case failed:
		return exitUsage
	case sum.Denied > 0:
		return exitViolations
	}
	return exitOK
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
}

func summarize(rs []check.Result, files int) summary {
	s := summary{Files: files, Objects: len(rs)}
	for _, r := range rs {
		if r.Denied {
			s.Denied++
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

// printText writes one line per violation and per label mutate would add.
func printText(w io.Writer, rs []check.Result, s summary) {
	for _, r := range rs {
		where := fmt.Sprintf("%s#%d", r.File, r.Document)
		if r.Item != nil {
			where += fmt.Sprintf(".items[%d]", *r.Item)
		}
		obj := r.Kind + " " + r.Name
		if r.Namespace != "" {
			obj = r.Kind + " " + r.Namespace + "/" + r.Name
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
	fmt.Fprintf(w, "checked %d objects in %d files: %d denied, %d warnings, %d audited, %d labels to add\n",
		s.Objects, s.Files, s.Denied, s.Warnings, s.Audited, s.Adds)
}
