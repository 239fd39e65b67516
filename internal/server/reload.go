package server

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"
)

// reloader serves the certificate on disk, picking up rotations (by
// cert-manager or a mounted Secret) without a restart.
type reloader struct {
	certFile, keyFile string
	log               *zap.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	modTime time.Time
	checked time.Time
}

func newReloader(certFile, keyFile string, log *zap.Logger) (*reloader, error) {
	r := &reloader{certFile: certFile, keyFile: keyFile, log: log}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *reloader) load() error {
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("loading TLS key pair %s, %s: %w", r.certFile, r.keyFile, err)
	}
	st, err := os.Stat(r.certFile)
	if err != nil {
		return err
	}
	r.cert, r.modTime = &cert, st.ModTime()
	return nil
}

// get checks the files at most every 10 seconds, so a handshake costs no I/O.
func (r *reloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) < 10*time.Second {
		return r.cert, nil
	}
	r.checked = time.Now()
	if st, err := os.Stat(r.certFile); err == nil && !st.ModTime().Equal(r.modTime) {
		if err := r.load(); err != nil {
			// Keep serving the old certificate rather than none.
			r.log.Error("TLS certificate reload failed; keeping the previous one", zap.Error(err))
		} else {
			r.log.Info("TLS certificate reloaded")
		}
	}
	return r.cert, nil
}
