//go:build e2e

package e2e

import (
	"strings"
	"testing"

	"bouncer.dev/bouncer/internal/webhookconfig"
)

func TestTheAPIServerAcceptsTheGeneratedConfigurationsAndRejectsABrokenOne(t *testing.T) {
	needWebhook(t, "the generated webhook configurations")
	rendered, err := env.RenderWebhooks(env.URL, webhookconfig.DefaultTimeoutSeconds)
	if err != nil {
		t.Fatal(err)
	}
	if _, errOut, err := env.KIn(rendered, "apply", "--dry-run=server", "-f", "-"); err != nil {
		t.Fatalf("the API server refused the generated configurations: %s", errOut)
	}
	tests := []struct {
		name, from, to, want string
	}{
		{"a timeout over 30 seconds", "timeoutSeconds: 3", "timeoutSeconds: 31", "timeoutSeconds"},
		{"a side effect class the API server does not know", "sideEffects: None", "sideEffects: Maybe", "sideEffects"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			broken := strings.ReplaceAll(rendered, tt.from, tt.to)
			if broken == rendered {
				t.Fatalf("%q is not in the rendered configurations", tt.from)
			}
			_, errOut, err := env.KIn(broken, "apply", "--dry-run=server", "-f", "-")
			if err == nil || !strings.Contains(errOut, tt.want) {
				t.Errorf("err=%v, output %q; want a refusal naming %s", err, errOut, tt.want)
			}
		})
	}
}
