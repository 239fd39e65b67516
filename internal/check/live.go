package check

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"bouncer.dev/bouncer/internal/policy"
)

// Stream judges the objects of a live cluster one at a time, as a lister
// reads them page by page, so that memory stays flat as the cluster grows.
// It is the engine of `bouncer audit`; each object goes through the same
// chain as in Judge (mutate, its patch applied, then validate), as a CREATE
// by the Checker's identity.
//
// What it keeps between objects is small: the labels of each Namespace, and
// for each object it judged, its uid and the keys of its findings, so that a
// child made by a listed parent can be reported through that parent. Feed
// it the Namespaces first, then the kinds parents first (KindOrder).
type Stream struct {
	c      *Checker
	ns     map[string]map[string]string
	listed map[string]listed // by uid
}

// listed is what a child's report needs of an object judged before it.
type listed struct {
	kind *policy.Kind
	keys []string // its finding keys, nil when it is clean
}

// NewStream starts a live judgment with c's policy and identity.
func (c *Checker) NewStream() *Stream {
	return &Stream{c: c, ns: map[string]map[string]string{}, listed: map[string]listed{}}
}

// Live is the verdict on one object read from a cluster.
type Live struct {
	Result
	UID        string    `json:"uid"`
	APIVersion string    `json:"apiVersion"`
	Created    time.Time `json:"created"`
	// Through is the controller through which the object is reported: it
	// was listed too, and its own findings hold every one of this object's.
	// This is the way Kyverno's autogen reports workloads: once, on the
	// object that people write.
	Through *Owner `json:"reportedThrough,omitempty"`
}

// Owner names a controller ownerReference.
type Owner struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	UID        string `json:"uid"`
}

// Reported reports whether the object has something to report on its own:
// a finding or a label mutate would add, and no parent that reports it.
func (l *Live) Reported() bool {
	return l.Through == nil && l.Skip == "" && (len(l.Findings) > 0 || len(l.Adds) > 0)
}

// Namespace reads one Namespace as listed: it lends its labels to the
// objects in it, as the webhooks' namespaceSelector reads them. It is not
// judged as a create: it exists already.
func (s *Stream) Namespace(item []byte) error {
	var h header
	if err := json.Unmarshal(item, &h); err != nil {
		return fmt.Errorf("a listed Namespace is not an object: %v", err)
	}
	// A list's items may omit their apiVersion and kind.
	if h.APIVersion == "" && h.Kind == "" {
		h.APIVersion, h.Kind = "v1", "Namespace"
	}
	if !h.isNamespace() || h.Metadata.Name == "" {
		return fmt.Errorf("a listed Namespace reads as %s %q", h.Kind, h.Metadata.Name)
	}
	l := make(map[string]string, len(h.Metadata.Labels)+1)
	for k, v := range h.Metadata.Labels {
		l[k] = v
	}
	// The API server keeps this label equal to the name; set it in case an
	// older server did not.
	l[policy.NamespaceNameLabel] = h.Metadata.Name
	s.ns[h.Metadata.Name] = l
	return nil
}

