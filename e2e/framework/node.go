package framework

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Images the node provider builds offline and imports into containerd: no
// registry can be reached here.
const (
	PauseImage = "bouncer.dev/pause:e2e"
	// PauseImageNext is the same image under a second name, for rollouts.
	PauseImageNext = "bouncer.dev/pause:e2e-next"
	BouncerImage   = "bouncer.dev/bouncer:e2e"
)

// NodeUnavailable says in one line why the node provider cannot run on
// this machine, or "" when it can: as root, with containerd, runc and the
// CNI plugins present or installable with apt-get (Node installs them; this
// only looks).
func NodeUnavailable() string {
	if os.Geteuid() != 0 {
		return "the node provider runs containers with containerd and needs root"
	}
	if missingNodePackages() == nil {
		return ""
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return "containerd, runc and the CNI plugins are missing, and there is no apt-get to install them"
	}
	return ""
}

func missingNodePackages() []string {
	var missing []string
	for bin, pkg := range map[string]string{"containerd": "containerd", "runc": "runc", "/usr/lib/cni/bridge": "containernetworking-plugins"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, pkg)
		}
	}
	sort.Strings(missing)
	return missing
}

// installNodePackages installs what is missing from Debian's packages.
func installNodePackages(ctx context.Context) error {
	missing := missingNodePackages()
	if len(missing) == 0 {
		return nil
	}
	Progress("installing %s from Debian's packages", strings.Join(missing, ", "))
	if _, errOut, err := Run(ctx, 5*time.Minute, nil, nil, "apt-get", "update"); err != nil {
		return fmt.Errorf("apt-get update: %v: %s", err, errOut)
	}
	args := append([]string{"install", "-y", "--no-install-recommends"}, missing...)
	if _, errOut, err := Run(ctx, 10*time.Minute, []string{"DEBIAN_FRONTEND=noninteractive"}, nil, "apt-get", args...); err != nil {
		return fmt.Errorf("apt-get install: %v: %s", err, errOut)
	}
	return nil
}

// NodeInfo is what the node provider's tests need beyond Env.
type NodeInfo struct {
	Name, IP string
	// StaticPods is the kubelet's staticPodPath: a manifest written there
	// runs as a static Pod, which the kubelet mirrors into the API.
	StaticPods string
	// Ctr runs ctr against this node's containerd.
	Ctr func(args ...string) (string, error)
}

// Node starts a single-node cluster on this host and deploys bouncer into
// it the way docs/deploying.md's plain-Kubernetes steps do: the local control
// plane (its API server reaching Services' endpoints directly, with
// --enable-aggregator-routing, as its webhook client then does too),
// containerd with a CNI bridge, a kubelet and the scheduler, cert-manager's
// controller and CA injector as processes, the pause and bouncer images
// built offline and imported, then `make deploy-kubernetes CERT_MANAGER=1
// POLICY=...`.
func Node(ctx context.Context, root, work, binDir, certManagerDir, policyFile string) (*Env, error) {
	env, err := startNode(ctx, root, work, binDir, certManagerDir, policyFile, "--enable-aggregator-routing=true")
	if err != nil {
		return nil, err
	}
	// bouncer, by docs/deploying.md's plain-Kubernetes path.
	env.URL, env.Service, env.InjectCAFrom = "https://bouncer.bouncer-system.svc", "bouncer-system/bouncer", "bouncer-system/bouncer-ca"
	Progress("make deploy-kubernetes IMAGE=%s CERT_MANAGER=1 POLICY=%s", BouncerImage, policyFile)
	out, errOut, err := Run(ctx, 10*time.Minute, []string{"KUBECONFIG=" + env.Kubeconfig}, nil, "make", "-C", root, "deploy-kubernetes",
		"IMAGE="+BouncerImage, "CERT_MANAGER=1", "POLICY="+policyFile, "KUBECTL="+env.Kubectl)
	if err != nil {
		return nil, fmt.Errorf("make deploy-kubernetes: %v\n%s%s", err, out, errOut)
	}
	env.Logs = func() ([]byte, error) {
		out, errOut, err := env.K("-n", "bouncer-system", "logs", "-l", "app.kubernetes.io/name=bouncer", "--tail=-1", "--prefix=false", "--max-log-requests=10")
		if err != nil {
			return nil, fmt.Errorf("kubectl logs: %v: %s", err, errOut)
		}
		return []byte(out), nil
	}
	return env, nil
}

