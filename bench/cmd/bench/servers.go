package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"bouncer.dev/bouncer/e2e/framework"
)

// impl is one way of serving the default policy.
type impl struct {
	name string
	tls  bool // can serve TLS
	// args returns the command for a server on addr.
	args func(addr, cert, key string) (bin string, args []string, env []string)
}

type binaries struct {
	bouncer, functions, benchserver, floor string
	audit                                  string // bouncer-audit; "" when the tree has no cmd/bouncer-audit
}

// bouncerBuild is bouncer serve from another build of it.
func bouncerBuild(name, bin string) impl {
	return impl{name, true, func(addr, cert, key string) (string, []string, []string) {
		a := []string{"serve", "--addr", addr}
		if cert != "" {
			a = append(a, "--tls-cert", cert, "--tls-key", key)
		}
		return bin, a, nil
	}}
}

func impls(b binaries) []impl {
	return []impl{
		{"floor", true, func(addr, cert, key string) (string, []string, []string) {
			a := []string{"-addr", addr}
			if cert != "" {
				a = append(a, "-tls-cert", cert, "-tls-key", key)
			}
			return b.floor, a, nil
		}},
		{"bouncer serve", true, func(addr, cert, key string) (string, []string, []string) {
			a := []string{"serve", "--addr", addr}
			if cert != "" {
				a = append(a, "--tls-cert", cert, "--tls-key", key)
			}
			return b.bouncer, a, nil
		}},
		{"functions framework", false, func(addr, _, _ string) (string, []string, []string) {
			_, port, _ := net.SplitHostPort(addr)
			return b.functions, nil, []string{"PORT=" + port, "LOCAL_ONLY=true", "FUNCTION_TARGET="}
		}},
		{"controller-runtime", true, func(addr, cert, key string) (string, []string, []string) {
			a := []string{"-addr", addr}
			if cert != "" {
				a = append(a, "-tls-cert", cert, "-tls-key", key)
			}
			return b.benchserver, a, nil
		}},
	}
}

// server is a running implementation, pinned to one core.
type server struct {
	cmd  *exec.Cmd
	base string
}

func start(im impl, cpu string, ca *framework.CA, dir string, useTLS bool) (*server, time.Time, error) {
	port, err := framework.FreePort()
	if err != nil {
		return nil, time.Time{}, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	var cert, key string
	scheme := "http"
	if useTLS {
		if cert, key, err = ca.Serving(dir, "bench"); err != nil {
			return nil, time.Time{}, err
		}
		scheme = "https"
	}
	bin, args, env := im.args(addr, cert, key)
	cmd := exec.Command("taskset", append([]string{"-c", cpu, bin}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	// Logs go to /dev/null: a pipe would be drained by this process, on the
	// load generator's core, and slow only the servers that log.
	cmd.Stdout, cmd.Stderr = nil, nil
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, t0, err
	}
	return &server{cmd: cmd, base: scheme + "://" + addr}, t0, nil
}

func (s *server) stop() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

// rssKiB reads the server's resident set.
func (s *server) rssKiB() int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "VmRSS:") {
			n, _ := strconv.Atoi(strings.Fields(sc.Text())[1])
			return n
		}
	}
	return 0
}

func client(ca *framework.CA, conns int) *http.Client {
	pool := x509.NewCertPool()
	if ca != nil {
		pool.AppendCertsFromPEM(ca.PEM)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, TLSClientConfig: &tls.Config{RootCAs: pool},
	}}
}

// post sends one review and returns the answer.
func post(c *http.Client, url string, body []byte) (int, []byte, error) {
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// waitReady polls until the server answers the payload, and returns when.
func waitReady(c *http.Client, url string, body []byte, limit time.Duration) (time.Time, error) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if code, b, err := post(c, url, body); err == nil && code == 200 && bytes.Contains(b, []byte(`"response"`)) {
			return time.Now(), nil
		}
		time.Sleep(200 * time.Microsecond)
	}
	return time.Time{}, fmt.Errorf("%s did not answer within %v", url, limit)
}
