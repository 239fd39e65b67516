// Command image builds bouncer's container image without a container engine
// or a base image: one layer holding the static binaries (the server at
// /bouncer, its entrypoint, and the audit at /bouncer-audit, which
// `bouncer audit` runs from beside itself), a non-root user, no shell, and
// fixed timestamps, so the same binaries always give the same digest. It
// writes a docker-loadable tarball, or pushes to a registry.
//
//	go run ./image --binary ../bin/bouncer --audit-binary ../bin/bouncer-audit --tarball ../bin/bouncer-image.tar
//	go run ./image --binary ../bin/bouncer --audit-binary ../bin/bouncer-audit --push REGION-docker.pkg.dev/PROJECT/REPO/bouncer:TAG --digest-file image.digest
package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Fixed facts of the image.
const (
	// BinaryPath is where the server binary lives; the entrypoint runs it.
	BinaryPath = "/bouncer"
	// AuditPath is where the audit binary lives: beside the server, where
	// `bouncer audit` looks for it first.
	AuditPath = "/bouncer-audit"
	// NonRoot is the distroless "nonroot" user and group.
	NonRoot = "65532:65532"
)

// epoch is every timestamp in the image, for a reproducible digest.
var epoch = time.Unix(0, 0).UTC()

// File is one file of the image: an executable at an absolute path.
type File struct {
	Path string
	Data []byte
}

// Build returns bouncer's image for its static linux binaries: the server,
// run as the entrypoint, and the audit beside it. audit may be nil for an
// image of the server alone (the benchmark's cold starts).
func Build(server, audit []byte, arch string, labels map[string]string) (v1.Image, error) {
	files := []File{{BinaryPath, server}}
	if audit != nil {
		files = append(files, File{AuditPath, audit})
	}
	return build(files, arch, labels, []string{BinaryPath, "serve"}, NonRoot, "8080/tcp")
}

// BuildBinary returns the image of one static linux binary at path, run as
// entrypoint by user: the same builder makes the e2e suite's pause image.
func BuildBinary(binary []byte, arch string, labels map[string]string, path string, entrypoint []string, user string) (v1.Image, error) {
	port := ""
	if path == BinaryPath {
		port = "8080/tcp"
	}
	return build([]File{{path, binary}}, arch, labels, entrypoint, user, port)
}

// build returns the image of files, in one layer in path order, run as
// entrypoint by user, exposing port unless it is empty.
func build(files []File, arch string, labels map[string]string, entrypoint []string, user, port string) (v1.Image, error) {
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var paths []string
	for i, f := range files {
		if !strings.HasPrefix(f.Path, "/") || strings.Count(f.Path, "/") != 1 {
			return nil, fmt.Errorf("image file %q: want a path at the root, such as /bouncer", f.Path)
		}
		if i > 0 && files[i-1].Path == f.Path {
			return nil, fmt.Errorf("image file %s given twice", f.Path)
		}
		if len(f.Data) == 0 {
			return nil, fmt.Errorf("image file %s is empty", f.Path)
		}
		hdr := &tar.Header{Name: f.Path[1:], Mode: 0o555, Size: int64(len(f.Data)), ModTime: epoch, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, err
		}
		paths = append(paths, f.Path)
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{
		Layer:     layer,
		History:   v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "bouncer deploy/image: " + strings.Join(paths, " ")},
		MediaType: types.OCILayer,
	})
	if err != nil {
		return nil, err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = "linux", arch, v1.Time{Time: epoch}
	cf.Config.User = user
	cf.Config.Entrypoint = entrypoint
	cf.Config.Cmd = nil
	cf.Config.WorkingDir = "/"
	cf.Config.Labels = labels
	if port != "" {
		cf.Config.ExposedPorts = map[string]struct{}{port: {}}
	}
	return mutate.ConfigFile(img, cf)
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}
