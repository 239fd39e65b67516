package main

import (
	"time"

	"bouncer.dev/bouncer/e2e/framework"
)

// httpLoad times every server over loopback: the typical Pod at each TLS
// setting and concurrency, then each other payload at c=64 on plain HTTP.
func (h *harness) httpLoad(rep *report) error {
	framework.Progress("HTTP on loopback: %d reps of %v per point", h.reps, h.dur)
	rep.reps, rep.dur = h.reps, h.dur
	for _, useTLS := range []bool{false, true} {
		for _, conc := range []int{1, 8, 64} {
			rows, err := h.typicalPoint(useTLS, conc)
			if err != nil {
				return err
			}
			rep.http = append(rep.http, rows...)
		}
	}
	for _, p := range h.payloads {
		if p.Name == h.typical.Name {
			continue
		}
		for _, im := range h.servers {
			if h.wrong[im.name+"/"+p.Name] {
				continue
			}
			var rs []loadResult
			for i := 0; i < h.reps; i++ {
				s, _, err := start(im, "1", h.ca, h.work, false)
				if err != nil {
					return err
				}
				c := client(h.ca, 64)
				if _, err := waitReady(c, s.base+"/"+p.Function, p.Body, 20*time.Second); err != nil {
					s.stop()
					return err
				}
				rs = append(rs, load(c, s.base+"/"+p.Function, p.Body, 64, 300*time.Millisecond, h.dur))
				s.stop()
			}
			rep.http = append(rep.http, httpRow{im.name, p.Name, false, 64, medianLoad(rs), 0})
		}
	}
	return nil
}

// typicalPoint times the typical Pod at one TLS setting and concurrency on
// every server that serves it, the previous report's bouncer too. Each
// repetition runs every server once, in a rotating order, so that drift on
// this shared machine reaches all of them alike instead of whichever server
// happened to run during it.
func (h *harness) typicalPoint(useTLS bool, conc int) ([]httpRow, error) {
	rs := make([][]loadResult, len(h.withPrevious))
	rss := make([]int, len(h.withPrevious))
	for i := 0; i < h.reps; i++ {
		for k := range h.withPrevious {
			j := (k + i) % len(h.withPrevious)
			im := h.withPrevious[j]
			if useTLS && !im.tls {
				continue
			}
			s, _, err := start(im, "1", h.ca, h.work, useTLS)
			if err != nil {
				return nil, err
			}
			c := client(h.ca, conc)
			if _, err := waitReady(c, s.base+"/validate", h.typical.Body, 20*time.Second); err != nil {
				s.stop()
				return nil, err
			}
			rs[j] = append(rs[j], load(c, s.base+"/validate", h.typical.Body, conc, 300*time.Millisecond, h.dur))
			if r := s.rssKiB(); r > rss[j] {
				rss[j] = r
			}
			s.stop()
		}
	}
	var rows []httpRow
	for j, im := range h.withPrevious {
		if len(rs[j]) == 0 {
			continue
		}
		m := medianLoad(rs[j])
		rows = append(rows, httpRow{im.name, h.typical.Name, useTLS, conc, m, rss[j]})
		framework.Progress("%-20s tls=%-5v c=%-2d %8.0f req/s p50 %v p99 %v errors %d", im.name, useTLS, conc, m.rps, m.p50, m.p99, m.errors)
	}
	return rows, nil
}
