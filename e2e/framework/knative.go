package framework

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The Knative provider's names. The domain is reserved for testing (RFC
// 2606); the harness resolves it, as a real cluster's DNS would.
const (
	KnativeDomain = "knative.test"
	// KnativeIngressClass is Traefik's Knative provider's class.
	KnativeIngressClass = "traefik.ingress.networking.knative.dev"
	// QueueImage is Knative's queue-proxy, built here and imported.
	QueueImage = "dev.local/knative/queue:e2e"
	// KnativeCA is the CA Certificate (deploy/knative/cert-manager) whose CA
	// the injector keeps in the webhook configurations.
	KnativeCA = "cert-manager/bouncer-knative-ca"
	// KnativeService is bouncer's Knative Service, by the README's path.
	KnativeService = "bouncer"
	// knativeHost is its host in the test domain, which the harness resolves
	// to Traefik for the API server.
	knativeHost = KnativeService + ".bouncer-system." + KnativeDomain
	hostsMarker = "# bouncer-e2e-knative"
)

// knativeEnv is the environment of Knative's components, run as processes
// on the node as its Pods would be (config/core/deployments).
// Each has a profiling port of its own: on one host, Knative's default 8008
// would clash.
func knativeEnv(kubeconfig, name, ip string, profilingPort int) []string {
	env := []string{"KUBECONFIG=" + kubeconfig, "SYSTEM_NAMESPACE=knative-serving", "POD_NAME=" + name + "-e2e", "POD_IP=" + ip,
		"CONFIG_LOGGING_NAME=config-logging", "CONFIG_OBSERVABILITY_NAME=config-observability",
		fmt.Sprintf("PROFILING_PORT=%d", profilingPort)}
	if name == "webhook" {
		env = append(env, "WEBHOOK_NAME=webhook", "WEBHOOK_PORT=8443")
	}
	return env
}