// startNode starts the single-node cluster, with cert-manager and the
// images imported, and nothing of bouncer's deployed: the control plane
// with apiserverArgs, containerd, the kubelet and the scheduler.
func startNode(ctx context.Context, root, work, binDir, certManagerDir, policyFile string, apiserverArgs ...string) (*Env, error) {
	for _, b := range []string{"kubelet", "kube-scheduler"} {
		if _, err := os.Stat(filepath.Join(binDir, b)); err != nil {
			return nil, fmt.Errorf("%s is not built in %s: run `make node-tools` (or `make e2e`, which builds it)", b, binDir)
		}
	}
	for _, b := range []string{"controller", "cainjector"} {
		if _, err := os.Stat(filepath.Join(certManagerDir, b)); err != nil {
			return nil, fmt.Errorf("cert-manager's %s is not built in %s: run `make node-tools`", b, certManagerDir)
		}
	}
	if err := installNodePackages(ctx); err != nil {
		return nil, err
	}
	ip, err := hostIP()
	if err != nil {
		return nil, err
	}
	bin, err := BuildBouncer(root, work)
	if err != nil {
		return nil, err
	}
	cp, err := StartLocal(ctx, binDir, work, Progress, append(apiserverArgs, "--kubelet-preferred-address-types=InternalIP")...)
	if err != nil {
		return nil, err
	}
	env := &Env{Provider: "node", Kubectl: filepath.Join(binDir, "kubectl"), Kubeconfig: cp.Kubeconfig,
		PolicyFile: policyFile, BouncerBin: bin, WorkDir: work, CA: cp.CA, ControlPlane: cp}
	node := &NodeInfo{Name: NodeName, IP: ip, StaticPods: filepath.Join(work, "static-pods")}
	if err := os.MkdirAll(node.StaticPods, 0o700); err != nil {
		return nil, err
	}
	env.Node = node

	// containerd, with its own root, state and socket, beside any other.
	cd := filepath.Join(work, "containerd")
	sock := filepath.Join(cd, "containerd.sock")
	node.Ctr = func(args ...string) (string, error) {
		out, errOut, err := Run(context.Background(), 2*time.Minute, nil, nil, "ctr", append([]string{"--address", sock, "--namespace", "k8s.io"}, args...)...)
		if err != nil {
			return out, fmt.Errorf("ctr %s: %v: %s", strings.Join(args, " "), err, errOut)
		}
		return out, nil
	}
	cniConf, cniIPAM := filepath.Join(work, "cni", "net.d"), filepath.Join(work, "cni", "ipam")
	if err := writeCNI(cniConf, cniIPAM); err != nil {
		return nil, err
	}
	cfg, err := containerdConfig(ctx, cd, sock, cniConf)
	if err != nil {
		return nil, err
	}
	Progress("starting containerd at %s", sock)
	if err := cp.start("containerd", work, "containerd", "--config", cfg); err != nil {
		return nil, err
	}
	if err := waitFor(60*time.Second, func() error { _, err := node.Ctr("version"); return err }); err != nil {
		return nil, fmt.Errorf("containerd did not start: %v", err)
	}
	// Registered here, not as env.Close: a setup that fails after this
	// point returns no Env, and its containers must still stop.
	BeforeStop(func() { stopNode(node, sock) })
	OnCleanup(func() { cleanNode(work) })

	// The images, built here and imported.
	Progress("building the pause and bouncer images offline and importing them")
	pauseBin := filepath.Join(work, "pause")
	if _, errOut, err := Run(ctx, 5*time.Minute, []string{"CGO_ENABLED=0"}, nil, "go", "build", "-C", filepath.Join(root, "e2e"), "-o", pauseBin, "./pause"); err != nil {
		return nil, fmt.Errorf("building pause: %v: %s", err, errOut)
	}
	pauseTar := filepath.Join(work, "pause.tar")
	if _, errOut, err := Run(ctx, 5*time.Minute, nil, nil, "go", "-C", filepath.Join(root, "deploy"), "run", "./image", "--pause", "--binary", pauseBin, "--tarball", pauseTar, "--tag", PauseImage); err != nil {
		return nil, fmt.Errorf("building the pause image: %v: %s", err, errOut)
	}
	if _, errOut, err := Run(ctx, 10*time.Minute, nil, nil, "make", "-C", root, "image"); err != nil {
		return nil, fmt.Errorf("make image: %v: %s", err, errOut)
	}
	for _, tar := range []string{pauseTar, filepath.Join(root, "bin", "bouncer-image.tar")} {
		if _, err := node.Ctr("images", "import", tar); err != nil {
			return nil, err
		}
	}
	if _, err := node.Ctr("images", "tag", "--force", PauseImage, PauseImageNext); err != nil {
		return nil, err
	}

	// The kubelet and the scheduler.
	kubeletDir := filepath.Join(work, "kubelet")
	kcfg, err := kubeletConfig(work, sock, ip, cp.CA.CertPEM, node.StaticPods)
	if err != nil {
		return nil, err
	}
	Progress("starting the kubelet (node %s, %s) and the scheduler", node.Name, ip)
	if err := cp.start("kubelet", work, filepath.Join(binDir, "kubelet"), "--config", kcfg, "--kubeconfig", cp.NodeKubeconfig,
		"--hostname-override", node.Name, "--node-ip", ip, "--root-dir", kubeletDir, "--cert-dir", filepath.Join(kubeletDir, "pki"), "--v=1"); err != nil {
		return nil, err
	}
	if err := cp.start("kube-scheduler", work, filepath.Join(binDir, "kube-scheduler"),
		"--kubeconfig", cp.Kubeconfig, "--leader-elect=false", "--secure-port=0"); err != nil {
		return nil, err
	}
	start := time.Now()
	if err := waitFor(3*time.Minute, func() error {
		out, errOut, err := env.K("get", "node", node.Name, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		if err != nil || out != "True" {
			return fmt.Errorf("node Ready=%q %s", out, errOut)
		}
		return cp.Check()
	}); err != nil {
		return nil, err
	}
	Progress("node %s Ready in %v", node.Name, time.Since(start).Round(time.Millisecond))

	// cert-manager: its CRDs from its module, its controller and CA injector.
	if err := installCertManager(ctx, env, certManagerDir, work); err != nil {
		return nil, err
	}
	return env, nil
}

// start starts a process of the cluster, so that Check watches it too.
func (cp *ControlPlane) start(name, dir, bin string, args ...string) error {
	return cp.startEnv(name, dir, bin, nil, args...)
}

// startInCluster starts a process of the cluster as its Pod would resolve
// names: in a mount namespace of its own where resolv is /etc/resolv.conf,
// so that cluster names resolve for it and nothing else on the host changes.
func (cp *ControlPlane) startInCluster(name, dir, resolv, bin string, env []string, args ...string) error {
	wrapped := append([]string{"--mount", "--propagation", "private", "sh", "-c", `mount --bind "$0" /etc/resolv.conf && exec "$@"`, resolv, bin}, args...)
	return cp.startEnv(name, dir, "unshare", env, wrapped...)
}

// startEnv is start with environment variables.
func (cp *ControlPlane) startEnv(name, dir, bin string, env []string, args ...string) error {
	p, err := Start(name, dir, bin, env, args...)
	if err != nil {
		return err
	}
	cp.procs = append(cp.procs, p)
	return nil
}

// hostIP is the address of the interface the default route leaves by: the
// kubelet's node address must not be loopback.
func hostIP() (string, error) {
	c, err := net.Dial("udp", "192.0.2.1:9") // no packet is sent: this picks the route
	if err == nil {
		defer c.Close()
		if a, ok := c.LocalAddr().(*net.UDPAddr); ok && !a.IP.IsLoopback() {
			return a.IP.String(), nil
		}
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", err
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String(), nil
		}
	}
	return "", fmt.Errorf("no non-loopback IPv4 address for the node")
}

