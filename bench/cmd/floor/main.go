// Command floor serves the floor on its own, with nothing else linked in,
// so that its cold start and footprint are the least a Go webhook costs.
package main

import (
	"bouncer.dev/bouncer/bench/floor"
	"bouncer.dev/bouncer/bench/serve"
)

func main() { serve.Main(floor.Handler()) }