// Knative starts the node provider's cluster with what Knative Serving needs
// and it lacks (kube-proxy, an ingress, DNS for the Service's domain), then
// Knative Serving v0.50.0 from its module, with Traefik as its ingress and
// cert-manager issuing its TLS from a private CA, and deploys bouncer by the
// README's Knative path: `make deploy-knative INJECT_CA_FROM=...`.
//
// Knative's controller, webhook, autoscaler and activator, and Traefik, run
// as processes on the node, as the API server and the kubelet do here:
// Services with their Endpoints reach them (the activator-service that the
// revisions' Services copy when they scale to zero, the autoscaler, the
// webhook). The revisions themselves, bouncer and its queue-proxy, are
// Pods on the node.
func Knative(ctx context.Context, root, work, binDir, certManagerDir, knativeDir, traefikBin, corednsBin, policyFile string) (*Env, error) {
	for _, b := range []string{"controller", "webhook", "autoscaler", "activator", "queue"} {
		if _, err := os.Stat(filepath.Join(knativeDir, b)); err != nil {
			return nil, fmt.Errorf("knative's %s is not built in %s: run `make knative-tools` (or `make e2e-knative`, which builds it)", b, knativeDir)
		}
	}
	for _, b := range []string{traefikBin, corednsBin, filepath.Join(binDir, "kube-proxy")} {
		if _, err := os.Stat(b); err != nil {
			return nil, fmt.Errorf("%s is not built: run `make knative-tools`", b)
		}
	}
	// What a run that was killed (SIGKILL, go test's -timeout) left on the
	// host would misroute this one: its /etc/hosts line, its Service rules.
	if err := editHosts(nil); err != nil {
		return nil, err
	}
	if _, errOut, err := Run(ctx, time.Minute, nil, nil, filepath.Join(binDir, "kube-proxy"), "--cleanup"); err != nil {
		return nil, fmt.Errorf("kube-proxy --cleanup: %v: %s", err, errOut)
	}
	env, err := startNode(ctx, root, work, binDir, certManagerDir, policyFile, "--enable-aggregator-routing=true")
	if err != nil {
		return nil, err
	}
	env.Provider = "knative"
	cp, ip := env.ControlPlane, env.Node.IP

	// kube-proxy: Traefik sends to revisions' ClusterIPs, the revisions'
	// Services at zero point at the activator.
	Progress("starting kube-proxy (iptables)")
	hz, err := FreePort()
	if err != nil {
		return nil, err
	}
	mp, err := FreePort()
	if err != nil {
		return nil, err
	}
	kubeProxy := filepath.Join(binDir, "kube-proxy")
	OnCleanup(func() { _, _, _ = Run(context.Background(), time.Minute, nil, nil, kubeProxy, "--cleanup") })
	// The conntrack settings at 0 leave the host's sysctls as they are:
	// kube-proxy would otherwise raise them, and --cleanup does not undo it.
	if err := cp.start("kube-proxy", work, kubeProxy, "--kubeconfig", cp.Kubeconfig, "--hostname-override", NodeName,
		"--proxy-mode", "iptables", "--cluster-cidr", "10.244.77.0/24", "--conntrack-max-per-core", "0",
		"--conntrack-tcp-timeout-established", "0", "--conntrack-tcp-timeout-close-wait", "0",
		"--iptables-localhost-nodeports=false", fmt.Sprintf("--healthz-bind-address=127.0.0.1:%d", hz),
		fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", mp)); err != nil {
		return nil, err
	}

	// The queue-proxy's image, and bouncer's by digest, as deploy-knative
	// wants it.
	Progress("building the queue-proxy image and importing it")
	queueTar := filepath.Join(work, "queue.tar")
	if _, errOut, err := Run(ctx, 5*time.Minute, nil, nil, "go", "-C", filepath.Join(root, "deploy"), "run", "./image", "--single", "queue",
		"--binary", filepath.Join(knativeDir, "queue"), "--tarball", queueTar, "--tag", QueueImage); err != nil {
		return nil, fmt.Errorf("building the queue-proxy image: %v: %s", err, errOut)
	}
	if _, err := env.Node.Ctr("images", "import", queueTar); err != nil {
		return nil, err
	}
	image, err := imageByDigest(env.Node, BouncerImage)
	if err != nil {
		return nil, err
	}

	resolv, err := startClusterDNS(env, work, corednsBin, ip)
	if err != nil {
		return nil, err
	}
	if err := installKnative(ctx, env, root, work, knativeDir, ip, resolv); err != nil {
		return nil, err
	}

	// Traefik, the ingress: its Knative provider routes by Host to each
	// split's Service, on 80 and, with the Ingress's certificates, 443.
	Progress("starting Traefik on %s:80 and :443", ip)
	if err := cp.startEnv("traefik", work, traefikBin, []string{"KUBECONFIG=" + cp.Kubeconfig},
		"--experimental.knative=true", "--providers.knative=true",
		"--providers.knative.publicService.name=traefik", "--providers.knative.publicService.namespace=knative-serving",
		"--entryPoints.web.address="+ip+":80", "--entryPoints.websecure.address="+ip+":443",
		"--global.checkNewVersion=false", "--global.sendAnonymousUsage=false", "--log.level=INFO"); err != nil {
		return nil, err
	}

	// The private CA for Knative's certificates, as a platform team would
	// set it up: deploy/knative/cert-manager, and config-certmanager.
	Progress("applying deploy/knative/cert-manager and waiting for the CA")
	if _, errOut, err := env.K("apply", "-f", filepath.Join(root, "deploy", "knative", "cert-manager")); err != nil {
		return nil, fmt.Errorf("applying deploy/knative/cert-manager: %s", errOut)
	}
	if _, errOut, err := env.K("-n", "cert-manager", "wait", "certificate/bouncer-knative-ca", "--for=condition=Ready", "--timeout=120s"); err != nil {
		return nil, fmt.Errorf("the Knative CA: %s", errOut)
	}
	caB64, errOut, err := env.K("-n", "cert-manager", "get", "secret", "bouncer-knative-ca", "-o", "jsonpath={.data.ca\\.crt}")
	if err != nil {
		return nil, fmt.Errorf("reading the Knative CA: %s", errOut)
	}
	caPEM, err := base64.StdEncoding.DecodeString(caB64)
	if err != nil {
		return nil, err
	}
	caFile := filepath.Join(work, "knative-ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		return nil, err
	}

	Progress("make deploy-knative IMAGE=%s INJECT_CA_FROM=%s POLICY=%s", image, KnativeCA, policyFile)
	out, errOut, err := Run(ctx, 10*time.Minute, []string{"KUBECONFIG=" + cp.Kubeconfig}, nil, "make", "-C", root, "deploy-knative",
		"IMAGE="+image, "INJECT_CA_FROM="+KnativeCA, "POLICY="+policyFile, "KUBECTL="+env.Kubectl)
	if err != nil {
		return nil, fmt.Errorf("make deploy-knative: %v\n%s%s", err, out, errOut)
	}
	// Knative's webhook warns about what it would refuse in future: the
	// Service as rendered draws no warning.
	if strings.Contains(out+errOut, "Warning:") {
		return nil, fmt.Errorf("knative warned about the Service that make deploy-knative applied:\n%s%s", out, errOut)
	}
	// CABundle is the CA that Knative's certificates are issued from, for
	// callers other than the API server (which the injector serves).
	env.URL, env.InjectCAFrom, env.CABundle = "https://"+knativeHost, KnativeCA, caFile
	env.Logs = func() ([]byte, error) {
		out, errOut, err := env.K("-n", "bouncer-system", "logs", "-l", "serving.knative.dev/service="+KnativeService, "-c", "user-container",
			"--tail=-1", "--prefix=false", "--max-log-requests=10")
		if err != nil {
			return nil, fmt.Errorf("kubectl logs: %v: %s", err, errOut)
		}
		return []byte(out), nil
	}
	return env, nil
}

