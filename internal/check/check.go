// Package check runs manifests through the functions' own decision code, as
// if each object were being created and the API server's admission chain
// ran on it: mutate, the patch applied, then validate on the result. It is
// the engine of `bouncer check`; there is no second implementation of the
// policy here.
package check

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"bouncer.dev/bouncer/internal/policy"
	"bouncer.dev/bouncer/internal/rawjson"
	"bouncer.dev/bouncer/internal/text"
	"bouncer.dev/bouncer/internal/verdict"
)

// Result is the verdict on one object.
type Result struct {
	File      string `json:"file"`
	Document  int    `json:"document"`       // 1-based, in the file
	Item      *int   `json:"item,omitempty"` // 0-based, in a List
	Line      int    `json:"line"`           // where the document starts
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// Denied is true when validate would refuse the object.
	Denied     bool               `json:"denied"`
	Skip       string             `json:"skip,omitempty"`
	Message    string             `json:"message,omitempty"`
	Violations []policy.Violation `json:"-"`
	Findings   []Finding          `json:"violations,omitempty"`
	Adds       []policy.Added     `json:"adds,omitempty"`
}

// Finding is a violation as printed.
type Finding struct {
	Rule     string `json:"rule"`
	Action   string `json:"action"`
	Place    string `json:"place"`
	Key      string `json:"key"`
	Problem  string `json:"problem"`
	Message  string `json:"message"`
	Existing bool   `json:"existing,omitempty"`
	// Inherited is true when a controller made the object from a parent's
	// template: the cluster admits it with a warning, so it counts as one.
	Inherited bool `json:"inherited,omitempty"`
}

// Checker holds the policy, the namespace given to namespaceless objects,
// and who applies the input.
type Checker struct {
	Policy    *policy.Policy
	Namespace string
	// User and Groups are the identity applying the input (kubectl's --as
	// and --as-group); the zero value is an unnamed user in no group.
	User   string
	Groups []string
	// IdentityHint, when set, follows the identity in a guard refusal: the
	// command says there how to name another one.
	IdentityHint string
}

// Object is one manifest read from the input, not yet judged.
type Object struct {
	File     string
	Document int
	Item     *int
	Line     int
	header   header
	raw      []byte
}

type header struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Items      []json.RawMessage `json:"items"`
	Metadata   struct {
		Name         string            `json:"name"`
		GenerateName string            `json:"generateName"`
		Namespace    string            `json:"namespace"`
		Labels       map[string]string `json:"labels"`
		// UID and CreationTimestamp are set only on objects read from a
		// cluster; a manifest often says creationTimestamp: null.
		UID               string          `json:"uid"`
		CreationTimestamp json.RawMessage `json:"creationTimestamp"`
		// The decision reads the references itself; check reads them to
		// find the parent in the input.
		OwnerReferences []ownerRef `json:"ownerReferences"`
	} `json:"metadata"`
}

type ownerRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	UID        string `json:"uid"`
	Controller bool   `json:"controller"`
}

// groupKind is the header's API group and kind.
func (h *header) groupKind() policy.GroupKind {
	return policy.GroupKind{Group: apiGroup(h.APIVersion), Kind: h.Kind}
}

// apiGroup is the group of an apiVersion: "" for the core group's "v1".
func apiGroup(apiVersion string) string {
	group, _, ok := strings.Cut(apiVersion, "/")
	if !ok {
		return ""
	}
	return group
}

// isNamespace reports whether the object is a core Namespace.
func (h *header) isNamespace() bool { return h.Kind == "Namespace" && h.APIVersion == "v1" }

// live reports whether the object was read from a cluster: only the API
// server sets metadata.uid and metadata.creationTimestamp.
func (h *header) live() bool {
	ts := bytes.TrimSpace(h.Metadata.CreationTimestamp)
	return h.Metadata.UID != "" || len(ts) > 0 && !bytes.Equal(ts, []byte("null"))
}

