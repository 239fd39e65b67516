package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"bouncer.dev/bouncer/e2e/framework"
)

// The audit log benchmark: bouncer audit --audit-log reads a generated log
// of the API server's own format beside jq -c 'select(.annotations)', the
// plainest tool that reads every line of it, on a 16 MB and a 256 MB file.
// The log is mostly events that are not bouncer's, in the proportions of a
// cluster's own log; a small share are writes that failed open past
// bouncer's webhooks, and before timing the audit must count exactly the
// escapes the generator planted.

// auditLogSizes are the files' sizes in bytes (MB = 10^6 bytes); the
// generator stops at the first event past them.
var auditLogSizes = []int64{16e6, 256e6}

// auditLogCPU is the core both commands run on, when the machine has it:
// jq is single-threaded, so bouncer-audit gets no second core for its
// garbage collector either. The harness itself runs on core 0 under make
// bench.
const auditLogCPU = 1

// auditLogSize is both commands' figures on one file.
type auditLogSize struct {
	bytes     int64
	planted   auditLogCounts
	audit, jq auditTiming
}

// auditLogCounts are what a file holds, as bouncer-audit's -o json summary
// counts it.
type auditLogCounts struct {
	Events    int `json:"events"`
	Escapes   int `json:"escapes"`
	Violating int `json:"violating"`
	Compliant int `json:"compliant"`
	NotLogged int `json:"notLogged"`
}

// auditLogMix is one kind of event's share of the largest file.
type auditLogMix struct {
	name, level   string
	events, bytes int
}

// auditLogResult is what the report shows.
type auditLogResult struct {
	sizes     []auditLogSize
	mix       []auditLogMix // of the largest file
	jqVersion string
	skipped   string // why jq was not run, if it was not
	absent    string // why bouncer audit was not run, if it was not
	cpu       int    // the core both ran on
}

// auditLog generates the two logs in the harness's directory and times
// bouncer-audit and jq on each.
func (h *harness) auditLog(rep *report) (err error) {
	framework.Progress("bouncer audit --audit-log beside jq on generated audit logs of %v bytes", auditLogSizes)
	rep.auditLog, err = runAuditLogBench(h.bin.audit, filepath.Join(h.root, "testdata", "auditlog"), h.work, auditLogSizes)
	if err != nil {
		return err
	}
	rep.commands = append(rep.commands,
		fmt.Sprintf("KUBECONFIG=/nonexistent taskset -c %d bin/bouncer-audit --audit-log FILE -o json > /dev/null   # FILE: a generated audit log, 16 MB and 256 MB", rep.auditLog.cpu),
		fmt.Sprintf("taskset -c %d jq -c 'select(.annotations)' FILE > /dev/null", rep.auditLog.cpu))
	return nil
}

// runAuditLogBench generates a log of each size from the captured events
// in templateDir, checks what bouncer-audit and jq find in it, and times
// them, alternating.
func runAuditLogBench(audit, templateDir, dir string, sizes []int64) (auditLogResult, error) {
	var res auditLogResult
	if audit == "" {
		res.absent = "cmd/bouncer-audit does not exist in this tree"
	}
	jq, err := exec.LookPath("jq")
	if err != nil {
		res.skipped = "jq is not installed (apt-get install jq)"
	} else if v, err := exec.Command(jq, "--version").Output(); err == nil {
		res.jqVersion = strings.TrimSpace(string(v))
	}
	if res.absent != "" && res.skipped != "" {
		return res, nil
	}
	tmpl, err := loadAuditTemplates(templateDir)
	if err != nil {
		return res, err
	}

	// Children inherit the affinity of the thread that forks them, so
	// every command is started from this locked thread, pinned to one core,
	// which gets its affinity back at the end. (taskset would hide the
	// command from the RSS sampler, which reads the process by its name.)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var was unix.CPUSet
	if err := unix.SchedGetaffinity(0, &was); err != nil {
		return res, err
	}
	defer func() { _ = unix.SchedSetaffinity(0, &was) }()
	for _, cpu := range []int{auditLogCPU, 0} {
		var one unix.CPUSet
		one.Set(cpu)
		if err = unix.SchedSetaffinity(0, &one); err == nil {
			res.cpu = cpu
			break
		}
	}
	if err != nil {
		return res, fmt.Errorf("pinning the commands to one core: %w", err)
	}
	for _, size := range sizes {
		path := filepath.Join(dir, fmt.Sprintf("audit-%dMB.log", size/1e6))
		planted, mix, err := generateAuditLog(path, size, tmpl)
		if err != nil {
			return res, err
		}
		st, err := os.Stat(path)
		if err != nil {
			return res, err
		}
		s := auditLogSize{bytes: st.Size(), planted: planted}
		framework.Progress("%s: %d events, %d escapes planted (%d violating)", filepath.Base(path), planted.Events, planted.Escapes, planted.Violating)
		if err := timeAuditLog(&s, audit, jq, path); err != nil {
			return res, err
		}
		res.sizes, res.mix = append(res.sizes, s), mix
		_ = os.Remove(path)
	}
	return res, nil
}