// installKnative installs Knative Serving's CRDs, RBAC, configuration and
// webhooks from its modules, configured for this cluster, and starts its
// components.
func installKnative(ctx context.Context, env *Env, root, work, knativeDir, ip, resolv string) error {
	dirs, errOut, err := Run(ctx, 5*time.Minute, nil, nil, "go", "-C", filepath.Join(root, "e2e", "tools", "knative"), "list", "-m", "-f", "{{.Dir}}",
		"knative.dev/serving", "knative.dev/networking", "knative.dev/caching")
	if err != nil {
		return fmt.Errorf("finding Knative's modules: %v: %s", err, errOut)
	}
	mods := strings.Fields(dirs)
	if len(mods) != 3 {
		return fmt.Errorf("finding Knative's modules: go list printed %q", dirs)
	}
	serving, networking := filepath.Join(mods[0], "config", "core"), filepath.Join(mods[1], "config")
	Progress("installing Knative Serving from %s and %s", serving, networking)
	apply := func(paths ...string) error {
		for _, p := range paths {
			if _, errOut, err := env.K("apply", "--server-side", "--force-conflicts", "-f", p); err != nil {
				return fmt.Errorf("applying %s: %s", p, errOut)
			}
		}
		return nil
	}
	files := []string{filepath.Join(serving, "100-namespace.yaml"), filepath.Join(serving, "200-roles"), filepath.Join(serving, "200-serviceaccount.yaml"),
		filepath.Join(serving, "300-resources")}
	for _, f := range []string{"ingress.yaml", "serverlessservice.yaml", "certificate.yaml", "domain-claim.yaml", "config-network.yaml"} {
		files = append(files, filepath.Join(networking, f))
	}
	// The image cache's CRD, which the controller watches: a symlink in
	// serving's repository, absent from its module.
	files = append(files, filepath.Join(mods[2], "config", "image.yaml"), filepath.Join(serving, "configmaps"))
	if err := apply(files...); err != nil {
		return err
	}
	if _, errOut, err := env.K("wait", "--for=condition=Established", "--timeout=60s", "crd/services.serving.knative.dev",
		"crd/ingresses.networking.internal.knative.dev", "crd/serverlessservices.networking.internal.knative.dev",
		"crd/certificates.networking.internal.knative.dev"); err != nil {
		return fmt.Errorf("knative's CRDs are not established: %s", errOut)
	}
	// The configuration, before Knative's webhook, which validates it, is
	// registered: an external domain, Traefik, TLS from cert-manager's
	// private CA, the queue-proxy built here, and a scale-to-zero grace
	// period short enough for a test.
	config := map[string]map[string]string{
		"config-domain":      {KnativeDomain: ""},
		"config-network":     {"ingress-class": KnativeIngressClass, "external-domain-tls": "Enabled"},
		"config-certmanager": {"issuerRef": "kind: ClusterIssuer\nname: bouncer-knative-ca\n"},
		"config-deployment":  {"queue-sidecar-image": QueueImage},
		"config-autoscaler":  {"scale-to-zero-grace-period": "6s", "stable-window": "6s"},
	}
	for name, data := range config {
		patch, _ := json.Marshal(map[string]any{"data": data})
		if _, errOut, err := env.K("-n", "knative-serving", "patch", "configmap", name, "--type=merge", "-p", string(patch)); err != nil {
			return fmt.Errorf("configuring %s: %s", name, errOut)
		}
	}
	if err := apply(filepath.Join(serving, "webhooks")); err != nil {
		return err
	}

	// The Services of the components, with Endpoints at the node: no
	// selector, since no Pod of theirs exists.
	services := []struct {
		name  string
		ports []map[string]any
	}{
		{"activator-service", []map[string]any{{"name": "http", "port": 80, "targetPort": 8012}, {"name": "http2", "port": 81, "targetPort": 8013}}},
		{"autoscaler", []map[string]any{{"name": "http", "port": 8080, "targetPort": 8080}}},
		{"webhook", []map[string]any{{"name": "https-webhook", "port": 443, "targetPort": 8443}}},
		{"traefik", []map[string]any{{"name": "http", "port": 80, "targetPort": 80}, {"name": "https", "port": 443, "targetPort": 443}}},
	}
	for _, s := range services {
		var epPorts []map[string]any
		for _, p := range s.ports {
			epPorts = append(epPorts, map[string]any{"name": p["name"], "port": p["targetPort"]})
		}
		list := map[string]any{"apiVersion": "v1", "kind": "List", "items": []any{
			map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": s.name, "namespace": "knative-serving"},
				"spec": map[string]any{"ports": s.ports}},
			map[string]any{"apiVersion": "v1", "kind": "Endpoints", "metadata": map[string]any{"name": s.name, "namespace": "knative-serving"},
				"subsets": []any{map[string]any{"addresses": []any{map[string]any{"ip": ip}}, "ports": epPorts}}},
		}}
		b, _ := json.Marshal(list)
		if _, errOut, err := env.KIn(string(b), "apply", "-f", "-"); err != nil {
			return fmt.Errorf("creating the Service %s: %s", s.name, errOut)
		}
	}
	// The API server, outside the cluster network, finds bouncer's host by
	// the host's resolver, as it would by public DNS.
	if err := editHosts([]string{ip + " " + knativeHost}); err != nil {
		return err
	}
	OnCleanup(func() { _ = editHosts(nil) })

	for _, c := range []string{"webhook", "controller", "autoscaler", "activator"} {
		pp, err := FreePort()
		if err != nil {
			return err
		}
		Progress("starting Knative's %s", c)
		if err := env.ControlPlane.startInCluster("knative-"+c, work, resolv, filepath.Join(knativeDir, c), knativeEnv(env.Kubeconfig, c, ip, pp)); err != nil {
			return err
		}
	}
	// Ready when its webhook has its certificate in its configurations and
	// admits a Knative Service (a server-side dry run).
	probe := `{"apiVersion":"serving.knative.dev/v1","kind":"Service","metadata":{"name":"probe","namespace":"knative-serving"},` +
		`"spec":{"template":{"spec":{"containers":[{"image":"dev.local/probe:e2e"}]}}}}`
	start := time.Now()
	if err := waitFor(3*time.Minute, func() error {
		// Knative's webhook writes its rules and its CA into its
		// configurations itself: until then, nothing is defaulted.
		for _, c := range []string{"mutatingwebhookconfiguration/webhook.serving.knative.dev", "validatingwebhookconfiguration/validation.webhook.serving.knative.dev"} {
			out, _, _ := env.K("get", c, "-o", "jsonpath={.webhooks[0].rules[0].resources[0]} {.webhooks[0].clientConfig.caBundle}")
			if len(strings.Fields(out)) != 2 {
				return fmt.Errorf("%s has no rules or CA yet", c)
			}
		}
		if _, errOut, err := env.KIn(probe, "create", "--dry-run=server", "-f", "-"); err != nil {
			return fmt.Errorf("%s", errOut)
		}
		return env.ControlPlane.Check()
	}); err != nil {
		return fmt.Errorf("knative's webhook did not admit a Service: %v", err)
	}
	Progress("Knative Serving is up in %v", time.Since(start).Round(time.Millisecond))
	return nil
}

