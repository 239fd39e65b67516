// Command bouncer-audit is `bouncer audit`: it judges every object of a live
// cluster with the policy, checks that enforcement is on, and writes
// OpenReports reports. bouncer execs it for `bouncer audit`; it is a binary
// of its own because client-go and the API types it needs would slow the
// cold start of the binary that serves admission.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"bouncer.dev/bouncer/internal/policyfile"
)

// Exit codes shared by every bouncer command.
const (
	exitOK         = 0
	exitViolations = 1
	exitError      = 2
)

const synopsis = `Usage: bouncer audit [--kubeconfig FILE] [--context NAME] [--policy FILE] [-o text|json|report] [--apply] [-v]
       bouncer audit --audit-log FILE|- [--audit-log FILE]... [--policy FILE] [-o text|json|report]
       bouncer audit rbac [--policy FILE] [--namespace NS] [--service-account NAME]
`

const notes = `Audit judges every object of a live cluster that the policy covers, with the
same chain as bouncer check (mutate, then validate), as a CREATE by an unnamed
user. It reads the cluster as kubectl does (--kubeconfig, $KUBECONFIG,
--context, else the in-cluster service account), every kind in pages, and
streams: memory stays flat as the cluster grows.

A child whose controller was listed too (its ownerReference's uid and kind,
of a kind whose controller makes the child's) and that has no finding its
parent lacks is reported through its parent, once. Each
violation says whether the object was created before enforcement began (a
legacy object) or after (it got in unjudged, was exempt, or changed since).

It also checks that enforcement is on: the namespace guard, and for each of
validation and mutation the webhook configuration or the compiled policies,
present, as the policy renders them, with a caBundle that trusts a
certificate. Anything else is a finding.

-o report prints OpenReports Reports (ClusterReports for cluster-scoped
objects and for enforcement), one per resource with a finding. --apply writes
them with server-side apply (field manager bouncer) and deletes the ones that
no longer hold, after a whole read only.

--audit-log reads the API server's audit log instead (JSON lines of
audit.k8s.io/v1 Events, plain or gzip, rotated files oldest first) and lists
each write that failed open past bouncer's webhooks (validate.bouncer.dev,
mutate.bouncer.dev; other webhooks' fail-opens are not bouncer's), re-judged
from the object it stored (the event's responseObject, logged at level
RequestResponse; bouncer auditconfig policy renders the audit policy):
escaped and violates, escaped and compliant, or escaped with the object not
logged. No audit level carries the old object, so for an UPDATE that violates
whether it already violated before is unknown. With cluster access, each also
says whether its object still exists and still violates. Exit 1 when an
escape violates.

'audit rbac' prints the ClusterRole and ClusterRoleBinding the audit needs
for the policy, and nothing more.

Exit codes: 0 clean, 1 something violates or enforcement is not as the policy
renders, 2 a usage, input or API error (naming the kind), after which nothing
is concluded.`

const example = `bouncer audit --apply && kubectl get reports -A`

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "rbac" {
		return runRBAC(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	var usage bytes.Buffer
	fs.SetOutput(&usage)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "%s\nFlags:\n", synopsis)
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\n%s\n\nExample:\n  %s\n", notes, example)
	}
	kubeconfig := fs.String("kubeconfig", "", "the kubeconfig `FILE` (default $KUBECONFIG, else ~/.kube/config, else in-cluster)")
	kubeContext := fs.String("context", "", "the kubeconfig context `NAME` (default its current context)")
	pol := fs.String("policy", "", "policy `FILE` (default $"+policyfile.EnvVar+", else the embedded default)")
	format := fs.String("o", "text", "output `FORMAT`: text, json or report (OpenReports YAML)")
	apply := fs.Bool("apply", false, "write the reports to the cluster (server-side apply, field manager bouncer) and delete the ones that no longer hold")
	pageSize := fs.Int("page-size", 500, "objects per list request")
	verbose := fs.Bool("v", false, "also name each skipped object, and each reported through its parent")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up after this long")
	var logs stringList
	fs.Var(&logs, "audit-log", "read the API server's audit log `FILE` (JSON lines, plain or gzip; - for standard input; repeatable, oldest first for rotated files) and list the writes that failed open past bouncer's webhooks, re-judged")
	if code, ok := parse(fs, &usage, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bouncer audit: unexpected argument %q (audit reads the cluster; bouncer check reads files)\n", fs.Arg(0))
		return exitError
	}
	if *pageSize < 1 {
		fmt.Fprintf(stderr, "bouncer audit: --page-size %d: want 1 or more\n", *pageSize)
		return exitError
	}
	out, err := newOutput(*format, stdout, *verbose)
	if err != nil {
		fmt.Fprintln(stderr, "bouncer audit:", err)
		return exitError
	}
	p, source, err := policyfile.Resolve(*pol)
	if err != nil {
		fmt.Fprintln(stderr, "bouncer audit:", err)
		return exitError
	}
	for _, w := range p.Warnings {
		fmt.Fprintf(stderr, "bouncer audit: warning: policy %s: %s\n", source, w)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if len(logs) > 0 {
		if *apply {
			fmt.Fprintln(stderr, "bouncer audit: --apply writes the live audit's reports; with --audit-log, print them with -o report")
			return exitError
		}
		// The cluster is optional here: with access, each escape also says
		// whether its object still exists and still violates.
		c, err := connect(*kubeconfig, *kubeContext)
		if err != nil {
			if *kubeconfig != "" || *kubeContext != "" {
				fmt.Fprintln(stderr, "bouncer audit:", err)
				return exitError
			}
			c = nil
		}
		s, err := runAuditLog(ctx, p, logs, c, *format, stdout)
		if err != nil {
			fmt.Fprintln(stderr, "bouncer audit:", err)
			fmt.Fprintln(stderr, "bouncer audit: the audit log was not read whole; nothing is concluded")
			return exitError
		}
		if s.Violating > 0 {
			return exitViolations
		}
		return exitOK
	}
	c, err := connect(*kubeconfig, *kubeContext)
	if err != nil {
		fmt.Fprintln(stderr, "bouncer audit:", err)
		return exitError
	}
	a := &auditor{c: c, p: p, pageSize: *pageSize, now: time.Now(), out: out, progress: newProgress(stderr)}
	if *apply {
		if a.apply, err = newApplier(ctx, c, *pageSize); err != nil {
			fmt.Fprintln(stderr, "bouncer audit:", err)
			return exitError
		}
	}
	s, err := a.run(ctx)
	if err != nil {
		a.progress.done()
		fmt.Fprintln(stderr, "bouncer audit:", err)
		fmt.Fprintln(stderr, "bouncer audit: the cluster was not read whole; nothing is concluded and no report was deleted")
		return exitError
	}
	enf := a.lastEnforcement
	if err := out.finish(s, enf); err != nil {
		fmt.Fprintln(stderr, "bouncer audit:", err)
		return exitError
	}
	if s.Violating > 0 || !s.Enforced {
		return exitViolations
	}
	return exitOK
}

// parse parses the flags. Help that was asked for is output (stdout, exit
// 0); a usage error goes to stderr (exit 2), as with every bouncer command.
// usage is the flag set's output, buffered until it is known which.
func parse(fs *flag.FlagSet, usage *bytes.Buffer, args []string, stdout, stderr io.Writer) (int, bool) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return 0, true
	case errors.Is(err, flag.ErrHelp):
		_, _ = stdout.Write(usage.Bytes())
		return exitOK, false
	}
	_, _ = stderr.Write(usage.Bytes())
	return exitError, false
}
