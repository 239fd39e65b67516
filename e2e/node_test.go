//go:build e2e

package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bouncer.dev/bouncer/e2e/framework"
)

// needNode skips a test of what only a real node shows.
func needNode(t *testing.T) {
	t.Helper()
	if env.Node == nil {
		t.Skipf("runs bouncer as Pods on a kubelet: the node provider (BOUNCER_E2E_PROVIDER=node)")
	}
}

// bouncerPods returns bouncer's Pods as decoded JSON.
func bouncerPods(t *testing.T) []map[string]any {
	t.Helper()
	return items(t, "bouncer-system", "pods", "app.kubernetes.io/name=bouncer")
}

func podReady(p map[string]any) bool {
	st, _ := p["status"].(map[string]any)
	conds, _ := st["conditions"].([]any)
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Ready" && m["status"] == "True" {
			m2, _ := p["metadata"].(map[string]any)
			return m2["deletionTimestamp"] == nil
		}
	}
	return false
}

// TestBouncersImageRunsAsAPodOnTheNode: the image make image built runs as
// the plain manifests' Pods: non-root, on a read-only root, Ready by its
// probe, and the API server calls it through its Service (every other test
// of this run goes through it).
func TestBouncersImageRunsAsAPodOnTheNode(t *testing.T) {
	needNode(t)
	pods := bouncerPods(t)
	if len(pods) != 2 {
		t.Fatalf("%d bouncer Pods, want the Deployment's 2", len(pods))
	}
	for _, p := range pods {
		if !podReady(p) {
			t.Errorf("Pod %s is not Ready: %v", name(p), p["status"])
		}
	}
	// What the runtime made of the Pod's securityContext, read off the
	// container's process on the host.
	containers, err := env.Node.Ctr("containers", "ls")
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := env.Node.Ctr("tasks", "ls")
	if err != nil {
		t.Fatal(err)
	}
	// Running tasks only: an exited container of the same image (the audit
	// CronJob's Job, a Pod being replaced) has no process to read.
	pids := map[string]string{}
	for _, line := range strings.Split(tasks, "\n")[1:] {
		if f := strings.Fields(line); len(f) >= 3 && f[2] == "RUNNING" {
			pids[f[0]] = f[1]
		}
	}
	checked := 0
	for _, line := range strings.Split(containers, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[1] != framework.BouncerImage {
			continue
		}
		pid, ok := pids[f[0]]
		if !ok {
			continue
		}
		status, err := os.ReadFile("/proc/" + pid + "/status")
		if err != nil {
			t.Errorf("container %s: %v", f[0], err)
			continue
		}
		if !strings.Contains(string(status), "\nUid:\t65532\t65532\t65532\t65532\n") {
			t.Errorf("container %s does not run as uid 65532:\n%s", f[0], grepLine(string(status), "Uid:"))
		}
		mounts, _ := os.ReadFile("/proc/" + pid + "/mounts")
		root := ""
		for _, m := range strings.Split(string(mounts), "\n") {
			if mf := strings.Fields(m); len(mf) > 3 && mf[1] == "/" {
				root = mf[3]
			}
		}
		if !strings.HasPrefix(root, "ro,") && root != "ro" {
			t.Errorf("container %s's root is mounted %q, want read-only", f[0], root)
		}
		checked++
	}
	if checked != 2 {
		t.Errorf("checked %d bouncer containers on the node, want 2", checked)
	}
	t.Logf("FIGURE node: 2 bouncer Pods Ready, each container running as uid 65532 on a read-only root")
}

