// Command floor serves the floor on its own, with nothing else linked in,
// so that its cold start and footprint are the least a Go webhook costs.
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"bouncer.dev/bouncer/bench/floor"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	cert := flag.String("tls-cert", "", "TLS certificate")
	key := flag.String("tls-key", "", "TLS key")
	flag.Parse()
	srv := &http.Server{Addr: *addr, Handler: floor.Handler(), ReadHeaderTimeout: 5 * time.Second}
	var err error
	if *cert != "" {
		err = srv.ListenAndServeTLS(*cert, *key)
	} else {
		err = srv.ListenAndServe()
	}
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
