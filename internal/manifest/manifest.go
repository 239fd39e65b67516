// Package manifest is what bouncer's two generators of Kubernetes objects,
// internal/webhookconfig and internal/admissionpolicy, share: the labels their
// objects carry and the multi-document YAML stream they print for kubectl
// apply.
package manifest

import (
	"bytes"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// Meta names a generated object and labels it as bouncer's, managed by the
// generator managedBy, so that the generator's uninstall finds it.
func Meta(name, managedBy string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Labels: map[string]string{"app.kubernetes.io/name": "bouncer", "app.kubernetes.io/managed-by": managedBy}}
}

// Documents renders objects as one multi-document YAML stream after header.
// Zero values (a nil creationTimestamp, an empty status) are left out, as
// kubectl would send them.
func Documents(header string, objs []any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(header)
	for i, obj := range objs {
		out, err := yaml.Marshal(obj)
		if err != nil {
			return nil, err
		}
		out = bytes.ReplaceAll(out, []byte("  creationTimestamp: null\n"), nil)
		out = bytes.ReplaceAll(out, []byte("\nstatus: {}\n"), []byte("\n"))
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(out)
	}
	return buf.Bytes(), nil
}