// Judge decides one listed object, given as the JSON of a list's item.
// apiVersion and kind, which a list's items may omit, come from the list.
func (s *Stream) Judge(item []byte, apiVersion, kind string) (Live, error) {
	var h header
	if err := json.Unmarshal(item, &h); err != nil {
		return Live{}, fmt.Errorf("a listed %s is not an object: %v", kind, err)
	}
	if h.APIVersion == "" {
		h.APIVersion = apiVersion
	}
	if h.Kind == "" {
		h.Kind = kind
	}
	l := Live{UID: h.Metadata.UID, APIVersion: h.APIVersion}
	if ts := strings.Trim(string(h.Metadata.CreationTimestamp), `"`); ts != "" && ts != "null" {
		t, err := time.Parse(time.RFC3339, ts)
		if err != nil {
			return l, fmt.Errorf("%s %s/%s: creationTimestamp %q: %v", h.Kind, h.Metadata.Namespace, h.Metadata.Name, ts, err)
		}
		l.Created = t
	}
	// No parents: the object is judged as its identity's own create. A
	// child that its listed parent explains is reported through it below.
	r, err := s.c.judge(Object{File: "cluster", header: h, raw: item}, s.ns, nil)
	if err != nil {
		return l, err
	}
	if h.Metadata.Namespace == "" {
		// The Checker's namespace is for manifests that name none; a listed
		// object without one is cluster-scoped.
		r.Namespace = ""
	}
	r.File = ""
	l.Result = r
	keys := findingKeys(&r)
	child := s.c.Policy.Kind(apiGroup(h.APIVersion), h.Kind)
	if ref := controllerRef(&h); ref != nil && len(keys) > 0 && child != nil && ref.UID != "" {
		// Anyone who may write the object may write an ownerReference: the
		// parent must be the object the uid names, of a kind whose
		// controller makes this kind, and account for every finding.
		parent, ok := s.listed[ref.UID]
		if ok && parent.kind.Kind == ref.Kind && parent.kind.Group == apiGroup(ref.APIVersion) &&
			slices.Contains(child.Parents, parent.kind.GroupKind()) && subset(keys, parent.keys) {
			l.Through = &Owner{APIVersion: ref.APIVersion, Kind: ref.Kind, Name: ref.Name, UID: ref.UID}
		}
	}
	if l.UID != "" && child != nil {
		s.listed[l.UID] = listed{kind: child, keys: keys}
	}
	return l, nil
}

// findingKeys names what an object is reported for, by rule and label key
// but not place: a Pod misses at metadata.labels what its ReplicaSet's
// template misses.
func findingKeys(r *Result) []string {
	var keys []string
	for _, f := range r.Findings {
		keys = append(keys, f.Rule+"\x00"+f.Key)
	}
	for _, a := range r.Adds {
		keys = append(keys, a.Rule+"\x00"+a.Key+"\x00add")
	}
	return keys
}

func subset(keys, of []string) bool {
	for _, k := range keys {
		found := false
		for _, o := range of {
			if k == o {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// controllerRef is the object's single controller ownerReference, nil when
// it has none or (which the API server refuses) several.
func controllerRef(h *header) *ownerRef {
	var ctl *ownerRef
	for i := range h.Metadata.OwnerReferences {
		if ref := &h.Metadata.OwnerReferences[i]; ref.Controller {
			if ctl != nil {
				return nil
			}
			ctl = ref
		}
	}
	return ctl
}

// KindOrder returns the policy's kinds in the order a live audit lists
// them: every kind after the kinds whose controllers make it (CronJob before
// Job before Pod), so that a child's parent is judged first.
func KindOrder(p *policy.Policy) []*policy.Kind {
	depth := map[policy.GroupKind]int{}
	var of func(k *policy.Kind, seen int) int
	of = func(k *policy.Kind, seen int) int {
		if d, ok := depth[k.GroupKind()]; ok {
			return d
		}
		d := 0
		if seen < 8 { // parents form no cycle among the built-in kinds; bound it anyway
			for _, gk := range k.Parents {
				if pk := p.Kind(gk.Group, gk.Kind); pk != nil {
					d = max(d, of(pk, seen+1)+1)
				}
			}
		}
		depth[k.GroupKind()] = d
		return d
	}
	kinds := append([]*policy.Kind(nil), p.Kinds()...)
	for _, k := range kinds {
		of(k, 0)
	}
	// A stable insertion sort: a handful of kinds.
	for i := 1; i < len(kinds); i++ {
		for j := i; j > 0 && depth[kinds[j].GroupKind()] < depth[kinds[j-1].GroupKind()]; j-- {
			kinds[j], kinds[j-1] = kinds[j-1], kinds[j]
		}
	}
	return kinds
}
