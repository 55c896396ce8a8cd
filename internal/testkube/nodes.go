package testkube

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Worker nodes. With Options.Nodes 0 the one node is the host itself (its
// pods on Bridge, in PodCIDR). With Nodes N ≥ 1 the host runs only the
// control plane, CoreDNS and a kube-proxy (so that the tests reach
// ClusterIPs), and each worker node K (1..N) is:
//   - a network namespace NodeNetnsPrefix+K, plugged into Bridge by a veth
//     (host side NodeVethPrefix+K), with the node address 10.217.0.(10+K);
//   - its own containerd (root, state, sockets, runc root under
//     Root/nodes/NAME) and its own kubelet and kube-proxy, all three in
//     that namespace and in the node's cgroup (cgroupName/NAME, the
//     kubelet's cgroupRoot), so that a power cut reaches exactly the
//     node's processes: the daemons, the shims and the pods' containers;
//   - its pods on a bridge of its own inside the namespace, in
//     10.217.K.0/24. Every node routes the other nodes' pod ranges to
//     them, the host routes all of them; there is no default route
//     anywhere, so nothing leaves these addresses;
//   - labelled topology.kubernetes.io/zone=zone-a, -b, -c, -a...;
//   - its hostPath volumes pinned to it.
const (
	NodeNetnsPrefix = "gskube-node"
	NodeVethPrefix  = "gskn"
	// ClusterCIDR holds every pod range, the host's and the nodes'.
	ClusterCIDR = "10.217.0.0/16"
	// nodeBridge is each node's pod bridge, inside its namespace.
	nodeBridge = "gskube-cbr0"
	// volumesPerNode is how many volumes each worker node gets: a member,
	// a spare for a member whose PVC a test deletes, one for a replication
	// member, and room to spare.
	volumesPerNode = 5
)

// Node is one worker node.
type Node struct {
	// Name is the node's name (its kubernetes.io/hostname label).
	Name string
	// IP is its address: the kubelet's, and where its pods' traffic
	// to other nodes comes from.
	IP string
	// PodCIDR is its pods' range; Gateway the pods' default gateway.
	PodCIDR, Gateway string
	// Zone is its topology.kubernetes.io/zone label ("" for the host).
	Zone string

	index  int    // 1..N; 0 for the host as the one node
	root   string // its containerd, kubelet, CNI and volumes
	netns  string // "" on the host
	veth   string // host side of its link
	cgroup string // its cgroupRoot, relative to each hierarchy

	mu      sync.Mutex
	daemons []*daemon // its containerd, kubelet and kube-proxy
	off     bool
}

// hostNode is the one node of a single-node cluster: the host, with the
// state paths of earlier releases (directly under the state root).
func hostNode(root string) *Node {
	return &Node{Name: NodeName, IP: NodeIP, PodCIDR: PodCIDR, Gateway: NodeIP, root: root, cgroup: cgroupName}
}

func workerNode(root string, k int) *Node {
	name := NodeNetnsPrefix + strconv.Itoa(k)
	return &Node{
		Name: name, IP: fmt.Sprintf("10.217.0.%d", 10+k),
		PodCIDR: fmt.Sprintf("10.217.%d.0/24", k), Gateway: fmt.Sprintf("10.217.%d.1", k),
		Zone:  "zone-" + string(rune('a'+(k-1)%3)),
		index: k, root: filepath.Join(root, "nodes", name), netns: name,
		veth: NodeVethPrefix + strconv.Itoa(k), cgroup: cgroupName + "/" + name,
	}
}

func (n *Node) certName() string {
	if n.netns == "" {
		return "kubelet"
	}
	return "kubelet-" + n.Name
}

func (n *Node) bridge() string {
	if n.netns == "" {
		return Bridge
	}
	return nodeBridge
}

// Nodes are the cluster's worker nodes (the host alone when Options.Nodes
// is 0).
func (c *Cluster) Nodes() []*Node { return c.nodes }

// Node is the worker node called name.
func (c *Cluster) Node(name string) (*Node, error) {
	for _, n := range c.nodes {
		if n.Name == name {
			return n, nil
		}
	}
	return nil, fmt.Errorf("testkube: no node %q", name)
}

// setupNode makes node n's namespace, link, addresses and routes.
func setupNode(ctx context.Context, n *Node, all []*Node) error {
	in := func(args ...string) []string {
		return append([]string{"nsenter", "--net=/run/netns/" + n.netns, "--"}, args...)
	}
	steps := [][]string{
		{"ip", "netns", "add", n.netns},
		{"ip", "link", "add", n.veth, "type", "veth", "peer", "name", "eth0", "netns", n.netns},
		{"ip", "link", "set", n.veth, "master", Bridge},
		{"ip", "link", "set", n.veth, "up"},
		{"ip", "route", "add", n.PodCIDR, "via", n.IP, "dev", Bridge},
		in("ip", "link", "set", "lo", "up"),
		in("ip", "addr", "add", n.IP+"/24", "dev", "eth0"),
		in("ip", "link", "set", "eth0", "up"),
		// The Service range goes to the host, which drops what kube-proxy
		// did not translate (Dummy): never a default route.
		in("ip", "route", "add", ServiceCIDR, "via", NodeIP, "dev", "eth0"),
		in("sysctl", "-q", "-w", "net.ipv4.ip_forward=1"),
	}
	for _, o := range all {
		if o != n {
			steps = append(steps, in("ip", "route", "add", o.PodCIDR, "via", o.IP, "dev", "eth0"))
		}
	}
	for _, s := range steps {
		if _, err := run(ctx, s[0], s[1:]...); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
	}
	// Bridged pod-to-pod traffic on the node passes through its iptables
	// (Service replies on one bridge); per namespace on these kernels,
	// global on older ones (then the host's setting already holds).
	_, _ = run(ctx, "nsenter", "--net=/run/netns/"+n.netns, "--", "sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=1")
	return nil
}

// nodeCommand wraps a daemon's command line so that it runs in node n:
// the wrapper moves itself into the node's cgroup (system/ under its
// cgroupRoot, in the freezer and pids hierarchies) and then execs the
// daemon in the node's network namespace. Its shims and containers are
// then the node's too.
func nodeCommand(n *Node, bin string, args []string) []string {
	script := fmt.Sprintf(`for h in freezer pids; do echo $$ > /sys/fs/cgroup/$h/%s/system/cgroup.procs || exit 1; done; exec nsenter --net=/run/netns/%s -- "$@"`, n.cgroup, n.netns)
	return append([]string{"/bin/sh", "-c", script, "sh", bin}, args...)
}

// startKubelet starts worker node n's kubelet and kube-proxy.
func (c *Cluster) startKubelet(n *Node) error {
	if _, err := c.startOn(n, "kubelet", "kubelet", "--config", filepath.Join(n.root, "kubelet.yaml"),
		"--kubeconfig", filepath.Join(c.Root, n.certName()+".kubeconfig"),
		"--hostname-override", n.Name, "--node-ip", n.IP, "--root-dir", filepath.Join(n.root, "kubelet"),
		"--node-labels", "topology.kubernetes.io/zone="+n.Zone, "--v=1"); err != nil {
		return err
	}
	_, err := c.startOn(n, "kube-proxy", "kube-proxy", "--config", filepath.Join(n.root, "kube-proxy.yaml"), "--v=1")
	return err
}

// startOn starts a daemon on node n (on the host for the host's node).
func (c *Cluster) startOn(n *Node, name string, args ...string) (*daemon, error) {
	if n.netns == "" {
		return c.start(name, args...)
	}
	d, err := c.start(name+"-"+n.Name, nodeCommand(n, c.binPath(args[0]), args[1:])...)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	n.daemons = append(n.daemons, d)
	n.mu.Unlock()
	return d, nil
}

// nodeCgroupDirs are node n's cgroups in every hierarchy, deepest first.
func nodeCgroupDirs(n *Node) []string {
	var out []string
	for _, d := range cgroupDirs() {
		// /sys/fs/cgroup/HIERARCHY/REL
		rel := strings.TrimPrefix(d, "/sys/fs/cgroup/")
		if i := strings.IndexByte(rel, '/'); i >= 0 && (rel[i+1:] == n.cgroup || strings.HasPrefix(rel[i+1:], n.cgroup+"/")) {
			out = append(out, d)
		}
	}
	return out
}

// PowerOff cuts node n's power: every process of the node (its
// containerd, kubelet, kube-proxy, the shims and the pods' containers)
// is frozen at once, then killed, and its link goes down. Nothing on the
// node runs a line of code after the cut. Its pods' network namespaces
// are removed (a reboot has none). PowerOn boots it again.
func (c *Cluster) PowerOff(ctx context.Context, name string) error {
	n, err := c.Node(name)
	if err != nil {
		return err
	}
	if n.netns == "" {
		return fmt.Errorf("testkube: the host is the only node; power cuts need Options.Nodes")
	}
	freezer := filepath.Join("/sys/fs/cgroup/freezer", n.cgroup)
	if err := setFreezer(freezer, "FROZEN"); err != nil {
		return err
	}
	if _, err := run(ctx, "ip", "link", "set", n.veth, "down"); err != nil {
		return err
	}
	killAll := func() int {
		left := 0
		for _, d := range nodeCgroupDirs(n) {
			b, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
			if err != nil {
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
					left++
				}
			}
		}
		return left
	}
	killAll()
	if err := setFreezer(freezer, "THAWED"); err != nil {
		return err
	}
	for deadline := time.Now().Add(15 * time.Second); killAll() > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("testkube: processes of %s outlive SIGKILL", n.Name)
		}
	}
	n.mu.Lock()
	ds := n.daemons
	n.daemons, n.off = nil, true
	n.mu.Unlock()
	for _, d := range ds {
		<-d.done
		c.forget(d)
	}
	return deleteNetns(ctx, strings.TrimSuffix(n.PodCIDR, "0/24"), false)
}