// bridgeName is the CNI bridge the node provider's Pods share.
const bridgeName = "bouncer-e2e0"

// writeCNI writes a bridge network with host-local addresses. No masquerade
// and no port mapping: the Pods are reached from the host, and reach nothing.
func writeCNI(conf, ipam string) error {
	if err := os.MkdirAll(conf, 0o755); err != nil {
		return err
	}
	list := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "bouncer-e2e",
		"plugins": []any{
			map[string]any{"type": "bridge", "bridge": bridgeName, "isGateway": true, "ipMasq": false, "hairpinMode": true,
				"ipam": map[string]any{"type": "host-local", "dataDir": ipam, "ranges": []any{[]any{map[string]any{"subnet": "10.244.77.0/24"}}},
					"routes": []any{map[string]any{"dst": "0.0.0.0/0"}}}},
			map[string]any{"type": "loopback"},
		},
	}
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(conf, "10-bouncer-e2e.conflist"), b, 0o644)
}

// containerdConfig writes containerd's default configuration with the
// changes this host needs: its own
// directories and socket, the CNI plugins where Debian puts them, the pause
// image built here, the cgroupfs driver, and restrict_oom_score_adj, without
// which every sandbox dies here (no CAP_SYS_RESOURCE for the pause
// container's negative oom_score_adj).
func containerdConfig(ctx context.Context, dir, sock, cniConf string) (string, error) {
	def, errOut, err := Run(ctx, time.Minute, nil, nil, "containerd", "config", "default")
	if err != nil {
		return "", fmt.Errorf("containerd config default: %v: %s", err, errOut)
	}
	var out []string
	section := ""
	sc := bufio.NewScanner(strings.NewReader(def))
	for sc.Scan() {
		line := sc.Text()
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "[") {
			section = t
		}
		key, _, _ := strings.Cut(t, " =")
		switch {
		case section == "" && key == "root":
			line = fmt.Sprintf("root = %q", filepath.Join(dir, "root"))
		case section == "" && key == "state":
			line = fmt.Sprintf("state = %q", filepath.Join(dir, "state"))
		case section == "[grpc]" && key == "address":
			line = fmt.Sprintf("  address = %q", sock)
		case section == "[ttrpc]" && key == "address":
			line = fmt.Sprintf("  address = %q", sock+".ttrpc")
		case section == "[debug]" && key == "address":
			line = fmt.Sprintf("  address = %q", sock+".debug")
		case key == "sandbox_image":
			line = fmt.Sprintf("    sandbox_image = %q", PauseImage)
		case key == "restrict_oom_score_adj":
			line = "    restrict_oom_score_adj = true"
		case section == `[plugins."io.containerd.grpc.v1.cri".cni]` && key == "bin_dir":
			line = `      bin_dir = "/usr/lib/cni"`
		case section == `[plugins."io.containerd.grpc.v1.cri".cni]` && key == "conf_dir":
			line = fmt.Sprintf("      conf_dir = %q", cniConf)
		case key == "SystemdCgroup":
			line = "            SystemdCgroup = false"
		}
		out = append(out, line)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "config.toml")
	return path, os.WriteFile(path, []byte(strings.Join(out, "\n")+"\n"), 0o600)
}