func grepLine(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// TestTheKubeletAnswersOnlyTheAPIServer: the kubelet's API (logs, exec)
// listens on the host's address, so it must refuse anonymous callers and
// accept the API server's client certificate, which kubectl logs uses.
func TestTheKubeletAnswersOnlyTheAPIServer(t *testing.T) {
	needNode(t)
	port, errOut, err := env.K("get", "node", env.Node.Name, "-o", "jsonpath={.status.daemonEndpoints.kubeletEndpoint.Port}")
	if err != nil || port == "" {
		t.Fatalf("the node's kubelet port: %q %s", port, errOut)
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		// The kubelet's self-signed serving certificate; what is tested is
		// whom it answers.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec
	}}
	resp, err := c.Get("https://" + net.JoinHostPort(env.Node.IP, port) + "/pods")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an anonymous GET /pods from the host got HTTP %d, want 401", resp.StatusCode)
	}
	logs, err := env.Logs()
	if err != nil || len(logs) == 0 {
		t.Errorf("kubectl logs through the API server: %v (%d bytes)", err, len(logs))
	}
	t.Logf("FIGURE kubelet: anonymous HTTP %d; kubectl logs through the API server %d bytes", resp.StatusCode, len(logs))
}

// TestPodsTheControllersMakeRunWithTheLabelsMutateGave: scheduled, started
// and Running, with owner and the default environment.
func TestPodsTheControllersMakeRunWithTheLabelsMutateGave(t *testing.T) {
	needNode(t)
	ns := namespace(t)
	d := strings.Replace(workload("Deployment", "web", nil), `"replicas":0`, `"replicas":2`, 1)
	mustCreate(t, ns, d)
	eventually(t, 2*time.Minute, "two Pods Running", func() error {
		pods := podsOf(t, ns, "app=web")
		running := 0
		for _, p := range pods {
			st, _ := p["status"].(map[string]any)
			if st["phase"] == "Running" {
				running++
			}
			if err := requireLabels("Pod "+name(p), labelsAt(p, "metadata.labels")); err != nil {
				return err
			}
		}
		if running != 2 {
			return fmt.Errorf("%d of %d Pods Running", running, len(pods))
		}
		return nil
	})
}

// serial reads the serial of the first certificate in a Secret's key.
func serial(t *testing.T, secret, key string) *big.Int {
	t.Helper()
	out, errOut, err := env.K("-n", "bouncer-system", "get", "secret", secret, "-o", "jsonpath={.data."+strings.ReplaceAll(key, ".", `\.`)+"}")
	if err != nil {
		t.Fatalf("reading %s: %s", secret, errOut)
	}
	der := decodePEM(t, out)
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c.SerialNumber
}

func decodePEM(t *testing.T, b64 string) []byte {
	t.Helper()
	raw, err := base64Decode(b64)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		t.Fatalf("no PEM in %q", b64)
	}
	return block.Bytes
}

// renew asks cert-manager to re-issue a Certificate now, as `cmctl renew`
// does: the Issuing condition, set through the status subresource.
func renew(t *testing.T, cert string) {
	t.Helper()
	now := time.Now().UTC().Format(time.RFC3339)
	patch := fmt.Sprintf(`[{"op":"add","path":"/status/conditions/-","value":{"type":"Issuing","status":"True","reason":"ManuallyTriggered","message":"renewed by the e2e suite","lastTransitionTime":%q}}]`, now)
	if _, errOut, err := env.K("-n", "bouncer-system", "patch", "certificate", cert, "--subresource=status", "--type=json", "-p", patch); err != nil {
		t.Fatalf("renewing %s: %s", cert, errOut)
	}
}

// servedSerials dials every bouncer Pod as the API server does (its IP,
// server name bouncer.bouncer-system.svc) and returns the serials served.
func servedSerials(t *testing.T, roots *x509.CertPool) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range bouncerPods(t) {
		st, _ := p["status"].(map[string]any)
		ip, _ := st["podIP"].(string)
		if ip == "" || !podReady(p) {
			continue
		}
		c, err := tls.Dial("tcp", ip+":8443", &tls.Config{RootCAs: roots, ServerName: "bouncer.bouncer-system.svc"})
		if err != nil {
			out[name(p)] = "error: " + err.Error()
			continue
		}
		out[name(p)] = c.ConnectionState().PeerCertificates[0].SerialNumber.Text(16)
		c.Close()
	}
	return out
}

// caPool is the CA the webhook configuration carries now.
func caPool(t *testing.T) (*x509.CertPool, string) {
	t.Helper()
	out, errOut, err := env.K("get", "validatingwebhookconfiguration", "bouncer-validate", "-o", "jsonpath={.webhooks[0].clientConfig.caBundle}")
	if err != nil {
		t.Fatal(errOut)
	}
	raw, err := base64Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(raw) {
		t.Fatalf("the configuration's caBundle holds no certificate: %q", out)
	}
	return pool, out
}

