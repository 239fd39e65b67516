package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Peak resident sets are read from /proc/PID/status's VmHWM while the
// command runs, not from wait4's ru_maxrss. Go starts a child with vfork
// semantics (CLONE_VM), and Linux carries the parent's high-water mark
// across the exec into the child's maxrss (exec_mmap keeps the old mm's
// hiwater_rss in signal->maxrss): a small tool started by this harness,
// which holds large outputs, reads as large as the harness. Only samples
// taken after the exec (the status names the command) count.

// rssWatch samples one started command's VmHWM until stop.
type rssWatch struct {
	mu   sync.Mutex
	kib  int
	done chan struct{}
	wg   sync.WaitGroup
}

// watchRSS starts sampling c, which must have been started.
func watchRSS(c *exec.Cmd) *rssWatch {
	w := &rssWatch{done: make(chan struct{})}
	if c.Process == nil {
		return w
	}
	status := "/proc/" + strconv.Itoa(c.Process.Pid) + "/status"
	// The kernel's comm is the executable's base name, cut to 15 bytes.
	name := filepath.Base(c.Path)
	if len(name) > 15 {
		name = name[:15]
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for {
			if kib, ok := readHWM(status, name); ok {
				w.mu.Lock()
				w.kib = max(w.kib, kib)
				w.mu.Unlock()
			}
			select {
			case <-w.done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return w
}

// stop ends the sampling and returns the peak in KiB.
func (w *rssWatch) stop() int {
	close(w.done)
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.kib
}

// readHWM reads VmHWM from a status file whose Name is name.
func readHWM(status, name string) (int, bool) {
	data, err := os.ReadFile(status)
	if err != nil {
		return 0, false
	}
	var gotName bool
	kib := -1
	for _, line := range bytes.Split(data, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("Name:")); ok {
			gotName = string(bytes.TrimSpace(v)) == name
		}
		if v, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			f := bytes.Fields(v)
			if len(f) > 0 {
				kib, _ = strconv.Atoi(string(f[0]))
			}
		}
	}
	return kib, gotName && kib >= 0
}