// auditLogEnv keeps bouncer-audit off any cluster: no kubeconfig, no
// in-cluster service account, and the embedded default policy.
var auditLogEnv = []string{"KUBECONFIG=/nonexistent", "KUBERNETES_SERVICE_HOST=", "KUBERNETES_SERVICE_PORT=", "BOUNCER_POLICY="}

// timeAuditLog checks both commands' readings of the file, then times them
// auditRuns times each, alternating and each round in the other order.
func timeAuditLog(s *auditLogSize, audit, jq, path string) error {
	auditCmd := func() *exec.Cmd {
		return command(auditLogEnv, audit, "--audit-log", path, "-o", "json")
	}
	jqCmd := func() *exec.Cmd {
		return command(nil, jq, "-c", "select(.annotations)", path)
	}
	// The readings first, which also bring the file into the page cache.
	if audit != "" {
		var out, errOut bytes.Buffer
		c := auditCmd()
		c.Stdout, c.Stderr = &out, &errOut
		if err := c.Run(); exitCode(err) != 1 {
			return fmt.Errorf("bouncer-audit --audit-log %s -o json: want exit 1 (violating escapes), got %v: %.2000s", path, err, errOut.String())
		}
		var j struct {
			Summary struct {
				auditLogCounts
				Cluster string `json:"cluster"`
			} `json:"summary"`
		}
		if err := json.Unmarshal(out.Bytes(), &j); err != nil {
			return fmt.Errorf("bouncer-audit --audit-log -o json: %v: %.500s", err, out.Bytes())
		}
		if !strings.HasPrefix(j.Summary.Cluster, "no cluster access") {
			return fmt.Errorf("bouncer-audit --audit-log reached a cluster (%q): the timing would include it", j.Summary.Cluster)
		}
		if j.Summary.auditLogCounts != s.planted {
			return fmt.Errorf("bouncer-audit --audit-log %s counted %+v, the generator planted %+v", filepath.Base(path), j.Summary.auditLogCounts, s.planted)
		}
	}
	if jq != "" {
		var lines lineCounter
		var errOut bytes.Buffer
		c := jqCmd()
		c.Stdout, c.Stderr = &lines, &errOut
		if err := c.Run(); err != nil {
			return fmt.Errorf("jq -c 'select(.annotations)' %s: %v: %.2000s", path, err, errOut.String())
		}
		// Every event the API server writes carries the authorizer's
		// annotations, so jq selects them all.
		if int(lines) != s.planted.Events {
			return fmt.Errorf("jq -c 'select(.annotations)' %s selected %d events of %d", filepath.Base(path), lines, s.planted.Events)
		}
	}
	for r := 0; r < auditRuns; r++ {
		for k := 0; k < 2; k++ {
			switch (k + r) % 2 {
			case 0:
				if audit != "" {
					if err := timeOne(&s.audit, 1, auditCmd()); err != nil {
						return err
					}
				}
			case 1:
				if jq != "" {
					if err := timeOne(&s.jq, 0, jqCmd()); err != nil {
						return err
					}
				}
			}
		}
		framework.Progress("%d MB: run %d of %d: bouncer audit %v, jq %v", s.bytes/1e6, r+1, auditRuns, at(s.audit.runs, r), at(s.jq.runs, r))
	}
	return nil
}

// lineCounter counts the lines written to it.
type lineCounter int

func (l *lineCounter) Write(p []byte) (int, error) {
	*l += lineCounter(bytes.Count(p, []byte{'\n'}))
	return len(p), nil
}

// auditEvent is audit.k8s.io/v1's Event as the API server encodes it: its
// fields in the order of k8s.io/apiserver/pkg/apis/audit/v1.Event, with its
// tags, so that encoding/json writes it as the log backend does (the same
// encoder, through runtime.Unknown's raw objects). loadAuditTemplates holds
// this to every captured event byte for byte.
type auditEvent struct {
	Kind                     string            `json:"kind,omitempty"`
	APIVersion               string            `json:"apiVersion,omitempty"`
	Level                    string            `json:"level"`
	AuditID                  string            `json:"auditID"`
	Stage                    string            `json:"stage"`
	RequestURI               string            `json:"requestURI"`
	Verb                     string            `json:"verb"`
	User                     auditUser         `json:"user"`
	ImpersonatedUser         *auditUser        `json:"impersonatedUser,omitempty"`
	SourceIPs                []string          `json:"sourceIPs,omitempty"`
	UserAgent                string            `json:"userAgent,omitempty"`
	ObjectRef                *auditRef         `json:"objectRef,omitempty"`
	ResponseStatus           json.RawMessage   `json:"responseStatus,omitempty"`
	RequestObject            json.RawMessage   `json:"requestObject,omitempty"`
	ResponseObject           json.RawMessage   `json:"responseObject,omitempty"`
	RequestReceivedTimestamp string            `json:"requestReceivedTimestamp"`
	StageTimestamp           string            `json:"stageTimestamp"`
	Annotations              map[string]string `json:"annotations,omitempty"`
}

