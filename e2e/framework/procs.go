// Package framework runs bouncer's end-to-end tests against a control
// plane: local processes (the default), a kind cluster, or an existing
// cluster with a deployed service.
package framework

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is a child process in its own process group, killed with its group
// when the test binary dies (parent-death signal) or when Stop is called, so
// nothing is left behind after a -timeout kill or Ctrl-C.
type Proc struct {
	Name    string
	LogPath string
	cmd     *exec.Cmd
	exited  chan struct{}
	err     error
}

var (
	procsMu  sync.Mutex
	procs    []*Proc
	stoppers []func()
	cleanups []func()
	// stopping is set while StopAll runs: an interrupt stops everything
	// while a setup may still be starting things, and what it starts or
	// registers then must not escape the stop.
	stopping bool
)

// BeforeStop registers f to run in StopAll before any process is stopped:
// what needs them running to be undone (containers, through containerd).
// While StopAll runs, f runs at once.
func BeforeStop(f func()) { register(&stoppers, f) }

// OnCleanup registers f to run in StopAll, after every process has stopped.
// While StopAll runs, f runs at once.
func OnCleanup(f func()) { register(&cleanups, f) }

func register(list *[]func(), f func()) {
	procsMu.Lock()
	if stopping {
		procsMu.Unlock()
		f()
		return
	}
	*list = append(*list, f)
	procsMu.Unlock()
}

// Start runs bin with args, its output going to logDir/name.log.
func Start(name, logDir, bin string, env []string, args ...string) (*Proc, error) {
	procsMu.Lock()
	refused := stopping
	procsMu.Unlock()
	if refused {
		return nil, fmt.Errorf("not starting %s: everything is being stopped", name)
	}
	logPath := filepath.Join(logDir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Proc{Name: name, LogPath: logPath, cmd: cmd, exited: make(chan struct{})}
	go func() { p.err = cmd.Wait(); f.Close(); close(p.exited) }()
	procsMu.Lock()
	if stopping { // StopAll began while this started: it is not in its list
		procsMu.Unlock()
		p.Stop(10 * time.Second)
		return nil, fmt.Errorf("not starting %s: everything is being stopped", name)
	}
	procs = append(procs, p)
	procsMu.Unlock()
	return p, nil
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM to the group, then SIGKILL after grace.
func (p *Proc) Stop(grace time.Duration) {
	if p.Exited() {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
	}
}

// Tail returns the last n bytes of the process's log, for failure messages.
func (p *Proc) Tail(n int64) string {
	f, err := os.Open(p.LogPath)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	st, _ := f.Stat()
	if st.Size() > n {
		_, _ = f.Seek(-n, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// StopAll stops every process started, newest first.
func StopAll() {
	procsMu.Lock()
	ss := stoppers
	stoppers, stopping = nil, true
	procsMu.Unlock()
	defer func() {
		procsMu.Lock()
		stopping = false
		procsMu.Unlock()
	}()
	// The stoppers first, with every process still listed: stopNode finds
	// the kubelet among them.
	for i := len(ss) - 1; i >= 0; i-- {
		ss[i]()
	}
	procsMu.Lock()
	ps, cs := procs, cleanups
	procs, cleanups = nil, nil
	procsMu.Unlock()
	for i := len(ps) - 1; i >= 0; i-- {
		ps[i].Stop(10 * time.Second)
	}
	for _, f := range cs {
		f()
	}
}

// WorkDir makes this run's scratch directory under base, first removing
// those of earlier runs whose process is gone (killed by -timeout, say).
func WorkDir(base string) (string, error) {
	entries, _ := os.ReadDir(base)
	for _, e := range entries {
		pid, err := strconv.Atoi(strings.TrimPrefix(e.Name(), "bouncer-e2e-"))
		if err != nil || !strings.HasPrefix(e.Name(), "bouncer-e2e-") {
			continue
		}
		if syscall.Kill(pid, 0) != nil {
			_ = os.RemoveAll(filepath.Join(base, e.Name()))
		}
	}
	dir := filepath.Join(base, fmt.Sprintf("bouncer-e2e-%d", os.Getpid()))
	return dir, os.MkdirAll(dir, 0o700)
}

// Run runs a command to completion with a timeout, returning its output.
func Run(ctx context.Context, timeout time.Duration, env []string, stdin io.Reader, bin string, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = stdin
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}
