// Command benchserver serves the controller-runtime baseline on /validate
// and /mutate. (The floor is cmd/floor, which links nothing else.)
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"bouncer.dev/bouncer/bench/crwebhook"
)

func main() {
	impl := flag.String("impl", "controller-runtime", "the implementation: controller-runtime")
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	cert := flag.String("tls-cert", "", "TLS certificate")
	key := flag.String("tls-key", "", "TLS key")
	flag.Parse()
	if *impl != "controller-runtime" {
		fmt.Fprintln(os.Stderr, "unknown -impl", *impl)
		os.Exit(2)
	}
	srv := &http.Server{Addr: *addr, Handler: crwebhook.Mux(), ReadHeaderTimeout: 5 * time.Second}
	var err error
	if *cert != "" {
		err = srv.ListenAndServeTLS(*cert, *key)
	} else {
		err = srv.ListenAndServe()
	}
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
