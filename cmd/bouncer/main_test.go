package main

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"bouncer.dev/bouncer/internal/testpki"
)

// The test binary doubles as bouncer: with BOUNCER_RUN_MAIN set it runs
// main(), so process-level tests exercise the real command.
func TestMain(m *testing.M) {
	if os.Getenv("BOUNCER_RUN_MAIN") == "1" {
		main()
		return
	}
	// `bouncer audit` runs the audit's own binary, found on $PATH when it
	// is not beside this one: build the real one for the tests.
	dir, err := os.MkdirTemp("", "bouncer-audit-bin")
	if err != nil {
		panic(err)
	}
	build := exec.Command("go", "build", "-o", filepath.Join(dir, auditBinary), ".")
	build.Dir = filepath.Join("..", auditBinary)
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building %s: %v\n%s", auditBinary, err, out)
		os.Exit(1)
	}
	os.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runCLI runs a command in-process and returns its exit code and output.
func runCLI(stdin string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// proc is a bouncer process started by a test.
type proc struct {
	cmd  *exec.Cmd
	addr string
	mu   sync.Mutex
	out  bytes.Buffer
	// exited is closed when the process ends; err is its Wait error.
	exited chan struct{}
	err    error
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *proc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// startBouncer runs `bouncer args...` on a free loopback port and waits
// until it accepts connections.
func startBouncer(t *testing.T, args ...string) *proc {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	p := &proc{addr: addr, exited: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], append(args, "--addr", addr)...)
	p.cmd.Env = append(os.Environ(), "BOUNCER_RUN_MAIN=1")
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	})
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return p
		}
	}
	t.Fatalf("bouncer did not listen on %s within 20s:\n%s", addr, p.logs())
	return nil
}

// selfSigned writes a certificate and key for 127.0.0.1 into dir, and
// returns the pool that verifies them.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	ca, err := testpki.NewCA("bouncer-test-ca")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.Serving("bouncer-test")
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, ca.Pool
}

// readResponse reads one HTTP response from a raw connection.
func readResponse(c net.Conn) (string, error) {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	status, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	length := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		if strings.TrimSpace(line) == "" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Content-Length") {
			_, _ = fmt.Sscan(strings.TrimSpace(v), &length)
		}
	}
	body := make([]byte, length)
	_, err = io.ReadFull(r, body)
	return strings.TrimSpace(status) + "\n" + string(body), err
}

// TestHelpIsOutputAndErrorsAreNot: help that was asked for is the command's
// output (stdout, exit 0), so `bouncer check --help | less` works; a usage
// error goes to stderr with exit 2.
func TestHelpIsOutputAndErrorsAreNot(t *testing.T) {
	for _, c := range commands() {
		for _, flag := range []string{"--help", "-h", "-help"} {
			t.Run(c.name+" "+flag, func(t *testing.T) {
				args := []string{c.name, flag}
				if c.name == "review" {
					args = []string{c.name, "validate", flag}
				}
				code, out, errOut := runCLI("", args...)
				if code != exitOK || errOut != "" || !strings.HasPrefix(out, "Usage: bouncer "+c.name) || !strings.Contains(out, "\nExample:\n  ") {
					t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
				}
			})
		}
	}
	tests := []struct {
		name      string
		args      []string
		code      int
		inStdout  string
		inStderr  string
		stdoutNil bool
	}{
		{"help before review's function is help too", []string{"review", "--help"}, exitOK, "Usage: bouncer review", "", false},
		{"bouncer --help lists the commands on stdout", []string{"--help"}, exitOK, "Commands:\n  serve", "", false},
		{"bouncer -h lists the commands on stdout", []string{"-h"}, exitOK, "Commands:\n  serve", "", false},
		{"bouncer with no command is a usage error on stderr", nil, exitUsage, "", "bouncer: name a command\n", true},
		{"an unknown command is a usage error on stderr", []string{"nonsense"}, exitUsage, "", "bouncer: unknown command \"nonsense\"", true},
		{"an unknown flag is a usage error on stderr, with the usage", []string{"check", "--nope", "-"}, exitUsage, "", "flag provided but not defined: -nope\nUsage: bouncer check", true},
		{"the help spells flags as kubectl does and pairs short with long", []string{"check", "--help"}, exitOK, "  -f, --filename PATH\n", "", false},
		{"check's help says how a live Namespace is told apart", []string{"check", "--help"}, exitOK, "A Namespace with metadata.uid or\nmetadata.creationTimestamp was read from a cluster", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI("", tt.args...)
			if code != tt.code || !strings.Contains(out, tt.inStdout) || !strings.Contains(errOut, tt.inStderr) || tt.stdoutNil && out != "" {
				t.Errorf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errOut)
			}
		})
	}
}

func TestDashDashVersionIsTheVersionCommand(t *testing.T) {
	_, want, _ := runCLI("", "version")
	for _, arg := range []string{"--version", "-version"} {
		code, out, errOut := runCLI("", arg)
		if code != exitOK || out != want || errOut != "" {
			t.Errorf("bouncer %s: exit %d, stdout %q, stderr %q; want 0 and %q", arg, code, out, errOut, want)
		}
	}
}
