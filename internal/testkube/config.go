package testkube

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The files every component reads, written fresh under the state root on
// every start. Ports are off the standard ones so that nothing else on the
// machine collides with them; every listener is on loopback or on the
// node's bridge address.

func kubeconfig(server, ca, user, token string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: testkube
  cluster: {server: %q, certificate-authority: %q}
users:
- name: %[3]q
  user: {token: %[4]q}
contexts:
- name: testkube
  context: {cluster: testkube, user: %[3]q}
current-context: testkube
`, server, ca, user, token)
}

// containerdConfig is containerd's configuration with all of its state
// under root. runcRoot, when set, is runc's own state directory (a
// worker node's containerd must not share the host's /run/containerd/runc).
func containerdConfig(root, pauseImage, runcRoot string) string {
	runc := ""
	if runcRoot != "" {
		runc = fmt.Sprintf("\n        Root = %q", runcRoot)
	}
	return fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
[grpc]
  address = %[3]q
[ttrpc]
  address = %[4]q
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = %[5]q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[6]q
  # These machines lack CAP_SYS_RESOURCE: runc fails the sandbox ("can't get
  # final child's PID from pipe: EOF") when told to lower oom_score_adj.
  restrict_oom_score_adj = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false%[8]s
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %[7]q
`, filepath.Join(root, "containerd/root"), filepath.Join(root, "containerd/state"),
		containerdSock(root), containerdSock(root)+".ttrpc", filepath.Join(root, "containerd/opt"),
		pauseImage, filepath.Join(root, "cni/net.d"), runc)
}

func containerdSock(root string) string { return filepath.Join(root, "run/containerd.sock") }

// cniConfig: one bridge, addresses from host-local. No masquerade and no
// portmap: nothing in a pod may reach past this machine (the guard chain
// enforces it), so there is nothing to translate.
func cniConfig(root, bridge, subnet, gateway string) string {
	return fmt.Sprintf(`{
  "cniVersion": "0.4.0",
  "name": %q,
  "plugins": [{
    "type": "bridge",
    "bridge": %q,
    "isGateway": true,
    "ipMasq": false,
    "hairpinMode": true,
    "ipam": {
      "type": "host-local",
      "dataDir": %q,
      "ranges": [[{"subnet": %q, "gateway": %q}]],
      "routes": [{"dst": "0.0.0.0/0"}]
    }
  }, {"type": "loopback"}]
}
`, cniNetwork, bridge, filepath.Join(root, "cni/ipam"), subnet, gateway)
}

// kubeletConfig is node n's kubelet configuration; the cluster's DNS is
// CoreDNS on the host (NodeIP), the resolv.conf the cluster's own.
func kubeletConfig(clusterRoot string, n *Node) string {
	root := n.root
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %[1]s
port: %[2]d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %[3]d
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: %[4]q}
authorization: {mode: AlwaysAllow}
tlsCertFile: %[5]q
tlsPrivateKeyFile: %[6]q
cgroupDriver: cgroupfs
cgroupRoot: /%[7]s
failSwapOn: false
containerRuntimeEndpoint: unix://%[8]s
clusterDNS: [%[11]s]
clusterDomain: cluster.local
resolvConf: %[9]q
podLogsDir: %[10]q
makeIPTablesUtilChains: false
serializeImagePulls: false
maxPods: 30
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%%, imagefs.available: 1%%, nodefs.inodesFree: 1%%}
shutdownGracePeriod: 0s
# A Secret's volume is rewritten at a pod's sync (default every minute):
# S14 waits for the sentinels to see a rotated token.
syncFrequency: 15s
`, n.IP, kubeletPort, kubeletHealthzPort, filepath.Join(clusterRoot, "pki/ca.crt"),
		filepath.Join(clusterRoot, "pki", n.certName()+".crt"), filepath.Join(clusterRoot, "pki", n.certName()+".key"),
		n.cgroup, containerdSock(root), filepath.Join(clusterRoot, "resolv.conf"), filepath.Join(root, "pod-logs"), NodeIP)
}

// kubeProxyConfig is the configuration of a kube-proxy named hostname
// that listens on bindAddress (a node's, or the host's).
func kubeProxyConfig(root, hostname, bindAddress, clusterCIDR string) string {
	return fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: %q}
hostnameOverride: %s
bindAddress: %s
healthzBindAddress: 127.0.0.1:%d
metricsBindAddress: 127.0.0.1:%d
mode: iptables
clusterCIDR: %s
nodePortAddresses: [%s/32]
conntrack: {maxPerCore: 0, min: 0}
iptables: {masqueradeAll: false, syncPeriod: 10s, minSyncPeriod: 0s}
`, filepath.Join(root, "kube-proxy.kubeconfig"), hostname, bindAddress, proxyHealthzPort, proxyMetricsPort, clusterCIDR, bindAddress)
}

// corefile: the Kubernetes plugin only. No forward plugin: a name outside
// cluster.local gets REFUSED, never a query to a resolver off this machine.
func corefile(root string) string {
	return fmt.Sprintf(`.:53 {
    bind %s
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig %q testkube
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
}
`, NodeIP, filepath.Join(root, "coredns.kubeconfig"))
}

// storage is the default StorageClass and the statically made hostPath
// PersistentVolumes that stand in for a provisioner (none is available
// here). Retain: a released volume is never reused, so a member whose PVC
// was deleted really starts empty on a spare one. On worker nodes each
// volume is pinned to its node (nodeAffinity on kubernetes.io/hostname),
// as local storage is: a pod bound to it runs there or nowhere.
func storage(nodes []*Node, single bool, perNode int) (string, []string) {
	var b strings.Builder
	b.WriteString(`apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: testkube-hostpath
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Retain
`)
	var dirs []string
	for _, n := range nodes {
		for i := 0; i < perNode; i++ {
			name, dir := fmt.Sprintf("testkube-pv%02d", i), filepath.Join(n.root, "pv", fmt.Sprintf("pv%02d", i))
			pin := ""
			if !single {
				name = fmt.Sprintf("testkube-%s-pv%02d", n.Name, i)
				pin = fmt.Sprintf(`  nodeAffinity:
    required:
      nodeSelectorTerms:
        - matchExpressions:
            - {key: kubernetes.io/hostname, operator: In, values: [%s]}
`, n.Name)
			}
			dirs = append(dirs, dir)
			fmt.Fprintf(&b, `---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: %s
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: testkube-hostpath
  hostPath: {path: %q, type: Directory}
%s`, name, dir, pin)
		}
	}
	return b.String(), dirs
}

func writeFiles(files map[string]string) error {
	for path, content := range files {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}