// auditUser is authentication/v1's UserInfo.
type auditUser struct {
	Username string              `json:"username,omitempty"`
	UID      string              `json:"uid,omitempty"`
	Groups   []string            `json:"groups,omitempty"`
	Extra    map[string][]string `json:"extra,omitempty"`
}

// auditRef is audit/v1's ObjectReference.
type auditRef struct {
	Resource        string `json:"resource,omitempty"`
	Namespace       string `json:"namespace,omitempty"`
	Name            string `json:"name,omitempty"`
	UID             string `json:"uid,omitempty"`
	APIGroup        string `json:"apiGroup,omitempty"`
	APIVersion      string `json:"apiVersion,omitempty"`
	ResourceVersion string `json:"resourceVersion,omitempty"`
	Subresource     string `json:"subresource,omitempty"`
}

// microTime is metav1.MicroTime's format.
const microTime = "2006-01-02T15:04:05.000000Z07:00"

// loadAuditTemplates reads the events a real API server logged
// (testdata/auditlog: one event a .json file, and window.log.gz), each by
// its file's name and the window's deployment status updates as
// deployment-status-update-N, and checks that auditEvent encodes every one
// of them back to the very bytes the API server wrote.
func loadAuditTemplates(dir string) (map[string]auditEvent, error) {
	lines := map[string][]byte{}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		lines[strings.TrimSuffix(filepath.Base(f), ".json")] = bytes.TrimSuffix(b, []byte("\n"))
	}
	f, err := os.Open(filepath.Join(dir, "window.log.gz"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for i := 0; sc.Scan(); i++ {
		line := bytes.Clone(sc.Bytes())
		name := fmt.Sprintf("window-%02d", i)
		if bytes.Contains(line, []byte(`"requestURI":"/apis/apps/v1/namespaces/shop/deployments/web/status"`)) {
			name = fmt.Sprintf("deployment-status-update-%d", n)
			n++
		}
		lines[name] = line
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	out := map[string]auditEvent{}
	for name, line := range lines {
		var ev auditEvent
		d := json.NewDecoder(bytes.NewReader(line))
		d.DisallowUnknownFields()
		if err := d.Decode(&ev); err != nil {
			return nil, fmt.Errorf("captured event %s: %v", name, err)
		}
		var b bytes.Buffer
		if err := json.NewEncoder(&b).Encode(&ev); err != nil {
			return nil, err
		}
		if got := bytes.TrimSuffix(b.Bytes(), []byte("\n")); !bytes.Equal(got, line) {
			return nil, fmt.Errorf("captured event %s: the generator's encoding differs from the API server's:\n%s\n%s", name, got, line)
		}
		out[name] = ev
	}
	for _, k := range auditLogKinds {
		if k.template != "" && !strings.HasSuffix(k.template, "*") {
			if _, ok := out[k.template]; !ok {
				return nil, fmt.Errorf("no captured event %s in %s", k.template, dir)
			}
		}
	}
	return out, nil
}

// auditLogKind is one kind of event in the generated log: a captured event
// varied, or one written here in the same encoding.
type auditLogKind struct {
	name   string
	weight int // in 10,000 events
	// outcome is what bouncer-audit makes of it: "" for no escape, else
	// violates, compliant or not-logged.
	outcome  string
	template string // the captured event varied; "" for make
	make     func(g *auditGen) auditEvent
}

// auditLogKinds are the log's events, in a cluster's proportions: its own
// policy logs everything at Metadata, and bouncer's rule, first, logs the
// writes of the kinds it covers at RequestResponse
// (internal/auditconfig). Most lines are the control plane's own traffic:
// kubelets' lease heartbeats, leader election, endpoint slices, events,
// and the gets, lists and watches of kubelets and controllers. Writes of
// covered kinds that bouncer answered, refused before storage, or dry runs
// are bouncer's but not escapes; 1 in 100 events failed open past its
// webhooks.
var auditLogKinds = []auditLogKind{
	{name: "lease update, kube-node-lease (kubelet heartbeat)", weight: 2500, make: func(g *auditGen) auditEvent {
		node := g.node()
		return g.metadata("update", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/"+node+"?timeout=10s", g.kubelet(node),
			&auditRef{Resource: "leases", Namespace: "kube-node-lease", Name: node, UID: g.uuid(), APIGroup: "coordination.k8s.io", APIVersion: "v1", ResourceVersion: g.rv()}, 200, "", g.ms(1, 6))
	}},
	{name: "lease get, kube-system (leader election)", weight: 600, make: func(g *auditGen) auditEvent {
		who, lease := g.leader()
		return g.metadata("get", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/"+lease+"?timeout=5s", who,
			&auditRef{Resource: "leases", Namespace: "kube-system", Name: lease, APIGroup: "coordination.k8s.io", APIVersion: "v1"}, 200, rbac(who), g.ms(0.3, 2))
	}},
	{name: "lease update, kube-system (leader election)", weight: 600, make: func(g *auditGen) auditEvent {
		who, lease := g.leader()
		return g.metadata("update", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/"+lease+"?timeout=5s", who,
			&auditRef{Resource: "leases", Namespace: "kube-system", Name: lease, UID: g.uuid(), APIGroup: "coordination.k8s.io", APIVersion: "v1", ResourceVersion: g.rv()}, 200, rbac(who), g.ms(1, 6))
	}},
	{name: "endpointslice update (endpointslice-controller)", weight: 500, make: func(g *auditGen) auditEvent {
		ns, name := g.namespace(), "svc-"+g.suffix(4)+"-"+g.suffix(5)
		who := serviceAccount("endpointslice-controller")
		return g.metadata("update", "/apis/discovery.k8s.io/v1/namespaces/"+ns+"/endpointslices/"+name, who,
			&auditRef{Resource: "endpointslices", Namespace: ns, Name: name, UID: g.uuid(), APIGroup: "discovery.k8s.io", APIVersion: "v1", ResourceVersion: g.rv()}, 200, rbacSA("endpointslice-controller"), g.ms(1, 8))
	}},
	{name: "event create (kubelets, controllers)", weight: 1000, make: func(g *auditGen) auditEvent {
		ns := g.namespace()
		name := "web-" + g.suffix(10) + "-" + g.suffix(5) + "." + g.hex(16)
		who, reason := g.kubelet(g.node()), ""
		if g.r.IntN(3) == 0 {
			who, reason = serviceAccount("replicaset-controller"), rbacSA("replicaset-controller")
		}
		return g.metadata("create", "/api/v1/namespaces/"+ns+"/events", who,
			&auditRef{Resource: "events", Namespace: ns, Name: name, APIVersion: "v1"}, 201, reason, g.ms(1, 5))
	}},
	{name: "event patch (a repeated event's count)", weight: 300, make: func(g *auditGen) auditEvent {
		ns, node := g.namespace(), g.node()
		name := "web-" + g.suffix(10) + "-" + g.suffix(5) + "." + g.hex(16)
		return g.metadata("patch", "/api/v1/namespaces/"+ns+"/events/"+name, g.kubelet(node),
			&auditRef{Resource: "events", Namespace: ns, Name: name, APIVersion: "v1"}, 200, "", g.ms(1, 5))
	}},
	{name: "configmap and secret get (kubelets)", weight: 900, make: func(g *auditGen) auditEvent {
		ns, node := g.namespace(), g.node()
		res, name := "configmaps", "kube-root-ca.crt"
		if g.r.IntN(2) == 0 {
			res, name = "secrets", "app-"+g.suffix(5)+"-tls"
		}
		return g.metadata("get", "/api/v1/namespaces/"+ns+"/"+res+"/"+name, g.kubelet(node),
			&auditRef{Resource: res, Namespace: ns, Name: name, APIVersion: "v1"}, 200, "", g.ms(0.3, 2))
	}},
	{name: "serviceaccount token create (kubelets)", weight: 300, make: func(g *auditGen) auditEvent {
		ns, node := g.namespace(), g.node()
		return g.metadata("create", "/api/v1/namespaces/"+ns+"/serviceaccounts/default/token", g.kubelet(node),
			&auditRef{Resource: "serviceaccounts", Namespace: ns, Name: "default", APIVersion: "v1", Subresource: "token"}, 201, "", g.ms(1, 4))
	}},
	{name: "watch (controllers, kube-proxy, kubelets)", weight: 1000, make: func(g *auditGen) auditEvent {
		w := auditWatches[g.r.IntN(len(auditWatches))]
		secs := 300 + g.r.IntN(300)
		uri := fmt.Sprintf("%s?allowWatchBookmarks=true&resourceVersion=%s&timeout=%dm%ds&timeoutSeconds=%d&watch=true", w.path, g.rv(), secs/60, secs%60, secs)
		who := serviceAccount(w.sa)
		return g.metadata("watch", uri, who, &auditRef{Resource: w.resource, APIGroup: w.group, APIVersion: "v1"}, 200, rbacSA(w.sa), time.Duration(secs)*time.Second)
	}},
	{name: "list (controllers' resyncs)", weight: 400, make: func(g *auditGen) auditEvent {
		w := auditWatches[g.r.IntN(len(auditWatches))]
		who := serviceAccount(w.sa)
		return g.metadata("list", w.path+"?limit=500&resourceVersion=0", who, &auditRef{Resource: w.resource, APIGroup: w.group, APIVersion: "v1"}, 200, rbacSA(w.sa), g.ms(3, 40))
	}},
	{name: "node status patch (kubelets)", weight: 400, make: func(g *auditGen) auditEvent {
		node := g.node()
		return g.metadata("patch", "/api/v1/nodes/"+node+"/status?timeout=10s", g.kubelet(node),
			&auditRef{Resource: "nodes", Name: node, APIVersion: "v1", Subresource: "status"}, 200, "", g.ms(2, 10))
	}},
	{name: "subjectaccessreview create (API servers, metrics)", weight: 300, make: func(g *auditGen) auditEvent {
		who := serviceAccount("metrics-server")
		return g.metadata("create", "/apis/authorization.k8s.io/v1/subjectaccessreviews?timeout=10s", who,
			&auditRef{Resource: "subjectaccessreviews", APIGroup: "authorization.k8s.io", APIVersion: "v1"}, 201, rbacSA("metrics-server"), g.ms(0.3, 2))
	}},
	{name: "pod get (kubelets)", weight: 400, make: func(g *auditGen) auditEvent {
		ns, node := g.namespace(), g.node()
		name := "web-" + g.suffix(10) + "-" + g.suffix(5)
		return g.metadata("get", "/api/v1/namespaces/"+ns+"/pods/"+name, g.kubelet(node),
			&auditRef{Resource: "pods", Namespace: ns, Name: name, APIVersion: "v1"}, 200, "", g.ms(0.3, 2))
	}},
	// Bouncer's kinds, logged at RequestResponse, not escapes.
	{name: "Pod create that bouncer answered", weight: 200, template: "pod-create-judged"},
	{name: "ReplicaSet status update (controller)", weight: 200, template: "controller-replicaset-status-update"},
	{name: "Deployment status update (controller)", weight: 200, template: "deployment-status-update-*"},
	{name: "Pod create refused after admission (409)", weight: 50, template: "create-already-exists"},
	{name: "Pod create, dry run, failed open", weight: 50, template: "dry-run-create"},
	// Escapes: writes stored after bouncer's webhooks failed open.
	{name: "escape: Pod create, violating", weight: 30, outcome: "violates", template: "pod-create-escaped-violating"},
	{name: "escape: Pod create, compliant", weight: 30, outcome: "compliant", template: "pod-create-escaped-compliant"},
	{name: "escape: Pod patch removing owner", weight: 10, outcome: "violates", template: "pod-patch-escaped-compliant"},
	{name: "escape: Deployment create, violating", weight: 10, outcome: "violates", template: "deployment-create"},
	{name: "escape: ReplicaSet create (controller)", weight: 5, outcome: "violates", template: "controller-replicaset-create"},
	{name: "escape: Pod create (controller)", weight: 5, outcome: "violates", template: "controller-pod-create"},
	{name: "escape: Pod create at level Request", weight: 4, outcome: "not-logged", template: "pod-create-at-request"},
	{name: "escape: Pod patch at level Request", weight: 3, outcome: "not-logged", template: "pod-patch-at-request"},
	{name: "escape: Pod create at level Metadata", weight: 3, outcome: "not-logged", template: "pod-create-at-metadata"},
}

// auditWatches are what controllers, kube-proxy and kubelets watch and list.
var auditWatches = []struct{ path, resource, group, sa string }{
	{"/api/v1/pods", "pods", "", "replicaset-controller"},
	{"/apis/discovery.k8s.io/v1/endpointslices", "endpointslices", "discovery.k8s.io", "endpointslice-controller"},
	{"/api/v1/services", "services", "", "endpointslice-controller"},
	{"/apis/apps/v1/replicasets", "replicasets", "apps", "deployment-controller"},
	{"/apis/apps/v1/deployments", "deployments", "apps", "deployment-controller"},
	{"/api/v1/nodes", "nodes", "", "node-controller"},
	{"/api/v1/configmaps", "configmaps", "", "root-ca-cert-publisher"},
	{"/apis/batch/v1/jobs", "jobs", "batch", "job-controller"},
}

// auditGen makes the events, deterministically.
type auditGen struct {
	r   *rand.Rand
	now time.Time
}

func (g *auditGen) uuid() string {
	a, b := g.r.Uint64(), g.r.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", a>>32, a>>16&0xffff, a&0xfff, b>>48&0x3fff|0x8000, b&0xffffffffffff)
}

const lowerDigits = "abcdefghijklmnopqrstuvwxyz0123456789"

// suffix is n characters as a generateName adds them.
func (g *auditGen) suffix(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = lowerDigits[g.r.IntN(len(lowerDigits))]
	}
	return string(b)
}

func (g *auditGen) hex(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = "0123456789abcdef"[g.r.IntN(16)]
	}
	return string(b)
}

