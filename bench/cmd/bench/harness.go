package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"bouncer.dev/bouncer/bench/payloads"
	"bouncer.dev/bouncer/e2e/framework"
)

// config is one run's settings: the flags, and the two tools make bench
// passes in the environment.
type config struct {
	root, out    string        // the repository root; the report, relative to it
	controlplane string        // kube-apiserver's and etcd's directory; "" for the root's .cache
	kyverno      string        // the Kyverno CLI; "" times bouncer check alone
	reps         int           // repetitions of each HTTP run
	dur          time.Duration // length of each HTTP run
	starts       int           // cold starts per server
	rounds       int           // rounds through the control plane
	creates      int           // Pod creates per setup and round
	count        int           // go test -bench -count
	checkFiles   int           // manifests for bouncer check and kyverno apply
}

// harness is a run in progress: its settings and what its stages share.
type harness struct {
	config
	work     string // a temporary directory, removed by close
	bin      binaries
	ca       *framework.CA
	payloads []payloads.Payload
	typical  payloads.Payload // the payload the targets name
	servers  []impl           // the four compared
	// withPrevious adds the previous report's bouncer, built from its
	// commit, to the typical-Pod HTTP points and the cold starts.
	withPrevious []impl
	wrong        map[string]bool // "server/payload" answered wrongly: not timed on it
	// image is the container image's tarball, and imageOut what building it
	// printed; the container stage sets them.
	image, imageOut string
}

// stages are run's steps in order; each adds its part to the report.
func (h *harness) stages() []func(*report) error {
	return []func(*report) error{
		h.correctness, // before any timing
		h.inProcess,
		h.encoder,
		h.httpLoad,
		h.coldStart,
		h.container,
		h.footprint,
		h.check,
		h.controlPlane,
	}
}

// run measures everything and writes the report.
func run(c config) error {
	c.root, _ = filepath.Abs(c.root)
	if !filepath.IsAbs(c.out) {
		c.out = filepath.Join(c.root, c.out)
	}
	if c.controlplane == "" {
		c.controlplane = filepath.Join(c.root, ".cache", "controlplane", "v1.37.2", "bin")
	}
	h, err := newHarness(c)
	if err != nil {
		return err
	}
	defer h.close()
	rep := report{commands: []string{"make bench    # = cd bench && taskset -c 0 go run ./cmd/bench"}}
	for _, stage := range h.stages() {
		if err := stage(&rep); err != nil {
			return err
		}
	}
	rep.machine = machine()
	text := rep.markdown()
	fmt.Println(rep.summary())
	prev, err := previousReport(c.root, c.out)
	if err != nil {
		return err
	}
	text += changesSection(prev, text, filepath.Join(c.root, "bench", "changes.md"))
	return os.WriteFile(c.out, []byte(text), 0o644)
}

// newHarness builds the servers, this one's and the previous report's
// bouncer, and the CA they serve TLS with.
func newHarness(c config) (_ *harness, err error) {
	h := &harness{config: c, wrong: map[string]bool{}}
	if h.work, err = os.MkdirTemp("", "bouncer-bench-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			h.close()
		}
	}()
	framework.Progress("building the servers")
	h.bin = binaries{filepath.Join(h.work, "bouncer"), filepath.Join(h.work, "functions"), filepath.Join(h.work, "benchserver"), filepath.Join(h.work, "floor")}
	bench := filepath.Join(c.root, "bench")
	for _, x := range []struct{ dir, out, pkg string }{{c.root, h.bin.bouncer, "./cmd/bouncer"}, {c.root, h.bin.functions, "./cmd/functions"},
		{bench, h.bin.benchserver, "./cmd/benchserver"}, {bench, h.bin.floor, "./cmd/floor"}} {
		if o, err := sh(x.dir, []string{"CGO_ENABLED=0"}, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", x.out, x.pkg); err != nil {
			return nil, fmt.Errorf("go build %s: %v\n%s", x.pkg, err, o)
		}
	}
	if h.ca, err = framework.NewCA(h.work); err != nil {
		return nil, err
	}
	if h.payloads, err = payloads.All(c.root); err != nil {
		return nil, err
	}
	h.typical = h.payloads[1]
	h.servers = impls(h.bin)
	prevRev, prevBin, err := previousBouncer(c.root, c.out, h.work)
	if err != nil {
		return nil, err
	}
	h.withPrevious = h.servers
	if prevBin != "" {
		h.withPrevious = append(slices.Clone(h.servers), previousImpl(prevRev, prevBin))
	}
	return h, nil
}

// close removes the run's temporary directory.
func (h *harness) close() { _ = os.RemoveAll(h.work) }
