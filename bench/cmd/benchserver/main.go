// Command benchserver serves the controller-runtime baseline on /validate
// and /mutate (and, for convenience, the floor; cmd/floor is the floor the
// harness times, with nothing else linked in).
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"bouncer.dev/bouncer/bench/crwebhook"
	"bouncer.dev/bouncer/bench/floor"
)

func main() {
	impl := flag.String("impl", "floor", "floor or controller-runtime")
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	cert := flag.String("tls-cert", "", "TLS certificate")
	key := flag.String("tls-key", "", "TLS key")
	flag.Parse()
	var h http.Handler
	switch *impl {
	case "floor":
		m := http.NewServeMux()
		m.Handle("/", floor.Handler())
		h = m
	case "controller-runtime":
		h = crwebhook.Mux()
	default:
		fmt.Fprintln(os.Stderr, "unknown -impl", *impl)
		os.Exit(2)
	}
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
