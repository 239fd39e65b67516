// Package serve is the command line shared by the benchmark's servers:
// -addr, and -tls-cert with -tls-key for HTTPS.
package serve

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"
)

// Main parses the flags and serves h until the process is killed.
func Main(h http.Handler) {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	cert := flag.String("tls-cert", "", "TLS certificate")
	key := flag.String("tls-key", "", "TLS key")
	flag.Parse()
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	var err error
	if *cert != "" {
		err = srv.ListenAndServeTLS(*cert, *key)
	} else {
		err = srv.ListenAndServe()
	}
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
