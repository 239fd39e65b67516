// Command bench measures bouncer side by side with a controller-runtime
// webhook, the floor and the in-tree policy engine, in one run on one
// machine, and writes docs/benchmarks.md. `make bench` runs it under
// `taskset -c 0`, so the load generator has core 0 and each server core 1.
//
// harness.go runs the stages in order; each stage lives beside what it
// measures (correctness.go, inprocess.go, httpload.go, coldstart.go,
// runc.go, check.go, audit.go, auditlog.go, controlplane.go), and report.go
// writes the report.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

func main() {
	var c config
	flag.StringVar(&c.root, "root", "../", "the repository root")
	flag.StringVar(&c.out, "out", "docs/benchmarks.md", "the report, relative to the root")
	flag.IntVar(&c.reps, "reps", 3, "repetitions of each HTTP run (the median is reported)")
	flag.DurationVar(&c.dur, "duration", 2*time.Second, "length of each HTTP run")
	// A start takes a few milliseconds, so on a shared machine the median of
	// 20 moved by a third between runs of the same code; 80 costs seconds.
	flag.IntVar(&c.starts, "starts", 80, "cold starts per server")
	flag.IntVar(&c.rounds, "rounds", 5, "rounds through the control plane; each interleaves every setup create by create")
	flag.IntVar(&c.creates, "creates", 400, "Pod creates per setup and round")
	flag.IntVar(&c.count, "count", 6, "go test -bench -count for the in-process benchmark")
	flag.IntVar(&c.checkFiles, "check-files", 10000, "manifests for the bouncer check / kyverno apply comparison")
	flag.IntVar(&c.auditObjects, "audit-objects", 20000, "objects in the API server for bouncer audit; it is timed at a tenth of them too")
	flag.StringVar(&c.only, "only", "", "run this stage alone (such as audit) and print its part of the report; writes no report")
	notesOnly := flag.Bool("notes-only", false, "measure nothing: rewrite the report's \"Since the previous report\" section from bench/changes.md")
	flag.Parse()
	c.controlplane, c.kyverno = os.Getenv("BOUNCER_CONTROLPLANE"), os.Getenv("BOUNCER_KYVERNO")
	var err error
	if *notesOnly {
		err = renotes(c.root, c.out)
	} else {
		err = run(c)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func sh(dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	return b.String(), err
}

func machine() string {
	cpu := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	kernel, _ := sh("/", nil, "uname", "-r")
	cores, _ := sh("/", nil, "nproc", "--all")
	return fmt.Sprintf("%s cores (%s), Linux %s, %s, on %s", strings.TrimSpace(cores), cpu, strings.TrimSpace(kernel), runtime.Version(), time.Now().UTC().Format("2006-01-02"))
}
