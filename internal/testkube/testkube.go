// Package testkube runs a real Kubernetes on this machine for the e2e-k8s
// tests: etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
// kubelets on containerd (runc, CNI bridge), kube-proxy in iptables mode
// and CoreDNS, every one built from source by scripts/kube-binaries.sh and
// run as a plain process. The one node is the host itself, or there are
// Options.Nodes worker nodes, each a network namespace with its own
// containerd, kubelet and kube-proxy (nodes.go).
//
// It is for tests only, on a machine of their own (root, one cluster at a
// time, see Lock). It must never send a packet off this machine: pods live
// on a local bridge, forwarded traffic to or from any other interface is
// dropped (GuardChain), the Service range is routed to a dummy interface,
// CoreDNS forwards nothing, and images are imported, never pulled. All of
// its state is under Root; everything it makes outside Root is listed in
// host.go, and Sweep removes all of it, at Stop and again at the next
// Start after a crash.
package testkube

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Addresses and ports. PodCIDR and ServiceCIDR are private ranges that
// nothing else on these machines uses (internal/testcluster uses 10.213/16).
const (
	Root        = "/var/lib/galera-sentinel-kube"
	LockPath    = "/run/galera-sentinel-kube.lock"
	PodCIDR     = "10.217.0.0/24"
	NodeIP      = "10.217.0.1"
	ServiceCIDR = "10.218.0.0/24"
	NodeName    = "gskube-node"
	APIPort     = 16443

	etcdClientPort     = 23790
	etcdPeerPort       = 23800
	kubeletPort        = 20250
	kubeletHealthzPort = 20248
	proxyHealthzPort   = 20256
	proxyMetricsPort   = 20249

	// PauseImage is the sandbox image containerd is told to use.
	PauseImage = "localhost/galera-sentinel-kube/pause:1"
	// PersistentVolumes is how many hostPath volumes are made: three
	// Galera members, one for each member whose PVC a test deletes (S5,
	// S8, S11), two for the scale to five (S13), three for the replication
	// scenario (S9), with room to spare.
	PersistentVolumes = 16
)

// Options says where the binaries and images are.
type Options struct {
	// BinDir holds the binaries scripts/kube-binaries.sh builds.
	BinDir string
	// Images are OCI archives to import into containerd's k8s.io
	// namespace (the pause image is always imported).
	Images []string
	// PauseArchive is the OCI archive of the pause image (see BuildPause).
	PauseArchive string
	// Logf reports progress (t.Logf, log.Printf); nil is silent.
	Logf func(format string, args ...any)
	// Nodes is how many worker nodes to run, each in its own network
	// namespace; 0 runs the one node on the host itself.
	Nodes int
}

// Cluster is a running cluster.
type Cluster struct {
	Options
	Root string
	// Kubeconfig is an admin kubeconfig (system:masters).
	Kubeconfig string

	nodes []*Node

	mu      sync.Mutex
	daemons []*daemon
	lock    *os.File
}

// single says the host is the one node.
func (c *Cluster) single() bool { return c.Options.Nodes == 0 }

func (c *Cluster) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf(format, args...)
	}
}

// Lock takes the machine-wide lock, waiting up to timeout: one cluster at
// a time (the bridge, ports and chains are fixed). The lock dies with the
// process.
func Lock(ctx context.Context, timeout time.Duration) (*os.File, error) {
	f, err := os.OpenFile(LockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			f.Close()
			return nil, fmt.Errorf("another cluster holds %s: %w", LockPath, err)
		}
		time.Sleep(time.Second)
	}
}

