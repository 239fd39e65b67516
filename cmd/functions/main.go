// Command functions is the Functions Framework local run of bouncer's
// functions (`make run`). With FUNCTION_TARGET unset it serves /validate,
// /mutate, /audit and /healthz; with FUNCTION_TARGET=validate (or audit),
// that one function at every path. It listens on $PORT (default 8080), on 127.0.0.1 only when
// LOCAL_ONLY=true.
package main

import (
	"fmt"
	"os"

	_ "bouncer.dev/bouncer/function"
	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	host := ""
	if os.Getenv("LOCAL_ONLY") == "true" {
		host = "127.0.0.1"
	}
	if err := funcframework.StartHostPort(host, port); err != nil {
		fmt.Fprintln(os.Stderr, "bouncer functions:", err)
		os.Exit(1)
	}
}