// Judge decides every object, as the API server would decide it if the
// input were applied by the Checker's identity. It judges every object it
// can and returns an error for each one it cannot.
//
// Namespaces in the input lend their labels to the objects in them, so a
// namespace exempt by label is exempt here too, as the webhooks'
// namespaceSelector makes it, but only when the namespace guard lets the
// applying identity create it (only exemptionAdmins may make a namespace
// exempt). A Namespace read from a cluster (with a uid or creationTimestamp)
// exists already: it lends its labels and is not judged as a create.
//
// An object with a controller ownerReference is judged as created by that
// controller only when its parent is in the input too and is of a kind the
// policy covers, so was judged itself: anyone may write an ownerReference,
// and the API server judges a Pod that a person sends as that person's.
func (c *Checker) Judge(objs []Object) ([]Result, []error) {
	nsLabels := map[string]map[string]string{}
	refused := map[int]string{}
	for i, o := range objs {
		h := &o.header
		if !h.isNamespace() {
			continue
		}
		name := h.Metadata.Name
		l := make(map[string]string, len(h.Metadata.Labels)+1)
		for k, v := range h.Metadata.Labels {
			l[k] = v
		}
		// The API server sets this label on every Namespace (and keeps
		// it equal to the name), so selectors may use it; a manifest
		// written by hand rarely carries it.
		l[policy.NamespaceNameLabel] = name
		if !h.live() {
			if msg := c.Policy.GuardNamespace(policy.NamespaceWrite{Operation: policy.Create, Name: name,
				Labels: l, User: c.User, Groups: c.Groups}); msg != "" {
				// Refused: it would not exist, so it exempts nothing.
				refused[i] = msg
				delete(nsLabels, name)
				continue
			}
		}
		nsLabels[name] = l
	}
	parents := c.parents(objs)
	out := make([]Result, 0, len(objs))
	var errs []error
	for i, o := range objs {
		r, err := c.judge(o, nsLabels, parents)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if o.header.isNamespace() {
			r.Namespace = ""
			switch msg, ok := refused[i]; {
			case ok:
				r.Denied, r.Message, r.Skip = true, msg, ""
				place := "metadata.labels"
				if byName, _ := policy.GuardReasons(); strings.HasSuffix(msg, byName) {
					place = "metadata.name"
				}
				r.Findings = append(r.Findings, Finding{Action: string(policy.Deny), Place: place,
					Message: msg + " (created by " + c.who() + c.hint() + ")"})
			case r.Skip == skipKind && o.header.live():
				r.Skip = "namespace exists already (it has a uid or creationTimestamp): lends its labels, not judged as created"
			case r.Skip == skipKind:
				// The guard judged it and let it be created.
				r.Skip = ""
			}
		}
		out = append(out, r)
	}
	return out, errs
}

// who names the applying identity in messages.
func (c *Checker) who() string {
	s := "an unnamed user"
	if c.User != "" {
		s = "user " + text.Quote(c.User, 253)
	}
	if len(c.Groups) > 0 {
		s += " in groups " + strings.Join(c.Groups, ", ")
	}
	return s
}

// skipKind is the decision's reason for a kind the policy does not cover.
const skipKind = "kind not in policy"

// parentKey finds a parent in the input by what an ownerReference names.
type parentKey struct {
	gk        policy.GroupKind
	namespace string
	name      string
}

// parents indexes the objects that a child's ownerReference may name: those
// of a kind the policy covers, so judged themselves. The values are their
// uids ("" where none is given).
func (c *Checker) parents(objs []Object) map[parentKey][]string {
	idx := map[parentKey][]string{}
	for _, o := range objs {
		h := &o.header
		gk := h.groupKind()
		if h.Metadata.Name == "" || c.Policy.Kind(gk.Group, gk.Kind) == nil {
			continue
		}
		k := parentKey{gk, c.namespaceOf(h), h.Metadata.Name}
		idx[k] = append(idx[k], h.Metadata.UID)
	}
	return idx
}

func (c *Checker) namespaceOf(h *header) string {
	if h.Metadata.Namespace != "" {
		return h.Metadata.Namespace
	}
	return c.Namespace
}

// creator is who creates the object when the input is applied: the
// controller of its single controller ownerReference when that parent is in
// the input, else the applying identity.
func (c *Checker) creator(h *header, parents map[parentKey][]string) (string, []string) {
	// The API server refuses two controllers; so does the decision.
	ctl := controllerRef(h)
	if ctl == nil {
		return c.User, c.Groups
	}
	pk := policy.GroupKind{Group: apiGroup(ctl.APIVersion), Kind: ctl.Kind}
	found := false
	for _, uid := range parents[parentKey{pk, c.namespaceOf(h), ctl.Name}] {
		if uid == "" || ctl.UID == "" || uid == ctl.UID {
			found = true
			break
		}
	}
	if !found {
		return c.User, c.Groups
	}
	user := c.controllerIdentity(h.groupKind(), pk)
	if user == "" {
		return c.User, c.Groups
	}
	groups := []string{"system:authenticated"}
	if strings.HasPrefix(user, "system:serviceaccount:kube-system:") {
		groups = []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"}
	}
	return user, groups
}

// controllerUsers are the kube-controller-manager's service accounts (it
// runs with --use-service-account-credentials on kubeadm and managed
// clusters), by the child kind and the parent kind they create it for.
var controllerUsers = map[[2]policy.GroupKind]string{
	{{Kind: "Pod"}, {Group: "apps", Kind: "ReplicaSet"}}:                       "system:serviceaccount:kube-system:replicaset-controller",
	{{Kind: "Pod"}, {Group: "apps", Kind: "StatefulSet"}}:                      "system:serviceaccount:kube-system:statefulset-controller",
	{{Kind: "Pod"}, {Group: "apps", Kind: "DaemonSet"}}:                        "system:serviceaccount:kube-system:daemon-set-controller",
	{{Kind: "Pod"}, {Group: "batch", Kind: "Job"}}:                             "system:serviceaccount:kube-system:job-controller",
	{{Group: "apps", Kind: "ReplicaSet"}, {Group: "apps", Kind: "Deployment"}}: "system:serviceaccount:kube-system:deployment-controller",
	{{Group: "batch", Kind: "Job"}, {Group: "batch", Kind: "CronJob"}}:         "system:serviceaccount:kube-system:cronjob-controller",
}

