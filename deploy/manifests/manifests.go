// Package manifests renders bouncer's manifests for a platform: the Knative
// Service (the root service.yaml and the overlay deploy/knative or
// deploy/cloudrun), the plain Deployment (deploy/kubernetes), or the
// scheduled audit's CronJob (deploy/kubernetes/audit), with the deployment's
// own facts added (the image by digest, the runtime service account, the
// custom policy's volume). It is the one render step: the
// Makefile, Cloud Build, the e2e providers and the tests all call it,
// through `go run ./render` in the deploy module.
package manifests

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	goyaml "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Platforms are the overlays under deploy/; audit is the scheduled audit's
// CronJob (deploy/kubernetes/audit), which runs beside any of the others.
var Platforms = []string{"knative", "cloudrun", "kubernetes", "audit"}

// dir is the platform's overlay, relative to the repository's top.
func (o Options) dir() string {
	if o.Platform == "audit" {
		return "deploy/kubernetes/audit"
	}
	return "deploy/" + o.Platform
}

// PolicyMount is where a custom policy is mounted; BOUNCER_POLICY names
// the file in it.
const (
	PolicyMount = "/etc/bouncer"
	PolicyFile  = PolicyMount + "/policy.yaml"
)

// Options are what a deployment adds to the overlay.
type Options struct {
	// Platform is knative, cloudrun, kubernetes or audit.
	Platform string
	// Image is the pushed image, best pinned by digest (REPO/bouncer@sha256:...).
	Image string
	// ServiceAccount is the runtime identity: on Cloud Run a service
	// account e-mail (required: the default compute account holds Editor);
	// elsewhere a Kubernetes ServiceAccount name (optional; the audit's
	// default, bouncer-audit, is the one `bouncer audit rbac` binds).
	ServiceAccount string
	// PolicySecret mounts a custom policy from a secret: on Knative, plain
	// Kubernetes and the audit a Kubernetes Secret with the key
	// policy.yaml; on Cloud Run a Secret Manager secret, NAME or
	// NAME:VERSION (default latest).
	PolicySecret string
	// PolicyConfigMap mounts a custom policy from a ConfigMap with the key
	// policy.yaml (Knative, plain Kubernetes and the audit).
	PolicyConfigMap string
}

var imageRef = regexp.MustCompile(`^[a-z0-9][a-z0-9._/:-]*(@sha256:[0-9a-f]{64})?$`)

// Render returns the platform's manifests as YAML. root is the
// repository's top directory.
func Render(root string, o Options) ([]byte, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	// kustomize reads the overlays from an in-memory copy, so rendering
	// writes nothing beside them.
	mem := filesys.MakeFsInMemory()
	files := []string{"service.yaml"}
	overlay, err := filepath.Glob(filepath.Join(root, o.dir(), "*.yaml"))
	if err != nil {
		return nil, err
	}
	for _, f := range overlay {
		files = append(files, filepath.Join(o.dir(), filepath.Base(f)))
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return nil, err
		}
		if err := mem.WriteFile("/repo/"+f, data); err != nil {
			return nil, err
		}
	}
	// Two passes: the policy's volume, mount and variable are appended to
	// lists the overlay may already hold (the Deployment mounts its TLS
	// Secret), and a JSON patch that adds a whole list would replace them. The
	// first pass, without the policy, tells which lists are there.
	plain := o
	plain.PolicySecret, plain.PolicyConfigMap = "", ""
	res, err := run(mem, plain, nil)
	if err != nil || o.policyVolume() == nil {
		return res, err
	}
	present, err := lists(res, o.target(), o.podSpec())
	if err != nil {
		return nil, err
	}
	return run(mem, o, present)
}

// run renders the overlay with o's additions, present naming the lists
// (JSON pointers) the workload already has.
func run(mem filesys.FileSystem, o Options, present map[string]bool) ([]byte, error) {
	k, err := o.kustomization(present)
	if err != nil {
		return nil, err
	}
	if err := mem.WriteFile("/repo/deploy/.render/kustomization.yaml", k); err != nil {
		return nil, err
	}
	opts := krusty.MakeDefaultOptions()
	opts.LoadRestrictions = types.LoadRestrictionsNone // service.yaml sits above the overlays
	res, err := krusty.MakeKustomizer(opts).Run(mem, "/repo/deploy/.render")
	if err != nil {
		return nil, fmt.Errorf("kustomize: %w", err)
	}
	return res.AsYaml()
}

// The lists the policy adds to, as JSON pointers into the workload's pod
// spec.
const (
	volumesPath = "/volumes"
	mountsPath  = "/containers/0/volumeMounts"
	envPath     = "/containers/0/env"
)

// podSpec is the JSON pointer of the workload's pod spec: a CronJob's is in
// its jobTemplate.
func (o Options) podSpec() string {
	if o.Platform == "audit" {
		return "/spec/jobTemplate/spec/template/spec"
	}
	return "/spec/template/spec"
}

