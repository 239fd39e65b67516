package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// kube reads the cluster with the user's kubectl.
type kube string

// get reads one object as JSON into v; found is false when it is absent.
func (k kube) get(v any, args ...string) (found bool, err error) {
	out, err := exec.Command(string(k), append(append([]string{"get"}, args...), "-o", "json", "--ignore-not-found")...).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = strings.TrimSpace(string(ee.Stderr))
		}
		return false, fmt.Errorf("kubectl get %s: %v %s", strings.Join(args, " "), err, msg)
	}
	if len(strings.TrimSpace(string(out))) == 0 {
		return false, nil
	}
	if err := json.Unmarshal(out, v); err != nil {
		return false, fmt.Errorf("kubectl get %s: %w", strings.Join(args, " "), err)
	}
	return true, nil
}

// certificate is the part of a cert-manager Certificate the checks read.
type certificate struct {
	Spec struct {
		IsCA       bool   `json:"isCA"`
		SecretName string `json:"secretName"`
	} `json:"spec"`
	Status struct {
		Conditions []struct {
			Type, Status, Message string
		} `json:"conditions"`
	} `json:"status"`
}

// injectedCA checks the Certificate that INJECT_CA_FROM names and returns
// the CA the injector will write: the Certificate must exist, be Ready, and
// be a CA. A leaf would put itself in caBundle, and the first renewal, with
// a new key, would turn every call into a silent fail-open.
func injectedCA(k kube, ref string) ([]byte, error) {
	ns, name, ok := strings.Cut(ref, "/")
	if !ok || ns == "" || name == "" {
		return nil, fmt.Errorf("INJECT_CA_FROM=%q: want NAMESPACE/NAME of a cert-manager Certificate", ref)
	}
	var c certificate
	found, err := k.get(&c, "certificates.cert-manager.io", "-n", ns, name)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("INJECT_CA_FROM=%s: no such cert-manager Certificate", ref)
	}
	if !c.Spec.IsCA {
		return nil, fmt.Errorf("INJECT_CA_FROM=%s is not a CA (spec.isCA is false): the injector would put this leaf in caBundle, "+
			"and its first renewal, with a new key, would make every call fail open; name the CA Certificate that issues Knative's certificates", ref)
	}
	ready := false
	for _, cond := range c.Status.Conditions {
		if cond.Type == "Ready" {
			if cond.Status != "True" {
				return nil, fmt.Errorf("INJECT_CA_FROM=%s is not Ready: %s", ref, cond.Message)
			}
			ready = true
		}
	}
	if !ready {
		return nil, fmt.Errorf("INJECT_CA_FROM=%s is not Ready yet", ref)
	}
	var secret struct {
		Data map[string]string `json:"data"`
	}
	if found, err := k.get(&secret, "secret", "-n", ns, c.Spec.SecretName); err != nil || !found {
		return nil, fmt.Errorf("INJECT_CA_FROM=%s: its Secret %s/%s cannot be read (%v)", ref, ns, c.Spec.SecretName, err)
	}
	// The injector takes ca.crt; a self-signed CA's is its own certificate.
	ca, err := base64.StdEncoding.DecodeString(secret.Data["ca.crt"])
	if err != nil || len(ca) == 0 {
		return nil, fmt.Errorf("INJECT_CA_FROM=%s: its Secret holds no ca.crt", ref)
	}
	return ca, nil
}

// privateIssuer says whether a cert-manager issuer's spec signs with a CA
// of its own (ca, selfSigned, vault, venafi): certificates the API server
// does not trust unless caBundle holds that CA.
func privateIssuer(spec map[string]any) (kind string, private bool) {
	for _, k := range []string{"ca", "selfSigned", "vault", "venafi"} {
		if _, ok := spec[k]; ok {
			return k, true
		}
	}
	return "", false
}

// checkIssuer refuses a deployment without CA_BUNDLE or INJECT_CA_FROM
// whose Knative certificates come from a private CA: the API server would
// refuse the certificate, and under failurePolicy Ignore admit every write
// unjudged without a word.
func checkIssuer(k kube) error {
	cm, err := k.configMap("config-certmanager")
	if err != nil || cm == nil || cm["issuerRef"] == "" {
		return err // no cert-manager integration configured: Knative's TLS is the operator's
	}
	var ref struct{ Kind, Name string }
	if err := yaml.Unmarshal([]byte(cm["issuerRef"]), &ref); err != nil {
		return fmt.Errorf("knative-serving/config-certmanager issuerRef: %w", err)
	}
	var issuer struct {
		Spec map[string]any `json:"spec"`
	}
	// cert-manager reads a missing kind as Issuer, in the namespace of the
	// Certificate: Knative makes it in the Service's, bouncer-system.
	args := []string{"clusterissuers.cert-manager.io", ref.Name}
	where := "ClusterIssuer " + ref.Name
	if ref.Kind == "" || ref.Kind == "Issuer" {
		args = []string{"issuers.cert-manager.io", "-n", "bouncer-system", ref.Name}
		where = "Issuer bouncer-system/" + ref.Name
	}
	found, err := k.get(&issuer, args...)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("knative-serving/config-certmanager names %s, which does not exist: Knative could not issue the Service's certificate", where)
	}
	if kind, private := privateIssuer(issuer.Spec); private {
		return fmt.Errorf("knative issues its certificates from %s, a private CA (%s): the API server does not trust it, "+
			"and under failurePolicy Ignore every write would be admitted unjudged without a word. Give INJECT_CA_FROM=NAMESPACE/NAME "+
			"of the CA Certificate behind it (deploy/knative/cert-manager), or CA_BUNDLE", where, kind)
	}
	return nil
}

// checkTLS verifies the certificate served at u against roots (nil: the
// system's), for u's host, as the API server's webhook client will.
func checkTLS(u *url.URL, roots []byte) error {
	cfg := &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	if roots != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(roots) {
			return fmt.Errorf("the CA given for %s holds no PEM certificate", u.Host)
		}
		cfg.RootCAs = pool
	}
	port := u.Port()
	if port == "" {
		port = "443"
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", net.JoinHostPort(u.Hostname(), port), cfg)
	if err != nil {
		which := "the system's roots (no CA_BUNDLE or INJECT_CA_FROM)"
		if roots != nil {
			which = "the CA the webhook configurations will hold"
		}
		return fmt.Errorf("the certificate served at %s does not verify against %s: %v. The API server would refuse it, "+
			"and under failurePolicy Ignore admit every write unjudged", u.Host, which, err)
	}
	return conn.Close()
}
