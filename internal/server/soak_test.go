package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"bouncer.dev/bouncer/internal/admission"
	"bouncer.dev/bouncer/internal/logging"
	"bouncer.dev/bouncer/internal/policy"
)

// The test binary doubles as the load generator, so that the server's
// process (this one) holds only the server's goroutines and memory.
func TestMain(m *testing.M) {
	if os.Getenv("BOUNCER_LOADGEN") != "" {
		loadgen()
		return
	}
	os.Exit(m.Run())
}

type loadResult struct {
	Requests int64            `json:"requests"`
	Errors   int64            `json:"errors"`
	Statuses map[string]int64 `json:"statuses"`
	Wrong    int64            `json:"wrong"`
}

// loadgen posts reviews with keep-alive from many goroutines until the
// duration passes, then prints what happened as JSON.
func loadgen() {
	url := os.Getenv("BOUNCER_LOADGEN")
	dur, _ := time.ParseDuration(os.Getenv("BOUNCER_LOADGEN_DURATION"))
	conc, _ := strconv.Atoi(os.Getenv("BOUNCER_LOADGEN_CONCURRENCY"))
	body, _ := os.ReadFile("../../testdata/reviews/pod-without-owner.json")
	tr := &http.Transport{MaxIdleConnsPerHost: conc}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var res loadResult
	var mu sync.Mutex
	res.Statuses = map[string]int64{}
	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				resp, err := client.Post(url, "application/json", bytes.NewReader(body))
				atomic.AddInt64(&res.Requests, 1)
				if err != nil {
					atomic.AddInt64(&res.Errors, 1)
					continue
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || !bytes.Contains(b, []byte(`"code":403`)) {
					atomic.AddInt64(&res.Wrong, 1)
				}
				mu.Lock()
				res.Statuses[strconv.Itoa(resp.StatusCode)]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	tr.CloseIdleConnections()
	_ = json.NewEncoder(os.Stdout).Encode(res)
}

func rssKiB() int {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			n, _ := strconv.Atoi(strings.Fields(l)[1])
			return n
		}
	}
	return 0
}

// TestSoakAtSaturation serves the real mux for BOUNCER_SOAK_SECONDS under
// saturating load from another process: 0 errors, 0 non-200 answers, every
// answer the right one, and the goroutine count back to its baseline after.
// RSS over time is printed as a figure, not asserted: shared machines are
// noisy. `make soak` (part of `make test`) runs it for 60 s.
func TestSoakAtSaturation(t *testing.T) {
	secs, _ := strconv.Atoi(os.Getenv("BOUNCER_SOAK_SECONDS"))
	if secs == 0 {
		t.Skip("set BOUNCER_SOAK_SECONDS (make soak) to run the soak")
	}
	srv, err := New(Config{}, admission.Mux(policy.Default(), logging.New(io.Discard)), logging.New(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	addr, stopServer := serve(t, srv, 10*time.Second, logging.New(io.Discard))
	time.Sleep(100 * time.Millisecond)
	runtime.GC()
	baseline := runtime.NumGoroutine()
	rssStart := rssKiB()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "BOUNCER_LOADGEN=http://"+addr+"/validate",
		fmt.Sprintf("BOUNCER_LOADGEN_DURATION=%ds", secs), "BOUNCER_LOADGEN_CONCURRENCY=64")
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var samples []string
	tick := time.NewTicker(time.Duration(secs) * time.Second / 6)
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	start := time.Now()
wait:
	for {
		select {
		case err := <-waitErr:
			if err != nil {
				t.Fatalf("load generator: %v", err)
			}
			break wait
		case <-tick.C:
			samples = append(samples, fmt.Sprintf("%ds:%dMiB", int(time.Since(start).Seconds()), rssKiB()/1024))
		}
	}
	tick.Stop()
	var res loadResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("load generator output %q: %v", out.String(), err)
	}
	if res.Errors != 0 || res.Wrong != 0 || len(res.Statuses) != 1 || res.Statuses["200"] != res.Requests {
		t.Errorf("under load: %+v; want every request answered 200 with the right review", res)
	}
	// The load generator has exited and closed its connections: the
	// server's connection goroutines must all end.
	var now int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if now = runtime.NumGoroutine(); now <= baseline {
			break
		}
	}
	if now > baseline {
		t.Errorf("goroutines %d after the load, baseline %d: connections leaked", now, baseline)
	}
	if err := stopServer(); err != nil {
		t.Error(err)
	}
	t.Logf("FIGURE soak: %d requests in %ds at concurrency 64 (%.0f/s), 0 errors; goroutines %d before, %d after; RSS %dMiB at start, then %s",
		res.Requests, secs, float64(res.Requests)/float64(secs), baseline, now, rssStart/1024, strings.Join(samples, " "))
}
