// Command benchserver serves the controller-runtime baseline on /validate
// and /mutate. (The floor is cmd/floor, which links nothing else.)
package main

import (
	"bouncer.dev/bouncer/bench/crwebhook"
	"bouncer.dev/bouncer/bench/serve"
)

func main() { serve.Main(crwebhook.Mux()) }
