package escapes

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// Auth is who may post to /audit. On Cloud Run the endpoint is public, and
// a forged EventList would raise false alarms, so a post must carry the
// bearer token that the audit webhook kubeconfig names, or, where bouncer
// serve terminates TLS itself, a client certificate its client CA verified.
// With neither configured, /audit accepts nothing.
type Auth struct {
	// Token returns the bearer token, read anew for each post so that it
	// can be rotated without a restart; nil when none is configured.
	Token func() ([]byte, error)
	// ClientCertificates is true when the server verifies client
	// certificates against a CA given for /audit.
	ClientCertificates bool
}

// TokenFile reads the token from a file, as a Secret mounts it.
func TokenFile(path string) func() ([]byte, error) {
	return func() ([]byte, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		return []byte(strings.TrimSpace(string(b))), nil
	}
}

// TokenValue is a token given in the environment, as Cloud Run exposes a
// Secret Manager secret.
func TokenValue(v string) func() ([]byte, error) {
	b := []byte(strings.TrimSpace(v))
	return func() ([]byte, error) { return b, nil }
}

// check returns 0 for an authenticated post, else the status and why.
func (a Auth) check(r *http.Request) (int, string) {
	if r.TLS != nil && a.ClientCertificates && len(r.TLS.VerifiedChains) > 0 {
		return 0, ""
	}
	if a.Token == nil {
		if a.ClientCertificates {
			return http.StatusUnauthorized, "/audit needs a client certificate its CA verifies"
		}
		return http.StatusServiceUnavailable, "/audit has no credentials configured (BOUNCER_AUDIT_TOKEN, BOUNCER_AUDIT_TOKEN_FILE, " +
			"--audit-token-file or --audit-client-ca), so it accepts no posts"
	}
	want, err := a.Token()
	if err != nil || len(want) == 0 {
		return http.StatusServiceUnavailable, fmt.Sprintf("/audit cannot read its token: %v", errOrEmpty(err))
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), want) != 1 {
		return http.StatusUnauthorized, "/audit needs the bearer token its audit webhook kubeconfig names"
	}
	return 0, ""
}

func errOrEmpty(err error) string {
	if err != nil {
		return err.Error()
	}
	return "it is empty"
}

// Environment variables that configure the token where no flag can: the
// Functions Framework's local run and Cloud Run (which can expose a Secret
// Manager secret as a variable or a file).
const (
	EnvToken     = "BOUNCER_AUDIT_TOKEN"
	EnvTokenFile = "BOUNCER_AUDIT_TOKEN_FILE"
)

// FromEnv reads the token's configuration from the environment:
// BOUNCER_AUDIT_TOKEN_FILE, else BOUNCER_AUDIT_TOKEN; none configures no
// token, and /audit then accepts nothing.
func FromEnv(getenv func(string) string) Auth {
	if f := getenv(EnvTokenFile); f != "" {
		return Auth{Token: TokenFile(f)}
	}
	if v := getenv(EnvToken); v != "" {
		return Auth{Token: TokenValue(v)}
	}
	return Auth{}
}
