package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"bouncer.dev/bouncer/internal/admission"
	"bouncer.dev/bouncer/internal/logging"
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
	fs := newFlags("serve", "serve [--addr HOST:PORT] [--tls-cert FILE --tls-key FILE] [--policy FILE]",
		"bouncer serve --addr 127.0.0.1:8443 --tls-cert tls.crt --tls-key tls.key --policy policy.yaml", stderr)
	addr := fs.String("addr", defaultAddr(), "listen address (default :$PORT, or :8080 when PORT is unset)")
	cert := fs.String("tls-cert", "", "TLS certificate file (PEM); serves HTTPS, TLS 1.2 minimum; it and the key are re-read every "+
		server.DefaultCertPollInterval.String()+" and swapped in when they change")
	key := fs.String("tls-key", "", "TLS private key file (PEM)")
	pol := fs.String("policy", "", "policy file (default $"+policyfile.EnvVar+", else the embedded default)")
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
	srv, err := server.New(server.Config{Addr: *addr, TLSCert: *cert, TLSKey: *key}, admission.Mux(p, log), log)
	if err != nil {
		fmt.Fprintln(stderr, "bouncer serve:", err)
		return exitUsage
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(stderr, "bouncer serve:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log.Info("serving", zap.String("addr", ln.Addr().String()), zap.Bool("tls", srv.TLS()),
		zap.String("policy", source), zap.String("version", version.String()))
	if err := server.Run(ctx, srv, ln, *grace, log); err != nil {
		log.Error("server stopped with an error", zap.Error(err))
		return 1
	}
	return exitOK
}