// clusterDNSIP is the kube-dns Service's ClusterIP, in the control plane's
// service range, as kubeadm picks it.
const clusterDNSIP = "10.0.0.10"

// startClusterDNS starts CoreDNS on the node, serving cluster.local from
// the API server and forwarding the rest to the host's resolvers, behind
// the kube-dns Service, and writes the resolv.conf of a process in the
// cluster, which it returns.
func startClusterDNS(env *Env, work, corednsBin, ip string) (string, error) {
	corefile := filepath.Join(work, "Corefile")
	if err := os.WriteFile(corefile, []byte(fmt.Sprintf(`.:53 {
    bind %s
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig %s
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    forward . /etc/resolv.conf
    cache 5
}
`, ip, env.Kubeconfig)), 0o600); err != nil {
		return "", err
	}
	Progress("starting CoreDNS on %s:53 behind kube-dns (%s)", ip, clusterDNSIP)
	if err := env.ControlPlane.start("coredns", work, corednsBin, "-conf", corefile); err != nil {
		return "", err
	}
	svc := map[string]any{"apiVersion": "v1", "kind": "List", "items": []any{
		map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "kube-dns", "namespace": "kube-system"},
			"spec": map[string]any{"clusterIP": clusterDNSIP, "ports": []any{
				map[string]any{"name": "dns", "port": 53, "protocol": "UDP"}, map[string]any{"name": "dns-tcp", "port": 53, "protocol": "TCP"}}}},
		map[string]any{"apiVersion": "v1", "kind": "Endpoints", "metadata": map[string]any{"name": "kube-dns", "namespace": "kube-system"},
			"subsets": []any{map[string]any{"addresses": []any{map[string]any{"ip": ip}}, "ports": []any{
				map[string]any{"name": "dns", "port": 53, "protocol": "UDP"}, map[string]any{"name": "dns-tcp", "port": 53, "protocol": "TCP"}}}}},
	}}
	b, _ := json.Marshal(svc)
	if _, errOut, err := env.KIn(string(b), "apply", "-f", "-"); err != nil {
		return "", fmt.Errorf("creating kube-dns: %s", errOut)
	}
	// What the kubelet writes into a Pod of knative-serving (ClusterFirst).
	resolv := filepath.Join(work, "resolv.conf")
	return resolv, os.WriteFile(resolv, []byte("nameserver "+clusterDNSIP+"\nsearch knative-serving.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n"), 0o644)
}

