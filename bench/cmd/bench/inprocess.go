package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"bouncer.dev/bouncer/e2e/framework"
	"golang.org/x/perf/benchfmt"
)

// inProcess times one whole review per payload and implementation
// (bench/review_test.go), with benchstat's table of the runs, and profiles
// bouncer's typical-Pod review: the evidence for the HTTP ratio, which that
// CPU bounds.
func (h *harness) inProcess(rep *report) error {
	framework.Progress("in-process benchmark (go test -bench -count %d)", h.count)
	dir := filepath.Join(h.root, "bench")
	out, err := sh(dir, nil, "go", "test", "-run", "^$", "-bench", "^BenchmarkReview$", "-benchmem", "-count", strconv.Itoa(h.count), ".")
	if err != nil {
		return fmt.Errorf("go test -bench: %v\n%s", err, out)
	}
	if rep.inproc, err = readBench(out, "Review"); err != nil {
		return fmt.Errorf("go test -bench: %v", err)
	}
	raw := filepath.Join(h.work, "bench.txt")
	_ = os.WriteFile(raw, []byte(out), 0o644)
	stat, err := sh(dir, nil, "go", "tool", "benchstat", "-col", "/impl", raw)
	if err != nil {
		// benchstat names the sub-benchmark path parts; fall back to the plain table.
		stat, _ = sh(dir, nil, "go", "tool", "benchstat", raw)
	}
	rep.benchstat = stat
	prof := filepath.Join(h.work, "review.prof")
	if o, err := sh(dir, nil, "go", "test", "-run", "^$", "-bench", "^BenchmarkReview$/^typical-pod$/^bouncer$", "-benchtime", "2s", "-cpuprofile", prof, "."); err != nil {
		return fmt.Errorf("go test -cpuprofile: %v\n%s", err, o)
	}
	if top, err := sh(dir, nil, "go", "tool", "pprof", "-top", "-nodecount", "12", prof); err == nil {
		rep.profile = top
	}
	rep.commands = append(rep.commands, "cd bench && go test -run '^$' -bench '^BenchmarkReview$' -benchmem -count 6 . | tee new.txt && go tool benchstat new.txt",
		"cd bench && go test -run '^$' -bench '^BenchmarkReview$/^typical-pod$/^bouncer$' -benchtime 2s -cpuprofile review.prof . && go tool pprof -top -nodecount 12 review.prof")
	return nil
}

// encoder times the answer written by hand against encoding/json over
// admission/v1's types, its reference (internal/admission's
// BenchmarkEncode).
func (h *harness) encoder(rep *report) error {
	framework.Progress("in-process: the answer's encoder, BenchmarkEncode -count %d", h.count)
	out, err := sh(h.root, nil, "go", "test", "-run", "^$", "-bench", "^BenchmarkEncode$", "-benchmem", "-count", strconv.Itoa(h.count), "./internal/admission")
	if err != nil {
		return fmt.Errorf("go test -bench BenchmarkEncode: %v\n%s", err, out)
	}
	if rep.encode, err = readBench(out, "Encode"); err != nil {
		return fmt.Errorf("go test -bench BenchmarkEncode: %v", err)
	}
	rep.commands = append(rep.commands, "go test -run '^$' -bench '^BenchmarkEncode$' -benchmem -count 6 ./internal/admission")
	return nil
}

// readBench reads go test -bench output with benchfmt and takes, for each
// Benchmark<base>/<input>/<impl>, the median of each figure over its runs.
// Rows come in the order the benchmarks first ran.
func readBench(out, base string) (benchRows, error) {
	type key struct{ input, impl string }
	var order []key
	runs := map[key][]benchRow{}
	r := benchfmt.NewReader(strings.NewReader(out), "go test -bench")
	for r.Scan() {
		switch rec := r.Result().(type) {
		case *benchfmt.SyntaxError:
			// controller-runtime prints a stack dump, unasked, the first
			// time its logger is used without being set, and it can land
			// between a benchmark's name and its figures: that one run is
			// lost, the median is taken over the rest.
			continue
		case *benchfmt.Result:
			name, parts := rec.Name.Parts()
			if n := len(parts); n > 0 && strings.HasPrefix(string(parts[n-1]), "-") {
				parts = parts[:n-1] // the GOMAXPROCS suffix, absent with one CPU
			}
			if string(name) != base || len(parts) != 2 {
				continue
			}
			k := key{strings.TrimPrefix(string(parts[0]), "/"), strings.TrimPrefix(string(parts[1]), "/")}
			if _, ok := runs[k]; !ok {
				order = append(order, k)
			}
			runs[k] = append(runs[k], benchRow{k.input, k.impl, figure(rec, "ns/op"), figure(rec, "B/op"), figure(rec, "allocs/op")})
		}
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	rows := make(benchRows, 0, len(order))
	for _, k := range order {
		rs := runs[k]
		col := func(f func(benchRow) float64) float64 {
			xs := make([]float64, len(rs))
			for i, x := range rs {
				xs[i] = f(x)
			}
			sort.Float64s(xs)
			return xs[len(xs)/2]
		}
		rows = append(rows, benchRow{k.input, k.impl,
			col(func(x benchRow) float64 { return x.nsPerOp }),
			col(func(x benchRow) float64 { return x.bytesPerOp }),
			col(func(x benchRow) float64 { return x.allocsPerOp })})
	}
	return rows, nil
}

// figure is a result's value in unit as go test printed it: benchfmt tidies
// ns/op into sec/op and keeps the original beside it.
func figure(res *benchfmt.Result, unit string) float64 {
	for _, v := range res.Values {
		if v.OrigUnit == unit {
			return v.OrigValue
		}
		if v.OrigUnit == "" && v.Unit == unit {
			return v.Value
		}
	}
	return 0
}