// TestCertificatesRotateUnderLoadWithoutFailingOpen renews the serving
// certificate, then the CA (and the leaf under it), while writes go on
// without pause: the API server's fail-open count must not move, and every
// write must get its right verdict.
func TestCertificatesRotateUnderLoadWithoutFailingOpen(t *testing.T) {
	needNode(t)
	ns := namespace(t)
	load, err := env.StartLoad(ns, 2, 0, framework.PauseImage)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	leaf0, ca0 := serial(t, "bouncer-tls", "tls.crt"), serial(t, "bouncer-ca", "tls.crt")
	_, bundle0 := caPool(t)

	rotateLeaf := func(what string, old *big.Int) time.Duration {
		renew(t, "bouncer")
		var changed time.Time
		eventually(t, 2*time.Minute, what+": cert-manager re-issues the serving certificate", func() error {
			if s := serial(t, "bouncer-tls", "tls.crt"); s.Cmp(old) == 0 {
				return fmt.Errorf("still serial %x", s)
			}
			changed = time.Now()
			return nil
		})
		want := serial(t, "bouncer-tls", "tls.crt").Text(16)
		// The kubelet updates the Secret volume within its sync period, and
		// bouncer reads the files every 10 s.
		eventually(t, 3*time.Minute, what+": every bouncer Pod serves the new certificate", func() error {
			roots, _ := caPool(t)
			for p, s := range servedSerials(t, roots) {
				if s != want {
					return fmt.Errorf("%s serves %s, want %s", p, s, want)
				}
			}
			return nil
		})
		return time.Since(changed)
	}
	leafServed := rotateLeaf("the leaf", leaf0)
	time.Sleep(3 * time.Second)

	renew(t, "bouncer-ca")
	eventually(t, 2*time.Minute, "cert-manager re-issues the CA", func() error {
		if s := serial(t, "bouncer-ca", "tls.crt"); s.Cmp(ca0) == 0 {
			return fmt.Errorf("still serial %x", s)
		}
		return nil
	})
	// The injector reads the CA Certificate, so the bundle changes before
	// any leaf does: for a while the API server verifies the leaf signed by
	// the old CA certificate against the new one. Same key, same subject, so
	// it must verify; the load keeps running through that window.
	caRenewed := time.Now()
	eventually(t, 2*time.Minute, "the CA injector writes the renewed CA into the configurations", func() error {
		if _, b := caPool(t); b == bundle0 {
			return fmt.Errorf("caBundle unchanged")
		}
		return nil
	})
	bundleFollowed := time.Since(caRenewed)
	wrongBefore, writesBefore := load.Wrong.Load()+load.Errors.Load(), load.Writes.Load()
	roots, _ := caPool(t)
	for p, s := range servedSerials(t, roots) {
		if strings.HasPrefix(s, "error") {
			t.Errorf("%s: the leaf from before the CA renewal does not verify against the renewed CA: %s", p, s)
		}
	}
	time.Sleep(15 * time.Second)
	if n := load.Wrong.Load() + load.Errors.Load() - wrongBefore; n != 0 {
		t.Errorf("%d writes failed while the old leaf was verified against the renewed CA", n)
	}
	oldLeafWrites := load.Writes.Load() - writesBefore
	caServed := rotateLeaf("the leaf under the renewed CA", serial(t, "bouncer-tls", "tls.crt"))
	time.Sleep(3 * time.Second)
	load.Stop()
	first, _, msg := load.WrongWindow()
	t.Logf("FIGURE certificate rotation on the node: %d writes in %v, %d wrong verdicts, %d without an answer; leaf renewal served %v after the Secret changed; caBundle followed the CA renewal in %v, then %d writes verified the old leaf against the renewed CA; leaf under the renewed CA served %v after the Secret changed",
		load.Writes.Load(), time.Since(start).Round(time.Second), load.Wrong.Load(), load.Errors.Load(), leafServed.Round(time.Second),
		bundleFollowed.Round(time.Second), oldLeafWrites, caServed.Round(time.Second))
	if load.Wrong.Load() != 0 || load.Errors.Load() != 0 {
		t.Errorf("%d wrong verdicts (first at %v: %s), %d writes without an answer", load.Wrong.Load(), first, msg, load.Errors.Load())
	}
	if load.Writes.Load() < 50 {
		t.Errorf("only %d writes: the load did not run", load.Writes.Load())
	}
}

