package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

type httpRow struct {
	impl, payload string
	tls           bool
	conc          int
	r             loadResult
	rssKiB        int
}

type coldRow struct {
	impl     string
	median   time.Duration
	p25, p75 time.Duration
	idleKiB  int
}

// benchRow is one sub-benchmark's medians over its go test -count runs:
// BenchmarkReview/<payload>/<implementation> or
// BenchmarkEncode/<answer>/<encoder>.
type benchRow struct {
	input, impl                      string // the payload or answer, and what handled it
	nsPerOp, bytesPerOp, allocsPerOp float64
}

type benchRows []benchRow

// of is input's row for impl, zero when it did not run.
func (rs benchRows) of(input, impl string) benchRow {
	for _, r := range rs {
		if r.input == input && r.impl == impl {
			return r
		}
	}
	return benchRow{}
}

// inputs lists the payloads or answers, sorted.
func (rs benchRows) inputs() []string {
	var in []string
	for _, r := range rs {
		in = append(in, r.input)
	}
	slices.Sort(in)
	return slices.Compact(in)
}

type report struct {
	commands  []string
	wrong     []string
	benchstat string
	profile   string    // pprof -top of bouncer's typical-Pod review
	inproc    benchRows // BenchmarkReview
	http      []httpRow
	cold      []coldRow
	runc      runcRow
	encode    benchRows // BenchmarkEncode: the answer written both ways
	inittrace []string
	sizes     []string
	cp        []cpResult
	machine   string
	check     checkResult
	audit     auditResult
	auditLog  auditLogResult
	rounds    int
	creates   int
	reps      int
	dur       time.Duration
}

func (r *report) httpOf(impl, payload string, tls bool, conc int) (httpRow, bool) {
	for _, h := range r.http {
		if h.impl == impl && h.payload == payload && h.tls == tls && h.conc == conc {
			return h, true
		}
	}
	return httpRow{}, false
}

func (r *report) coldOf(impl string) coldRow {
	for _, c := range r.cold {
		if c.impl == impl {
			return c
		}
	}
	return coldRow{}
}

