// Command pause is the e2e node provider's sandbox image: it holds a Pod's
// namespaces and waits, as Kubernetes' pause container does, until it is
// told to stop. No registry can be reached here, so it is built from source
// and imported (deploy/image --pause).
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}
