package main

import (
	"archive/tar"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// buildBouncer builds the static binary the way `make build` does.
func buildBouncer(t *testing.T, out string) []byte {
	t.Helper()
	return goBuild(t, "../..", "./cmd/bouncer", out)
}

// auditStandIn is what the audit binary says: the image test builds a
// static stand-in, so it needs neither client-go nor cmd/bouncer-audit's
// module (built by `make build`, and run in the image by the e2e suite).
const auditStandIn = "bouncer-audit stand-in"

// buildAuditStandIn builds a small static binary that prints auditStandIn.
func buildAuditStandIn(t *testing.T, out string) []byte {
	t.Helper()
	src := t.TempDir()
	for name, data := range map[string]string{
		"go.mod":  "module standin\n\ngo 1.26\n",
		"main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(" + strconv.Quote(auditStandIn) + ") }\n",
	} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return goBuild(t, src, ".", out)
}

func goBuild(t *testing.T, dir, pkg, out string) []byte {
	t.Helper()
	cmd := exec.Command("go", "build", "-C", dir, "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// extract writes the image's files into dir and returns their names and
// modes, in the layer's order.
func extract(t *testing.T, img v1.Image, dir string) (names []string, modes []int64) {
	t.Helper()
	tr := tar.NewReader(mutate.Extract(img))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names, modes
		}
		if err != nil {
			t.Fatal(err)
		}
		names, modes = append(names, h.Name), append(modes, h.Mode)
		f, err := os.OpenFile(filepath.Join(dir, h.Name), os.O_CREATE|os.O_WRONLY, 0o755)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestTheImageIsSmallNonRootShellFreeAndReproducible(t *testing.T) {
	dir := t.TempDir()
	// Two separate builds of the same sources: the digest must not change.
	binA := buildBouncer(t, filepath.Join(dir, "a"))
	binB := buildBouncer(t, filepath.Join(dir, "b"))
	auditA := buildAuditStandIn(t, filepath.Join(dir, "audit-a"))
	auditB := buildAuditStandIn(t, filepath.Join(dir, "audit-b"))
	imgA, err := Build(binA, auditA, "amd64", map[string]string{"org.opencontainers.image.title": "bouncer"})
	if err != nil {
		t.Fatal(err)
	}
	imgB, err := Build(binB, auditB, "amd64", map[string]string{"org.opencontainers.image.title": "bouncer"})
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

	// The filesystem holds the two binaries and nothing else: no shell, no libc.
	root := filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	files, modes := extract(t, imgA, root)
	if !slices.Equal(files, []string{"bouncer", "bouncer-audit"}) {
		t.Errorf("image files %v, want only bouncer and bouncer-audit (no /bin/sh)", files)
	}
	for i, m := range modes {
		if m != 0o555 {
			t.Errorf("%s has mode %o, want 0555", files[i], m)
		}
	}
	// The binaries in the image are static: they run with nothing around them.
	out, err := exec.Command(filepath.Join(root, "bouncer"), "version").CombinedOutput()
	if err != nil {
		t.Errorf("the image's server binary does not run: %v\n%s", err, out)
	}
	out, err = exec.Command(filepath.Join(root, "bouncer-audit")).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != auditStandIn {
		t.Errorf("the image's audit binary: %v\n%s", err, out)
	}
	// Another audit binary is another image.
	imgC, err := Build(binA, append(slices.Clone(auditA), 0), "amd64", map[string]string{"org.opencontainers.image.title": "bouncer"})
	if err != nil {
		t.Fatal(err)
	}
	if dc, _ := imgC.Digest(); dc == da {
		t.Errorf("a different audit binary gave the same digest %s", dc)
	}

	size, _ := imgA.Size()
	layers, _ := imgA.Layers()
	compressed, _ := layers[0].Size()
	t.Logf("FIGURE image: digest %s, binaries %d + %d (stand-in) bytes, compressed layer %d bytes, manifest %d bytes", da, len(binA), len(auditA), compressed, size)

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

// tarballFiles reads the image back from a tarball `run` wrote and returns
// its files and its config.
func tarballFiles(t *testing.T, path string) ([]string, *v1.ConfigFile) {
	t.Helper()
	img, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	tr := tar.NewReader(mutate.Extract(img))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names, cf
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
}

// The command line: --audit-binary puts the audit beside the server; without
// it the image holds the server alone (the benchmark builds that); the pause
// image takes one binary and refuses a second.
func TestTheCommandLineBuildsEachImage(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	server, audit, pause, empty := write("bouncer", "server"), write("bouncer-audit", "audit"), write("pause", "pause"), write("empty", "")
	for _, c := range []struct {
		name       string
		args       []string
		files      []string
		entrypoint []string
		user       string
	}{
		{"the server and the audit", []string{"--binary", server, "--audit-binary", audit}, []string{"bouncer", "bouncer-audit"}, []string{"/bouncer", "serve"}, NonRoot},
		{"the server alone", []string{"--binary", server}, []string{"bouncer"}, []string{"/bouncer", "serve"}, NonRoot},
		{"the pause image", []string{"--pause", "--binary", pause}, []string{"pause"}, []string{"/pause"}, "65535:65535"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "image.tar")
			if err := run(append(c.args, "--tarball", out)); err != nil {
				t.Fatal(err)
			}
			files, cf := tarballFiles(t, out)
			if !slices.Equal(files, c.files) {
				t.Errorf("files %v, want %v", files, c.files)
			}
			if !slices.Equal(cf.Config.Entrypoint, c.entrypoint) || cf.Config.User != c.user {
				t.Errorf("entrypoint %v as %s, want %v as %s", cf.Config.Entrypoint, cf.Config.User, c.entrypoint, c.user)
			}
		})
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"a pause image with an audit binary", []string{"--pause", "--binary", pause, "--audit-binary", audit}, "give no --audit-binary"},
		{"a missing audit binary", []string{"--binary", server, "--audit-binary", filepath.Join(dir, "nothing")}, "no such file"},
		{"an empty audit binary", []string{"--binary", server, "--audit-binary", empty}, "/bouncer-audit is empty"},
		{"no server binary", []string{"--audit-binary", audit}, "need --binary"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := run(append(c.args, "--tarball", filepath.Join(t.TempDir(), "image.tar")))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want one containing %q", err, c.want)
			}
		})
	}
}

