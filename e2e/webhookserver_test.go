//go:build e2e

package e2e

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"testing"
)

// fakeWebhook serves handler over TLS on loopback with a certificate from the
// local CA, for the tests that need a second webhook or a broken one. The
// API server must reach this process, so only the local provider has it.
func fakeWebhook(t *testing.T, handler http.HandlerFunc) string {
	t.Helper()
	if env.CA == nil || env.Provider != "local" {
		t.Skipf("the %s provider's API server cannot reach a webhook in the test process", env.Provider)
	}
	certFile, keyFile, err := env.CA.Serving(env.WorkDir, "fake-"+nonName.ReplaceAllString(t.Name(), "-"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler, ErrorLog: nil}
	go func() { _ = srv.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "https://" + ln.Addr().String()
}

func readAll(r io.Reader) []byte { b, _ := io.ReadAll(r); return b }
