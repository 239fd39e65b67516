package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"bouncer.dev/bouncer/internal/auditconfig"
	"bouncer.dev/bouncer/internal/policyfile"
)

const auditConfigNotes = `auditconfig policy prints the audit policy (--audit-policy-file) that lets
bouncer re-judge a write that failed open past its webhooks: RequestResponse
for create, update and patch of the covered resources and their status, None
for the rest. An API server has one audit policy for all its backends and the
first matching rule wins: where you have one, put the first rule before yours.

auditconfig webhook prints the kubeconfig of the audit webhook backend
(--audit-webhook-config-file), which posts EventLists to bouncer's /audit.
/audit accepts only authenticated posts: a bearer token (--token-file, the
same token bouncer reads from BOUNCER_AUDIT_TOKEN or --audit-token-file), or
a client certificate where bouncer serve terminates TLS (--audit-client-ca).`

func runAuditConfig(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagsWithNotes("auditconfig", "auditconfig policy [--policy FILE] | auditconfig webhook --url URL (--token-file FILE | --client-cert FILE --client-key FILE) [--ca-bundle FILE]",
		"bouncer auditconfig webhook --url https://bouncer.example.com/audit --token-file /etc/kubernetes/bouncer-audit.token --ca-bundle ca.crt",
		auditConfigNotes, stderr)
	pol := fs.String("policy", "", "policy file (default $"+policyfile.EnvVar+", else the embedded default)")
	u := fs.String("url", "", "bouncer's https /audit URL")
	ca := fs.String("ca-bundle", "", "PEM file of the CA that signed bouncer's certificate (omit for publicly trusted URLs such as Cloud Run)")
	token := fs.String("token-file", "", "the file, on the API server's host, holding the bearer token /audit accepts")
	cert := fs.String("client-cert", "", "the API server's client certificate file, for bouncer serve --audit-client-ca")
	key := fs.String("client-key", "", "its key file")
	pos, code, ok := parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 || (pos[0] != "policy" && pos[0] != "webhook") {
		fmt.Fprintf(stderr, "bouncer auditconfig: name what to print: policy or webhook (got %q)\n", strings.Join(pos, " "))
		return exitUsage
	}
	var out []byte
	var err error
	if pos[0] == "policy" {
		p, _, ok := loadPolicy("auditconfig", *pol, stderr)
		if !ok {
			return exitUsage
		}
		out, err = auditconfig.Policy(p)
	} else {
		o := auditconfig.Options{URL: *u, TokenFile: *token, ClientCert: *cert, ClientKey: *key}
		if *ca != "" {
			// Never nil once given: an empty file is refused, not ignored.
			if o.CABundle, err = os.ReadFile(*ca); err == nil && o.CABundle == nil {
				o.CABundle = []byte{}
			}
			if err != nil {
				fmt.Fprintln(stderr, "bouncer auditconfig: --ca-bundle:", err)
				return exitUsage
			}
		}
		out, err = auditconfig.Kubeconfig(o)
	}
	if err != nil {
		fmt.Fprintln(stderr, "bouncer auditconfig:", auditOptionFlags.Replace(err.Error()))
		return exitUsage
	}
	_, _ = stdout.Write(out)
	return exitOK
}

// auditOptionFlags names auditconfig.Options' fields as this command's flags.
var auditOptionFlags = strings.NewReplacer(
	"Options.TokenFile", "--token-file",
	"Options.ClientCert", "--client-cert",
	"Options.ClientKey", "--client-key",
	"Options.CABundle", "--ca-bundle",
	"Options.URL", "--url",
)