func (r *report) cpOf(name string) cpResult {
	for _, c := range r.cp {
		if c.name == name {
			return c
		}
	}
	return cpResult{}
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

// targets evaluates the targets, each as a ratio measured in this run.
func (r *report) targets() []string {
	var out []string
	b, c := r.inproc.of("typical-pod", "bouncer"), r.inproc.of("typical-pod", "controller-runtime")
	if b.nsPerOp > 0 && c.nsPerOp > 0 {
		out = append(out, fmt.Sprintf("| in-process review, typical Pod | ≥ 5× faster than controller-runtime, ≤ 1/5 of its allocations | %.1f× faster, %.2f× the allocations (%d vs %d) | %s |",
			c.nsPerOp/b.nsPerOp, b.allocsPerOp/c.allocsPerOp, int(b.allocsPerOp), int(c.allocsPerOp), met(c.nsPerOp/b.nsPerOp >= 5 && b.allocsPerOp/c.allocsPerOp <= 0.2)))
	}
	bs, _ := r.httpOf("bouncer serve", "typical-pod", false, 64)
	cr, _ := r.httpOf("controller-runtime", "typical-pod", false, 64)
	fl, _ := r.httpOf("floor", "typical-pod", false, 64)
	if cr.r.rps > 0 && fl.r.rps > 0 {
		out = append(out, fmt.Sprintf("| HTTP throughput, c=64, typical Pod | ≥ 2× controller-runtime, ≥ 70%% of the floor | %.2f× controller-runtime, %.0f%% of the floor | %s |",
			bs.r.rps/cr.r.rps, 100*bs.r.rps/fl.r.rps, met(bs.r.rps >= 2*cr.r.rps && bs.r.rps >= 0.7*fl.r.rps)))
	}
	cb, cf, cc := r.coldOf("bouncer serve"), r.coldOf("floor"), r.coldOf("controller-runtime")
	if cf.median > 0 && cc.median > 0 {
		out = append(out, fmt.Sprintf("| cold start (exec to first correct answer) | ≤ 1.5× the floor, ≤ ½ controller-runtime | %.2f× the floor, %.2f× controller-runtime | %s |",
			float64(cb.median)/float64(cf.median), float64(cb.median)/float64(cc.median), met(float64(cb.median) <= 1.5*float64(cf.median) && float64(cb.median) <= 0.5*float64(cc.median))))
	}
	if len(r.cp) > 0 {
		ab, af, ac, acomp := median(r.cpOf("bouncer webhook pair").added), median(r.cpOf("floor webhook pair").added), median(r.cpOf("controller-runtime webhook pair").added), median(r.cpOf("bouncer compile (VAP + MAP)").added)
		out = append(out, fmt.Sprintf("| added p50 per Pod create | within 1 ms of the floor pair, below controller-runtime | bouncer %s, floor %s, controller-runtime %s | %s |",
			ms(ab), ms(af), ms(ac), met(ab <= af+time.Millisecond && ab < ac)))
		out = append(out, fmt.Sprintf("| added p50, compiled policies | below the floor webhook pair | compiled %s, floor %s | %s |", ms(acomp), ms(af), met(acomp < af)))
	}
	if ck := r.check; len(ck.kyverno) > 0 {
		b, k := median(ck.bouncer), median(ck.kyverno)
		out = append(out, fmt.Sprintf("| `bouncer check` vs `kyverno apply`, %d manifests | ≥ 10× faster, same verdicts | %.1f× faster (%s vs %s), same verdicts and mutations on all %d | %s |",
			ck.files, float64(k)/float64(b), secs(b), secs(k), ck.files, met(float64(k) >= 10*float64(b))))
	} else if len(ck.disagree) > 0 {
		out = append(out, fmt.Sprintf("| `bouncer check` vs `kyverno apply`, %d manifests | ≥ 10× faster, same verdicts | not timed: %d disagreements | **not met** |", ck.files, len(ck.disagree)))
	}
	out = append(out, r.auditTargets()...)
	out = append(out, r.auditLogTargets()...)
	if cb.idleKiB > 0 {
		out = append(out, fmt.Sprintf("| idle RSS | under 20 MB | %.1f MB | %s |", float64(cb.idleKiB)/1024, met(cb.idleKiB < 20*1024)))
	}
	return out
}

// gaps explains unmet targets with the evidence this run collected.
func (r *report) gaps() []string {
	var out []string
	for _, t := range r.targets() {
		if !strings.Contains(t, "not met") {
			continue
		}
		switch {
		case strings.Contains(t, "cold start"):
			init := ""
			if len(r.inittrace) > 0 {
				init = r.inittrace[0]
			}
			out = append(out, fmt.Sprintf("Cold start: the floor links net/http alone (%s); bouncer's one binary also carries the CLI, zap, the YAML reader and k8s.io/apimachinery's meta/v1 with the runtime packages under it, whose package init is in the list below (%s), then compiles the policy. See the init profile under \"Cold start and footprint\".", r.sizeOf("floor"), init))
		case strings.Contains(t, "HTTP throughput"):
			tp := r.inproc.of("typical-pod", "bouncer")
			fl, _ := r.httpOf("floor", "typical-pod", false, 64)
			out = append(out, fmt.Sprintf("HTTP throughput: with one core, the floor spends %.0f µs per request on HTTP alone; a whole bouncer review costs %.0f µs in process (decode, decide, encode, and the decision log line), so the ratio is bounded by the review's own CPU time. The CPU profile under \"In process\" shows where it goes; the largest item is %s.", 1e6/fl.r.rps, tp.nsPerOp/1000, r.topFunction()))
		case strings.Contains(t, "added p50 per Pod create"):
			out = append(out, fmt.Sprintf("Through the control plane, the rounds' added p50s span %s for the floor pair, %s for bouncer and %s for controller-runtime.", spread(r.cpOf("floor webhook pair").added), spread(r.cpOf("bouncer webhook pair").added), spread(r.cpOf("controller-runtime webhook pair").added)))
		default:
			out = append(out, t)
		}
	}
	return out
}

func (r *report) sizeOf(prefix string) string {
	for _, s := range r.sizes {
		if strings.HasPrefix(s, prefix) {
			return s
		}
	}
	return ""
}

func (r *report) summary() string {
	return "| target | wanted | measured | |\n|---|---|---|---|\n" + strings.Join(r.targets(), "\n")
}

func (r *report) markdown() string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	w("# Benchmarks")
	w("")
	w("Written by `make bench` and nothing else; every figure below comes from one run on one machine:")
	w("%s.", r.machine)
	w("The load generator runs on core 0 and each server on core 1 (`taskset`). These machines are shared, so")
	w("ratios measured side by side are the result; absolute figures move from run to run.")
	w("")
	w("Compared: **bouncer serve** (the production server), the **Functions Framework** local run of the same")
	w("functions, a **controller-runtime** webhook implementing the same default policy the usual way (typed")
	w("decoding, `PatchResponseFromRaw`, `bench/crwebhook`), and the **floor**: a server that reads the body and")
	w("copies the uid into a fixed \"allowed\" answer, the least any webhook can do (`bench/floor`; not a policy).")
	w("")
	w("## Targets")
	w("")
	w("%s", r.summary())
	w("")
	if gaps := r.gaps(); len(gaps) > 0 {
		w("### Where a target is not met")
		w("")
		for _, g := range gaps {
			w("- %s", g)
		}
		w("")
	}
	w("## Correctness, checked before timing")
	w("")
	if len(r.wrong) == 0 {
		w("Every server answered every payload as bouncer's own decision does (verdict, and the object after its patch).")
	} else {
		w("A server that answers wrongly on a payload is reported here and not timed on it:")
		w("")
		for _, x := range r.wrong {
			w("- %s", x)
		}
	}
	w("")
	w("## In process: one whole review (decode, decide, encode)")
	w("")
	w("Medians of `-count` runs; `bench/review_test.go`.")
	w("")
	w("| payload | bouncer ns/op | controller-runtime ns/op | speed-up | bouncer allocs | controller-runtime allocs | bouncer B/op | controller-runtime B/op |")
	w("|---|---|---|---|---|---|---|---|")
	for _, p := range []string{"small-pod", "typical-pod", "large-pod", "deployment", "cronjob", "update-pod", "typical-pod-mutate", "pod-newer-field-mutate"} {
		bb, cc := r.inproc.of(p, "bouncer"), r.inproc.of(p, "controller-runtime")
		if bb.nsPerOp == 0 || cc.nsPerOp == 0 {
			continue
		}
		w("| %s | %.0f | %.0f | %.1f× | %.0f | %.0f | %.0f | %.0f |", p, bb.nsPerOp, cc.nsPerOp, cc.nsPerOp/bb.nsPerOp, bb.allocsPerOp, cc.allocsPerOp, bb.bytesPerOp, cc.bytesPerOp)
	}
	w("")
	w("<details><summary>benchstat</summary>")
	w("")
	w("```")
	w("%s", strings.TrimSpace(r.benchstat))
	w("```")
	w("</details>")
	w("")
	if r.profile != "" {
		w("CPU profile of bouncer's typical-Pod review, in process (`pprof -top`, flat time first):")
		w("")
		w("```")
		w("%s", strings.TrimSpace(r.profile))
		w("```")
		w("")
	}
	w("## HTTP on loopback, typical Pod (validate)")
	w("")
	w("Keep-alive, median of %d runs of %v each.", r.reps, r.dur)
	w("")
	w("| server | TLS | concurrency | req/s | p50 | p99 | vs floor | RSS under load |")
	w("|---|---|---|---|---|---|---|---|")
	for _, h := range r.http {
		if h.payload != "typical-pod" {
			continue
		}
		fl, _ := r.httpOf("floor", "typical-pod", h.tls, h.conc)
		rss := ""
		if h.rssKiB > 0 {
			rss = fmt.Sprintf("%.1f MB", float64(h.rssKiB)/1024)
		}
		w("| %s | %v | %d | %.0f | %v | %v | %.0f%% | %s |", h.impl, h.tls, h.conc, h.r.rps, h.r.p50.Round(time.Microsecond), h.r.p99.Round(time.Microsecond), 100*h.r.rps/fl.r.rps, rss)
	}
	w("")
	w("Other payloads, concurrency 64, plain HTTP (no target):")
	w("")
	w("| payload | server | req/s | p50 | p99 |")
	w("|---|---|---|---|---|")
	for _, h := range r.http {
		if h.payload == "typical-pod" {
			continue
		}
		w("| %s | %s | %.0f | %v | %v |", h.payload, h.impl, h.r.rps, h.r.p50.Round(time.Microsecond), h.r.p99.Round(time.Microsecond))
	}
	w("")
	r.writeChoices(w)
	w("## Cold start and footprint")
	w("")
	w("From exec to the first correct answer to the typical Pod review: the median and quartiles of the starts,")
	w("all servers alternating start by start on one core:")
	w("")
	w("| server | cold start | p25 | p75 | idle RSS |")
	w("|---|---|---|---|---|")
	for _, c := range r.cold {
		w("| %s | %v | %v | %v | %.1f MB |", c.impl, c.median.Round(100*time.Microsecond), c.p25.Round(100*time.Microsecond), c.p75.Round(100*time.Microsecond), float64(c.idleKiB)/1024)
	}
	w("")
	w("### The container image under an OCI runtime")
	w("")
	if r.runc.skipped != "" {
		w("Not measured on this run: %s.", r.runc.skipped)
	} else {
		w("bouncer's own image (`make image`: one layer, non-root, read-only root) started by %s, from `runc run` to the", r.runc.runtime)
		w("first correct answer, median of %d, alternating with the same binary exec'd directly:", r.runc.n)
		w("")
		w("| started as | cold start |")
		w("|---|---|")
		w("| a runc container | %v |", r.runc.container.Round(100*time.Microsecond))
		w("| the same binary, exec'd | %v |", r.runc.process.Round(100*time.Microsecond))
		w("")
		w("The OCI runtime adds %v (namespaces, the read-only root mount, the user). The container shares the host's", (r.runc.container - r.runc.process).Round(100*time.Microsecond))
		w("network namespace here; a platform also schedules the Pod, pulls the image and sets up its network, which")
		w("this does not measure: docs/reliability.md measures a kubelet's Pod start on the node provider.")
	}
	w("")
	for _, s := range r.sizes {
		w("- %s", s)
	}
	w("")
	w("Package init of the bouncer binary (`GODEBUG=inittrace=1`), the largest first:")
	w("")
	for _, s := range r.inittrace {
		w("- %s", s)
	}
	w("")
	r.writeCheck(w)
	r.writeAudit(w)
	r.writeAuditLog(w)
	w("## Through a real control plane")
	w("")
	w("Sequential Pod creates with client-go against kube-apiserver v1.37.2 on this machine, %d rounds of %d", r.rounds, r.creates)
	w("creates per setup. Every setup is installed at once, each scoped to its own namespace by one added")
	w("namespace selector requirement, and the creates are interleaved one by one in a rotating order, so that")
	w("drift in the API server, etcd or the machine reaches every setup alike. Added p50 is each round's p50")
	w("minus the same round's no-policy p50. Before timing, a Pod without owner is refused exactly in the")
	w("setups that refuse it; after, the API server's metrics show each webhook pair answered one validate and")
	w("one mutate call per create in its namespace and nothing else.")
	w("")
	w("| setup | p50 (median of rounds) | p50 spread | p99 (median) | added p50 | added p50 spread |")
	w("|---|---|---|---|---|---|")
	for _, c := range r.cp {
		w("| %s | %s | %s | %s | %s | %s |", c.name, ms(median(c.p50s)), spread(c.p50s), ms(median(c.p99s)), ms(median(c.added)), spread(c.added))
	}
	w("")
	w("## Commands")
	w("")
	w("```")
	for _, c := range r.commands {
		w("%s", c)
	}
	w("```")
	return b.String()
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// writeCheck reports the CLI comparison.
func (r *report) writeCheck(w func(string, ...any)) {
	ck := r.check
	w("## bouncer check beside kyverno apply")
	w("")
	w("The same %d generated manifests, one a file (Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs", ck.files)
	w("and CronJobs, in ten cases from compliant to exempt; %d denied, %d mutated), judged by `bouncer check` with the", ck.denied, ck.mutated)
	w("embedded default policy and by `kyverno apply` with the same policy written for Kyverno")
	w("(`bench/kyverno/policy.yaml`). Both run on both cores.")
	if ck.cores > 0 {
		w("The unpinned runs time the same commands, alternating with the others, on every online CPU of the machine")
		w("(`taskset -c %s`, %d cores): the harness runs under `taskset -c 0`, so it widens their affinity again.", ck.cpus, ck.cores)
	}
	w("")
	switch {
	case ck.skipped != "":
		w("Kyverno was not run: %s. `bouncer check` alone: %s, median of %d runs; unpinned (all %d cores): %s.",
			ck.skipped, secs(median(ck.bouncer)), len(ck.bouncer), ck.cores, secs(median(ck.bouncerAll)))
	case len(ck.disagree) > 0:
		w("**Not timed: the two disagree on %d manifests.** The first of them:", len(ck.disagree))
		w("")
		for i, d := range ck.disagree {
			if i == 20 {
				break
			}
			w("- %s", d)
		}
	default:
		w("Before timing, the harness compared the two on every manifest: the same objects denied, and each object")
		w("identical after bouncer's additions and after Kyverno's mutation (Kyverno's `-o DIR` output). They agree on all %d.", ck.files)
		w("")
		w("| CLI | runs (alternating) | median | |")
		w("|---|---|---|---|")
		runs := func(ds []time.Duration) string {
			var s []string
			for _, d := range ds {
				s = append(s, secs(d))
			}
			return strings.Join(s, ", ")
		}
		b, k := median(ck.bouncer), median(ck.kyverno)
		w("| bouncer check | %s | %s | |", runs(ck.bouncer), secs(b))
		w("| kyverno apply %s (binary %.0f MB) | %s | %s | %.1f× bouncer's time |", ck.kyvernoVersion, float64(ck.kyvernoSize)/1e6, runs(ck.kyverno), secs(k), float64(k)/float64(b))
		if len(ck.bouncerAll) > 0 && len(ck.kyvernoAll) > 0 {
			// compare.go judges the first row against the second by their
			// names: "bouncer check, " and "kyverno apply, " then the same.
			ba, ka := median(ck.bouncerAll), median(ck.kyvernoAll)
			w("| bouncer check, unpinned (all %d cores) | %s | %s | |", ck.cores, runs(ck.bouncerAll), secs(ba))
			w("| kyverno apply, unpinned (all %d cores) | %s | %s | %.1f× bouncer's time |", ck.cores, runs(ck.kyvernoAll), secs(ka), float64(ka)/float64(ba))
		}
	}
	w("")
}

// topFunction names the profile's first row with its share of flat time.
func (r *report) topFunction() string {
	rows := false
	for _, l := range strings.Split(r.profile, "\n") {
		f := strings.Fields(l)
		if len(f) >= 5 && f[0] == "flat" {
			rows = true
			continue
		}
		if rows && len(f) >= 6 {
			return fmt.Sprintf("%s at %s of the review's CPU", f[len(f)-1], f[1])
		}
	}
	return "not available (no profile)"
}

// writeChoices reports the two design choices decided by measurement: the
// JSON scanner, by an earlier report's figures, and the answer's encoder.
func (r *report) writeChoices(w func(string, ...any)) {
	w("## Choices decided by measurement")
	w("")
	w("**The JSON scanner.** bouncer reads each review with `internal/rawjson`: one validating pass, then")
	w("navigation over slices of the body. rawjson was kept at 2.04× the speed of the same API on the Go team's")
	w("JSON v2 tokenizer (`github.com/go-json-experiment/json/jsontext`) on whole reviews, in the report of c1d4131.")
	w("The differential fuzz test (`internal/rawjson`, `FuzzAgainstEncodingJSON`) holds it to encoding/json's reading.")
	w("")
	w("**The answer's encoder.** bouncer writes the answer by hand (`internal/admission/encode.go`); the")
	w("reference it is held to byte for byte, by a table test and `FuzzEncode`, is `encoding/json` over")
	w("`k8s.io/api/admission/v1`'s types. Per answer (`BenchmarkEncode`, medians):")
	w("")
	w("| answer | encoding/json ns | hand-written ns | difference |")
	w("|---|---|---|---|")
	for _, a := range r.encode.inputs() {
		e, h := r.encode.of(a, "encoding-json").nsPerOp, r.encode.of(a, "hand-written").nsPerOp
		w("| %s | %.0f | %.0f | +%.2f µs |", a, e, h, (e-h)/1000)
	}
	w("")
	if typ := r.inproc.of("typical-pod", "bouncer"); typ.nsPerOp > 0 {
		deny := r.encode.of("deny", "encoding-json").nsPerOp - r.encode.of("deny", "hand-written").nsPerOp
		w("On the typical Pod review (%.0f µs in process) that is %.1f%% of a warm review.", typ.nsPerOp/1000, 100*deny/typ.nsPerOp)
	}
	w("The first answer is another matter: encoding/json builds its encoders for the whole AdmissionReview")
	w("type tree when it first meets it. In the report of c1d4131 a build serving with it started 690µs (9%%)")
	w("later than the hand-written one, material against the 1.5× target, so the hand-written encoder serves.")
	w("")
}
