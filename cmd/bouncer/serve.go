package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"bouncer.dev/bouncer/internal/admission"
	"bouncer.dev/bouncer/internal/escapes"
	"bouncer.dev/bouncer/internal/logging"
	"bouncer.dev/bouncer/internal/metrics"
	"bouncer.dev/bouncer/internal/policyfile"
	"bouncer.dev/bouncer/internal/server"
	"bouncer.dev/bouncer/internal/version"
	"go.uber.org/zap"
)

func defaultAddr() string {
	if p := os.Getenv("PORT"); p != "" {
		return ":" + p
	}
	return ":8080"
}

func runServe(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("serve", "serve [--addr HOST:PORT] [--tls-cert FILE --tls-key FILE] [--policy FILE] [--metrics-addr HOST:PORT] [--audit-token-file FILE] [--audit-client-ca FILE]",
		"bouncer serve --addr 127.0.0.1:8443 --tls-cert tls.crt --tls-key tls.key --policy policy.yaml", stderr)
	addr := fs.String("addr", defaultAddr(), "listen address (default :$PORT, or :8080 when PORT is unset)")
	cert := fs.String("tls-cert", "", "TLS certificate file (PEM); serves HTTPS, TLS 1.2 minimum; it and the key are re-read every "+
		server.DefaultCertPollInterval.String()+" and swapped in when they change")
	key := fs.String("tls-key", "", "TLS private key file (PEM)")
	pol := fs.String("policy", "", "policy file (default $"+policyfile.EnvVar+", else the embedded default)")
	metricsAddr := fs.String("metrics-addr", "", "serve /metrics (Prometheus text format, plain HTTP) on this address of its own; off when empty")
	auditToken := fs.String("audit-token-file", "", "the bearer token /audit accepts from the API server's audit webhook backend, read anew for each batch (default $"+escapes.EnvTokenFile+" or $"+escapes.EnvToken+"; none: /audit accepts nothing)")
	auditCA := fs.String("audit-client-ca", "", "with TLS: a PEM CA whose client certificates /audit accepts, as the audit webhook kubeconfig's client-certificate")
	grace := fs.Duration("shutdown-grace", 10*time.Second, "how long in-flight requests may finish after SIGTERM")
	pos, code, ok := parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "bouncer serve: unexpected argument %q\n", pos[0])
		return exitUsage
	}
	if (*cert == "") != (*key == "") {
		fmt.Fprintln(stderr, "bouncer serve: --tls-cert and --tls-key go together")
		return exitUsage
	}
	p, source, err := policyfile.Resolve(*pol)
	if err != nil {
		fmt.Fprintln(stderr, "bouncer serve:", err)
		return exitUsage
	}
	log := logging.New(stdout)
	defer func() { _ = log.Sync() }()
	for _, w := range p.Warnings {
		log.Warn("policy warning", zap.String("policy", source), zap.String("warning", w))
	}
	var m *metrics.Metrics
	if *metricsAddr != "" {
		m = metrics.New()
	}
	auth := escapes.FromEnv(os.Getenv)
	if *auditToken != "" {
		auth.Token = escapes.TokenFile(*auditToken)
	}
	auth.ClientCertificates = *auditCA != ""
	if auth.Token == nil && !auth.ClientCertificates {
		log.Info("/audit accepts no posts: give --audit-token-file or --audit-client-ca")
	}
	mux := admission.Mux(p, log, admission.WithMetrics(m))
	mux.Handle("/audit", escapes.New(p, log, m, auth))
	srv, err := server.New(server.Config{Addr: *addr, TLSCert: *cert, TLSKey: *key, ClientCA: *auditCA}, mux, log)
	if err != nil {
		fmt.Fprintln(stderr, "bouncer serve:", serverFlags.Replace(err.Error()))
		return exitUsage
	}
	// The metrics listen first: by the time the public address answers, and
	// the Pod turns ready, they are up too.
	var ms *metricsServer
	if m != nil {
		if ms, err = listenMetrics(*metricsAddr, m, log); err != nil {
			fmt.Fprintln(stderr, "bouncer serve: --metrics-addr:", err)
			return 1
		}
		go ms.serve()
		defer ms.shutdown()
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(stderr, "bouncer serve:", err)
		return 1
	}
	serving := []zap.Field{zap.String("addr", ln.Addr().String()), zap.Bool("tls", srv.TLS())}
	if ms != nil {
		serving = append(serving, zap.String("metricsAddr", ms.ln.Addr().String()))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log.Info("serving", append(serving, zap.String("policy", source), zap.String("version", version.String()))...)
	if err := server.Run(ctx, srv, ln, *grace, log); err != nil {
		log.Error("server stopped with an error", zap.Error(err))
		return 1
	}
	return exitOK
}

// metricsServer serves /metrics, and nothing else, over plain HTTP on an
// address of its own: the public address never serves it (GUIDE §6).
type metricsServer struct {
	http *http.Server
	ln   net.Listener
	log  *zap.Logger
}

func listenMetrics(addr string, m *metrics.Metrics, log *zap.Logger) (*metricsServer, error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	// server.New gives it the admission server's timeouts and error log.
	s, err := server.New(server.Config{Addr: addr}, mux, log)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &metricsServer{http: s.HTTP, ln: ln, log: log}, nil
}

// serve runs until shutdown. An error stops only the metrics: admission goes on.
func (s *metricsServer) serve() {
	if err := s.http.Serve(s.ln); err != nil && err != http.ErrServerClosed {
		s.log.Error("metrics server stopped with an error", zap.Error(err))
	}
}

// shutdown stops it with the admission server; a scrape in flight gets a
// second to finish.
func (s *metricsServer) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.http.Shutdown(ctx); err != nil {
		_ = s.http.Close()
	}
}

// serverFlags names server.Config's fields as this command's flags.
var serverFlags = strings.NewReplacer(
	"Config.ClientCA", "--audit-client-ca",
	"Config.TLSCert", "--tls-cert",
	"Config.TLSKey", "--tls-key",
)
