package main

import (
	"net/http"
	"sort"
	"sync"
	"time"
)

// loadResult is one timed run.
type loadResult struct {
	rps      float64
	p50, p99 time.Duration
	errors   int
}

// load sends body to url from conc keep-alive workers for dur, after a
// warm-up, and measures each request.
func load(c *http.Client, url string, body []byte, conc int, warm, dur time.Duration) loadResult {
	var mu sync.Mutex
	var lats []time.Duration
	errs := 0
	stopWarm := time.Now().Add(warm)
	stop := stopWarm.Add(dur)
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			e := 0
			for {
				t := time.Now()
				if t.After(stop) {
					break
				}
				code, _, err := post(c, url, body)
				if t.Before(stopWarm) {
					continue
				}
				if err != nil || code != 200 {
					e++
					continue
				}
				local = append(local, time.Since(t))
			}
			mu.Lock()
			lats = append(lats, local...)
			errs += e
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	r := loadResult{errors: errs, rps: float64(len(lats)) / dur.Seconds()}
	if len(lats) > 0 {
		r.p50, r.p99 = lats[len(lats)/2], lats[len(lats)*99/100]
	}
	return r
}

func medianLoad(rs []loadResult) loadResult {
	sort.Slice(rs, func(i, j int) bool { return rs[i].rps < rs[j].rps })
	m := rs[len(rs)/2]
	m.errors = 0
	for _, r := range rs {
		m.errors += r.errors
	}
	return m
}

// quartiles returns the 25th, 50th and 75th percentiles.
func quartiles(ds []time.Duration) [3]time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return [3]time.Duration{s[len(s)/4], s[len(s)/2], s[3*len(s)/4]}
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
