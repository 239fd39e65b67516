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

	mu          sync.Mutex
	firstWrong  time.Time
	lastWrong   time.Time
	lastMessage string
	cancel      context.CancelFunc
	done        sync.WaitGroup
}

// WrongWindow returns when the first and the last wrong verdicts came.
func (l *Load) WrongWindow() (first, last time.Time, sample string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.firstWrong, l.lastWrong, l.lastMessage
}

// StartLoad writes with `workers` writers, each pausing `every` between
// writes (0: as fast as answers come), until Stop.
func (e *Env) StartLoad(ns string, workers int, every time.Duration, image string) (*Load, error) {
	if e.ControlPlane == nil {
		return nil, fmt.Errorf("the load writes to the control plane's API server directly, which the %s provider does not run", e.Provider)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(e.ControlPlane.CA.PEM)
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: workers}}
	url := e.ControlPlane.Server + "/api/v1/namespaces/" + ns + "/pods?dryRun=All"
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
	resp, err := c.Do(req)
	if ctx.Err() != nil {
		return // stopped while in flight: not a write
	}
	l.Writes.Add(1)
	if err != nil {
		l.Errors.Add(1)
		return
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wrong := ""
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
			wrong = "a compliant Pod was admitted without the default: mutate failed open"
		}
	case resp.StatusCode == http.StatusCreated:
		wrong = "a Pod without owner was admitted: validate failed open"
	case !bytes.Contains(out, []byte("was denied by bouncer")):
		wrong = fmt.Sprintf("a Pod without owner was refused, but not by bouncer: %d %.200s", resp.StatusCode, out)
	}
	if wrong != "" {
		l.Wrong.Add(1)
		now := time.Now()
		l.mu.Lock()
		if l.firstWrong.IsZero() {
			l.firstWrong = now
		}
		l.lastWrong, l.lastMessage = now, wrong
		l.mu.Unlock()
	}
}
