// Command preflight checks, before `make deploy-knative` registers any
// webhook, that the API server will be able to call the Knative Service: the
// API server calls the URL in the webhook configuration from outside the
// cluster network, over https only.
//
//	go run ./preflight knative [--kubectl kubectl] [--ca-bundle FILE | --inject-ca-from NS/CERT] [--url URL]
//	    before the Service is applied: Knative's domain is external, its URLs
//	    are https, and a CA the API server does not trust is given
//	go run ./preflight url [--kubectl kubectl] [--ca-bundle FILE | --inject-ca-from NS/CERT] URL
//	    after it is Ready: its URL is https, its host resolves, and the
//	    certificate served there verifies against the CA the webhook
//	    configurations will hold (the system's roots when none is given)
//
// It exits 1 with a message that says which of these is missing.
package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
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
		return fmt.Errorf("usage: preflight knative [--kubectl K] [--ca-bundle FILE | --inject-ca-from NS/CERT] [--url URL] | preflight url [--kubectl K] [--ca-bundle FILE | --inject-ca-from NS/CERT] URL")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	kubectl := fs.String("kubectl", "kubectl", "kubectl to read the cluster with")
	ca := fs.String("ca-bundle", "", "the CA of your own certificate for the Service's domain, when Knative does not manage TLS")
	inject := fs.String("inject-ca-from", "", "the cert-manager CA Certificate NAMESPACE/NAME whose CA the injector keeps in the webhook configurations, when Knative's certificates come from a private CA")
	external := fs.String("url", "", "the Service's external https URL, when a load balancer of your own fronts Knative")
	tlsWait := fs.Duration("tls-wait", time.Minute, "how long the certificate served at the URL may take to verify: an ingress loads a just-issued certificate a moment after the Service is Ready")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *ca != "" && *inject != "" {
		return fmt.Errorf("give CA_BUNDLE or INJECT_CA_FROM, not both: the webhook configurations hold one CA")
	}
	k := kube(*kubectl)
	switch args[0] {
	case "knative":
		domain, err := k.configMap("config-domain")
		if err != nil {
			return err
		}
		network, err := k.configMap("config-network")
		if err != nil {
			return err
		}
		// INJECT_CA_FROM makes the API server trust Knative's certificate;
		// it does not make Knative serve https: only CA_BUNDLE (a
		// certificate of the operator's) stands in for external-domain-tls.
		if err := checkKnative(domain, network, *ca != "", *external); err != nil {
			return err
		}
		if *inject != "" {
			_, err := injectedCA(k, *inject)
			return err
		}
		if *ca == "" && *external == "" {
			return checkIssuer(k)
		}
		return nil
	case "url":
		if fs.NArg() != 1 {
			return fmt.Errorf("usage: preflight url [--kubectl K] [--ca-bundle FILE | --inject-ca-from NS/CERT] URL")
		}
		var roots []byte
		switch {
		case *ca != "":
			b, err := os.ReadFile(*ca)
			if err != nil {
				return err
			}
			roots = b
		case *inject != "":
			b, err := injectedCA(k, *inject)
			if err != nil {
				return err
			}
			roots = b
		}
		return checkURL(fs.Arg(0), net.DefaultResolver, roots, *tlsWait)
	}
	return fmt.Errorf("unknown check %q: want knative or url", args[0])
}

// configMap reads a ConfigMap's data in knative-serving; nil when absent.
func (k kube) configMap(name string) (map[string]string, error) {
	var cm struct {
		Data map[string]string `json:"data"`
	}
	found, err := k.get(&cm, "configmap", "-n", "knative-serving", name)
	if err != nil || !found {
		return nil, err
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

// checkURL judges the Service's URL before it is registered: roots is the
// CA the webhook configurations will hold (nil: the system's roots, as the
// API server uses when caBundle is empty). The certificate is retried for
// tlsWait.
func checkURL(raw string, r resolver, roots []byte, tlsWait time.Duration) error {
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
	deadline := time.Now().Add(tlsWait)
	for {
		err := checkTLS(u, roots)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(2 * time.Second)
	}
	fmt.Printf("preflight: %s is https, resolves to %s, and its certificate verifies\n", raw, strings.Join(addrs, ", "))
	return nil
}
