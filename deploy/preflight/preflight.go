// Command preflight checks, before `make deploy-knative` registers any
// webhook, that the API server will be able to call the Knative Service: the
// API server calls the URL in the webhook configuration from outside the
// cluster network, over https only.
//
//	go run ./preflight knative [--kubectl kubectl] [--ca-bundle FILE] [--url URL]
//	    before the Service is applied: Knative's domain is external and its URLs are https
//	go run ./preflight url URL
//	    after it is Ready: its URL is https and its host resolves
//
// It exits 1 with a message that says which of these is missing.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "preflight:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: preflight knative [--kubectl K] [--ca-bundle FILE] [--url URL] | preflight url URL")
	}
	switch args[0] {
	case "knative":
		fs := flag.NewFlagSet("knative", flag.ContinueOnError)
		kubectl := fs.String("kubectl", "kubectl", "kubectl to read knative-serving's ConfigMaps with")
		ca := fs.String("ca-bundle", "", "the CA of your own certificate for the Service's domain, when Knative does not manage TLS")
		external := fs.String("url", "", "the Service's external https URL, when a load balancer of your own fronts Knative")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		domain, err := configMap(*kubectl, "config-domain")
		if err != nil {
			return err
		}
		network, err := configMap(*kubectl, "config-network")
		if err != nil {
			return err
		}
		return checkKnative(domain, network, *ca != "", *external)
	case "url":
		if len(args) != 2 {
			return fmt.Errorf("usage: preflight url URL")
		}
		return checkURL(args[1], net.DefaultResolver)
	}
	return fmt.Errorf("unknown check %q: want knative or url", args[0])
}

// configMap reads a ConfigMap's data in knative-serving; nil when absent.
func configMap(kubectl, name string) (map[string]string, error) {
	out, err := exec.Command(kubectl, "get", "configmap", "-n", "knative-serving", name, "-o", "json", "--ignore-not-found").Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = strings.TrimSpace(string(ee.Stderr))
		}
		return nil, fmt.Errorf("reading knative-serving/%s: %v %s", name, err, msg)
	}
	if len(strings.TrimSpace(string(out))) == 0 {
		return nil, nil
	}
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if err := json.Unmarshal(out, &cm); err != nil {
		return nil, fmt.Errorf("reading knative-serving/%s: %w", name, err)
	}
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	return cm.Data, nil
}

// clusterLocal is Knative's default domain since 1.8, svc.<cluster domain>.
func clusterLocal(domain string) bool {
	return domain == "svc.cluster.local" || strings.HasSuffix(domain, ".svc.cluster.local") || strings.HasSuffix(domain, ".cluster.local") || domain == "cluster.local"
}

// checkKnative judges Knative's configuration before anything is applied.
// domain and network are the data of knative-serving/config-domain and
// config-network (nil when the ConfigMap is absent).
func checkKnative(domain, network map[string]string, ownCA bool, externalURL string) error {
	if domain == nil && network == nil {
		return fmt.Errorf("no knative-serving/config-domain or config-network: is Knative Serving installed in this cluster?")
	}
	if externalURL != "" {
		// A load balancer of the operator's fronts the Service: its URL is
		// checked after the Service is Ready, like Knative's own.
		return nil
	}
	var external []string
	for _, d := range slices.Sorted(maps.Keys(domain)) {
		if d != "_example" && !clusterLocal(d) {
			external = append(external, d)
		}
	}
	if len(external) == 0 {
		return fmt.Errorf("the Knative domain is svc.cluster.local (its default since 1.8, knative-serving/config-domain sets no other): " +
			"the API server calls webhooks from outside the cluster network and cannot resolve it. " +
			"Configure an external domain in knative-serving/config-domain, with DNS for it pointing at an ingress the control plane can reach " +
			"(https://knative.dev/docs/serving/using-a-custom-domain/), or front the Service yourself and give KNATIVE_URL")
	}
	tls := strings.EqualFold(network["external-domain-tls"], "Enabled") || strings.EqualFold(network["auto-tls"], "Enabled")
	if !tls && !ownCA {
		return fmt.Errorf("knative serves %s over http (knative-serving/config-network: external-domain-tls is not Enabled), "+
			"and the API server calls webhooks over https only. Enable external-domain-tls with cert-manager "+
			"(https://knative.dev/docs/serving/encryption/external-domain-tls/), or serve your own certificate and give CA_BUNDLE "+
			"(its CA) or KNATIVE_URL", strings.Join(external, ", "))
	}
	return nil
}

// resolver is the part of net.Resolver the URL check uses.
type resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// checkURL judges the Service's URL before it is registered.
func checkURL(raw string, r resolver) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("the Service's URL %q is not a URL: is the Knative Service Ready?", raw)
	}
	if u.Scheme != "https" {
		return fmt.Errorf("the Service's URL %s is %s: the API server calls webhooks over https only; enable Knative's external-domain-tls, or front it with your own certificate and give KNATIVE_URL", raw, u.Scheme)
	}
	host := u.Hostname()
	if clusterLocal(host) {
		return fmt.Errorf("the Service's URL %s is cluster-local: the API server calls webhooks from outside the cluster network and cannot resolve it", raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addrs, err := r.LookupHost(ctx, host)
	if err != nil || len(addrs) == 0 {
		return fmt.Errorf("the Service's host %s does not resolve (%v): create the DNS record for Knative's domain, pointing at its ingress", host, err)
	}
	fmt.Printf("preflight: %s is https and resolves to %s\n", raw, strings.Join(addrs, ", "))
	return nil
}
