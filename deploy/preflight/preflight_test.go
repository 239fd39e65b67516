package main

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"bouncer.dev/bouncer/internal/testpki"
)

func TestTheKnativeCheckNamesWhatIsMissing(t *testing.T) {
	tests := []struct {
		name            string
		domain, network map[string]string
		ownCA           bool
		externalURL     string
		want            string // "" for no error
	}{
		{"Knative absent", nil, nil, false, "", "is Knative Serving installed"},
		{"the default domain is cluster-local", map[string]string{"_example": "..."}, map[string]string{}, false, "", "the Knative domain is svc.cluster.local"},
		{"an explicitly cluster-local domain", map[string]string{"svc.cluster.local": ""}, map[string]string{}, false, "", "the Knative domain is svc.cluster.local"},
		{"an external domain without TLS", map[string]string{"run.example.com": ""}, map[string]string{"external-domain-tls": "Disabled"}, false, "", "knative serves run.example.com over http"},
		{"an external domain with Knative's TLS", map[string]string{"run.example.com": ""}, map[string]string{"external-domain-tls": "Enabled"}, false, "", ""},
		{"the older auto-tls key counts", map[string]string{"run.example.com": ""}, map[string]string{"auto-tls": "Enabled"}, false, "", ""},
		{"an external domain with your own certificate", map[string]string{"run.example.com": ""}, map[string]string{}, true, "", ""},
		{"a URL of your own skips the cluster's settings", map[string]string{}, map[string]string{}, false, "https://hooks.example.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkKnative(tt.domain, tt.network, tt.ownCA, tt.externalURL)
			if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

type fakeDNS map[string][]string

func (f fakeDNS) LookupHost(_ context.Context, host string) ([]string, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

func TestTheURLCheckNamesWhatIsMissing(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	servedCA := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	// Every httptest server serves the same certificate: another CA is made.
	other, err := testpki.NewCA("another CA")
	if err != nil {
		t.Fatal(err)
	}
	otherCA := other.PEM
	u, _ := url.Parse(srv.URL)
	dns := fakeDNS{"bouncer.bouncer-system.run.example.com": {"203.0.113.7"}, u.Hostname(): {u.Hostname()}}
	tests := []struct {
		name, url string
		roots     []byte
		want      string
	}{
		{"an https URL that resolves, served with a certificate the given CA verifies", srv.URL, servedCA, ""},
		{"a certificate that the given CA does not verify", srv.URL, otherCA, "does not verify against the CA the webhook configurations will hold"},
		{"a private certificate with no CA given", srv.URL, nil, "does not verify against the system's roots"},
		{"a CA file that holds no certificate", srv.URL, []byte("not PEM"), "holds no PEM certificate"},
		{"an http URL", "http://bouncer.bouncer-system.run.example.com", nil, "is http: the API server calls webhooks over https only"},
		{"a cluster-local URL", "https://bouncer.bouncer-system.svc.cluster.local", nil, "is cluster-local"},
		{"a host without DNS", "https://bouncer.bouncer-system.nowhere.example.com", nil, "does not resolve"},
		{"no URL yet", "", nil, "is not a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkURL(tt.url, dns, tt.roots, 0)
			if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestIssuersThatSignWithACAOfTheirOwnArePrivate(t *testing.T) {
	tests := []struct {
		name    string
		spec    map[string]any
		private bool
	}{
		{"a CA issuer", map[string]any{"ca": map[string]any{"secretName": "ca"}}, true},
		{"a self-signed issuer", map[string]any{"selfSigned": map[string]any{}}, true},
		{"a Vault issuer", map[string]any{"vault": map[string]any{}}, true},
		{"an ACME issuer (Let's Encrypt), publicly trusted", map[string]any{"acme": map[string]any{"server": "https://acme-v02.api.letsencrypt.org/directory"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, got := privateIssuer(tt.spec); got != tt.private {
				t.Errorf("private = %v, want %v", got, tt.private)
			}
		})
	}
}
