// Command render prints bouncer's manifests for a platform: the Knative
// Service, ready for `kubectl apply -f -` (Knative) or `gcloud run services
// replace` (Cloud Run), the plain Deployment and its Service and
// PodDisruptionBudget (kubernetes), or the scheduled audit's ServiceAccount
// and CronJob (audit; its RBAC comes from `bouncer audit rbac`). Run it from
// the deploy module:
//
//	go run ./render --platform knative --image REPO/bouncer@sha256:... [--service-account NAME] [--policy-secret NAME | --policy-configmap NAME]
//	go run ./render --platform cloudrun --image REPO/bouncer@sha256:... --service-account bouncer-runtime@PROJECT.iam.gserviceaccount.com [--policy-secret NAME[:VERSION]]
//	go run ./render --platform kubernetes --image REPO/bouncer@sha256:... [--service-account NAME] [--policy-secret NAME | --policy-configmap NAME]
//	go run ./render --platform audit --image REPO/bouncer@sha256:... [--policy-secret NAME | --policy-configmap NAME]
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
	fs.StringVar(&o.Platform, "platform", "", "knative, cloudrun, kubernetes, or audit (the scheduled audit's CronJob, beside any of them)")
	fs.StringVar(&o.Image, "image", "", "the pushed image, pinned by digest: REPO/bouncer@sha256:...")
	fs.StringVar(&o.ServiceAccount, "service-account", "", "the runtime identity: on Cloud Run a dedicated service account e-mail (required), elsewhere a Kubernetes ServiceAccount name")
	fs.StringVar(&o.PolicySecret, "policy-secret", "", "mount a custom policy: a Kubernetes Secret with the key policy.yaml (Knative, kubernetes, audit) or a Secret Manager secret NAME[:VERSION] (Cloud Run)")
	fs.StringVar(&o.PolicyConfigMap, "policy-configmap", "", "mount a custom policy from a ConfigMap with the key policy.yaml (Knative, kubernetes, audit)")
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