// PowerOn boots a node PowerOff cut: its link comes up and its containerd
// (images kept on its disk), kubelet and kube-proxy start again. It does
// not wait for the node to be Ready.
func (c *Cluster) PowerOn(ctx context.Context, name string) error {
	n, err := c.Node(name)
	if err != nil {
		return err
	}
	n.mu.Lock()
	off := n.off
	n.off = false
	n.mu.Unlock()
	if !off {
		return fmt.Errorf("testkube: %s is not powered off", name)
	}
	if _, err := run(ctx, "ip", "link", "set", n.veth, "up"); err != nil {
		return err
	}
	if _, err := c.startOn(n, "containerd", "containerd", "--config", filepath.Join(n.root, "containerd.toml")); err != nil {
		return err
	}
	if err := c.waitFor(ctx, "containerd on "+n.Name, time.Minute, func(ctx context.Context) error {
		_, err := c.ctrOn(ctx, n, "version")
		return err
	}); err != nil {
		return err
	}
	return c.startKubelet(n)
}

// partitionChain holds a partition's rules inside a node's namespace.
const partitionChain = "GSKUBE-PARTITION"

// Partition cuts node n off from every other node and their pods, in
// both directions, while it still talks to the host: the API server,
// CoreDNS, and clients on the host. Heal ends it. The rules are in the
// node's own mangle table, ahead of anything kube-proxy adds.
func (c *Cluster) Partition(ctx context.Context, name string) error {
	n, err := c.Node(name)
	if err != nil {
		return err
	}
	if n.netns == "" {
		return fmt.Errorf("testkube: the host is the only node; partitions need Options.Nodes")
	}
	ipt := func(args ...string) error {
		_, err := run(ctx, "nsenter", append([]string{"--net=/run/netns/" + n.netns, "--", "iptables", "-w", "-t", "mangle"}, args...)...)
		return err
	}
	steps := [][]string{
		{"-N", partitionChain},
		{"-A", partitionChain, "-s", NodeIP, "-j", "RETURN"},
		{"-A", partitionChain, "-d", NodeIP, "-j", "RETURN"},
		{"-A", partitionChain, "-j", "DROP"},
		{"-I", "PREROUTING", "1", "-i", "eth0", "-j", partitionChain},
		{"-I", "POSTROUTING", "1", "-o", "eth0", "-j", partitionChain},
	}
	for _, s := range steps {
		if err := ipt(s...); err != nil {
			return err
		}
	}
	return nil
}

