package main

import (
	"fmt"
	"io"
	"os"

	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/webhookconfig"
)

func runWebhookConfig(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("webhookconfig", "webhookconfig --url URL | --service NS/NAME[:PORT] [--ca-bundle FILE] [--timeout N] [--policy FILE]",
		"bouncer webhookconfig --url https://bouncer-abc123-ew.a.run.app | kubectl apply -f -", stderr)
	u := fs.String("url", "", "the service's https base URL; /validate and /mutate are appended")
	svc := fs.String("service", "", "in-cluster Service NAMESPACE/NAME[:PORT] instead of --url, for bouncer run as a plain Deployment")
	ca := fs.String("ca-bundle", "", "PEM file of the CA that signed the service's certificate (omit for publicly trusted URLs such as Cloud Run)")
	timeout := fs.Int("timeout", webhookconfig.DefaultTimeoutSeconds, "timeoutSeconds for each webhook, 1 to 30")
	pol := fs.String("policy", "", "policy file (default $"+policy.EnvVar+", else the embedded default)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bouncer webhookconfig: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	p, _, err := policy.Resolve(*pol)
	if err != nil {
		fmt.Fprintln(stderr, "bouncer webhookconfig:", err)
		return exitUsage
	}
	o := webhookconfig.Options{URL: *u, Service: *svc, TimeoutSeconds: int32(*timeout)}
	if *timeout < 1 || *timeout > 30 {
		fmt.Fprintf(stderr, "bouncer webhookconfig: --timeout %d is out of range: the API server accepts 1 to 30 seconds\n", *timeout)
		return exitUsage
	}
	if *ca != "" {
		if o.CABundle, err = os.ReadFile(*ca); err != nil {
			fmt.Fprintln(stderr, "bouncer webhookconfig: --ca-bundle:", err)
			return exitUsage
		}
	}
	out, err := webhookconfig.Render(p, o)
	if err != nil {
		fmt.Fprintln(stderr, "bouncer webhookconfig:", err)
		return exitUsage
	}
	_, _ = stdout.Write(out)
	return exitOK
}
