// Package server runs bouncer's handlers as a production HTTP server:
// timeouts on every phase, optional TLS with certificate reload, and a
// graceful shutdown on SIGTERM in which in-flight reviews finish. The
// Functions Framework's own server has none of these.
package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"go.uber.org/zap"
)

// Config is what `bouncer serve` takes from its flags.
type Config struct {
	Addr            string
	TLSCert, TLSKey string
	// CertPollInterval is how often the TLS files are read again; 0 means
	// DefaultCertPollInterval.
	CertPollInterval time.Duration
	// ClientCA, with TLS, is a PEM file of CAs whose client certificates
	// the server verifies when a client offers one (/audit authenticates
	// the API server's audit webhook backend by it). A client that offers
	// none is served as before: the admission webhooks need no certificate.
	ClientCA string
}

// Server is the http.Server and, with TLS, the source of its certificate.
type Server struct {
	HTTP  *http.Server
	certs *certSource
}

// TLS reports whether the server serves HTTPS.
func (s *Server) TLS() bool { return s.certs != nil }

// Timeouts. The API server gives a webhook at most 30 s, and a review is
// decided in microseconds, so anything slower is a stuck or hostile client.
// IdleTimeout is longer than the API server's 90 s idle keep-alive: if the
// server closed first, a POST sent on a just-closed connection would fail
// and, under failurePolicy Ignore, admit the object unchecked.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 10 * time.Second
	WriteTimeout      = 10 * time.Second
	IdleTimeout       = 120 * time.Second
	MaxHeaderBytes    = 64 << 10
)

// New builds the server for handler, loading the key pair when TLS is asked for.
func New(cfg Config, handler http.Handler, log *zap.Logger) (*Server, error) {
	srv := &http.Server{
		Addr:              cfg.Addr,
		Handler:           handler,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          zap.NewStdLog(log.With(zap.String("component", "http"))),
	}
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		if cfg.TLSCert == "" || cfg.TLSKey == "" {
			return nil, errors.New("Config.TLSCert and Config.TLSKey go together")
		}
		interval := cfg.CertPollInterval
		if interval == 0 {
			interval = DefaultCertPollInterval
		}
		certs, err := newCertSource(cfg.TLSCert, cfg.TLSKey, interval, log)
		if err != nil {
			return nil, err
		}
		srv.TLSConfig = &tls.Config{
			// The API server speaks TLS 1.2 and 1.3; older versions have known
			// weaknesses and no client that needs them.
			MinVersion:     tls.VersionTLS12,
			GetCertificate: certs.get,
		}
		if cfg.ClientCA != "" {
			pemBytes, err := os.ReadFile(cfg.ClientCA)
			if err != nil {
				return nil, fmt.Errorf("Config.ClientCA: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pemBytes) {
				return nil, fmt.Errorf("Config.ClientCA %s holds no PEM certificate", cfg.ClientCA)
			}
			srv.TLSConfig.ClientCAs = pool
			srv.TLSConfig.ClientAuth = tls.VerifyClientCertIfGiven
		}
		return &Server{HTTP: srv, certs: certs}, nil
	}
	if cfg.ClientCA != "" {
		return nil, errors.New("Config.ClientCA needs TLS: a client certificate is only seen where the server terminates TLS")
	}
	return &Server{HTTP: srv}, nil
}

// Run serves on ln until ctx is done, then shuts down gracefully: the
// listener closes at once, so new connections are refused, and in-flight
// requests get up to grace to finish.
func Run(ctx context.Context, s *Server, ln net.Listener, grace time.Duration, log *zap.Logger) error {
	srv := s.HTTP
	if s.certs != nil {
		pollCtx, stop := context.WithCancel(ctx)
		defer stop()
		go s.certs.run(pollCtx)
	}
	errc := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", zap.Duration("grace", grace))
	start := time.Now()
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		_ = srv.Close()
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	log.Info("stopped", zap.Duration("took", time.Since(start)))
	return err
}
