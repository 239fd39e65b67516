package main

import (
	"context"
	"errors"
	"strings"
	"testing"
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
	dns := fakeDNS{"bouncer.bouncer-system.run.example.com": {"203.0.113.7"}}
	tests := []struct {
		name, url, want string
	}{
		{"an https URL that resolves", "https://bouncer.bouncer-system.run.example.com", ""},
		{"an http URL", "http://bouncer.bouncer-system.run.example.com", "is http: the API server calls webhooks over https only"},
		{"a cluster-local URL", "https://bouncer.bouncer-system.svc.cluster.local", "is cluster-local"},
		{"a host without DNS", "https://bouncer.bouncer-system.nowhere.example.com", "does not resolve"},
		{"no URL yet", "", "is not a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkURL(tt.url, dns)
			if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