// Start sweeps what an earlier run left, then starts every component and
// waits (bounded) until the node is Ready and the default StorageClass and
// its volumes exist. On error everything started is torn down again.
func Start(ctx context.Context, opts Options) (c *Cluster, err error) {
	t0 := time.Now()
	lock, err := Lock(ctx, 10*time.Minute)
	if err != nil {
		return nil, err
	}
	if opts.Nodes < 0 || opts.Nodes > 9 {
		lock.Close()
		return nil, fmt.Errorf("testkube: %d nodes: want 0 (the host) to 9", opts.Nodes)
	}
	c = &Cluster{Options: opts, Root: Root, lock: lock}
	c.Kubeconfig = filepath.Join(c.Root, "admin.kubeconfig")
	if c.single() {
		c.nodes = []*Node{hostNode(c.Root)}
	}
	for k := 1; k <= opts.Nodes; k++ {
		c.nodes = append(c.nodes, workerNode(c.Root, k))
	}
	if err := Sweep(ctx, c.Root); err != nil {
		lock.Close()
		return nil, fmt.Errorf("sweep leftovers of an earlier run: %w", err)
	}
	defer func() {
		if err != nil {
			if serr := c.Stop(); serr != nil {
				err = errors.Join(err, serr)
			}
			c = nil
		}
	}()
	for _, d := range []string{"logs", "run", "etcd"} {
		if err := os.MkdirAll(filepath.Join(c.Root, d), 0o755); err != nil {
			return c, err
		}
	}
	for _, n := range c.nodes {
		for _, d := range []string{"run", "pod-logs", "kubelet", "cni/net.d", "cni/ipam"} {
			if err := os.MkdirAll(filepath.Join(n.root, d), 0o755); err != nil {
				return c, err
			}
		}
	}
	if err := c.writeConfig(); err != nil {
		return c, err
	}
	if err := setupNetwork(ctx, c.Root); err != nil {
		return c, fmt.Errorf("network: %w", err)
	}
	if !c.single() {
		for _, n := range c.nodes {
			if err := setupNode(ctx, n, c.nodes); err != nil {
				return c, fmt.Errorf("network: %w", err)
			}
		}
	}
	var cgroups []string
	if !c.single() {
		for _, n := range c.nodes {
			cgroups = append(cgroups, n.cgroup, n.cgroup+"/system")
		}
	}
	if err := makeCgroups(cgroups...); err != nil {
		return c, err
	}
	if err := c.startAll(ctx); err != nil {
		return c, err
	}
	c.logf("testkube: cluster of %d node(s) up in %s (kubeconfig %s)", len(c.nodes), time.Since(t0).Round(time.Second), c.Kubeconfig)
	return c, nil
}

func (c *Cluster) writeConfig() error {
	p, err := newPKI(filepath.Join(c.Root, "pki"))
	if err != nil {
		return err
	}
	localIPs := []net.IP{net.ParseIP(NodeIP), net.ParseIP("127.0.0.1"), net.ParseIP("10.218.0.1")}
	if err := p.issue("apiserver", "kube-apiserver", nil, localIPs,
		[]string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "localhost"},
		x509.ExtKeyUsageServerAuth); err != nil {
		return err
	}
	for _, n := range c.nodes {
		if err := p.issue(n.certName(), n.Name, nil, []net.IP{net.ParseIP(n.IP)}, []string{n.Name}, x509.ExtKeyUsageServerAuth); err != nil {
			return err
		}
	}
	if err := p.issue("apiserver-kubelet-client", "kube-apiserver-kubelet-client", []string{"system:masters"}, nil, nil, x509.ExtKeyUsageClientAuth); err != nil {
		return err
	}
	if err := p.serviceAccountKey(); err != nil {
		return err
	}
	// Token authentication: one identity per component, the ones the
	// default RBAC bindings know (CoreDNS and the tests are admins).
	type ident struct{ file, user, groups string }
	idents := []ident{
		{"admin", "testkube-admin", "system:masters"},
		{"controller-manager", "system:kube-controller-manager", ""},
		{"scheduler", "system:kube-scheduler", ""},
		{"kube-proxy", "system:kube-proxy", ""},
		{"coredns", "testkube-coredns", "system:masters"},
	}
	for _, n := range c.nodes {
		idents = append(idents, ident{n.certName(), "system:node:" + n.Name, "system:nodes"})
	}
	server := fmt.Sprintf("https://%s:%d", NodeIP, APIPort)
	files := map[string]string{}
	var csv strings.Builder
	for _, id := range idents {
		tok, err := randomToken()
		if err != nil {
			return err
		}
		fmt.Fprintf(&csv, "%s,%s,%s,%q\n", tok, id.user, id.user, id.groups)
		files[filepath.Join(c.Root, id.file+".kubeconfig")] = kubeconfig(server, p.path("ca.crt"), id.user, tok)
	}
	files[p.path("tokens.csv")] = csv.String()
	for _, n := range c.nodes {
		runcRoot := ""
		if !c.single() {
			runcRoot = filepath.Join(n.root, "runc")
		}
		files[filepath.Join(n.root, "containerd.toml")] = containerdConfig(n.root, PauseImage, runcRoot)
		files[filepath.Join(n.root, "cni/net.d/10-gskube.conflist")] = cniConfig(n.root, n.bridge(), n.PodCIDR, n.Gateway)
		files[filepath.Join(n.root, "kubelet.yaml")] = kubeletConfig(c.Root, n)
		files[filepath.Join(n.root, "kube-proxy.yaml")] = kubeProxyConfig(c.Root, n.Name, n.IP, c.clusterCIDR())
	}
	if !c.single() {
		// The host's own kube-proxy, for the tests' clients: ClusterIPs
		// from the host. It is no node's.
		files[filepath.Join(c.Root, "kube-proxy.yaml")] = kubeProxyConfig(c.Root, "gskube-host", NodeIP, c.clusterCIDR())
	}
	files[filepath.Join(c.Root, "Corefile")] = corefile(c.Root)
	// The host's resolv.conf must not leak into pods: an empty one.
	files[filepath.Join(c.Root, "resolv.conf")] = "# testkube: pods resolve through CoreDNS only\n"
	return writeFiles(files)
}

