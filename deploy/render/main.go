// Command render prints bouncer's Knative Service for a platform, ready for
// `kubectl apply -f -` (Knative) or `gcloud run services replace` (Cloud
// Run). Run it from the deploy module:
//
//	go run ./render --platform knative --image REPO/bouncer@sha256:... [--policy-secret NAME | --policy-configmap NAME]
//	go run ./render --platform cloudrun --image REPO/bouncer@sha256:... --service-account bouncer-runtime@PROJECT.iam.gserviceaccount.com [--policy-secret NAME[:VERSION]]
package main

import (
	"flag"
	"fmt"
	"os"

	"bouncer.dev/bouncer/deploy/manifests"
)

func main() {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	var o manifests.Options
	fs.StringVar(&o.Platform, "platform", "", "knative or cloudrun")
	fs.StringVar(&o.Image, "image", "", "the pushed image, pinned by digest: REPO/bouncer@sha256:...")
	fs.StringVar(&o.ServiceAccount, "service-account", "", "the runtime identity (Cloud Run: a dedicated service account e-mail, required)")
	fs.StringVar(&o.PolicySecret, "policy-secret", "", "mount a custom policy: a Kubernetes Secret (Knative) or a Secret Manager secret NAME[:VERSION] (Cloud Run)")
	fs.StringVar(&o.PolicyConfigMap, "policy-configmap", "", "mount a custom policy from a ConfigMap (Knative)")
	root := fs.String("root", "..", "the repository's top directory")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	out, err := manifests.Render(*root, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(2)
	}
	_, _ = os.Stdout.Write(out)
}
