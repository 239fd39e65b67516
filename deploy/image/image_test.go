package main

import (
	"archive/tar"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// buildBouncer builds the static binary the way `make build` does.
func buildBouncer(t *testing.T, out string) []byte {
	t.Helper()
	cmd := exec.Command("go", "build", "-C", "../..", "-trimpath", "-ldflags", "-s -w", "-o", out, "./cmd/bouncer")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTheImageIsSmallNonRootShellFreeAndReproducible(t *testing.T) {
	dir := t.TempDir()
	// Two separate builds of the same source: the digest must not change.
	binA := buildBouncer(t, filepath.Join(dir, "a"))
	binB := buildBouncer(t, filepath.Join(dir, "b"))
	imgA, err := Build(binA, "amd64", map[string]string{"org.opencontainers.image.title": "bouncer"})
	if err != nil {
		t.Fatal(err)
	}
	imgB, err := Build(binB, "amd64", map[string]string{"org.opencontainers.image.title": "bouncer"})
	if err != nil {
		t.Fatal(err)
	}
	da, _ := imgA.Digest()
	db, _ := imgB.Digest()
	if da != db {
		t.Errorf("two builds of the same source gave digests %s and %s", da, db)
	}

	cf, err := imgA.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "65532:65532" {
		t.Errorf("user %q, want the non-root 65532:65532", cf.Config.User)
	}
	if got := cf.Config.Entrypoint; len(got) != 2 || got[0] != "/bouncer" || got[1] != "serve" {
		t.Errorf("entrypoint %v, want [/bouncer serve]", got)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("platform %s/%s", cf.OS, cf.Architecture)
	}

	// The filesystem holds the binary and nothing else: no shell, no libc.
	var files []string
	tr := tar.NewReader(mutate.Extract(imgA))
	extracted := filepath.Join(dir, "extracted")
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, h.Name)
		if h.Name == "bouncer" {
			f, _ := os.OpenFile(extracted, os.O_CREATE|os.O_WRONLY, 0o755)
			_, _ = io.Copy(f, tr)
			f.Close()
		}
	}
	if len(files) != 1 || files[0] != "bouncer" {
		t.Errorf("image files %v, want only bouncer (no /bin/sh)", files)
	}
	// The binary in the image is static: it runs with nothing around it.
	out, err := exec.Command(extracted, "version").CombinedOutput()
	if err != nil {
		t.Errorf("the image's binary does not run: %v\n%s", err, out)
	}

	size, _ := imgA.Size()
	layers, _ := imgA.Layers()
	compressed, _ := layers[0].Size()
	t.Logf("FIGURE image: digest %s, binary %d bytes, compressed layer %d bytes, manifest %d bytes", da, len(binA), compressed, size)

	// The tarball is what `kind load image-archive` and `docker load` take.
	tarPath := filepath.Join(dir, "image.tar")
	tag, _ := name.NewTag("bouncer.dev/bouncer:test")
	if err := tarball.WriteToFile(tarPath, tag, imgA); err != nil {
		t.Fatal(err)
	}
	back, err := tarball.ImageFromPath(tarPath, &tag)
	if err != nil {
		t.Fatal(err)
	}
	// The docker tarball format rewrites the manifest's media types, so
	// the image ID (the config digest) is what must survive the round trip.
	want, _ := imgA.ConfigName()
	if got, _ := back.ConfigName(); got != want {
		t.Errorf("the tarball holds image ID %s, want %s", got, want)
	}
}