func (c *Cluster) clusterCIDR() string {
	if c.single() {
		return PodCIDR
	}
	return ClusterCIDR
}

func (c *Cluster) startAll(ctx context.Context) error {
	r := c.Root
	pki := func(n string) string { return filepath.Join(r, "pki", n) }
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdClientPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPeerPort)

	// containerd first: importing images takes a while and needs nothing else.
	for _, n := range c.nodes {
		if _, err := c.startOn(n, "containerd", "containerd", "--config", filepath.Join(n.root, "containerd.toml")); err != nil {
			return err
		}
	}
	if _, err := c.start("etcd", "etcd", "--name", "testkube", "--data-dir", filepath.Join(r, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "testkube="+peerURL, "--listen-metrics-urls", "",
		"--unsafe-no-fsync", "--log-level", "warn"); err != nil {
		return err
	}
	for _, n := range c.nodes {
		if err := c.waitFor(ctx, "containerd on "+n.Name, time.Minute, func(ctx context.Context) error {
			_, err := c.ctrOn(ctx, n, "version")
			return err
		}); err != nil {
			return err
		}
	}
	for _, img := range append([]string{c.PauseArchive}, c.Images...) {
		if err := c.ImportImage(ctx, img); err != nil {
			return err
		}
	}
	if _, err := c.start("kube-apiserver", "kube-apiserver",
		"--etcd-servers", etcdURL,
		"--bind-address", NodeIP, "--advertise-address", NodeIP, "--secure-port", fmt.Sprint(APIPort),
		"--service-cluster-ip-range", ServiceCIDR,
		"--token-auth-file", pki("tokens.csv"),
		"--client-ca-file", pki("ca.crt"),
		"--tls-cert-file", pki("apiserver.crt"), "--tls-private-key-file", pki("apiserver.key"),
		"--kubelet-client-certificate", pki("apiserver-kubelet-client.crt"),
		"--kubelet-client-key", pki("apiserver-kubelet-client.key"),
		"--kubelet-certificate-authority", pki("ca.crt"),
		"--kubelet-preferred-address-types", "InternalIP",
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", pki("sa.pub"),
		"--service-account-signing-key-file", pki("sa.key"),
		"--authorization-mode", "Node,RBAC",
		"--enable-admission-plugins", "NodeRestriction",
		"--allow-privileged=true", "--profiling=false", "--v=1"); err != nil {
		return err
	}
	if err := c.waitFor(ctx, "kube-apiserver", 3*time.Minute, func(ctx context.Context) error {
		_, err := c.Kubectl(ctx, "get", "--raw", "/readyz")
		return err
	}); err != nil {
		return err
	}
	starts := [][]string{
		{"kube-controller-manager", "--kubeconfig", filepath.Join(r, "controller-manager.kubeconfig"),
			"--secure-port=0", "--leader-elect=false", "--use-service-account-credentials=true",
			"--service-account-private-key-file", pki("sa.key"), "--root-ca-file", pki("ca.crt"),
			"--cluster-name", "testkube", "--controllers", "*,-bootstrapsigner,-tokencleaner,-nodeipam",
			"--profiling=false", "--v=1"},
		{"kube-scheduler", "--kubeconfig", filepath.Join(r, "scheduler.kubeconfig"),
			"--secure-port=0", "--leader-elect=false", "--profiling=false", "--v=1"},
		{"kube-proxy", "--config", filepath.Join(r, "kube-proxy.yaml"), "--v=1"},
		{"coredns", "-conf", filepath.Join(r, "Corefile")},
	}
	if c.single() {
		starts = append(starts, []string{"kubelet", "--config", filepath.Join(r, "kubelet.yaml"), "--kubeconfig", filepath.Join(r, "kubelet.kubeconfig"),
			"--hostname-override", NodeName, "--node-ip", NodeIP, "--root-dir", filepath.Join(r, "kubelet"), "--v=1"})
	}
	for _, s := range starts {
		if _, err := c.start(s[0], s...); err != nil {
			return err
		}
	}
	if !c.single() {
		for _, n := range c.nodes {
			if err := c.startKubelet(n); err != nil {
				return err
			}
		}
	}
	for _, n := range c.nodes {
		if err := c.WaitNodeReady(ctx, n.Name, 3*time.Minute); err != nil {
			return err
		}
	}
	perNode := volumesPerNode
	if c.single() {
		perNode = PersistentVolumes
	}
	manifest, dirs := storage(c.nodes, c.single(), perNode)
	for _, d := range dirs {
		// mariadbd runs as uid 999 (the image's mysql user); hostPath
		// volumes get no fsGroup treatment, so the directory is made its.
		if err := os.MkdirAll(d, 0o750); err != nil {
			return err
		}
		if err := os.Chown(d, 999, 999); err != nil {
			return err
		}
	}
	if err := c.Apply(ctx, manifest); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	return c.waitFor(ctx, "default service account", time.Minute, func(ctx context.Context) error {
		_, err := c.Kubectl(ctx, "-n", "default", "get", "serviceaccount", "default")
		return err
	})
}