// controllerIdentity picks, among the policy's controllers, the one that
// creates the child for the parent; else the policy's first controller;
// else, when the policy lists none, the real creator's service account ("" for
// a pair no built-in controller makes).
func (c *Checker) controllerIdentity(child, parent policy.GroupKind) string {
	user := controllerUsers[[2]policy.GroupKind{child, parent}]
	ctls := c.Policy.Controllers
	switch {
	case user != "" && slices.Contains(ctls, user):
		return user
	case len(ctls) > 0:
		return ctls[0]
	}
	return user
}

// judge decides one object as a CREATE, exactly as the API server's chain
// of bouncer's webhooks would, sent by creator.
func (c *Checker) judge(o Object, nsLabels map[string]map[string]string, parents map[parentKey][]string) (Result, error) {
	h := &o.header
	group, version, ok := strings.Cut(h.APIVersion, "/")
	if !ok {
		group, version = "", h.APIVersion
	}
	ns := c.namespaceOf(h)
	name := h.Metadata.Name
	if name == "" && h.Metadata.GenerateName != "" {
		name = h.Metadata.GenerateName + "*"
	}
	r := Result{File: o.File, Document: o.Document, Item: o.Item, Line: o.Line, Kind: h.Kind, Namespace: ns, Name: name}
	obj, err := rawjson.Parse(o.raw)
	if err != nil {
		return r, &ParseError{o.File, o.Document, o.Line, err.Error()}
	}
	user, groups := c.creator(h, parents)
	req := &policy.Request{UID: "bouncer-check", Group: group, Version: version, Kind: h.Kind,
		Operation: policy.Create, Namespace: ns, Name: h.Metadata.Name, Object: obj, NamespaceLabels: nsLabels[ns],
		User: user, Groups: groups}
	chain, err := c.Policy.Admit(req)
	if err != nil {
		return r, &ParseError{o.File, o.Document, o.Line, err.Error()}
	}
	v, m := chain.Validate, chain.Mutate
	// Skipped only when neither function judged it: a kind that only
	// mutate's rules cover is judged by mutate.
	if v.Skip != "" && m.Skip != "" {
		r.Skip = v.Skip
		if v.Skip == skipKind {
			r.Skip = m.Skip // an exemption says more, if mutate saw one
		}
	}
	if r.Skip == skipKind {
		if hint := c.suggest(group, h.Kind); hint != "" {
			r.Skip += " (did you mean " + hint + "?)"
		}
	}
	if a := verdict.For(&v); !a.Allowed {
		r.Denied, r.Message = true, a.Message
	}
	r.Violations = v.Violations
	for _, x := range v.Violations {
		f := Finding{Rule: x.Rule, Action: string(x.Action), Place: x.Place, Key: x.Key,
			Problem: string(x.Problem), Message: x.Detail(), Existing: x.Existing, Inherited: x.Inherited}
		if x.Inherited && v.Parent != nil {
			// The cluster admits it with a warning that names the parent.
			f.Action = string(policy.Warn)
			f.Message += " (inherited from " + v.Parent.String() + ")"
		}
		r.Findings = append(r.Findings, f)
	}
	for _, d := range []policy.Decision{m, v} {
		if d.Unreadable != nil {
			r.Denied = true
			r.Message = verdict.For(&d).Message
			r.Findings = append(r.Findings, Finding{Action: "invalid", Message: r.Message})
			break
		}
	}
	r.Adds = m.Added
	return r, nil
}

// ParseError names the file, document and line of unreadable input.
type ParseError struct {
	File     string
	Document int
	Line     int
	Msg      string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s: document %d (line %d): %s", e.File, e.Document, e.Line, e.Msg)
}

// objects reads one decoded document: an object, or a List of them.
func objects(file string, n, line int, js []byte) ([]Object, error) {
	var h header
	if err := json.Unmarshal(js, &h); err != nil {
		return nil, &ParseError{file, n, line, "not a Kubernetes object: " + err.Error()}
	}
	if h.APIVersion == "" || h.Kind == "" {
		return nil, &ParseError{file, n, line, "not a Kubernetes object: apiVersion and kind are required"}
	}
	if strings.HasSuffix(h.Kind, "List") && h.Items != nil {
		var out []Object
		for i, item := range h.Items {
			var ih header
			if err := json.Unmarshal(item, &ih); err != nil || ih.APIVersion == "" || ih.Kind == "" {
				return out, &ParseError{file, n, line, fmt.Sprintf("items[%d]: not a Kubernetes object", i)}
			}
			out = append(out, Object{File: file, Document: n, Item: &i, Line: line, header: ih, raw: bytes.Clone(item)})
		}
		return out, nil
	}
	return []Object{{File: file, Document: n, Line: line, header: h, raw: js}}, nil
}

func (c *Checker) hint() string {
	if c.IdentityHint == "" {
		return ""
	}
	return "; " + c.IdentityHint
}
