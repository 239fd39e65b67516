package main

import (
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestMakeRunLeavesNoServerBehindWhenStoppedBySignal runs `make run` as a
// terminal or a supervisor would, stops make with SIGTERM, and checks that
// the server went with it: make forwards the signal to its child, so the
// child must be the server itself, not `go run`, which dies on SIGTERM and
// orphans the program it started.
func TestMakeRunLeavesNoServerBehindWhenStoppedBySignal(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not on PATH")
	}
	port := freePort(t)
	addr := "127.0.0.1:" + port
	cmd := exec.Command("make", "--no-print-directory", "-C", "../..", "run", "PORT="+port)
	cmd.Env = append(os.Environ(), "LOCAL_ONLY=true", "FUNCTION_TARGET=")
	// make and everything it starts share a process group of their own, so
	// the test can see whether any of them outlives make.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A file, not a pipe: an orphan holding a pipe open would keep Wait
	// from returning when make ends.
	logFile, err := os.Create(filepath.Join(t.TempDir(), "make-run.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	logs := func() string { b, _ := os.ReadFile(logFile.Name()); return string(b) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		// Whatever the verdict, leave nothing of this test running.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-exited
	})

	// The first run builds the binary: allow for a cold cache on a busy machine.
	client := &http.Client{Timeout: 2 * time.Second}
	up := false
	for deadline := time.Now().Add(5 * time.Minute); !up && time.Now().Before(deadline); {
		select {
		case <-exited:
			t.Fatalf("make run ended before serving /healthz on %s:\n%s", addr, logs())
		case <-time.After(100 * time.Millisecond):
		}
		if resp, err := client.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			up = resp.StatusCode == http.StatusOK
		}
	}
	if !up {
		t.Fatalf("make run did not answer /healthz on %s within 5 minutes:\n%s", addr, logs())
	}

	stopped := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	const bound = 10 * time.Second
	select {
	case <-exited:
	case <-time.After(bound):
		t.Fatalf("make did not end within %v of SIGTERM:\n%s", bound, logs())
	}
	// make has ended; the server must not outlive it. Give a dying process
	// the rest of the bound to let go of its port.
	var listening, remaining bool
	for {
		listening, remaining = listens(addr), groupAlive(pgid)
		if !listening && !remaining || time.Since(stopped) > bound {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(stopped)
	if listening {
		t.Errorf("%s still accepts connections %v after make run got SIGTERM: the server was orphaned", addr, took.Round(time.Millisecond))
	}
	if remaining {
		t.Errorf("a process of make run's group is still alive %v after make got SIGTERM: the server was orphaned", took.Round(time.Millisecond))
	}
	if !listening && !remaining {
		t.Logf("FIGURE make run stopped by SIGTERM: port closed and no process left after %v (bound %v)", took.Round(time.Millisecond), bound)
	}
}

// listens reports whether something accepts connections at addr.
func listens(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// groupAlive reports whether any process is left in the process group.
func groupAlive(pgid int) bool {
	err := syscall.Kill(-pgid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
