package framework

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"

	"bouncer.dev/bouncer/internal/testpki"
)

// CA is a throwaway certificate authority for the local provider, whose
// certificates are written as files for the control plane's flags.
type CA struct {
	*testpki.CA
	CertPEM string // path of the CA certificate file
}

// NewCA creates a CA and writes its certificate to dir/ca.crt.
func NewCA(dir string) (*CA, error) {
	ca, err := testpki.NewCA("bouncer-e2e-ca")
	if err != nil {
		return nil, err
	}
	c := &CA{CA: ca, CertPEM: filepath.Join(dir, "ca.crt")}
	return c, os.WriteFile(c.CertPEM, ca.PEM, 0o600)
}

// Serving issues a serving certificate for 127.0.0.1 and localhost, plus
// dnsNames, writing name.crt and name.key into dir.
func (ca *CA) Serving(dir, name string, dnsNames ...string) (certFile, keyFile string, err error) {
	c, k, err := ca.CA.Serving(name, dnsNames...)
	if err != nil {
		return "", "", err
	}
	return writePair(dir, name, c, k)
}

// Client issues a client certificate for the user cn in the groups orgs,
// writing name.crt and name.key into dir.
func (ca *CA) Client(dir, name, cn string, orgs ...string) (certFile, keyFile string, err error) {
	c, k, err := ca.CA.Client(cn, orgs...)
	if err != nil {
		return "", "", err
	}
	return writePair(dir, name, c, k)
}

func writePair(dir, name string, certPEM, keyPEM []byte) (certFile, keyFile string, err error) {
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, os.WriteFile(keyFile, keyPEM, 0o600)
}

// ServiceAccountKeys writes an RSA key pair for service account tokens.
func ServiceAccountKeys(dir string) (pub, priv string, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", "", err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return "", "", err
	}
	pub, priv = filepath.Join(dir, "sa.pub"), filepath.Join(dir, "sa.key")
	if err := os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o600); err != nil {
		return "", "", err
	}
	return pub, priv, os.WriteFile(priv, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
}
