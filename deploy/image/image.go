// Command image builds bouncer's container image without a container engine
// or a base image: one layer holding the static binary, a non-root user, no
// shell, and fixed timestamps, so the same binary always gives the same
// digest. It writes a docker-loadable tarball, or pushes to a registry.
//
//	go run ./image --binary ../bin/bouncer --tarball ../bin/bouncer-image.tar
//	go run ./image --binary ../bin/bouncer --push REGION-docker.pkg.dev/PROJECT/REPO/bouncer:TAG --digest-file image.digest
package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Fixed facts of the image.
const (
	// BinaryPath is where the binary lives; the entrypoint runs it.
	BinaryPath = "/bouncer"
	// NonRoot is the distroless "nonroot" user and group.
	NonRoot = "65532:65532"
)

// epoch is every timestamp in the image, for a reproducible digest.
var epoch = time.Unix(0, 0).UTC()

// Build returns bouncer's image for its static linux binary.
func Build(binary []byte, arch string, labels map[string]string) (v1.Image, error) {
	return BuildBinary(binary, arch, labels, BinaryPath, []string{BinaryPath, "serve"}, NonRoot)
}

// BuildBinary returns the image of one static linux binary at path, run as
// entrypoint by user: the same builder makes the e2e suite's pause image.
func BuildBinary(binary []byte, arch string, labels map[string]string, path string, entrypoint []string, user string) (v1.Image, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{Name: path[1:], Mode: 0o555, Size: int64(len(binary)), ModTime: epoch, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(binary); err != nil {
		return nil, err
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
		History:   v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "bouncer deploy/image: " + path},
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
	if path == BinaryPath {
		cf.Config.ExposedPorts = map[string]struct{}{"8080/tcp": {}}
	}
	return mutate.ConfigFile(img, cf)
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}
