package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"bouncer.dev/bouncer/internal/server"
)

// connEnds writes nothing more and reports how long the server took to end
// the connection.
func connEnds(t *testing.T, c net.Conn, since time.Time, limit time.Duration) time.Duration {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(limit))
	_, err := io.Copy(io.Discard, c)
	took := time.Since(since)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept the connection open for %v", limit)
	}
	return took
}

func TestSlowlorisHeadersAreCutByTheReadHeaderTimeout(t *testing.T) {
	t.Parallel()
	p := startBouncer(t, "serve")
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_, _ = c.Write([]byte("POST /validate HTTP/1.1\r\nHost: x\r\n"))
	// One header byte a second, never finishing the headers.
	stop := make(chan struct{})
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
				if _, err := c.Write([]byte("X")); err != nil {
					return
				}
			}
		}
	}()
	took := connEnds(t, c, start, 30*time.Second)
	close(stop)
	if took > server.ReadHeaderTimeout+10*time.Second {
		t.Errorf("headers trickling in were cut after %v; ReadHeaderTimeout is %v", took, server.ReadHeaderTimeout)
	}
	t.Logf("FIGURE slowloris headers: connection ended after %v (ReadHeaderTimeout %v)", took.Round(time.Millisecond), server.ReadHeaderTimeout)
}

func TestASlowBodyIsCutByTheReadTimeout(t *testing.T) {
	t.Parallel()
	p := startBouncer(t, "serve")
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_, _ = c.Write([]byte(fmt.Sprintf("POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(podReview))))
	go func() {
		for _, b := range podReview {
			time.Sleep(500 * time.Millisecond)
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
		}
	}()
	took := connEnds(t, c, start, 40*time.Second)
	if took > server.ReadTimeout+10*time.Second {
		t.Errorf("a trickling body was cut after %v; ReadTimeout is %v", took, server.ReadTimeout)
	}
	t.Logf("FIGURE slowloris body: connection ended after %v (ReadTimeout %v)", took.Round(time.Millisecond), server.ReadTimeout)
}

// TestOversizedBodiesAre413WhileStillArriving sends bodies far over the
// limit. The client may see only a reset, so the server's log line is what
// the test asserts.
func TestOversizedBodiesAre413WhileStillArriving(t *testing.T) {
	t.Parallel()
	p := startBouncer(t, "serve")
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	for _, declared := range []bool{true, false} {
		c, err := net.Dial("tcp", p.addr)
		if err != nil {
			t.Fatal(err)
		}
		head := "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
		if declared {
			head += "Content-Length: 33554432\r\n\r\n"
		} else {
			head += "Transfer-Encoding: chunked\r\n\r\n"
		}
		_, _ = c.Write([]byte(head))
		answered := make(chan string, 1)
		go func() {
			line, _ := bufio.NewReader(c).ReadString('\n')
			answered <- line
		}()
		sent := 0
		for sent < 32<<20 {
			var err error
			if declared {
				_, err = c.Write(chunk)
			} else {
				_, err = fmt.Fprintf(c, "%x\r\n%s\r\n", len(chunk), chunk)
			}
			if err != nil {
				break
			}
			sent += len(chunk)
		}
		select {
		case line := <-answered:
			t.Logf("declared=%v: client sent %d bytes and saw %q", declared, sent, strings.TrimSpace(line))
		case <-time.After(10 * time.Second):
			t.Errorf("declared=%v: no answer nor reset within 10s", declared)
		}
		c.Close()
	}
	want := []string{`"status":413,"error":"body of 33554432 bytes is over the limit of 8388608 bytes"`, `"status":413,"error":"body is over the limit of 8388608 bytes"`}
	for _, w := range want {
		if !strings.Contains(p.logs(), w) {
			t.Errorf("the server did not log %s:\n%s", w, p.logs())
		}
	}
}

// TestSIGTERMUnderLoadFailsNoInFlightRequest runs eight clients, one new
// connection per review, each with its own uid, and sends SIGTERM midway.
// Every uid the server decided (its decision log) must have reached its
// client as a whole, correct answer; new connections must be refused; and
// the process must exit within the grace period.
func TestSIGTERMUnderLoadFailsNoInFlightRequest(t *testing.T) {
	p := startBouncer(t, "serve", "--shutdown-grace", "20s")
	type result struct {
		uid  string
		kind string // ok, refused, failed
		err  error
	}
	var mu sync.Mutex
	var results []result
	var termAt time.Time
	var wg sync.WaitGroup
	done := make(chan struct{})
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			refusals := 0
			for i := 0; refusals < 3; i++ {
				select {
				case <-done:
					return
				default:
				}
				uid := fmt.Sprintf("load-%d-%d", w, i)
				body := bytes.Replace(podReview, []byte("00000000-0000-4000-8000-000000000001"), []byte(uid), 1)
				resp, err := client.Post("http://"+p.addr+"/validate", "application/json", bytes.NewReader(body))
				r := result{uid: uid, kind: "ok"}
				switch {
				case err != nil && strings.Contains(err.Error(), "connection refused"):
					r.kind = "refused"
					refusals++
				case err != nil:
					r.kind, r.err = "failed", err
				default:
					b, rerr := io.ReadAll(resp.Body)
					resp.Body.Close()
					if rerr != nil || resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"uid":"`+uid+`"`)) {
						r.kind, r.err = "failed", fmt.Errorf("status %d, read error %v, body %.200s", resp.StatusCode, rerr, b)
					}
				}
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
			}
		}(w)
	}
	time.Sleep(1500 * time.Millisecond)
	termAt = time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(25 * time.Second):
		t.Fatal("did not exit within the 20s grace period")
	}
	exitTook := time.Since(termAt)
	close(done)
	wg.Wait()
	if p.err != nil {
		t.Errorf("exit: %v", p.err)
	}

	decided := map[string]bool{}
	for _, line := range strings.Split(p.logs(), "\n") {
		var d struct {
			Message string `json:"message"`
			UID     string `json:"uid"`
		}
		if json.Unmarshal([]byte(line), &d) == nil && d.Message == "admission decision" {
			decided[d.UID] = true
		}
	}
	counts := map[string]int{}
	for _, r := range results {
		counts[r.kind]++
		if r.kind == "failed" && decided[r.uid] {
			t.Errorf("in-flight request %s was decided by the server but failed at the client: %v", r.uid, r.err)
		}
		if r.kind == "ok" && !decided[r.uid] {
			t.Errorf("request %s was answered but not logged", r.uid)
		}
	}
	if counts["ok"] == 0 || counts["refused"] == 0 {
		t.Errorf("counts %v: want answered requests and refused new connections", counts)
	}
	t.Logf("FIGURE shutdown under load: %d answered, %d decided, %d refused after SIGTERM, %d failed before reaching the server; exited %v after SIGTERM",
		counts["ok"], len(decided), counts["refused"], counts["failed"], exitTook.Round(time.Millisecond))
}