func (g *auditGen) rv() string { return fmt.Sprint(1e6 + g.r.IntN(9e6)) }

// ms is a latency between lo and hi milliseconds.
func (g *auditGen) ms(lo, hi float64) time.Duration {
	return time.Duration((lo + g.r.Float64()*(hi-lo)) * float64(time.Millisecond))
}

// namespace is one of 40 application namespaces or a system one.
func (g *auditGen) namespace() string {
	if g.r.IntN(5) == 0 {
		return []string{"kube-system", "monitoring", "ingress-nginx", "cert-manager"}[g.r.IntN(4)]
	}
	return fmt.Sprintf("team-%02d", g.r.IntN(40))
}

func (g *auditGen) appNamespace() string { return fmt.Sprintf("team-%02d", g.r.IntN(40)) }

// node is one of 200 nodes.
func (g *auditGen) node() string { return fmt.Sprintf("node-%03d", g.r.IntN(200)) }

func (g *auditGen) kubelet(node string) auditUser {
	return auditUser{Username: "system:node:" + node, Groups: []string{"system:nodes", "system:authenticated"}}
}

// leader is a leader-election client and its lease.
func (g *auditGen) leader() (auditUser, string) {
	if g.r.IntN(2) == 0 {
		return auditUser{Username: "system:kube-controller-manager", Groups: []string{"system:authenticated"}}, "kube-controller-manager"
	}
	return auditUser{Username: "system:kube-scheduler", Groups: []string{"system:authenticated"}}, "kube-scheduler"
}

