package server

import (
	"context"
	"net"
	"testing"
	"time"

	"go.uber.org/zap"
)

// serve runs s on a loopback port until stop is called; stop returns Run's
// error, after its graceful shutdown of up to grace.
func serve(t *testing.T, s *Server, grace time.Duration, log *zap.Logger) (addr string, stop func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, s, ln, grace, log) }()
	return ln.Addr().String(), func() error { cancel(); return <-done }
}
