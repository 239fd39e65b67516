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
	auditObjects int           // objects in the API server for bouncer audit, after a tenth of them
	only         string        // one stage's name: run it alone and print its report, writing none
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

// stage is one of run's steps; it adds its part to the report.
type stage struct {
	name string
	run  func(*report) error
}

// stages are run's steps in order.
func (h *harness) stages() []stage {
	return []stage{
		{"correctness", h.correctness}, // before any timing
		{"inprocess", h.inProcess},
		{"encoder", h.encoder},
		{"http", h.httpLoad},
		{"coldstart", h.coldStart},
		{"container", h.container},
		{"footprint", h.footprint},
		{"check", h.check},
		{"audit", h.audit},
		{"auditlog", h.auditLog},
		{"controlplane", h.controlPlane},
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
	ran := false
	for _, s := range h.stages() {
		if c.only != "" && s.name != c.only {
			continue
		}
		ran = true
		if err := s.run(&rep); err != nil {
			return err
		}
	}
	if c.only != "" {
		if !ran {
			return fmt.Errorf("-only %s: no such stage", c.only)
		}
		// A stage alone: the targets and, for the audits, its section on
		// stdout; no report written.
		fmt.Println(rep.summary())
		switch c.only {
		case "audit":
			fmt.Println(rep.auditMarkdown())
		case "auditlog":
			fmt.Println(rep.auditLogMarkdown())
		}
		return nil
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
	h.bin = binaries{filepath.Join(h.work, "bouncer"), filepath.Join(h.work, "functions"), filepath.Join(h.work, "benchserver"), filepath.Join(h.work, "floor"), ""}
	bench := filepath.Join(c.root, "bench")
	builds := []struct{ dir, out, pkg string }{{c.root, h.bin.bouncer, "./cmd/bouncer"}, {c.root, h.bin.functions, "./cmd/functions"},
		{bench, h.bin.benchserver, "./cmd/benchserver"}, {bench, h.bin.floor, "./cmd/floor"}}
	// bouncer audit is a module of its own; the audit stage says so when a
	// tree has none. Built beside bouncer, where `bouncer audit` finds it.
	if auditDir := filepath.Join(c.root, "cmd", "bouncer-audit"); exists(filepath.Join(auditDir, "go.mod")) {
		h.bin.audit = filepath.Join(h.work, "bouncer-audit")
		builds = append(builds, struct{ dir, out, pkg string }{auditDir, h.bin.audit, "."})
	}
	for _, x := range builds {
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
	h.withPrevious = h.servers
	if c.only != "" {
		return h, nil // a stage alone measures no previous build
	}
	prevRev, prevBin, err := previousBouncer(c.root, c.out, h.work)
	if err != nil {
		return nil, err
	}
	if prevBin != "" {
		h.withPrevious = append(slices.Clone(h.servers), previousImpl(prevRev, prevBin))
	}
	return h, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// close removes the run's temporary directory.
func (h *harness) close() { _ = os.RemoveAll(h.work) }