func serviceAccount(name string) auditUser {
	return auditUser{Username: "system:serviceaccount:kube-system:" + name, UID: "4cdeae59-2e60-4c11-a3eb-" + fmt.Sprintf("%012x", len(name)),
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"},
		Extra:  map[string][]string{"authentication.kubernetes.io/credential-id": {"JTI=4e442475-483b-490d-8174-78a5f692aec8"}}}
}

// rbac is the authorizer's reason for a user bound to its own ClusterRole.
func rbac(u auditUser) string {
	return fmt.Sprintf("RBAC: allowed by ClusterRoleBinding %q of ClusterRole %q to User %q", u.Username, u.Username, u.Username)
}

func rbacSA(name string) string {
	return fmt.Sprintf("RBAC: allowed by ClusterRoleBinding \"system:controller:%s\" of ClusterRole \"system:controller:%s\" to ServiceAccount \"%s/kube-system\"", name, name, name)
}

// userAgent is what each client sends.
func userAgent(u auditUser) string {
	switch {
	case strings.HasPrefix(u.Username, "system:node:"):
		return "kubelet/v1.37.2 (linux/amd64) kubernetes/5e0ab73"
	case strings.HasPrefix(u.Username, "system:serviceaccount:kube-system:"):
		return "kube-controller-manager/v1.37.2 (linux/amd64) kubernetes/5e0ab73/" + u.Username
	}
	return strings.TrimPrefix(u.Username, "system:") + "/v1.37.2 (linux/amd64) kubernetes/5e0ab73/leader-election"
}

