// Package function registers bouncer's admission functions with the
// Functions Framework: validate, mutate and healthz. It holds no logic; the
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
	functions.HTTP("healthz", admission.Healthz)
}
