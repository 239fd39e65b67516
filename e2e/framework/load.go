package framework

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Load writes Pods to the API server (server-side dry runs: every webhook
// is called, nothing is stored) and checks each verdict: a Pod with owner
// must be admitted with the default environment added, one without must be
// denied by bouncer. A wrong verdict is a write that failed open, or worse.
type Load struct {
	// Writes, Wrong and Errors count the writes, the wrong verdicts and the
	// writes that got no verdict at all (the API server unreachable).
	Writes, Wrong, Errors atomic.Int64
	// MutateOpen and ValidateOpen count the wrong verdicts that are a
	// webhook failing open: a compliant Pod admitted without the default,
	// a Pod without owner admitted. Worse counts the rest: a compliant Pod
	// refused, or a refusal that is not bouncer's.
	MutateOpen, ValidateOpen, Worse atomic.Int64

	mu          sync.Mutex
	firstWrong  time.Time
	lastWrong   time.Time
	lastMessage string
	latencies   []time.Duration
	cancel      context.CancelFunc
	stopTicks   chan struct{}
	stopOnce    sync.Once
	done        sync.WaitGroup
}

// WrongWindow returns when the first and the last wrong verdicts came.
func (l *Load) WrongWindow() (first, last time.Time, sample string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.firstWrong, l.lastWrong, l.lastMessage
}

// Latencies returns how long each write took, in the order they ended.
func (l *Load) Latencies() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Duration(nil), l.latencies...)
}

// StartRate writes perSecond Pods a second, each in its own request
// whatever the answers' delay (an open loop, as independent clients
// write), alternately with and without owner, until Stop.
func (e *Env) StartRate(ns string, perSecond int, image string) (*Load, error) {
	client, url, err := e.loadClient(ns, 4*perSecond)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Load{cancel: cancel, stopTicks: make(chan struct{})}
	l.done.Add(1)
	go func() {
		defer l.done.Done()
		tick := time.NewTicker(time.Second / time.Duration(perSecond))
		defer tick.Stop()
		for i := 0; ; i++ {
			l.done.Add(1)
			go func() {
				defer l.done.Done()
				l.write(ctx, client, url, fmt.Sprintf("rate-%d", i), i%2 == 0, image)
			}()
			select {
			case <-ctx.Done():
				return
			case <-l.stopTicks:
				return
			case <-tick.C:
			}
		}
	}()
	return l, nil
}

// Drain stops starting writes and waits until every write started has
// its answer: unlike Stop, it abandons none.
func (l *Load) Drain() {
	l.stopOnce.Do(func() { close(l.stopTicks) })
	l.done.Wait()
	l.cancel()
}

func (e *Env) loadClient(ns string, conns int) (*http.Client, string, error) {
	if e.ControlPlane == nil {
		return nil, "", fmt.Errorf("the load writes to the control plane's API server directly, which the %s provider does not run", e.Provider)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(e.ControlPlane.CA.PEM)
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: conns}}
	return client, e.ControlPlane.Server + "/api/v1/namespaces/" + ns + "/pods?dryRun=All", nil
}

// StartLoad writes with `workers` writers, each pausing `every` between
// writes (0: as fast as answers come), until Stop.
func (e *Env) StartLoad(ns string, workers int, every time.Duration, image string) (*Load, error) {
	client, url, err := e.loadClient(ns, workers)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Load{cancel: cancel}
	for w := 0; w < workers; w++ {
		l.done.Add(1)
		go func() {
			defer l.done.Done()
			for i := 0; ctx.Err() == nil; i++ {
				compliant := (i+w)%2 == 0
				l.write(ctx, client, url, fmt.Sprintf("load-%d-%d", w, i), compliant, image)
				if every > 0 {
					select {
					case <-ctx.Done():
					case <-time.After(every):
					}
				}
			}
		}()
	}
	return l, nil
}

// Stop ends the load and waits for the writes in flight.
func (l *Load) Stop() {
	l.cancel()
	l.done.Wait()
}

func (l *Load) write(ctx context.Context, c *http.Client, url, name string, compliant bool, image string) {
	labels := map[string]string{"app": "load"}
	if compliant {
		labels["owner"] = "team-a"
	}
	pod := map[string]any{"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "labels": labels},
		"spec":     map[string]any{"containers": []any{map[string]any{"name": "c", "image": image, "imagePullPolicy": "Never"}}}}
	body, _ := json.Marshal(pod)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+adminToken)
	start := time.Now()
	resp, err := c.Do(req)
	if ctx.Err() != nil {
		return // stopped while in flight: not a write
	}
	took := time.Since(start)
	l.mu.Lock()
	l.latencies = append(l.latencies, took)
	l.mu.Unlock()
	l.Writes.Add(1)
	if err != nil {
		l.Errors.Add(1)
		return
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wrong, opened := "", (*atomic.Int64)(nil)
	switch {
	case compliant && resp.StatusCode != http.StatusCreated:
		wrong = fmt.Sprintf("a compliant Pod was refused: %d %.200s", resp.StatusCode, out)
	case compliant:
		var got struct {
			Metadata struct {
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
		}
		_ = json.Unmarshal(out, &got)
		if got.Metadata.Labels["environment"] != "development" {
			wrong, opened = "a compliant Pod was admitted without the default: mutate failed open", &l.MutateOpen
		}
	case resp.StatusCode == http.StatusCreated:
		wrong, opened = "a Pod without owner was admitted: validate failed open", &l.ValidateOpen
	case !bytes.Contains(out, []byte("was denied by bouncer")):
		wrong = fmt.Sprintf("a Pod without owner was refused, but not by bouncer: %d %.200s", resp.StatusCode, out)
	}
	if wrong != "" {
		l.Wrong.Add(1)
		if opened == nil {
			opened = &l.Worse
		}
		opened.Add(1)
		now := time.Now()
		l.mu.Lock()
		if l.firstWrong.IsZero() {
			l.firstWrong = now
		}
		l.lastWrong, l.lastMessage = now, wrong
		l.mu.Unlock()
	}
}
