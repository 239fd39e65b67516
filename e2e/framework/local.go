package framework

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ControlPlane is a local etcd, kube-apiserver and kube-controller-manager.
type ControlPlane struct {
	Dir        string
	Server     string
	Kubeconfig string
	// NodeKubeconfig authenticates as the node NodeName.
	NodeKubeconfig string
	CA             *CA
	// AuditLog is the API server's audit log (JSON lines): creates of the
	// kinds whose controllers make children, at Metadata level, so that
	// tests can read the audit annotations admission added.
	AuditLog string
	procs    []*Proc
}

// auditPolicy records creates of Pods, ReplicaSets and Jobs with their
// annotations (Metadata level), and nothing else.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  verbs: [create]
  resources:
  - {group: "", resources: [pods]}
  - {group: apps, resources: [replicasets]}
  - {group: batch, resources: [jobs]}
- level: None
`

const (
	adminToken = "bouncer-e2e-admin-token"
	nodeToken  = "bouncer-e2e-node-token"
)

// NodeName is the node provider's one node.
const NodeName = "bouncer-e2e-node"

// FreePort returns a loopback port nobody listens on right now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StartLocal starts the control plane from the binaries in binDir. etcd
// keeps its data on tmpfs (/dev/shm) where available. apiserverArgs are
// added to the API server's flags.
func StartLocal(ctx context.Context, binDir, dir string, progress func(string, ...any), apiserverArgs ...string) (*ControlPlane, error) {
	return StartLocalWith(ctx, binDir, dir, progress, nil, apiserverArgs...)
}

// StartLocalWith is StartLocal with more of the API server's flags made
// once the control plane's CA exists, for configurations that must trust it.
func StartLocalWith(ctx context.Context, binDir, dir string, progress func(string, ...any), more func(*CA) ([]string, error), apiserverArgs ...string) (*ControlPlane, error) {
	for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kubectl"} {
		if _, err := os.Stat(filepath.Join(binDir, b)); err != nil {
			return nil, fmt.Errorf("%s is not built in %s: run `make controlplane` (or `make e2e`, which builds it)", b, binDir)
		}
	}
	cp := &ControlPlane{Dir: dir}
	var err error
	if cp.CA, err = NewCA(dir); err != nil {
		return nil, err
	}
	ports := make([]int, 3)
	for i := range ports {
		if ports[i], err = FreePort(); err != nil {
			return nil, err
		}
	}
	etcdPort, peerPort, apiPort := ports[0], ports[1], ports[2]

	dataDir := filepath.Join(dir, "etcd")
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		// WorkDir also sweeps what a killed run left on tmpfs.
		if d, err := WorkDir("/dev/shm"); err == nil {
			dataDir = d
			OnCleanup(func() { _ = os.RemoveAll(d) })
		}
	}
	progress("starting etcd on 127.0.0.1:%d (data in %s)", etcdPort, dataDir)
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	p, err := Start("etcd", dir, filepath.Join(binDir, "etcd"), nil,
		"--name=e2e", "--data-dir="+dataDir, "--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL, "--initial-cluster=e2e="+peerURL,
		"--unsafe-no-fsync", "--log-level=warn")
	if err != nil {
		return nil, err
	}
	cp.procs = append(cp.procs, p)

	cert, key, err := cp.CA.Serving(dir, "apiserver", "kubernetes", "kubernetes.default.svc")
	if err != nil {
		return nil, err
	}
	// The API server's identity towards kubelets (logs, exec), which
	// authenticate it by this CA and accept nobody else.
	kubeletCert, kubeletKey, err := cp.CA.Client(dir, "apiserver-kubelet-client", "kube-apiserver-kubelet-client")
	if err != nil {
		return nil, err
	}
	saPub, saKey, err := ServiceAccountKeys(dir)
	if err != nil {
		return nil, err
	}
	tokens := filepath.Join(dir, "tokens.csv")
	// The node provider's kubelet authenticates as a node, as kubeadm's
	// do: system:node:<name> in system:nodes, which the Node authorizer
	// and the NodeRestriction plugin confine to its own node.
	lines := adminToken + ",admin,admin,\"system:masters\"\n" + nodeToken + ",system:node:" + NodeName + ",node," + "\"system:nodes\"\n"
	if err := os.WriteFile(tokens, []byte(lines), 0o600); err != nil {
		return nil, err
	}
	auditPolicyFile := filepath.Join(dir, "audit-policy.yaml")
	if err := os.WriteFile(auditPolicyFile, []byte(auditPolicy), 0o600); err != nil {
		return nil, err
	}
	cp.AuditLog = filepath.Join(dir, "audit.log")
	cp.Server = fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	progress("starting kube-apiserver on %s", cp.Server)
	args := []string{"--etcd-servers=" + etcdURL, fmt.Sprintf("--secure-port=%d", apiPort), "--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none", "--service-cluster-ip-range=10.0.0.0/24",
		"--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction", "--token-auth-file=" + tokens, "--tls-cert-file=" + cert, "--tls-private-key-file=" + key,
		"--kubelet-client-certificate=" + kubeletCert, "--kubelet-client-key=" + kubeletKey,
		"--cert-dir=" + filepath.Join(dir, "apiserver-certs"),
		"--service-account-issuer=https://kubernetes.default.svc", "--service-account-key-file=" + saPub,
		"--service-account-signing-key-file=" + saKey, "--disable-admission-plugins=ServiceAccount", "--profiling=false",
		"--audit-policy-file=" + auditPolicyFile, "--audit-log-path=" + cp.AuditLog, "--audit-log-format=json"}
	if more != nil {
		extra, err := more(cp.CA)
		if err != nil {
			return nil, err
		}
		args = append(args, extra...)
	}
	p, err = Start("kube-apiserver", dir, filepath.Join(binDir, "kube-apiserver"), nil, append(args, apiserverArgs...)...)
	if err != nil {
		return nil, err
	}
	cp.procs = append(cp.procs, p)

	cp.Kubeconfig = filepath.Join(dir, "admin.kubeconfig")
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster: {server: %q, certificate-authority: %q}
users:
- name: admin
  user: {token: %q}
contexts:
- name: e2e
  context: {cluster: e2e, user: admin}
current-context: e2e
`, cp.Server, cp.CA.CertPEM, adminToken)
	if err := os.WriteFile(cp.Kubeconfig, []byte(kc), 0o600); err != nil {
		return nil, err
	}
	cp.NodeKubeconfig = filepath.Join(dir, "node.kubeconfig")
	if err := os.WriteFile(cp.NodeKubeconfig, []byte(strings.Replace(kc, adminToken, nodeToken, 1)), 0o600); err != nil {
		return nil, err
	}
	start := time.Now()
	if err := cp.waitReady(ctx, 90*time.Second); err != nil {
		return nil, err
	}
	progress("kube-apiserver ready in %v", time.Since(start).Round(time.Millisecond))

	// As kubeadm and managed clusters run it: each controller writes under
	// its own service account (system:serviceaccount:kube-system:<name>),
	// the identities bouncer's controller rule trusts.
	progress("starting kube-controller-manager with --use-service-account-credentials")
	p, err = Start("kube-controller-manager", dir, filepath.Join(binDir, "kube-controller-manager"), nil,
		"--kubeconfig="+cp.Kubeconfig, "--service-account-private-key-file="+saKey, "--root-ca-file="+cp.CA.CertPEM,
		"--use-service-account-credentials", "--leader-elect=false", "--secure-port=0")
	if err != nil {
		return nil, err
	}
	cp.procs = append(cp.procs, p)
	return cp, nil
}

// waitReady polls /readyz until the apiserver is ready, or a child died.
func (cp *ControlPlane) waitReady(ctx context.Context, timeout time.Duration) error {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(cp.CA.PEM)
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, p := range cp.procs {
			if p.Exited() {
				return fmt.Errorf("%s exited during start-up:\n%s", p.Name, p.Tail(3000))
			}
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cp.Server+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("kube-apiserver not ready after %v:\n%s", timeout, cp.procs[len(cp.procs)-1].Tail(3000))
}

// Check reports a control plane process that has died.
func (cp *ControlPlane) Check() error {
	for _, p := range cp.procs {
		if p.Exited() {
			return fmt.Errorf("%s exited:\n%s", p.Name, p.Tail(3000))
		}
	}
	return nil
}