// TestARollingRestartUnderLoadFailsNothingOpen restarts bouncer's
// Deployment while writes go on.
func TestARollingRestartUnderLoadFailsNothingOpen(t *testing.T) {
	needNode(t)
	ns := namespace(t)
	before := map[string]bool{}
	for _, p := range bouncerPods(t) {
		before[name(p)] = true
	}
	load, err := env.StartLoad(ns, 2, 0, framework.PauseImage)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	time.Sleep(2 * time.Second)
	if _, errOut, err := env.K("-n", "bouncer-system", "rollout", "restart", "deployment/bouncer"); err != nil {
		t.Fatal(errOut)
	}
	if out, errOut, err := env.K("-n", "bouncer-system", "rollout", "status", "deployment/bouncer", "--timeout=55s"); err != nil {
		t.Fatalf("rollout status: %v\n%s%s", err, out, errOut)
	}
	rolled := time.Since(start)
	// The old Pods stop after their preStop sleep and graceful shutdown:
	// keep writing until they are gone.
	eventually(t, 90*time.Second, "the old Pods are gone", func() error {
		for _, p := range bouncerPods(t) {
			if before[name(p)] {
				return fmt.Errorf("%s is still there", name(p))
			}
		}
		return nil
	})
	time.Sleep(3 * time.Second)
	load.Stop()
	first, _, msg := load.WrongWindow()
	t.Logf("FIGURE rolling restart on the node: %d writes in %v (rollout %v), %d wrong verdicts, %d without an answer",
		load.Writes.Load(), time.Since(start).Round(time.Second), rolled.Round(time.Second), load.Wrong.Load(), load.Errors.Load())
	if load.Wrong.Load() != 0 || load.Errors.Load() != 0 {
		t.Errorf("%d wrong verdicts (first at %v: %s), %d writes without an answer", load.Wrong.Load(), first, msg, load.Errors.Load())
	}
}