// The server-alone image is the one-binary image BuildBinary makes, as
// the image was before the audit joined it:
// the same files, history and config, so the same digest.
func TestTheServerAloneImageIsTheOneBinaryImage(t *testing.T) {
	labels := map[string]string{"org.opencontainers.image.title": "bouncer"}
	a, err := Build([]byte("server"), nil, "amd64", labels)
	if err != nil {
		t.Fatal(err)
	}
	b, err := BuildBinary([]byte("server"), "amd64", labels, BinaryPath, []string{BinaryPath, "serve"}, NonRoot)
	if err != nil {
		t.Fatal(err)
	}
	da, _ := a.Digest()
	if db, _ := b.Digest(); da != db {
		t.Errorf("the server-alone image %s differs from the one-binary image %s", da, db)
	}
	cf, _ := a.ConfigFile()
	if _, ok := cf.Config.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("exposed ports %v, want 8080/tcp", cf.Config.ExposedPorts)
	}
	if _, err := build([]File{{"/a", []byte("x")}, {"/a", []byte("y")}}, "amd64", nil, []string{"/a"}, NonRoot, ""); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("a path given twice: err = %v", err)
	}
	if _, err := build([]File{{"usr/bin/a", []byte("x")}}, "amd64", nil, []string{"/a"}, NonRoot, ""); err == nil || !strings.Contains(err.Error(), "at the root") {
		t.Errorf("a path below the root: err = %v", err)
	}
}