// metadata is an event at level Metadata: no objects.
func (g *auditGen) metadata(verb, uri string, who auditUser, ref *auditRef, code int, reason string, took time.Duration) auditEvent {
	ip := "10.128.0.2"
	if strings.HasPrefix(who.Username, "system:node:") {
		ip = "10.128.1." + strings.TrimLeft(strings.TrimPrefix(who.Username, "system:node:node-"), "0")
	}
	return auditEvent{Kind: "Event", APIVersion: "audit.k8s.io/v1", Level: "Metadata", AuditID: g.uuid(), Stage: "ResponseComplete",
		RequestURI: uri, Verb: verb, User: who, SourceIPs: []string{ip}, UserAgent: userAgent(who), ObjectRef: ref,
		ResponseStatus:           json.RawMessage(fmt.Sprintf(`{"metadata":{},"code":%d}`, code)),
		RequestReceivedTimestamp: g.now.Format(microTime), StageTimestamp: g.now.Add(took).Format(microTime),
		Annotations: map[string]string{"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": reason}}
}

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// vary is a captured event with a new audit ID, timestamps (the same
// latency), object name, namespace and UIDs: the same write of another
// object.
func (g *auditGen) vary(t auditEvent) auditEvent {
	ev := t
	ev.AuditID = g.uuid()
	recv, err1 := time.Parse(time.RFC3339Nano, t.RequestReceivedTimestamp)
	stage, err2 := time.Parse(time.RFC3339Nano, t.StageTimestamp)
	if err1 == nil && err2 == nil {
		ev.RequestReceivedTimestamp, ev.StageTimestamp = g.now.Format(microTime), g.now.Add(stage.Sub(recv)).Format(microTime)
	}
	if t.ObjectRef == nil {
		return ev
	}
	ref := *t.ObjectRef
	ev.ObjectRef = &ref
	var swaps []string // old, new JSON strings in the objects
	if ns := ref.Namespace; ns != "" && ns != "kube-system" {
		ref.Namespace = g.appNamespace()
		swaps = append(swaps, `"namespace":"`+ns+`"`, `"namespace":"`+ref.Namespace+`"`)
		ev.RequestURI = swapSegment(ev.RequestURI, ns, ref.Namespace)
	}
	if name := ref.Name; name != "" {
		ref.Name = name + "-" + g.suffix(5)
		swaps = append(swaps, `"name":"`+name+`"`, `"name":"`+ref.Name+`"`)
		ev.RequestURI = swapSegment(ev.RequestURI, name, ref.Name)
	}
	uids := map[string]string{}
	for _, raw := range [][]byte{t.RequestObject, t.ResponseObject, []byte(ref.UID)} {
		for _, u := range uuidRE.FindAll(raw, -1) {
			if _, ok := uids[string(u)]; !ok {
				uids[string(u)] = g.uuid()
				swaps = append(swaps, string(u), uids[string(u)])
			}
		}
	}
	if ref.UID != "" {
		ref.UID = uids[ref.UID]
	}
	r := strings.NewReplacer(swaps...)
	if t.RequestObject != nil {
		ev.RequestObject = json.RawMessage(r.Replace(string(t.RequestObject)))
	}
	if t.ResponseObject != nil {
		ev.ResponseObject = json.RawMessage(r.Replace(string(t.ResponseObject)))
	}
	return ev
}

