package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// DefaultCertPollInterval is how often the certificate files are read
// again. A renewal is served within one interval; the old certificate stays
// valid far longer than that (cert-manager renews at two thirds of its
// lifetime by default).
const DefaultCertPollInterval = 10 * time.Second

// certSource serves the key pair on disk and picks up rotations without a
// restart, the way cert-manager's own webhook reads its files: poll, read
// both files, compare their bytes with what is loaded, and swap in a new
// pair only when it parses and the key matches. A TLS handshake only loads
// a pointer: no file I/O and no lock on the handshake path.
//
// Reading the bytes, rather than watching modification times, is what makes
// a rotation safe to catch at any moment. The kubelet updates a Secret
// volume by writing a new timestamped directory and swapping the ..data
// symlink to it; a poll that reads the certificate before the swap and the
// key after it gets a mismatched pair, which fails to parse, so nothing is
// swapped and the next poll reads both anew.
type certSource struct {
	certFile, keyFile string
	interval          time.Duration
	log               *zap.Logger

	current           atomic.Pointer[tls.Certificate]
	lastCert, lastKey []byte // the bytes of the pair in current; only poll touches them
}

func newCertSource(certFile, keyFile string, interval time.Duration, log *zap.Logger) (*certSource, error) {
	s := &certSource{certFile: certFile, keyFile: keyFile, interval: interval, log: log}
	changed, err := s.poll()
	if err != nil {
		return nil, err
	}
	if !changed {
		return nil, fmt.Errorf("no TLS key pair loaded from %s, %s", certFile, keyFile)
	}
	return s, nil
}

// get is the tls.Config's GetCertificate.
func (s *certSource) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.current.Load(), nil
}

// run polls until ctx is done.
func (s *certSource) run(ctx context.Context) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.poll(); err != nil {
				// Keep serving the previous pair rather than none; a half-written
				// rotation is read again at the next tick.
				s.log.Warn("TLS certificate not reloaded; serving the previous one", zap.Error(err))
			}
		}
	}
}

// poll reads both files and swaps in the pair when their bytes changed. It
// reports whether it swapped.
func (s *certSource) poll() (bool, error) {
	cert, err := os.ReadFile(s.certFile)
	if err != nil {
		return false, fmt.Errorf("reading TLS certificate: %w", err)
	}
	key, err := os.ReadFile(s.keyFile)
	if err != nil {
		return false, fmt.Errorf("reading TLS key: %w", err)
	}
	if bytes.Equal(cert, s.lastCert) && bytes.Equal(key, s.lastKey) {
		return false, nil
	}
	pair, err := tls.X509KeyPair(cert, key)
	if err != nil {
		return false, fmt.Errorf("loading TLS key pair %s, %s: %w", s.certFile, s.keyFile, err)
	}
	if pair.Leaf == nil {
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return false, err
		}
	}
	s.current.Store(&pair)
	s.lastCert, s.lastKey = cert, key
	s.log.Info("TLS certificate loaded", zap.String("serial", pair.Leaf.SerialNumber.Text(16)),
		zap.Time("notAfter", pair.Leaf.NotAfter))
	return true, nil
}