// lists reports which of the lists the policy adds to the rendered workload
// already holds, by their pointers below its pod spec at spec.
func lists(rendered []byte, target map[string]any, spec string) (map[string]bool, error) {
	dec := goyaml.NewDecoder(bytes.NewReader(rendered))
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); err == io.EOF {
			return nil, fmt.Errorf("the rendering holds no %v %v", target["kind"], target["name"])
		} else if err != nil {
			return nil, err
		}
		meta, _ := doc["metadata"].(map[string]any)
		if doc["kind"] != target["kind"] || meta["name"] != target["name"] {
			continue
		}
		present := map[string]bool{}
		for _, p := range []string{volumesPath, mountsPath, envPath} {
			if l, ok := at(doc, strings.Split(spec+p, "/")[1:]).([]any); ok && len(l) > 0 {
				present[p] = true
			}
		}
		return present, nil
	}
}

// at follows a JSON pointer's segments through maps and lists.
func at(v any, segs []string) any {
	for _, s := range segs {
		switch x := v.(type) {
		case map[string]any:
			v = x[s]
		case []any:
			i, err := strconv.Atoi(s)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// target is the workload the deployment's facts patch.
func (o Options) target() map[string]any {
	switch o.Platform {
	case "kubernetes":
		return map[string]any{"group": "apps", "kind": "Deployment", "name": "bouncer"}
	case "audit":
		return map[string]any{"group": "batch", "kind": "CronJob", "name": "bouncer-audit"}
	}
	return map[string]any{"group": "serving.knative.dev", "kind": "Service", "name": "bouncer"}
}

func (o Options) check() error {
	switch o.Platform {
	case "knative", "cloudrun", "kubernetes", "audit":
	default:
		return fmt.Errorf("unknown platform %q: want knative, cloudrun, kubernetes or audit", o.Platform)
	}
	if !imageRef.MatchString(o.Image) {
		return fmt.Errorf("--image %q: want an image reference such as REGION-docker.pkg.dev/PROJECT/REPO/bouncer@sha256:DIGEST", o.Image)
	}
	if o.PolicySecret != "" && o.PolicyConfigMap != "" {
		return fmt.Errorf("give --policy-secret or --policy-configmap, not both")
	}
	if o.Platform == "cloudrun" {
		if o.PolicyConfigMap != "" {
			return fmt.Errorf("--policy-configmap: Cloud Run has no ConfigMaps; use --policy-secret with a Secret Manager secret")
		}
		if !strings.HasSuffix(o.ServiceAccount, ".iam.gserviceaccount.com") || strings.Contains(o.ServiceAccount, "-compute@developer.") {
			return fmt.Errorf("--service-account %q: Cloud Run needs a dedicated service account e-mail "+
				"(NAME@PROJECT.iam.gserviceaccount.com); the default compute account usually holds Editor", o.ServiceAccount)
		}
	}
	return nil
}

// kustomization is the overlay on the platform's overlay. present names the
// lists the workload already holds, which are appended to.
func (o Options) kustomization(present map[string]bool) ([]byte, error) {
	name, pin := o.Image, ""
	img := map[string]any{"name": "bouncer"}
	if n, d, ok := strings.Cut(o.Image, "@"); ok {
		name, pin = n, d
		img["digest"] = pin
	} else if i := strings.LastIndex(o.Image, ":"); i > strings.LastIndex(o.Image, "/") {
		name = o.Image[:i]
		img["newTag"] = o.Image[i+1:]
	}
	img["newName"] = name
	var ops []map[string]any
	add := func(path string, value any) {
		ops = append(ops, map[string]any{"op": "add", "path": path, "value": value})
	}
	spec := o.podSpec()
	if o.ServiceAccount != "" {
		add(spec+"/serviceAccountName", o.ServiceAccount)
	}
	appendTo := func(path string, item any) {
		if present[path] {
			add(spec+path+"/-", item)
		} else {
			add(spec+path, []any{item})
		}
	}
	if vol := o.policyVolume(); vol != nil {
		appendTo(volumesPath, vol)
		appendTo(mountsPath, map[string]any{"name": "policy", "mountPath": PolicyMount, "readOnly": true})
		appendTo(envPath, map[string]any{"name": "BOUNCER_POLICY", "value": PolicyFile})
	}
	k := map[string]any{
		"apiVersion": "kustomize.config.k8s.io/v1beta1",
		"kind":       "Kustomization",
		"resources":  []string{"../" + strings.TrimPrefix(o.dir(), "deploy/")},
		"images":     []any{img},
	}
	if len(ops) > 0 {
		patch, err := yaml.Marshal(ops)
		if err != nil {
			return nil, err
		}
		k["patches"] = []any{map[string]any{"target": o.target(), "patch": string(patch)}}
	}
	return yaml.Marshal(k)
}

// policyVolume is the custom policy's volume, holding the file policy.yaml.
func (o Options) policyVolume() map[string]any {
	switch {
	case o.PolicyConfigMap != "":
		return map[string]any{"name": "policy", "configMap": map[string]any{"name": o.PolicyConfigMap}}
	case o.PolicySecret == "":
		return nil
	case o.Platform == "cloudrun":
		// A Secret Manager secret: items name the version and the file
		// (https://cloud.google.com/run/docs/reference/yaml/v1, volumes).
		name, version, ok := strings.Cut(o.PolicySecret, ":")
		if !ok {
			version = "latest"
		}
		return map[string]any{"name": "policy", "secret": map[string]any{"secretName": name,
			"items": []any{map[string]any{"key": version, "path": "policy.yaml"}}}}
	default:
		return map[string]any{"name": "policy", "secret": map[string]any{"secretName": o.PolicySecret}}
	}
}
