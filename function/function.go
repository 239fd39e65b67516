// Package function registers bouncer's functions with the Functions
// Framework: validate, mutate, audit (the API server's audit trail, for what
// escaped; internal/escapes) and healthz. It holds no logic; the
// decision lives in internal/policy, its answer in internal/verdict, and the HTTP handling in
// internal/admission, which `bouncer serve` uses too.
//
// The policy comes from $BOUNCER_POLICY, else the embedded default. A bad
// policy stops the process at start-up, with the error naming the field,
// rather than serving something the operator did not write.
package function

import (
	"fmt"
	"os"

	"bouncer.dev/bouncer/internal/admission"
	"bouncer.dev/bouncer/internal/escapes"
	"bouncer.dev/bouncer/internal/logging"
	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/policyfile"
	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"go.uber.org/zap"
)

func init() {
	p, source, err := policyfile.Resolve("")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bouncer:", err)
		os.Exit(2)
	}
	log := logging.New(os.Stdout)
	log.Info("policy loaded", zap.String("policy", source))
	for _, w := range p.Warnings {
		log.Warn("policy warning", zap.String("policy", source), zap.String("warning", w))
	}
	functions.HTTP("validate", admission.New(p, policy.Validation, log).ServeHTTP)
	functions.HTTP("mutate", admission.New(p, policy.Mutation, log).ServeHTTP)
	// audit accepts only posts with the token of BOUNCER_AUDIT_TOKEN or
	// BOUNCER_AUDIT_TOKEN_FILE; without one it refuses everything.
	auth := escapes.FromEnv(os.Getenv)
	if auth.Token == nil {
		log.Info("audit accepts no posts: set " + escapes.EnvToken + " or " + escapes.EnvTokenFile)
	}
	functions.HTTP("audit", escapes.New(p, log, nil, auth).ServeHTTP)
	functions.HTTP("healthz", admission.Healthz)
}
