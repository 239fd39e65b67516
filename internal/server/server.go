// Package server runs bouncer's handlers as a production HTTP server:
// timeouts on every phase, optional TLS with certificate reload, and a
// graceful shutdown on SIGTERM in which in-flight reviews finish. The
// Functions Framework's own server has none of these.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// Config is what `bouncer serve` takes from its flags.
type Config struct {
	Addr            string
	TLSCert, TLSKey string
	ShutdownGrace   time.Duration
}

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

// New builds the http.Server for handler.
func New(cfg Config, handler http.Handler, log *zap.Logger) (*http.Server, error) {
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
			return nil, errors.New("--tls-cert and --tls-key go together")
		}
		rl, err := newReloader(cfg.TLSCert, cfg.TLSKey, log)
		if err != nil {
			return nil, err
		}
		srv.TLSConfig = &tls.Config{
			// The API server speaks TLS 1.2 and 1.3; older versions have known
			// weaknesses and no client that needs them.
			MinVersion:     tls.VersionTLS12,
			GetCertificate: rl.get,
		}
	}
	return srv, nil
}

// Run serves on ln until ctx is done, then shuts down gracefully: the
// listener closes at once, so new connections are refused, and in-flight
// requests get up to grace to finish.
func Run(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration, log *zap.Logger) error {
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
