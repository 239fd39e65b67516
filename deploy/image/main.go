package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/google"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func run(args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	binary := fs.String("binary", "", "the static linux server binary (CGO_ENABLED=0 go build ./cmd/bouncer), at "+BinaryPath+" as the entrypoint")
	audit := fs.String("audit-binary", "", "the static linux audit binary (cmd/bouncer-audit), at "+AuditPath+"; empty: an image of the server alone")
	arch := fs.String("arch", "amd64", "the binary's architecture")
	tarPath := fs.String("tarball", "", "write a docker-loadable tarball here")
	tag := fs.String("tag", "bouncer.dev/bouncer:e2e", "the tag inside the tarball")
	push := fs.String("push", "", "push to this reference, such as europe-west1-docker.pkg.dev/PROJECT/REPO/bouncer:TAG")
	digestFile := fs.String("digest-file", "", "write the pushed image's name@digest here, for the render step")
	version := fs.String("version", "", "org.opencontainers.image.version label")
	revision := fs.String("revision", "", "org.opencontainers.image.revision label")
	pause := fs.Bool("pause", false, "build a pause image of the binary instead (/pause as its entrypoint, uid 65535), for the e2e node provider's sandboxes")
	single := fs.String("single", "", "build an image of the binary alone instead, at /NAME as its entrypoint, non-root (uid 65532): Knative's queue-proxy for `make e2e-knative`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *binary == "" || (*tarPath == "" && *push == "") {
		return fmt.Errorf("need --binary and one of --tarball or --push")
	}
	if (*pause || *single != "") && *audit != "" {
		return fmt.Errorf("--pause and --single build an image of one binary: give no --audit-binary")
	}
	if *single != "" && (*pause || strings.ContainsAny(*single, "/ ")) {
		return fmt.Errorf("--single takes a file name (no / or space), and not with --pause")
	}
	bin, err := os.ReadFile(*binary)
	if err != nil {
		return err
	}
	var auditBin []byte
	if *audit != "" {
		if auditBin, err = os.ReadFile(*audit); err != nil {
			return err
		}
	}
	labels := map[string]string{"org.opencontainers.image.title": "bouncer", "org.opencontainers.image.source": "https://bouncer.dev"}
	if *version != "" {
		labels["org.opencontainers.image.version"] = *version
	}
	if *revision != "" {
		labels["org.opencontainers.image.revision"] = *revision
	}
	var img v1.Image
	if *pause {
		labels["org.opencontainers.image.title"] = "bouncer e2e pause"
		img, err = BuildBinary(bin, *arch, labels, "/pause", []string{"/pause"}, "65535:65535")
	} else if *single != "" {
		labels["org.opencontainers.image.title"] = *single
		img, err = BuildBinary(bin, *arch, labels, "/"+*single, []string{"/" + *single}, "65532:65532")
	} else {
		img, err = Build(bin, auditBin, *arch, labels)
	}
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	if *tarPath != "" {
		t, err := name.NewTag(*tag)
		if err != nil {
			return err
		}
		if err := tarball.WriteToFile(*tarPath, t, img); err != nil {
			return err
		}
		fmt.Printf("wrote %s (%s, %s)\n", *tarPath, t, digest)
	}
	if *push != "" {
		ref, err := name.ParseReference(*push)
		if err != nil {
			return err
		}
		kc := authn.NewMultiKeychain(authn.DefaultKeychain, google.Keychain)
		if err := remote.Write(ref, img, remote.WithAuthFromKeychain(kc)); err != nil {
			return err
		}
		pinned := ref.Context().Digest(digest.String()).String()
		fmt.Println("pushed", pinned)
		if *digestFile != "" {
			return os.WriteFile(*digestFile, []byte(pinned+"\n"), 0o644)
		}
	}
	return nil
}
