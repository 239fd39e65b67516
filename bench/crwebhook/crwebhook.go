// Package crwebhook is the baseline: bouncer's default policy written the way
// most Go webhooks are today, with controller-runtime's webhook package.
// Handlers decode into the typed objects (corev1.Pod, appsv1.Deployment, ...)
// and mutation answers with a patch computed by diffing the re-marshalled
// object (admission.PatchResponseFromRaw).
package crwebhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

var (
	ownerPattern = regexp.MustCompile(`^(?:[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$`)
	exemptNS     = map[string]bool{"kube-system": true, "kube-node-lease": true, "knative-serving": true, "kourier-system": true, "bouncer-system": true}
)

// Mux serves /validate and /mutate.
func Mux() *http.ServeMux {
	dec := admission.NewDecoder(clientgoscheme.Scheme)
	m := http.NewServeMux()
	m.Handle("/validate", &admission.Webhook{Handler: &validator{dec}})
	m.Handle("/mutate", &admission.Webhook{Handler: &mutator{dec}})
	return m
}

// typed decodes the request's object into its Go type and returns it with
// pointers to its label maps.
func typed(dec admission.Decoder, kind string, raw runtime.RawExtension) (runtime.Object, *metav1.ObjectMeta, []*map[string]string, []string, error) {
	var obj runtime.Object
	var meta *metav1.ObjectMeta
	var places []*map[string]string
	var names []string
	switch kind {
	case "Pod":
		o := &corev1.Pod{}
		obj, meta, places, names = o, &o.ObjectMeta, []*map[string]string{&o.Labels}, []string{"metadata.labels"}
	case "Deployment":
		o := &appsv1.Deployment{}
		obj, meta, places = o, &o.ObjectMeta, []*map[string]string{&o.Labels, &o.Spec.Template.Labels}
	case "StatefulSet":
		o := &appsv1.StatefulSet{}
		obj, meta, places = o, &o.ObjectMeta, []*map[string]string{&o.Labels, &o.Spec.Template.Labels}
	case "DaemonSet":
		o := &appsv1.DaemonSet{}
		obj, meta, places = o, &o.ObjectMeta, []*map[string]string{&o.Labels, &o.Spec.Template.Labels}
	case "ReplicaSet":
		o := &appsv1.ReplicaSet{}
		obj, meta, places = o, &o.ObjectMeta, []*map[string]string{&o.Labels, &o.Spec.Template.Labels}
	case "Job":
		o := &batchv1.Job{}
		obj, meta, places = o, &o.ObjectMeta, []*map[string]string{&o.Labels, &o.Spec.Template.Labels}
	case "CronJob":
		o := &batchv1.CronJob{}
		obj, meta, places = o, &o.ObjectMeta, []*map[string]string{&o.Labels, &o.Spec.JobTemplate.Labels, &o.Spec.JobTemplate.Spec.Template.Labels}
		names = []string{"metadata.labels", "spec.jobTemplate.metadata.labels", "spec.jobTemplate.spec.template.metadata.labels"}
	default:
		return nil, nil, nil, nil, nil
	}
	if names == nil {
		names = []string{"metadata.labels", "spec.template.metadata.labels"}
	}
	if err := dec.DecodeRaw(raw, obj); err != nil {
		return nil, nil, nil, nil, err
	}
	return obj, meta, places, names, nil
}

func skip(req admission.Request) bool {
	return (req.Operation != "CREATE" && req.Operation != "UPDATE") || req.SubResource != "" || exemptNS[req.Namespace]
}

type validator struct{ dec admission.Decoder }

func (v *validator) Handle(_ context.Context, req admission.Request) admission.Response {
	if skip(req) {
		return admission.Allowed("")
	}
	obj, meta, places, names, err := typed(v.dec, req.Kind.Kind, req.Object)
	if err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	if obj == nil || (req.Operation == "UPDATE" && meta.DeletionTimestamp != nil) {
		return admission.Allowed("")
	}
	var oldPlaces []*map[string]string
	if req.Operation == "UPDATE" && len(req.OldObject.Raw) > 0 {
		if _, _, oldPlaces, _, err = typed(v.dec, req.Kind.Kind, req.OldObject); err != nil {
			return admission.Errored(http.StatusBadRequest, err)
		}
	}
	var denials, warnings []string
	for i, p := range places {
		val, ok := (*p)["owner"]
		if ok && ownerPattern.MatchString(val) {
			continue
		}
		msg := fmt.Sprintf("[require-owner] missing label %q at %s", "owner", names[i])
		if ok {
			msg = fmt.Sprintf("[require-owner] label %q at %s has value %q, which does not match %s", "owner", names[i], val, ownerPattern)
		}
		if oldPlaces != nil {
			ov, ook := (*oldPlaces[i])["owner"]
			if ook == ok && ov == val {
				warnings = append(warnings, "kept an existing violation, fix it: "+msg)
				continue
			}
		}
		denials = append(denials, msg)
	}
	if len(denials) > 0 {
		return admission.Denied(fmt.Sprintf("%s %q in namespace %q was denied: %s", req.Kind.Kind, meta.Name, req.Namespace, strings.Join(denials, "; "))).WithWarnings(warnings...)
	}
	return admission.Allowed("").WithWarnings(warnings...)
}

type mutator struct{ dec admission.Decoder }

func (m *mutator) Handle(_ context.Context, req admission.Request) admission.Response {
	if skip(req) {
		return admission.Allowed("")
	}
	obj, meta, places, _, err := typed(m.dec, req.Kind.Kind, req.Object)
	if err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	if obj == nil || (req.Operation == "UPDATE" && meta.DeletionTimestamp != nil) {
		return admission.Allowed("")
	}
	if req.Operation == "UPDATE" {
		places = places[:1]
	}
	changed := false
	for _, p := range places {
		if _, ok := (*p)["environment"]; ok {
			continue
		}
		if *p == nil {
			*p = map[string]string{}
		}
		(*p)["environment"] = "development"
		changed = true
	}
	if !changed {
		return admission.Allowed("")
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	return admission.PatchResponseFromRaw(req.Object.Raw, out)
}
