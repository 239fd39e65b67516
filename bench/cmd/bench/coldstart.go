package main

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"bouncer.dev/bouncer/e2e/framework"
)

// coldStart times each server from exec to its first correct answer, all
// of them alternating start by start, with the idle RSS after the first, and
// profiles the bouncer binary's package init.
func (h *harness) coldStart(rep *report) error {
	framework.Progress("cold starts: %d per server", h.starts)
	servers := h.withPrevious
	ds := make([][]time.Duration, len(servers))
	idle := make([]int, len(servers))
	for i := 0; i < h.starts; i++ {
		for k := range servers {
			j := (k + i) % len(servers)
			s, t0, err := start(servers[j], "1", h.ca, h.work, false)
			if err != nil {
				return err
			}
			t1, err := waitReady(client(h.ca, 1), s.base+"/validate", h.typical.Body, 20*time.Second)
			if err != nil {
				s.stop()
				return err
			}
			ds[j] = append(ds[j], t1.Sub(t0))
			if i == 0 {
				time.Sleep(200 * time.Millisecond)
				idle[j] = s.rssKiB()
			}
			s.stop()
		}
	}
	for j, im := range servers {
		q := quartiles(ds[j])
		rep.cold = append(rep.cold, coldRow{im.name, q[1], q[0], q[2], idle[j]})
	}
	// One trace is at the mercy of a preemption; the median of 11 is not.
	var traces []string
	for i := 0; i < 11; i++ {
		if o, err := sh(h.root, []string{"GODEBUG=inittrace=1"}, "taskset", "-c", "1", h.bin.bouncer, "version"); err == nil {
			traces = append(traces, o)
		}
	}
	if len(traces) > 0 {
		rep.inittrace = topInits(traces, 6)
	}
	return nil
}

// footprint lists the binaries' sizes and the image's.
func (h *harness) footprint(rep *report) error {
	for _, x := range []struct{ name, path string }{{"bouncer", h.bin.bouncer}, {"functions framework local run", h.bin.functions}, {"controller-runtime server", h.bin.benchserver}, {"floor", h.bin.floor}} {
		if st, err := os.Stat(x.path); err == nil {
			rep.sizes = append(rep.sizes, fmt.Sprintf("%s binary: %.1f MB", x.name, float64(st.Size())/1e6))
		}
	}
	if st, err := os.Stat(h.image); err == nil {
		rep.sizes = append(rep.sizes, fmt.Sprintf("bouncer image (offline build, one layer): %.1f MB as a tarball (%s)", float64(st.Size())/1e6, strings.TrimSpace(h.imageOut)))
	}
	return nil
}

var initLine = regexp.MustCompile(`^init (\S+) @[\d.]+ ms, ([\d.]+) ms clock, (\d+) bytes, (\d+) allocs`)

// topInits lists the package inits that cost most, each the median of its
// clock over the traces, and the median total.
func topInits(outs []string, n int) []string {
	type in struct {
		pkg   string
		clock float64
	}
	clocks := map[string][]float64{}
	var totals []float64
	count := 0
	for _, out := range outs {
		total, pkgs := 0.0, 0
		for _, l := range strings.Split(out, "\n") {
			if m := initLine.FindStringSubmatch(l); m != nil {
				c, _ := strconv.ParseFloat(m[2], 64)
				clocks[m[1]] = append(clocks[m[1]], c)
				total += c
				pkgs++
			}
		}
		totals = append(totals, total)
		count = pkgs
	}
	med := func(xs []float64) float64 {
		s := append([]float64(nil), xs...)
		sort.Float64s(s)
		return s[len(s)/2]
	}
	var ins []in
	for p, cs := range clocks {
		ins = append(ins, in{p, med(cs)})
	}
	sort.Slice(ins, func(i, j int) bool { return ins[i].clock > ins[j].clock })
	res := []string{fmt.Sprintf("all package init: %.2f ms clock over %d packages (medians of %d traces)", med(totals), count, len(outs))}
	for i := 0; i < n && i < len(ins); i++ {
		res = append(res, fmt.Sprintf("%s: %.3f ms", ins[i].pkg, ins[i].clock))
	}
	return res
}