// swapSegment replaces the path segment old of uri by new.
func swapSegment(uri, old, new string) string {
	path, query, hasQuery := strings.Cut(uri, "?")
	seg := strings.Split(path, "/")
	for i := range seg {
		if seg[i] == old {
			seg[i] = new
		}
	}
	path = strings.Join(seg, "/")
	if hasQuery {
		return path + "?" + query
	}
	return path
}

// generateAuditLog writes events to path until it holds size bytes, and
// returns what it planted and each kind's share.
func generateAuditLog(path string, size int64, tmpl map[string]auditEvent) (auditLogCounts, []auditLogMix, error) {
	var c auditLogCounts
	f, err := os.Create(path)
	if err != nil {
		return c, nil, err
	}
	defer f.Close()
	cw := &countingWriter{w: f}
	bw := bufio.NewWriterSize(cw, 1<<20)
	enc := json.NewEncoder(bw)
	g := &auditGen{r: rand.New(rand.NewPCG(22, 256)), now: time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)}
	total := 0
	for _, k := range auditLogKinds {
		total += k.weight
	}
	mix := make([]auditLogMix, len(auditLogKinds))
	var variants []string
	for name := range tmpl {
		if strings.HasPrefix(name, "deployment-status-update-") {
			variants = append(variants, name)
		}
	}
	if len(variants) == 0 {
		return c, nil, errors.New("no captured deployment status update")
	}
	for cw.n+int64(bw.Buffered()) < size {
		i, w := 0, g.r.IntN(total)
		for ; w >= auditLogKinds[i].weight; i++ {
			w -= auditLogKinds[i].weight
		}
		k := auditLogKinds[i]
		var ev auditEvent
		switch {
		case k.make != nil:
			ev = k.make(g)
		case strings.HasSuffix(k.template, "*"):
			ev = g.vary(tmpl[variants[g.r.IntN(len(variants))]])
		default:
			ev = g.vary(tmpl[k.template])
		}
		before := cw.n + int64(bw.Buffered())
		if err := enc.Encode(&ev); err != nil {
			return c, nil, err
		}
		mix[i].name, mix[i].level = k.name, ev.Level
		mix[i].events++
		mix[i].bytes += int(cw.n + int64(bw.Buffered()) - before)
		c.Events++
		switch k.outcome {
		case "violates":
			c.Violating++
		case "compliant":
			c.Compliant++
		case "not-logged":
			c.NotLogged++
		}
		if k.outcome != "" {
			c.Escapes++
		}
		// About 200 events a second, as from a cluster of 200 nodes.
		g.now = g.now.Add(time.Duration(g.r.ExpFloat64() * float64(5*time.Millisecond)))
	}
	if err := bw.Flush(); err != nil {
		return c, nil, err
	}
	return c, mix, f.Close()
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// mbps is a file's throughput in MB/s at its median time.
func mbps(size int64, t auditTiming) float64 {
	return float64(size) / 1e6 / median(t.runs).Seconds()
}

