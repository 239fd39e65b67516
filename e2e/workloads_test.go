//go:build e2e

package e2e

import (
	"strings"
	"testing"
)

// placesOf lists the label places of each workload kind, as a user reads
// them in the denial.
var placesOf = map[string][]string{
	"Deployment":  {"metadata.labels", "spec.template.metadata.labels"},
	"StatefulSet": {"metadata.labels", "spec.template.metadata.labels"},
	"DaemonSet":   {"metadata.labels", "spec.template.metadata.labels"},
	"ReplicaSet":  {"metadata.labels", "spec.template.metadata.labels"},
	"Job":         {"metadata.labels", "spec.template.metadata.labels"},
	"CronJob":     {"metadata.labels", "spec.jobTemplate.metadata.labels", "spec.jobTemplate.spec.template.metadata.labels"},
}

func TestWorkloadsMissingOwnerInAnyPlaceAreDeniedAtApplyTime(t *testing.T) {
	ns := namespace(t)
	for _, kind := range []string{"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"} {
		for i, place := range placesOf[kind] {
			name := strings.ToLower(kind) + "-" + string(rune('a'+i))
			t.Run(kind+" without owner at "+place, func(t *testing.T) {
				mustDeny(t, ns, workload(kind, name, map[string]bool{place: false}),
					kind+` "`+name+`" in namespace "`+ns+`" was denied by bouncer: [require-owner] missing label "owner" at `+place)
			})
		}
	}
}

func TestCompliantWorkloadsAreAdmittedWithEnvironmentInEveryPlace(t *testing.T) {
	ns := namespace(t)
	for _, kind := range []string{"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"} {
		t.Run(kind, func(t *testing.T) {
			name := strings.ToLower(kind) + "-ok"
			mustCreate(t, ns, workload(kind, name, nil))
			obj := get(t, ns, strings.ToLower(kind), name)
			for _, place := range placesOf[kind] {
				l := labelsAt(obj, place)
				if l["owner"] != "team-a" || l["environment"] != "development" {
					t.Errorf("%s: labels %v, want owner=team-a and environment=development", place, l)
				}
			}
		})
	}
}