// TestScalingFromZeroOpensAMeasuredWindow scales bouncer to zero and back
// to one under a slow write load, and reports the window in which writes
// failed open, and the Pod's own start, from create to Ready. This is the
// gap between bouncer's process start and a platform's.
func TestScalingFromZeroOpensAMeasuredWindow(t *testing.T) {
	needNode(t)
	// Writes here fail open on purpose, so the namespace is made without
	// namespace()'s fail-open check.
	ns := "e2e-scale-from-zero"
	if _, errOut, err := env.K("create", "namespace", ns); err != nil && !contains(errOut, "AlreadyExists") {
		t.Fatal(errOut)
	}
	failOpen0, err := env.FailOpenCount()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _, _ = env.K("-n", "bouncer-system", "scale", "deployment/bouncer", "--replicas=2")
		_, _, _ = env.K("-n", "bouncer-system", "rollout", "status", "deployment/bouncer", "--timeout=55s")
		_, _, _ = env.K("delete", "namespace", ns, "--wait=false")
	})
	if _, errOut, err := env.K("-n", "bouncer-system", "scale", "deployment/bouncer", "--replicas=0"); err != nil {
		t.Fatal(errOut)
	}
	eventually(t, 90*time.Second, "no bouncer Pod left", func() error {
		if n := len(bouncerPods(t)); n > 0 {
			return fmt.Errorf("%d Pods", n)
		}
		return nil
	})
	load, err := env.StartLoad(ns, 1, 200*time.Millisecond, framework.PauseImage)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	scaled := time.Now()
	if _, errOut, err := env.K("-n", "bouncer-system", "scale", "deployment/bouncer", "--replicas=1"); err != nil {
		t.Fatal(errOut)
	}
	var created, ready time.Time
	eventually(t, 2*time.Minute, "the new Pod is Ready", func() error {
		pods := bouncerPods(t)
		if len(pods) == 0 {
			return fmt.Errorf("no Pod yet")
		}
		if created.IsZero() {
			created = time.Now()
		}
		if !podReady(pods[0]) {
			return fmt.Errorf("not Ready")
		}
		ready = time.Now()
		return nil
	})
	// Writes right after Ready still race the API server's view of the
	// endpoints: keep writing until the verdicts have been right for 3 s.
	right := time.Now()
	for wrong := load.Wrong.Load(); time.Since(right) < 3*time.Second; time.Sleep(100 * time.Millisecond) {
		if w := load.Wrong.Load(); w != wrong {
			wrong, right = w, time.Now()
		}
		if time.Since(ready) > time.Minute {
			break
		}
	}
	load.Stop()
	first, last, _ := load.WrongWindow()
	failOpen1, _ := env.FailOpenCount()
	lastAfterScale := last.Sub(scaled)
	t.Logf("FIGURE scale from zero on the node: %d writes at 5/s; %d failed open (the API server counted %v fail-opens: validate and mutate each), from %v before the scale-up to %v after it; the Pod from create to Ready %v (from the scale command %v); the last write that failed open came %s",
		load.Writes.Load(), load.Wrong.Load(), failOpen1-failOpen0, scaled.Sub(first).Round(10*time.Millisecond), lastAfterScale.Round(10*time.Millisecond),
		ready.Sub(created).Round(10*time.Millisecond), ready.Sub(scaled).Round(10*time.Millisecond), relative(last.Sub(ready), "Ready"))
	if load.Wrong.Load() == 0 || failOpen1 == failOpen0 {
		t.Errorf("no write failed open with bouncer at zero replicas: the measurement measured nothing")
	}
	if lastAfterScale > time.Minute {
		t.Errorf("writes still failed open %v after the scale-up", lastAfterScale)
	}
}

// relative says "d after what", or "-d before what".
func relative(d time.Duration, what string) string {
	if d < 0 {
		return (-d).Round(10*time.Millisecond).String() + " before " + what
	}
	return d.Round(10*time.Millisecond).String() + " after " + what
}

func base64Decode(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }

// TestANodesMirrorPodIsPublishedWithoutOwner: the kubelet runs a static Pod
// from a file on the node and publishes it as a mirror Pod, as
// system:node:<name> with a controller ownerReference to its Node. The
// file is the node administrator's, and refusing the mirror would not stop
// the Pod, only hide it from the API: bouncer admits it with a warning and
// an audit annotation naming the Node, and adds no default to it.
func TestANodesMirrorPodIsPublishedWithoutOwner(t *testing.T) {
	needNode(t)
	ns := namespace(t)
	img, _, pull := images()
	manifest := fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"static","namespace":%q,"labels":{"app":"static"}},`+
		`"spec":{"containers":[{"name":"c","image":%q,"imagePullPolicy":%q}]}}`, ns, img, pull)
	file := filepath.Join(env.Node.StaticPods, ns+".json")
	if err := os.WriteFile(file, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(file) })
	mirror := "static-" + env.Node.Name
	start := time.Now()
	eventually(t, 90*time.Second, "the kubelet publishes the mirror Pod", func() error {
		_, errOut, err := env.K("get", "-n", ns, "pod", mirror)
		if err != nil {
			return fmt.Errorf("%s", errOut)
		}
		return nil
	})
	t.Logf("FIGURE mirror Pod: published %v after the manifest was written", time.Since(start).Round(time.Millisecond))
	obj := get(t, ns, "pod", mirror)
	if l := labelsAt(obj, "metadata.labels"); l["environment"] != "" || l["owner"] != "" || l["app"] != "static" {
		t.Errorf("the mirror Pod's labels are %v, want the file's alone", l)
	}
	expectInheritedAudit(t, ns, "pods", mirror, `Node "`+env.Node.Name+`" by system:node:`+env.Node.Name+`: [require-owner] missing label "owner" at metadata.labels`)
}