// kubeletConfig writes the KubeletConfiguration for this host: cgroup v1
// allowed, the cgroupfs driver without QoS cgroups or allocatable
// enforcement, swap tolerated, eviction thresholds out of the way, and an
// API on a free port that only the API server may call: anonymous requests
// are refused and the one client certificate the test CA issues (the API
// server's) authenticates. AlwaysAllow then authorizes only that caller.
func kubeletConfig(work, sock, ip, clientCA, staticPods string) (string, error) {
	port, err := FreePort()
	if err != nil {
		return "", err
	}
	cfg := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
containerRuntimeEndpoint: unix://%s
address: %s
port: %d
readOnlyPort: 0
healthzPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: %q}
authorization: {mode: AlwaysAllow}
evictionHard: {memory.available: "1Mi", nodefs.available: "1%%", imagefs.available: "1%%", nodefs.inodesFree: "1%%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
resolvConf: ""
syncFrequency: 5s
fileCheckFrequency: 5s
nodeStatusUpdateFrequency: 5s
staticPodPath: %q
`, sock, ip, port, clientCA, staticPods)
	path := filepath.Join(work, "kubelet.yaml")
	return path, os.WriteFile(path, []byte(cfg), 0o600)
}

// installCertManager installs cert-manager's CRDs from its module and
// starts its controller and CA injector.
func installCertManager(ctx context.Context, env *Env, dir, work string) error {
	modDir, err := certManagerModuleDir(ctx)
	if err != nil {
		return err
	}
	Progress("installing cert-manager's CRDs from %s", modDir)
	crds, _ := filepath.Glob(filepath.Join(modDir, "deploy", "crds", "*cert-manager.io_*.yaml")) // acme.cert-manager.io too: Knative checks for its Challenges
	if len(crds) == 0 {
		return fmt.Errorf("no cert-manager CRDs under %s/deploy/crds", modDir)
	}
	for _, crd := range crds {
		if _, errOut, err := env.K("apply", "--server-side", "-f", crd); err != nil {
			return fmt.Errorf("applying %s: %s", filepath.Base(crd), errOut)
		}
	}
	if _, errOut, err := env.K("wait", "--for=condition=Established", "--timeout=60s", "crd/certificates.cert-manager.io", "crd/issuers.cert-manager.io", "crd/certificaterequests.cert-manager.io"); err != nil {
		return fmt.Errorf("cert-manager's CRDs are not established: %s", errOut)
	}
	if _, errOut, err := env.K("create", "namespace", "cert-manager"); err != nil && !strings.Contains(errOut, "AlreadyExists") {
		return fmt.Errorf("creating cert-manager: %s", errOut)
	}
	Progress("starting cert-manager's controller and CA injector")
	for _, name := range []string{"controller", "cainjector"} {
		if err := env.ControlPlane.start("cert-manager-"+name, work, filepath.Join(dir, name), "--kubeconfig", env.Kubeconfig); err != nil {
			return err
		}
	}
	time.Sleep(time.Second)
	return env.ControlPlane.Check()
}

// certManagerModuleDir downloads (once) and returns cert-manager's module,
// whose deploy/crds holds its CRDs.
func certManagerModuleDir(ctx context.Context) (string, error) {
	out, errOut, err := Run(ctx, 5*time.Minute, nil, nil, "go", "mod", "download", "-json", "github.com/cert-manager/cert-manager@v1.21.2")
	if err != nil {
		return "", fmt.Errorf("go mod download cert-manager: %v: %s", err, errOut)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal([]byte(out), &mod); err != nil || mod.Dir == "" {
		return "", fmt.Errorf("go mod download printed %q", out)
	}
	return mod.Dir, nil
}

// stopNode stops the kubelet, so that it restarts nothing, then kills every
// container: containerd's shims outlive it, and containers their shims.
func stopNode(node *NodeInfo, sock string) {
	procsMu.Lock()
	var kubelet *Proc
	for _, p := range procs {
		if p.Name == "kubelet" {
			kubelet = p
		}
	}
	procsMu.Unlock()
	if kubelet != nil {
		kubelet.Stop(10 * time.Second)
	}
	tasks, _ := node.Ctr("tasks", "ls", "-q")
	for _, id := range strings.Fields(tasks) {
		_, _ = node.Ctr("tasks", "kill", "--signal", "SIGKILL", id)
	}
	time.Sleep(500 * time.Millisecond)
	for _, id := range strings.Fields(tasks) {
		_, _ = node.Ctr("tasks", "delete", "--force", id)
	}
	// Any shim left (one per sandbox) talks to this containerd only.
	_ = exec.Command("pkill", "-KILL", "-f", "containerd-shim.*"+regexpQuote(sock)).Run()
}

// cleanNode removes what the node left on the host: the kubelet's volume
// mounts (tmpfs for Secrets) and the CNI bridge.
func cleanNode(work string) {
	mounts, _ := os.ReadFile("/proc/mounts")
	var ours []string
	for _, line := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], work) {
			ours = append(ours, f[1])
		}
	}
	// Deepest first.
	sort.Slice(ours, func(i, j int) bool { return len(ours[i]) > len(ours[j]) })
	for _, m := range ours {
		_ = exec.Command("umount", "-l", m).Run()
	}
	_ = exec.Command("ip", "link", "delete", bridgeName).Run()
}

func regexpQuote(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`.+*?()|[]{}^$\`, r) {
			b.WriteRune('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func waitFor(timeout time.Duration, f func() error) error {
	var err error
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if err = f(); err == nil {
			return nil
		}
	}
	return err
}