// imageByDigest names an imported image by its digest, name@sha256:...,
// and tags it so in containerd, where the kubelet finds it without a pull.
func imageByDigest(node *NodeInfo, tag string) (string, error) {
	out, err := node.Ctr("images", "ls", "name=="+tag)
	if err != nil {
		return "", err
	}
	var digest string
	for _, f := range strings.Fields(out) {
		if strings.HasPrefix(f, "sha256:") {
			digest = f
			break
		}
	}
	if digest == "" {
		return "", fmt.Errorf("no digest for %s in %q", tag, out)
	}
	repo, _, _ := strings.Cut(tag, ":")
	ref := repo + "@" + digest
	if _, err := node.Ctr("images", "tag", "--force", tag, ref); err != nil {
		return "", err
	}
	return ref, nil
}

// editHosts removes every line this harness added to /etc/hosts, then
// adds lines, each marked. The file is rewritten in place: it may be a
// bind mount, which a rename would not replace.
func editHosts(lines []string) error {
	b, err := os.ReadFile("/etc/hosts")
	if err != nil {
		return err
	}
	var keep []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if !strings.HasSuffix(l, hostsMarker) {
			keep = append(keep, l)
		}
	}
	for _, l := range lines {
		keep = append(keep, l+" "+hostsMarker)
	}
	updated := []byte(strings.Join(keep, "\n") + "\n")
	if string(updated) == string(b) {
		return nil // a rewrite in place is not atomic: only when needed
	}
	return os.WriteFile("/etc/hosts", updated, 0o644)
}
