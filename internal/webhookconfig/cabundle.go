package webhookconfig

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"time"
)

// CheckCABundle refuses a caBundle that is not one or more PEM
// certificates. A wrong file would do quiet harm in either direction: a
// private key would land in a cluster-scoped object that anyone who may
// read webhook configurations can read, and a bundle that trusts nothing
// makes every call fail, which under failurePolicy Ignore admits every
// write unjudged. The errors say what is wrong and where, never the
// file's content.
func CheckCABundle(b []byte, now time.Time) error {
	rest := b
	n := 0
	for {
		block, after := pem.Decode(rest)
		if block == nil {
			break
		}
		n++
		offset := len(b) - len(rest)
		switch {
		case strings.Contains(block.Type, "PRIVATE KEY"):
			return fmt.Errorf("PEM block %d (at byte %d) is a %s: a private key must never go into a webhook configuration, which everyone who may read them can read; give the CA's certificate", n, offset, block.Type)
		case block.Type != "CERTIFICATE":
			return fmt.Errorf("PEM block %d (at byte %d) is a %s, not a CERTIFICATE", n, offset, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return fmt.Errorf("PEM block %d (at byte %d) is no valid certificate: %v", n, offset, err)
		}
		if now.After(c.NotAfter) {
			return fmt.Errorf("certificate %d (%s) expired on %s: the API server would trust nothing with it, and every call would fail open",
				n, c.Subject.CommonName, c.NotAfter.UTC().Format(time.RFC3339))
		}
		rest = after
	}
	if t := bytes.TrimSpace(rest); len(t) > 0 {
		if n == 0 {
			if len(bytes.TrimSpace(b)) == 0 {
				return fmt.Errorf("is empty: want one or more PEM certificates")
			}
			return fmt.Errorf("holds no PEM certificate: want one or more -----BEGIN CERTIFICATE----- blocks")
		}
		return fmt.Errorf("holds %d bytes that are not PEM after certificate %d (at byte %d)", len(t), n, len(b)-len(rest))
	}
	if n == 0 {
		return fmt.Errorf("is empty: want one or more PEM certificates")
	}
	return nil
}
