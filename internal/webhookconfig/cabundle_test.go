package webhookconfig

import (
	"strings"
	"testing"
	"time"

	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/testpki"
)

func TestACABundleMustBeOneOrMorePEMCertificates(t *testing.T) {
	ca, err := testpki.NewCA("bouncer-test-ca")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := testpki.NewCA("another-ca")
	leaf, key, err := ca.Serving("bouncer")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tests := []struct {
		name   string
		bundle string
		at     time.Time
		want   string // "" means accepted
	}{
		{"one CA certificate is accepted", string(ca.PEM), now, ""},
		{"two CA certificates, during a rotation, are accepted", string(ca.PEM) + string(other.PEM), now, ""},
		{"a leaf certificate is accepted: the API server trusts what the bundle holds", string(leaf), now, ""},
		{"trailing white space is accepted", string(ca.PEM) + "\n\n", now, ""},
		{"a private key is refused, naming it and never printing it", string(key), now, "PEM block 1 (at byte 0) is a EC PRIVATE KEY: a private key must never go into a webhook configuration"},
		{"a certificate followed by its key is refused at the key", string(leaf) + string(key), now, "PEM block 2 (at byte "},
		{"an empty file is refused", "", now, "is empty: want one or more PEM certificates"},
		{"a file of white space is refused", " \n\t\n", now, "is empty: want one or more PEM certificates"},
		{"other text is refused", "this is my CA, trust me\n", now, "holds no PEM certificate"},
		{"text after the certificates is refused", string(ca.PEM) + "garbage", now, "holds 7 bytes that are not PEM after certificate 1"},
		{"a PEM block of another type is refused", "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", now, "is a CERTIFICATE REQUEST, not a CERTIFICATE"},
		{"a CERTIFICATE block that is no certificate is refused", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", now, "PEM block 1 (at byte 0) is no valid certificate"},
		{"an expired certificate is refused: it would trust nothing", string(ca.PEM), now.Add(48 * time.Hour), "certificate 1 (bouncer-test-ca) expired on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckCABundle([]byte(tt.bundle), tt.at)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("err = %v, want %q", err, tt.want)
			case err != nil && strings.Contains(err.Error(), "MHc"):
				t.Errorf("the error carries the key's content: %v", err)
			}
		})
	}
}

func TestAServiceReferenceNeedsToSayWhereItsCAComesFrom(t *testing.T) {
	ca, _ := testpki.NewCA("bouncer-test-ca")
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"a Service without a CA is refused: the system roots never trust it", Options{Service: "bouncer-system/bouncer"}, "Options.Service needs the CA that verifies the Service's certificate"},
		{"a Service with a CA bundle is accepted", Options{Service: "bouncer-system/bouncer", CABundle: ca.PEM}, ""},
		{"a Service with cert-manager's injector is accepted", Options{Service: "bouncer-system/bouncer", InjectCAFrom: "bouncer-system/bouncer-ca"}, ""},
		{"a Service whose CA another injector fills is accepted when said so", Options{Service: "bouncer-system/bouncer", CAInjectedExternally: true}, ""},
		{"an external injector and a bundle contradict each other", Options{Service: "bouncer-system/bouncer", CAInjectedExternally: true, CABundle: ca.PEM}, "give it without Options.CABundle and Options.InjectCAFrom"},
		{"a public URL needs no CA", Options{URL: "https://bouncer-abc123-ew.a.run.app"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Build(policy.Default(), tt.o)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