// PartitionFromAPI cuts node n off from the API server only, in both
// directions: its kubelet stops reporting (the node goes NotReady after
// node-monitor-grace-period) and its pods' calls to the API server
// (through the kubernetes Service, rewritten to the host's address) go
// nowhere, while the node still reaches the other nodes, their pods,
// CoreDNS and the clients on the host. Heal ends it.
func (c *Cluster) PartitionFromAPI(ctx context.Context, name string) error {
	n, err := c.Node(name)
	if err != nil {
		return err
	}
	if n.netns == "" {
		return fmt.Errorf("testkube: the host is the only node; partitions need Options.Nodes")
	}
	ipt := func(args ...string) error {
		_, err := run(ctx, "nsenter", append([]string{"--net=/run/netns/" + n.netns, "--", "iptables", "-w", "-t", "mangle"}, args...)...)
		return err
	}
	port := fmt.Sprint(APIPort)
	steps := [][]string{
		{"-N", partitionChain},
		{"-A", partitionChain, "-p", "tcp", "-d", NodeIP, "--dport", port, "-j", "DROP"},
		{"-A", partitionChain, "-p", "tcp", "-s", NodeIP, "--sport", port, "-j", "DROP"},
		{"-I", "PREROUTING", "1", "-i", "eth0", "-j", partitionChain},
		{"-I", "POSTROUTING", "1", "-o", "eth0", "-j", partitionChain},
	}
	for _, s := range steps {
		if err := ipt(s...); err != nil {
			return err
		}
	}
	return nil
}

// Heal ends a Partition or a PartitionFromAPI.
func (c *Cluster) Heal(ctx context.Context, name string) error {
	n, err := c.Node(name)
	if err != nil {
		return err
	}
	ipt := func(args ...string) error {
		_, err := run(ctx, "nsenter", append([]string{"--net=/run/netns/" + n.netns, "--", "iptables", "-w", "-t", "mangle"}, args...)...)
		return err
	}
	return errors.Join(ipt("-D", "PREROUTING", "-i", "eth0", "-j", partitionChain),
		ipt("-D", "POSTROUTING", "-o", "eth0", "-j", partitionChain),
		ipt("-F", partitionChain), ipt("-X", partitionChain))
}

func setFreezer(dir, state string) error {
	f := filepath.Join(dir, "freezer.state")
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