// Stop puts the cluster down: the kubelet and the control plane first (so
// nothing restarts a pod), then the pods' processes, containerd and its
// shims, then Sweep for everything on the host. It also releases the lock.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	ds := append([]*daemon(nil), c.daemons...)
	c.mu.Unlock()
	for _, n := range []string{"kubelet", "kube-proxy", "coredns", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd", "containerd"} {
		for _, d := range ds {
			if d.name == n || strings.HasPrefix(d.name, n+"-"+NodeNetnsPrefix) {
				d.stop(10 * time.Second)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	err := Sweep(ctx, c.Root)
	if c.lock != nil {
		c.lock.Close()
	}
	return err
}

// Kubectl runs kubectl as admin, bounded by ctx (and two minutes).
func (c *Cluster) Kubectl(ctx context.Context, args ...string) (string, error) {
	return c.kubectlIn(ctx, "", args...)
}

// KubectlIn is Kubectl with stdin (a manifest for -f -).
func (c *Cluster) KubectlIn(ctx context.Context, stdin string, args ...string) (string, error) {
	return c.kubectlIn(ctx, stdin, args...)
}

func (c *Cluster) kubectlIn(ctx context.Context, stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, kubectlBound(args))
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.BinDir, "kubectl"), append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// Apply applies a manifest with server-side apply.
func (c *Cluster) Apply(ctx context.Context, manifest string) error {
	_, err := c.kubectlIn(ctx, manifest, "apply", "--server-side", "--field-manager=testkube", "-f", "-")
	return err
}

// ImportImage imports an OCI archive into every node's containerd, in
// its k8s.io namespace, where the kubelet finds it (pods must use
// imagePullPolicy: Never or IfNotPresent: nothing can be pulled here).
// The nodes import side by side.
func (c *Cluster) ImportImage(ctx context.Context, archive string) error {
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.importImage(ctx, n, archive)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (c *Cluster) importImage(ctx context.Context, n *Node, archive string) error {
	t0 := time.Now()
	if _, err := c.ctrOn(ctx, n, "-n", "k8s.io", "images", "import", archive); err != nil {
		return fmt.Errorf("import %s on %s: %w", archive, n.Name, err)
	}
	c.logf("testkube: imported %s on %s in %s", archive, n.Name, time.Since(t0).Round(time.Millisecond))
	return nil
}

// ctrOn runs ctr against node n's containerd.
func (c *Cluster) ctrOn(ctx context.Context, n *Node, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	return run(ctx, "ctr", append([]string{"--address", containerdSock(n.root)}, args...)...)
}

// KillContainer sends SIGKILL to every process of a container (its ID as
// the kubelet reports it, "containerd://<id>"), like an OOM kill or a
// crashed node would: no process in it gets to clean up.
func (c *Cluster) KillContainer(ctx context.Context, containerID string) error {
	id := strings.TrimPrefix(containerID, "containerd://")
	if id == "" || id == containerID {
		return fmt.Errorf("not a containerd container ID: %q", containerID)
	}
	// The container is on one node: the others do not know it.
	var errs []error
	for _, n := range c.nodes {
		_, err := c.ctrOn(ctx, n, "-n", "k8s.io", "tasks", "kill", "--all", "--signal", "SIGKILL", id)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// FreezePod freezes every process of the pod with uid (its containers
// and its sandbox) in the freezer cgroup the kubelet made for it, as a
// node whose power failed but for its network: connections to the pod
// are accepted into its listen backlogs and nothing answers them.
// ThawPod resumes it; Stop thaws whatever is left frozen.
func FreezePod(uid string) error { return freezePod(uid, "FROZEN") }

// ThawPod resumes a pod FreezePod froze.
func ThawPod(uid string) error { return freezePod(uid, "THAWED") }

func freezePod(uid, state string) error {
	if uid == "" || strings.ContainsAny(uid, "/*?[") {
		return fmt.Errorf("testkube: pod uid %q", uid)
	}
	var dirs []string
	for _, pat := range []string{"/kubepods*/pod", "/kubepods*/*/pod", "/*/kubepods*/pod", "/*/kubepods*/*/pod"} {
		m, _ := filepath.Glob("/sys/fs/cgroup/freezer/" + cgroupName + pat + uid)
		dirs = append(dirs, m...)
	}
	if len(dirs) != 1 {
		return fmt.Errorf("testkube: %d freezer cgroups for pod %s: %v", len(dirs), uid, dirs)
	}
	f := filepath.Join(dirs[0], "freezer.state")
	if err := os.WriteFile(f, []byte(state), 0o644); err != nil {
		return fmt.Errorf("testkube: %s: %w", f, err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		b, err := os.ReadFile(f)
		if err == nil && strings.TrimSpace(string(b)) == state {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testkube: %s says %q, want %s", f, strings.TrimSpace(string(b)), state)
		}
	}
}

// SignalDaemon sends sig to one of the cluster's processes by name
// ("kubelet" on the host, "kubelet-gskube-node1" on a worker): SIGSTOP of the kubelet is a node that stops reporting to
// the API server (its lease, its pods' status) while the rest of the
// cluster carries on.
func (c *Cluster) SignalDaemon(name string, sig syscall.Signal) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.daemons {
		if d.name == name {
			return d.cmd.Process.Signal(sig)
		}
	}
	return fmt.Errorf("testkube: no daemon %q", name)
}

// PodNetns is the name (under /run/netns) of the network namespace that
// holds the pod address ip, so that a test can break that pod's network
// from the host (iptables inside it) as a firewall would.
func PodNetns(ctx context.Context, ip string) (string, error) {
	if net.ParseIP(ip) == nil {
		return "", fmt.Errorf("testkube: pod netns: %q is not an address", ip)
	}
	ns, _ := filepath.Glob("/run/netns/cni-*")
	for _, p := range ns {
		name := filepath.Base(p)
		out, _ := run(ctx, "ip", "-n", name, "-4", "-o", "addr")
		if strings.Contains(out, " "+ip+"/") {
			return name, nil
		}
	}
	return "", fmt.Errorf("testkube: no pod network namespace holds %s", ip)
}

// ContainerOf is the kubelet's ID ("containerd://<id>") of the container
// a host process runs in, read from the process's cgroup (the last element
// of its path is the container's ID with the cgroupfs driver).
func ContainerOf(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		id := filepath.Base(parts[2])
		if len(id) == 64 && strings.Trim(id, "0123456789abcdef") == "" {
			return "containerd://" + id, nil
		}
	}
	return "", fmt.Errorf("testkube: process %d is in no pod's container:\n%s", pid, b)
}

// kubectlBound bounds one kubectl call: 2 minutes, or the call's own
// --timeout (rollout status, wait) and 30 s more when that is longer.
func kubectlBound(args []string) time.Duration {
	bound := 2 * time.Minute
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--timeout="); ok {
			if d, err := time.ParseDuration(v); err == nil && d+30*time.Second > bound {
				bound = d + 30*time.Second
			}
		}
	}
	return bound
}

// WaitNodeReady waits up to timeout until node name is Ready.
func (c *Cluster) WaitNodeReady(ctx context.Context, name string, timeout time.Duration) error {
	return c.waitFor(ctx, "node "+name+" Ready", timeout, func(ctx context.Context) error {
		out, err := c.Kubectl(ctx, "get", "node", name, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		if err != nil {
			return err
		}
		if strings.TrimSpace(out) != "True" {
			return fmt.Errorf("node %s Ready=%q", name, out)
		}
		return nil
	})
}
