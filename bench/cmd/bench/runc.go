package main

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"bouncer.dev/bouncer/e2e/framework"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// container builds bouncer's own image, as make image does, and times its
// cold starts under runc.
func (h *harness) container(rep *report) error {
	h.image = filepath.Join(h.work, "image.tar")
	out, err := sh(filepath.Join(h.root, "deploy"), nil, "go", "run", "./image", "--binary", h.bin.bouncer, "--tarball", h.image)
	if err != nil {
		return fmt.Errorf("building the image: %v\n%s", err, out)
	}
	h.imageOut = out
	framework.Progress("container cold starts under runc: %d", h.starts)
	rep.runc = runcColdStarts(h.image, h.work, h.starts, h.typical.Body)
	rep.commands = append(rep.commands, "make image && runc run --detach --bundle BUNDLE ID   # the image unpacked, its config as the OCI spec (bench/cmd/bench/runc.go)")
	return nil
}

// runcRow is the container's cold start beside the same binary's.
type runcRow struct {
	runtime            string
	container, process time.Duration
	n                  int
	skipped            string
}

// runcColdStarts starts bouncer's own image, as `make image` builds it,
// under runc, n times, and times each from `runc run` to the first correct
// answer; alternating with it, the same binary from the image, exec'd
// directly. The difference is what the OCI runtime adds (namespaces, the
// mount of a read-only root, the non-root user). The container shares the
// host's network namespace, so the answer comes over loopback as the
// process's does; a platform also sets up a network, pulls the image and
// schedules the Pod, which this does not measure.
func runcColdStarts(imageTar, work string, n int, body []byte) runcRow {
	runc, err := exec.LookPath("runc")
	if err != nil || os.Geteuid() != 0 {
		return runcRow{skipped: "runc needs root and the runc package (apt-get install runc)"}
	}
	ver, _ := exec.Command(runc, "--version").Output()
	row := runcRow{runtime: strings.SplitN(string(ver), "\n", 2)[0], n: n}
	bundle := filepath.Join(work, "runc-bundle")
	if err := unpack(imageTar, filepath.Join(bundle, "rootfs")); err != nil {
		return runcRow{skipped: "unpacking the image: " + err.Error()}
	}
	var cs, ps []time.Duration
	for i := 0; i < n; i++ {
		port, err := framework.FreePort()
		if err != nil {
			return runcRow{skipped: err.Error()}
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		if err := writeSpec(bundle, imageTar, addr); err != nil {
			return runcRow{skipped: "writing the OCI spec: " + err.Error()}
		}
		id := fmt.Sprintf("bouncer-bench-%d-%d", os.Getpid(), i)
		// A detached container keeps runc's stdio: give it /dev/null, or a
		// pipe would stay open as long as the container runs.
		run := exec.Command("taskset", "-c", "1", runc, "run", "--detach", "--bundle", bundle, id)
		t0 := time.Now()
		if err := run.Run(); err != nil {
			return runcRow{skipped: fmt.Sprintf("runc run: %v", err)}
		}
		t1, err := waitReady(client(nil, 1), "http://"+addr+"/validate", body, 20*time.Second)
		_ = exec.Command(runc, "kill", id, "KILL").Run()
		for k := 0; k < 50 && exec.Command(runc, "delete", id).Run() != nil; k++ {
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			return runcRow{skipped: "the container did not answer: " + err.Error()}
		}
		cs = append(cs, t1.Sub(t0))

		// The same binary, exec'd the same way, for the baseline.
		port, _ = framework.FreePort()
		addr = "127.0.0.1:" + strconv.Itoa(port)
		cmd := exec.Command("taskset", "-c", "1", filepath.Join(bundle, "rootfs", "bouncer"), "serve", "--addr", addr)
		t0 = time.Now()
		if err := cmd.Start(); err != nil {
			return runcRow{skipped: err.Error()}
		}
		t1, err = waitReady(client(nil, 1), "http://"+addr+"/validate", body, 20*time.Second)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if err != nil {
			return runcRow{skipped: err.Error()}
		}
		ps = append(ps, t1.Sub(t0))
	}
	row.container, row.process = median(cs), median(ps)
	return row
}

// unpack writes the image's filesystem into dir.
func unpack(imageTar, dir string) error {
	img, err := tarball.ImageFromPath(imageTar, nil)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode))
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, tr); err != nil {
				f.Close()
				return err
			}
			f.Close()
		}
	}
}

// writeSpec writes the OCI runtime spec from the image's own config: its
// entrypoint and user, a read-only root, and the Linux namespaces a Pod's
// container gets, but the host's network.
func writeSpec(bundle, imageTar, addr string) error {
	img, err := tarball.ImageFromPath(imageTar, nil)
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	var uid, gid uint32 = 0, 0
	if u, g, ok := strings.Cut(cf.Config.User, ":"); ok {
		a, _ := strconv.Atoi(u)
		b, _ := strconv.Atoi(g)
		uid, gid = uint32(a), uint32(b)
	}
	args := append(append([]string{}, cf.Config.Entrypoint...), "--addr", addr)
	spec := map[string]any{
		"ociVersion": "1.0.2",
		"process": map[string]any{
			"terminal": false, "user": map[string]any{"uid": uid, "gid": gid}, "args": args,
			"env": []string{"PATH=/"}, "cwd": "/", "noNewPrivileges": true,
			"capabilities": map[string]any{"bounding": []string{}, "effective": []string{}, "permitted": []string{}},
		},
		"root":     map[string]any{"path": "rootfs", "readonly": true},
		"hostname": "bouncer",
		"mounts": []any{
			map[string]any{"destination": "/proc", "type": "proc", "source": "proc"},
			map[string]any{"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		},
		"linux": map[string]any{
			"namespaces":    []any{map[string]any{"type": "pid"}, map[string]any{"type": "ipc"}, map[string]any{"type": "uts"}, map[string]any{"type": "mount"}},
			"maskedPaths":   []string{"/proc/kcore", "/proc/keys", "/proc/timer_list"},
			"readonlyPaths": []string{"/proc/sys", "/proc/sysrq-trigger"},
		},
	}
	b, err := json.MarshalIndent(spec, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o644)
}