// auditLogTargets evaluates the audit log targets at the largest
// file, the RSS growth from the smallest.
func (r *report) auditLogTargets() []string {
	a := r.auditLog
	if len(a.sizes) == 0 && a.absent == "" {
		return nil
	}
	const speedTarget = "| `bouncer audit --audit-log`, %s | ≥ 3× the throughput of `jq -c 'select(.annotations)'` | %s | %s |"
	const rssTarget = "| `bouncer audit --audit-log` peak RSS | ≤ +10 MiB from %s to %s | %s | %s |"
	if a.absent != "" || len(a.sizes) == 0 {
		return []string{fmt.Sprintf(speedTarget, "audit log", "not run: "+a.absent, met(false))}
	}
	first, last := a.sizes[0], a.sizes[len(a.sizes)-1]
	var out []string
	au := mbps(last.bytes, last.audit)
	if len(last.jq.runs) == 0 {
		out = append(out, fmt.Sprintf(speedTarget, megabytes(last.bytes), fmt.Sprintf("not run: %s; bouncer audit alone %.0f MB/s", a.skipped, au), met(false)))
	} else {
		jq := mbps(last.bytes, last.jq)
		out = append(out, fmt.Sprintf(speedTarget, megabytes(last.bytes), fmt.Sprintf("%.1f× (%.0f MB/s vs %.0f MB/s)", au/jq, au, jq), met(au >= 3*jq)))
	}
	grow := float64(last.audit.rssKiB-first.audit.rssKiB) / 1024
	out = append(out, fmt.Sprintf(rssTarget, megabytes(first.bytes), megabytes(last.bytes),
		fmt.Sprintf("%+.1f MiB (%s to %s)", grow, mib(first.audit.rssKiB), mib(last.audit.rssKiB)), met(grow <= 10)))
	return out
}

// megabytes names a file by its size, rounded.
func megabytes(n int64) string { return fmt.Sprintf("%.0f MB", float64(n)/1e6) }

// writeAuditLog reports the audit log benchmark.
func (r *report) writeAuditLog(w func(string, ...any)) {
	a := r.auditLog
	if len(a.sizes) == 0 && a.absent == "" {
		return
	}
	w("## bouncer audit --audit-log beside jq")
	w("")
	w("`bouncer audit --audit-log FILE -o json` and `jq -c 'select(.annotations)' FILE`, both to /dev/null, on audit logs")
	w("the harness generates in the API server's own format (JSON lines of audit.k8s.io/v1 Events): the events a real")
	w("kube-apiserver logged (`testdata/auditlog`) with new audit IDs, names, namespaces, UIDs and timestamps, and the")
	w("control plane's own traffic written in the same encoding, which the harness first holds byte for byte to every")
	w("captured event. Before timing, `bouncer audit`'s summary must count exactly the events and escapes the generator")
	w("planted, without reaching a cluster (`KUBECONFIG=/nonexistent`), and jq must select every event. Both run on core %d", a.cpu)
	w("alone (jq is single-threaded, so bouncer's garbage collector gets no second core); the medians are of %d runs, the two", auditRuns)
	w("alternating. Throughput is the file's size over the median time (MB = 10^6 bytes); peak RSS is the process's VmHWM,")
	w("sampled while it runs, the largest of the runs.")
	w("")
	if a.absent != "" {
		w("`bouncer audit` was not run: %s.", a.absent)
		w("")
	}
	if a.skipped != "" {
		w("jq was not run: %s.", a.skipped)
		w("")
	}
	if len(a.sizes) > 0 {
		w("| command, file | runs (alternating) | median | throughput | peak RSS | |")
		w("|---|---|---|---|---|---|")
		for _, s := range a.sizes {
			row := func(name string, t auditTiming, last string) {
				if len(t.runs) == 0 {
					return
				}
				var runs []string
				for _, d := range t.runs {
					runs = append(runs, secs(d))
				}
				w("| %s, %s | %s | %s | %.0f MB/s | %s | %s |", name, megabytes(s.bytes), strings.Join(runs, ", "), secs(median(t.runs)), mbps(s.bytes, t), mib(t.rssKiB), last)
			}
			vs := ""
			if len(s.audit.runs) > 0 && len(s.jq.runs) > 0 {
				vs = fmt.Sprintf("%.1f× jq's throughput", mbps(s.bytes, s.audit)/mbps(s.bytes, s.jq))
			}
			row("bouncer audit --audit-log", s.audit, vs)
			row(fmt.Sprintf("jq (%s)", a.jqVersion), s.jq, "")
		}
		w("")
		last := a.sizes[len(a.sizes)-1]
		p := last.planted
		w("The %s file holds %s events, %s of them escapes (%s violating, %s compliant, %s not logged). By kind:",
			megabytes(last.bytes), thousands(p.Events), thousands(p.Escapes), thousands(p.Violating), thousands(p.Compliant), thousands(p.NotLogged))
		w("")
		w("| event | level | share of events | share of bytes |")
		w("|---|---|---|---|")
		var size int
		for _, m := range a.mix {
			size += m.bytes
		}
		for _, m := range a.mix {
			if m.events == 0 {
				continue
			}
			w("| %s | %s | %.2f%% | %.2f%% |", m.name, m.level, 100*float64(m.events)/float64(p.Events), 100*float64(m.bytes)/float64(size))
		}
		w("")
	}
}

// auditLogMarkdown is the audit log's section alone, for bench -only auditlog.
func (r *report) auditLogMarkdown() string {
	var b strings.Builder
	r.writeAuditLog(func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) })
	return b.String()
}
