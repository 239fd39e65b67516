package main

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var podReview = func() []byte {
	b, err := os.ReadFile("../../testdata/reviews/pod-without-owner.json")
	if err != nil {
		panic(err)
	}
	return b
}()

func TestServeAnswersOnTheConventionalPaths(t *testing.T) {
	p := startBouncer(t, "serve")
	for path, want := range map[string]string{"/validate": `"code":403`, "/mutate": `"patchType":"JSONPatch"`} {
		resp, err := http.Post("http://"+p.addr+path, "application/json", bytes.NewReader(podReview))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d %s", path, resp.StatusCode, b)
		}
	}
	resp, err := http.Get("http://" + p.addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/healthz: %v %v", resp, err)
	}
	if !strings.Contains(p.logs(), `"message":"serving"`) || !strings.Contains(p.logs(), `"policy":"embedded default"`) {
		t.Errorf("start-up log line missing:\n%s", p.logs())
	}
}

func TestServeWithTLSRefusesTLS10And11(t *testing.T) {
	cert, key, pool := selfSigned(t, t.TempDir())
	p := startBouncer(t, "serve", "--tls-cert", cert, "--tls-key", key)
	tests := []struct {
		name    string
		version uint16
		ok      bool
	}{
		{"TLS 1.0 is refused", tls.VersionTLS10, false},
		{"TLS 1.1 is refused", tls.VersionTLS11, false},
		{"TLS 1.2 is served", tls.VersionTLS12, true},
		{"TLS 1.3 is served", tls.VersionTLS13, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tls.Dial("tcp", p.addr, &tls.Config{RootCAs: pool, MinVersion: tt.version, MaxVersion: tt.version, ServerName: "127.0.0.1"})
			if tt.ok != (err == nil) {
				t.Fatalf("handshake error = %v; want ok=%v", err, tt.ok)
			}
			if err == nil {
				c.Close()
			}
		})
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Post("https://"+p.addr+"/validate", "application/json", bytes.NewReader(podReview))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("review over TLS: %v %v", resp, err)
	}
}

// TestSIGTERMLetsInFlightRequestsFinish starts a review, sends SIGTERM while
// its body is still arriving, checks that new connections are refused, then
// completes the body: the answer must be whole and the process must exit 0.
func TestSIGTERMLetsInFlightRequestsFinish(t *testing.T) {
	p := startBouncer(t, "serve", "--shutdown-grace", "20s")
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	head := "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(podReview)) + "\r\n\r\n"
	half := len(podReview) / 2
	if _, err := c.Write(append([]byte(head), podReview[:half]...)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	sent := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The listener closes at once: new connections are refused.
	var refused bool
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if nc, err := net.Dial("tcp", p.addr); err != nil {
			refused = true
			break
		} else {
			nc.Close()
		}
	}
	if !refused {
		t.Error("new connections were still accepted 5s after SIGTERM")
	}
	if _, err := c.Write(podReview[half:]); err != nil {
		t.Fatalf("finishing the in-flight body: %v", err)
	}
	resp, err := readResponse(c)
	if err != nil || !strings.HasPrefix(resp, "HTTP/1.1 200") || !strings.Contains(resp, `"code":403`) {
		t.Fatalf("in-flight request failed: %v\n%s", err, resp)
	}
	select {
	case <-p.exited:
		if p.err != nil {
			t.Errorf("exit: %v\n%s", p.err, p.logs())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("did not exit within the 20s grace period")
	}
	t.Logf("exited %v after SIGTERM, with the in-flight request answered", time.Since(sent).Round(time.Millisecond))
	if !strings.Contains(p.logs(), `"message":"stopped"`) {
		t.Errorf("no stopped line:\n%s", p.logs())
	}
}

func TestServeRefusesABadPolicyNamingTheField(t *testing.T) {
	f := t.TempDir() + "/p.yaml"
	_ = os.WriteFile(f, []byte("apiVersion: bouncer.dev/v1\nkind: Policy\nrules: [{name: a, kinds: [Pod], require: [{key: owner, pattern: \"(\"}]}]\n"), 0o644)
	code, _, errOut := runCLI("", "serve", "--policy", f, "--addr", "127.0.0.1:0")
	if code != exitUsage || !strings.Contains(errOut, "rules[0].require[0].pattern") {
		t.Errorf("code %d, stderr %q", code, errOut)
	}
}

// TestServeNamesItsOwnFlagsInErrors: the server package names its Config
// fields, and the command maps them to the flags people type.
func TestServeNamesItsOwnFlagsInErrors(t *testing.T) {
	code, _, errOut := runCLI("", "serve", "--tls-cert", "tls.crt", "--addr", "127.0.0.1:0")
	if code != exitUsage || errOut != "bouncer serve: --tls-cert and --tls-key go together\n" {
		t.Errorf("code %d, stderr %q", code, errOut)
	}
}
