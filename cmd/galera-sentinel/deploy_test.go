package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/kube"
	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
)

// TestHAProxyExampleIsValid: the examples users copy (Galera, and
// asynchronous replication) must be configs HAProxy accepts.
func TestHAProxyExampleIsValid(t *testing.T) {
	bin := testcluster.RequireBinary(t, "haproxy")
	for _, cfg := range []string{"haproxy.cfg", "haproxy-replication.cfg"} {
		out, err := exec.Command(bin, "-c", "-f", "../../deploy/haproxy/"+cfg).CombinedOutput()
		if err != nil {
			t.Errorf("haproxy -c %s: %v\n%s", cfg, err, out)
		}
	}
	// The replication writer must cut the sessions of a demoted primary.
	l, err := testcluster.ShippedListener("../../deploy/haproxy/haproxy-replication.cfg", "mariadb-writer")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"option httpchk GET /writerz", "on-marked-down shutdown-sessions"} {
		if !strings.Contains(l, want) {
			t.Errorf("mariadb-writer lacks %q:\n%s", want, l)
		}
	}
	if l, err := testcluster.ShippedListener("../../deploy/haproxy/haproxy-replication.cfg", "mariadb-readers"); err != nil || !strings.Contains(l, "option httpchk GET /readyz") {
		t.Errorf("mariadb-readers: %v\n%s", err, l)
	}
}

// TestShippedAlertRules: the alert rules parse, and their unit tests
// (synthetic series for every alert, firing and not) pass, with the
// promtool of Debian's prometheus package.
func TestShippedAlertRules(t *testing.T) {
	bin := testcluster.RequireBinary(t, "promtool")
	for _, args := range [][]string{{"check", "rules", "galera-sentinel-rules.yml"}, {"test", "rules", "galera-sentinel-rules.test.yml"}} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = "../../deploy/prometheus"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// unitFile is what systemd takes from a unit's [Service] section for
// starting it: Environment= pairs, the EnvironmentFile= path, ExecStart=.
type unitFile struct {
	env       []string
	envFile   string
	execStart string
}

func readUnit(t *testing.T, path string) unitFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var u unitFile
	text := strings.ReplaceAll(string(b), "\\\n", " ") // continuation lines
	for _, line := range strings.Split(text, "\n") {
		key, value, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || strings.HasPrefix(key, "#") {
			continue
		}
		switch key {
		case "Environment":
			u.env = append(u.env, value)
		case "EnvironmentFile":
			u.envFile = strings.TrimPrefix(value, "-")
		case "ExecStart":
			u.execStart = value
		}
	}
	return u
}

// readEnvFile reads KEY=VALUE lines as systemd's EnvironmentFile= does
// (comments and blank lines skipped, surrounding quotes removed).
func readEnvFile(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		env = append(env, k+"="+strings.Trim(v, `"'`))
	}
	return env
}

// TestSystemdUnitTakesSiteSettings: the run-mode unit names no cluster in
// ExecStart; started the way systemd starts it, with an environment file
// naming other peers, the sentinel uses those peers (the file wins over
// the unit's own defaults), and the shipped example file parses.
func TestSystemdUnitTakesSiteSettings(t *testing.T) {
	u := readUnit(t, "../../deploy/systemd/galera-sentinel.service")
	if u.envFile != "/etc/default/galera-sentinel" || !strings.Contains(u.execStart, "run -- /usr/sbin/mariadbd $MARIADBD_ARGS") {
		t.Fatalf("unit: EnvironmentFile %q, ExecStart %q", u.envFile, u.execStart)
	}
	for _, site := range []string{"--peers", "--expected-size", "--node-name", "db1"} {
		if strings.Contains(u.execStart, site) {
			t.Errorf("ExecStart hard-codes %s: %s", site, u.execStart)
		}
	}
	if env := readEnvFile(t, "../../deploy/systemd/galera-sentinel.env"); !slices.Contains(env, "GALERA_SENTINEL_EXPECTED_SIZE=3") {
		t.Errorf("example environment file: %q", env)
	}
	if out, err := exec.Command("systemd-analyze", "verify", "../../deploy/systemd/galera-sentinel.service", "../../deploy/systemd/galera-sentinel-serve.service").CombinedOutput(); err != nil {
		// verify fails only on what it finds wrong; the binary not being
		// installed on this machine is the one thing it may say.
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if !strings.Contains(line, "/usr/local/bin/galera-sentinel is not executable") {
				t.Errorf("systemd-analyze verify: %s", line)
			}
		}
	}

	bin, err := sentinelBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(tok, []byte(runToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	envFile := filepath.Join(dir, "galera-sentinel")
	site := fmt.Sprintf(`# a site's file
GALERA_SENTINEL_PEERS=127.0.0.1:19301,127.0.0.2:19301,127.0.0.3:19301
GALERA_SENTINEL_EXPECTED_SIZE=3
GALERA_SENTINEL_NODE_NAME=site-node-1
GALERA_SENTINEL_TOKEN_FILE=%[1]s/token
GALERA_SENTINEL_LISTEN=127.0.0.1:0
GALERA_SENTINEL_AGENT_CHECK_LISTEN=127.0.0.1:0
GALERA_SENTINEL_NOTIFY_SOCKET=%[1]s/notify.sock
GALERA_SENTINEL_MAINTENANCE_FILE=%[1]s/maintenance
GALERA_SENTINEL_LOG_FORMAT=json
MARIADBD_ARGS="--defaults-file=%[1]s/my.cnf"
`, dir)
	if err := os.WriteFile(envFile, []byte(site), 0o600); err != nil {
		t.Fatal(err)
	}
	// The data directory and the socket are only in mariadbd's own file.
	cnf := fmt.Sprintf("[mysqld]\ndatadir=%[1]s/data\nsocket=%[1]s/mysqld.sock\nwsrep_on=ON\nwsrep_provider=%[2]s\nwsrep_sst_method=rsync\n", dir, testcluster.ProviderPath)
	if err := os.WriteFile(filepath.Join(dir, "my.cnf"), []byte(cnf), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(append(slices.Clone(u.env), readEnvFile(t, envFile)...), "PATH=/usr/sbin:/usr/bin:/bin")
	// systemd splits an unquoted $VAR into words.
	lookup := func(k string) string {
		for i := len(env) - 1; i >= 0; i-- {
			if v, ok := strings.CutPrefix(env[i], k+"="); ok {
				return v
			}
		}
		return ""
	}
	var argv []string
	for _, w := range strings.Fields(u.execStart) {
		if name, ok := strings.CutPrefix(w, "$"); ok {
			argv = append(argv, strings.Fields(lookup(name))...)
			continue
		}
		argv = append(argv, w)
	}
	argv[0] = bin
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	log := &syncWriter{w: &strings.Builder{}}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(10 * time.Second)
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	for !strings.Contains(log.String(), "waiting for every expected member") {
		select {
		case <-exited:
			t.Fatalf("the sentinel exited:\n%s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sentinel did not start waiting for the site's peers:\n%s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	out := log.String()
	for _, want := range []string{`"peers":"static 127.0.0.1:19301,127.0.0.2:19301,127.0.0.3:19301"`, `"node":"site-node-1"`, `"expected_size":3`,
		`"datadir":"` + dir + `/data"`, `"mysql_addr":"` + dir + `/mysqld.sock"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the sentinel's log lacks %s:\n%s", want, out)
		}
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

// TestReplicationManifests: deploy/kubernetes/replication builds with
// kubectl's kustomize, runs every member under run --mode=replication
// with its probes, the primary of a new set named, secrets from files,
// unique server ids; the writer's HAProxy configuration is valid and
// checks /writerz.
func TestReplicationManifests(t *testing.T) {
	kubectl := testcluster.RequireBinary(t, "kubectl")
	out, err := exec.Command(kubectl, "kustomize", "../../deploy/kubernetes/replication").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v\n%s", err, out)
	}
	doc := string(out)
	for _, want := range []string{
		"kind: StatefulSet", "kind: Deployment", "name: mariadb-readers", "name: mariadb-writer", "name: mariadb-peers",
		"publishNotReadyAddresses: true", "- --mode=replication",
		"- --primary=mariadb-0.mariadb-peers.$(POD_NAMESPACE).svc.cluster.local:3306",
		"- --replication-password-file=/etc/galera-sentinel/replication-password", "- --token-file=/etc/galera-sentinel/token",
		"- --server-id=1$(POD_INDEX)", "metadata.labels['apps.kubernetes.io/pod-index']",
		"path: /readyz", "path: /livez", "path: /startupz", "log_slave_updates=ON", "gtid_strict_mode=ON",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("kustomize output lacks %q", want)
		}
	}
	for _, secret := range []string{"password=", "PASSWORD="} {
		if strings.Contains(doc, secret) {
			t.Errorf("a secret in the manifests: %q", secret)
		}
	}
	// Still the Galera base beside it.
	if out, err := exec.Command(kubectl, "kustomize", "../../deploy/kubernetes/base").CombinedOutput(); err != nil {
		t.Fatalf("kubectl kustomize base: %v\n%s", err, out)
	}
	haproxy := testcluster.RequireBinary(t, "haproxy")
	if out, err := exec.Command(haproxy, "-c", "-f", "../../deploy/kubernetes/replication/haproxy.cfg").CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
	l, err := testcluster.ShippedListener("../../deploy/kubernetes/replication/haproxy.cfg", "mariadb-writer")
	if err != nil || !strings.Contains(l, "option httpchk GET /writerz") || !strings.Contains(l, "on-marked-down shutdown-sessions") {
		t.Errorf("writer listener: %v\n%s", err, l)
	}
	// Both workloads pass Pod Security "restricted", the in-cluster
	// HAProxy too (it runs so in e2e S9).
	m := kustomize(t, "deploy/kubernetes/replication")
	for _, w := range []struct{ kind, name string }{{"StatefulSet", "mariadb"}, {"Deployment", "mariadb-writer"}} {
		pod := spec[kstatefulSetSpec](t, m.get(t, w.kind, w.name)).Template.Spec
		if v := restrictedViolations(pod); len(v) > 0 {
			t.Errorf("%s %s: Pod Security restricted refuses the pod: %q", w.kind, w.name, v)
		}
	}
}

// The Kubernetes manifests, read as the API server would get them: built
// by kubectl's kustomize, then turned into JSON by kubectl itself
// (`annotate --local` contacts no server), so that these tests check
// fields, not text. Nothing here starts Kubernetes; e2e/kube applies
// overlays/e2e on a real one.

type kobject struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string            `json:"name"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Data     map[string]string `json:"data"`
	Rules    []kpolicyRule     `json:"rules"`
	RoleRef  struct{ Kind, Name string }
	Subjects []struct{ Kind, Name, Namespace string }
	Spec     json.RawMessage `json:"spec"`
}

type kpolicyRule struct {
	APIGroups     []string `json:"apiGroups"`
	Resources     []string `json:"resources"`
	Verbs         []string `json:"verbs"`
	ResourceNames []string `json:"resourceNames"`
}

type kmanifests struct {
	objects []kobject
}

// kustomize builds dir (relative to the repository) with kubectl.
func kustomize(t *testing.T, dir string) kmanifests {
	t.Helper()
	kubectl := testcluster.RequireBinary(t, "kubectl")
	built, err := exec.Command(kubectl, "kustomize", filepath.Join("../..", dir)).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, exitStderr(err))
	}
	cmd := exec.Command(kubectl, "annotate", "--local", "-f", "-", "-o", "json", "galera-sentinel.io/deploy-test=1")
	cmd.Stdin = strings.NewReader(string(built))
	cmd.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(t.TempDir(), "none"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl annotate --local (YAML to JSON) of %s: %v\n%s", dir, err, exitStderr(err))
	}
	var m kmanifests
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var o kobject
		if err := dec.Decode(&o); err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		delete(o.Metadata.Annotations, "galera-sentinel.io/deploy-test")
		m.objects = append(m.objects, o)
	}
	if len(m.objects) == 0 {
		t.Fatalf("%s: no objects", dir)
	}
	return m
}

func exitStderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

func (m kmanifests) get(t *testing.T, kind, name string) kobject {
	t.Helper()
	for _, o := range m.objects {
		if o.Kind == kind && o.Metadata.Name == name {
			return o
		}
	}
	t.Fatalf("no %s %s", kind, name)
	return kobject{}
}

func (m kmanifests) all(kind string) []kobject {
	var out []kobject
	for _, o := range m.objects {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

func spec[T any](t *testing.T, o kobject) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(o.Spec, &v); err != nil {
		t.Fatalf("%s %s: %v", o.Kind, o.Metadata.Name, err)
	}
	return v
}

// The parts of the Kubernetes API these tests look at.
type (
	kstatefulSetSpec struct {
		Replicas            int    `json:"replicas"`
		PodManagementPolicy string `json:"podManagementPolicy"`
		Template            struct {
			Metadata struct {
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
			Spec kpodSpec `json:"spec"`
		} `json:"template"`
		VolumeClaimTemplates []struct {
			Spec struct {
				StorageClassName *string `json:"storageClassName"`
			} `json:"spec"`
		} `json:"volumeClaimTemplates"`
	}
	kpodSpec struct {
		ServiceAccountName string               `json:"serviceAccountName"`
		HostNetwork        bool                 `json:"hostNetwork"`
		HostPID            bool                 `json:"hostPID"`
		HostIPC            bool                 `json:"hostIPC"`
		SecurityContext    *kpodSecurityContext `json:"securityContext"`
		Containers         []kcontainer         `json:"containers"`
		InitContainers     []kcontainer         `json:"initContainers"`
		Volumes            []map[string]any     `json:"volumes"`
		Affinity           map[string]any       `json:"affinity"`
		TopologySpread     []ktopologySpread    `json:"topologySpreadConstraints"`
		ReadinessGates     []struct {
			ConditionType string `json:"conditionType"`
		} `json:"readinessGates"`
	}
	kpodSecurityContext struct {
		RunAsNonRoot   *bool     `json:"runAsNonRoot"`
		RunAsUser      *int64    `json:"runAsUser"`
		RunAsGroup     *int64    `json:"runAsGroup"`
		FSGroup        *int64    `json:"fsGroup"`
		SeccompProfile *kseccomp `json:"seccompProfile"`
		SELinuxOptions *struct {
			Type string `json:"type"`
		} `json:"seLinuxOptions"`
		AppArmorProfile *struct {
			Type string `json:"type"`
		} `json:"appArmorProfile"`
		Sysctls []struct{ Name string } `json:"sysctls"`
	}
	kseccomp struct {
		Type string `json:"type"`
	}
	// kcontainerSecurity is a container's securityContext: the fields the
	// restricted profile names.
	kcontainerSecurity struct {
		Privileged               *bool     `json:"privileged"`
		AllowPrivilegeEscalation *bool     `json:"allowPrivilegeEscalation"`
		RunAsNonRoot             *bool     `json:"runAsNonRoot"`
		RunAsUser                *int64    `json:"runAsUser"`
		SeccompProfile           *kseccomp `json:"seccompProfile"`
		ProcMount                string    `json:"procMount"`
		Capabilities             *struct {
			Add  []string `json:"add"`
			Drop []string `json:"drop"`
		} `json:"capabilities"`
		SELinuxOptions *struct {
			Type string `json:"type"`
		} `json:"seLinuxOptions"`
		AppArmorProfile *struct {
			Type string `json:"type"`
		} `json:"appArmorProfile"`
	}
	kcontainer struct {
		Name            string   `json:"name"`
		Args            []string `json:"args"`
		Env             []kenv   `json:"env"`
		ImagePullPolicy string   `json:"imagePullPolicy"`
		Ports           []struct {
			HostPort int `json:"hostPort"`
		} `json:"ports"`
		SecurityContext *kcontainerSecurity `json:"securityContext"`
		StartupProbe    *kprobe             `json:"startupProbe"`
		LivenessProbe   *kprobe             `json:"livenessProbe"`
		ReadinessProbe  *kprobe             `json:"readinessProbe"`
		VolumeMounts    []struct {
			Name      string `json:"name"`
			MountPath string `json:"mountPath"`
			SubPath   string `json:"subPath"`
		} `json:"volumeMounts"`
	}
	kenv struct {
		Name      string `json:"name"`
		Value     string `json:"value"`
		ValueFrom *struct {
			FieldRef *struct {
				FieldPath string `json:"fieldPath"`
			} `json:"fieldRef"`
			SecretKeyRef *struct {
				Name     string `json:"name"`
				Key      string `json:"key"`
				Optional *bool  `json:"optional"`
			} `json:"secretKeyRef"`
		} `json:"valueFrom"`
	}
	kprobe struct {
		HTTPGet *struct {
			Path string `json:"path"`
			Port any    `json:"port"`
		} `json:"httpGet"`
		PeriodSeconds    int `json:"periodSeconds"`
		FailureThreshold int `json:"failureThreshold"`
	}
	ktopologySpread struct {
		MaxSkew           int    `json:"maxSkew"`
		TopologyKey       string `json:"topologyKey"`
		WhenUnsatisfiable string `json:"whenUnsatisfiable"`
		LabelSelector     struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"labelSelector"`
	}
	kserviceSpec struct {
		Type                     string            `json:"type"`
		ClusterIP                string            `json:"clusterIP"`
		ExternalTrafficPolicy    string            `json:"externalTrafficPolicy"`
		PublishNotReadyAddresses bool              `json:"publishNotReadyAddresses"`
		Selector                 map[string]string `json:"selector"`
		Ports                    []struct {
			Port       int `json:"port"`
			TargetPort any `json:"targetPort"`
		} `json:"ports"`
	}
	knetpolSpec struct {
		PodSelector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"podSelector"`
		PolicyTypes []string      `json:"policyTypes"`
		Ingress     []knetpolRule `json:"ingress"`
		Egress      []knetpolRule `json:"egress"`
	}
	knetpolRule struct {
		From  []knetpolPeer `json:"from"`
		To    []knetpolPeer `json:"to"`
		Ports []struct {
			Protocol string `json:"protocol"`
			Port     int    `json:"port"`
		} `json:"ports"`
	}
	knetpolPeer struct {
		PodSelector *struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"podSelector"`
		NamespaceSelector map[string]any `json:"namespaceSelector"`
		IPBlock           map[string]any `json:"ipBlock"`
	}
)

// restrictedViolations checks a pod against Pod Security "restricted"
// (which includes "baseline"), as the PodSecurity admission controller of
// Kubernetes 1.31 defines it (kubernetes.io/docs/concepts/security/
// pod-security-standards): host namespaces, privileged, capabilities,
// hostPath and the allowed volume types, host ports, AppArmor, SELinux,
// /proc mount, sysctls; then privilege escalation, non-root, seccomp, and
// capabilities dropped to none but NET_BIND_SERVICE.
func restrictedViolations(p kpodSpec) []string {
	var v []string
	if p.HostNetwork || p.HostPID || p.HostIPC {
		v = append(v, "host namespaces")
	}
	psc := p.SecurityContext
	if psc == nil {
		psc = &kpodSecurityContext{}
	}
	podNonRoot := psc.RunAsNonRoot != nil && *psc.RunAsNonRoot
	podSeccomp := psc.SeccompProfile != nil && (psc.SeccompProfile.Type == "RuntimeDefault" || psc.SeccompProfile.Type == "Localhost")
	if psc.SeccompProfile != nil && !podSeccomp {
		v = append(v, "pod seccompProfile "+psc.SeccompProfile.Type)
	}
	if psc.RunAsNonRoot != nil && !*psc.RunAsNonRoot {
		v = append(v, "pod runAsNonRoot false")
	}
	if psc.RunAsUser != nil && *psc.RunAsUser == 0 {
		v = append(v, "pod runAsUser 0")
	}
	if psc.SELinuxOptions != nil && !slices.Contains([]string{"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}, psc.SELinuxOptions.Type) {
		v = append(v, "pod seLinuxOptions.type "+psc.SELinuxOptions.Type)
	}
	if psc.AppArmorProfile != nil && psc.AppArmorProfile.Type == "Unconfined" {
		v = append(v, "pod AppArmor Unconfined")
	}
	for _, s := range psc.Sysctls {
		if !slices.Contains([]string{"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
			"net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time",
			"net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"}, s.Name) {
			v = append(v, "sysctl "+s.Name)
		}
	}
	allowedVolumes := []string{"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
	for _, vol := range p.Volumes {
		for k := range vol {
			if k != "name" && !slices.Contains(allowedVolumes, k) {
				v = append(v, fmt.Sprintf("volume %v: %s", vol["name"], k))
			}
		}
	}
	for _, c := range append(slices.Clone(p.InitContainers), p.Containers...) {
		sc := c.SecurityContext
		if sc == nil {
			v = append(v, c.Name+": no securityContext (allowPrivilegeEscalation, capabilities)")
			continue
		}
		if sc.Privileged != nil && *sc.Privileged {
			v = append(v, c.Name+": privileged")
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			v = append(v, c.Name+": allowPrivilegeEscalation not false")
		}
		nonRoot := podNonRoot
		if sc.RunAsNonRoot != nil {
			nonRoot = *sc.RunAsNonRoot
		}
		if !nonRoot {
			v = append(v, c.Name+": runAsNonRoot not true (pod or container)")
		}
		if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			v = append(v, c.Name+": runAsUser 0")
		}
		seccomp := podSeccomp
		if sc.SeccompProfile != nil {
			seccomp = sc.SeccompProfile.Type == "RuntimeDefault" || sc.SeccompProfile.Type == "Localhost"
		}
		if !seccomp {
			v = append(v, c.Name+": seccompProfile not RuntimeDefault or Localhost (pod or container)")
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			v = append(v, c.Name+": capabilities do not drop ALL")
		}
		if sc.Capabilities != nil {
			for _, a := range sc.Capabilities.Add {
				if a != "NET_BIND_SERVICE" {
					v = append(v, c.Name+": adds capability "+a)
				}
			}
		}
		if sc.ProcMount != "" && sc.ProcMount != "Default" {
			v = append(v, c.Name+": procMount "+sc.ProcMount)
		}
		if sc.SELinuxOptions != nil && !slices.Contains([]string{"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}, sc.SELinuxOptions.Type) {
			v = append(v, c.Name+": seLinuxOptions.type "+sc.SELinuxOptions.Type)
		}
		if sc.AppArmorProfile != nil && sc.AppArmorProfile.Type == "Unconfined" {
			v = append(v, c.Name+": AppArmor Unconfined")
		}
		for _, port := range c.Ports {
			if port.HostPort != 0 {
				v = append(v, fmt.Sprintf("%s: hostPort %d", c.Name, port.HostPort))
			}
		}
	}
	return v
}

// TestDeployRestrictedCheckCatchesViolations: the check above refuses
// what the admission controller refuses, here the pod of the previous
// base (runAsUser 999 and nothing else), so that its silence on the
// shipped pods means something.
func TestDeployRestrictedCheckCatchesViolations(t *testing.T) {
	var old kpodSpec
	if err := json.Unmarshal([]byte(`{"securityContext":{"runAsUser":999,"runAsGroup":999,"fsGroup":999},
		"containers":[{"name":"mariadb","ports":[{"containerPort":3306}]}],
		"volumes":[{"name":"run","emptyDir":{}},{"name":"logs","hostPath":{"path":"/var/log"}}]}`), &old); err != nil {
		t.Fatal(err)
	}
	v := restrictedViolations(old)
	for _, want := range []string{"mariadb: no securityContext", "volume logs: hostPath"} {
		if !slices.ContainsFunc(v, func(s string) bool { return strings.HasPrefix(s, want) }) {
			t.Errorf("the check misses %q: %q", want, v)
		}
	}
	old.Containers[0].SecurityContext = &kcontainerSecurity{}
	v = restrictedViolations(old)
	for _, want := range []string{"mariadb: allowPrivilegeEscalation", "mariadb: runAsNonRoot", "mariadb: seccompProfile", "mariadb: capabilities"} {
		if !slices.ContainsFunc(v, func(s string) bool { return strings.HasPrefix(s, want) }) {
			t.Errorf("the check misses %q: %q", want, v)
		}
	}
}

// ingressAllows says whether the policies selecting app=galera let a
// source (a galera pod, or any other address) reach port on a member:
// a pod that some policy selects for Ingress is isolated, and then a
// connection needs a rule of one of those policies that admits it.
func ingressAllows(t *testing.T, m kmanifests, port int, fromGalera bool) bool {
	t.Helper()
	isolated := false
	for _, o := range m.all("NetworkPolicy") {
		s := spec[knetpolSpec](t, o)
		if s.PodSelector.MatchLabels["app"] != "galera" || !slices.Contains(s.PolicyTypes, "Ingress") {
			continue
		}
		isolated = true
		for _, r := range s.Ingress {
			if !portMatches(r, port) {
				continue
			}
			if len(r.From) == 0 {
				return true
			}
			for _, p := range r.From {
				if fromGalera && p.PodSelector != nil && p.NamespaceSelector == nil && maps.Equal(p.PodSelector.MatchLabels, map[string]string{"app": "galera"}) {
					return true
				}
			}
		}
	}
	return !isolated
}

func portMatches(r knetpolRule, port int) bool {
	if len(r.Ports) == 0 {
		return true
	}
	for _, p := range r.Ports {
		if p.Port == port && (p.Protocol == "" || p.Protocol == "TCP") {
			return true
		}
	}
	return false
}

// egressAllows: may a member open port/protocol to a galera pod (toGalera)
// or to an address outside the cluster's pods?
func egressAllows(t *testing.T, m kmanifests, port int, protocol string, toGalera bool) bool {
	t.Helper()
	isolated := false
	for _, o := range m.all("NetworkPolicy") {
		s := spec[knetpolSpec](t, o)
		if s.PodSelector.MatchLabels["app"] != "galera" || !slices.Contains(s.PolicyTypes, "Egress") {
			continue
		}
		isolated = true
		for _, r := range s.Egress {
			ok := len(r.Ports) == 0
			for _, p := range r.Ports {
				proto := p.Protocol
				if proto == "" {
					proto = "TCP"
				}
				ok = ok || (p.Port == port && proto == protocol)
			}
			if !ok {
				continue
			}
			if len(r.To) == 0 {
				return true
			}
			for _, p := range r.To {
				if toGalera && p.PodSelector != nil && p.NamespaceSelector == nil && maps.Equal(p.PodSelector.MatchLabels, map[string]string{"app": "galera"}) {
					return true
				}
			}
		}
	}
	return !isolated
}

func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func findEnv(c kcontainer, name string) (kenv, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e, true
		}
	}
	return kenv{}, false
}

// pendingFlags are GALERA_SENTINEL_ variables the manifests set for flags
// that other branches add (wt-stall: --stall-timeout; wt-kubelabel:
// --kube-writer-label). Until those are merged the sentinel ignores them
// (applyEnv visits defined flags only); afterwards they must exist.
var pendingFlags = []string{"stall-timeout", "kube-writer-label"}

// TestDeployBaseManifests: deploy/kubernetes/base, field by field: what
// Pod Security "restricted" requires; uid/gid 999 as the image has it;
// the zone spread and the anti-affinity; the NetworkPolicies (peers'
// ports from members only, 3306 and the health ports reachable, egress
// to peers, DNS, the API); the accounts and initdb wiring; the writer
// label's RBAC and Service; the settings kubectl exec'd subcommands need
// in the environment, which `run` accepts as they are; probes that do not
// cap a state transfer.
func TestDeployBaseManifests(t *testing.T) {
	m := kustomize(t, "deploy/kubernetes/base")
	sts := spec[kstatefulSetSpec](t, m.get(t, "StatefulSet", "galera"))
	pod := sts.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("containers: %d", len(pod.Containers))
	}
	c := pod.Containers[0]

	// 1. Pod Security "restricted", and the image's uid.
	if v := restrictedViolations(pod); len(v) > 0 {
		t.Errorf("Pod Security restricted refuses the pod: %q", v)
	}
	sc := pod.SecurityContext
	if sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != 999 || sc.RunAsGroup == nil || *sc.RunAsGroup != 999 || sc.FSGroup == nil || *sc.FSGroup != 999 ||
		sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.SeccompProfile == nil || sc.SeccompProfile.Type != "RuntimeDefault" {
		t.Errorf("pod securityContext: %s", asJSON(sc))
	}
	if c.SecurityContext == nil || c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation ||
		c.SecurityContext.Capabilities == nil || !slices.Equal(c.SecurityContext.Capabilities.Drop, []string{"ALL"}) || len(c.SecurityContext.Capabilities.Add) > 0 {
		t.Errorf("container securityContext: %s", asJSON(c.SecurityContext))
	}
	dockerfile, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--uid 999 --gid 999", "groupadd --system --gid 999 mysql", "\nUSER mysql\n"} {
		if !strings.Contains(string(dockerfile), want) {
			t.Errorf("the image no longer has %q: runAsUser/fsGroup 999 in the manifests assume it", want)
		}
	}

	// 2. Zones, hosts, storage.
	want := []ktopologySpread{
		{MaxSkew: 1, TopologyKey: "topology.kubernetes.io/zone", WhenUnsatisfiable: "ScheduleAnyway"},
		{MaxSkew: 1, TopologyKey: "kubernetes.io/hostname", WhenUnsatisfiable: "ScheduleAnyway"},
	}
	for _, w := range want {
		if !slices.ContainsFunc(pod.TopologySpread, func(s ktopologySpread) bool {
			return s.MaxSkew == w.MaxSkew && s.TopologyKey == w.TopologyKey && s.WhenUnsatisfiable == w.WhenUnsatisfiable &&
				maps.Equal(s.LabelSelector.MatchLabels, map[string]string{"app": "galera"})
		}) {
			t.Errorf("no topology spread %+v: %+v", w, pod.TopologySpread)
		}
	}
	anti, _ := json.Marshal(pod.Affinity)
	if !strings.Contains(string(anti), `"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[{"labelSelector":{"matchLabels":{"app":"galera"}},"topologyKey":"kubernetes.io/hostname"}]}`) {
		t.Errorf("required hostname anti-affinity: %s", anti)
	}
	if sts.PodManagementPolicy != "Parallel" {
		t.Errorf("podManagementPolicy %q", sts.PodManagementPolicy)
	}
	// storageClassName is the cluster's choice; the guidance is a comment.
	src, err := os.ReadFile("../../deploy/kubernetes/base/galera.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"# storageClassName: managed-csi-premium", "WaitForFirstConsumer", "gp3", "pd-ssd", "premium-rwo", "Zonal"} {
		if !strings.Contains(string(src), w) {
			t.Errorf("galera.yaml's storage guidance lacks %q", w)
		}
	}
	if len(sts.VolumeClaimTemplates) != 1 || sts.VolumeClaimTemplates[0].Spec.StorageClassName != nil {
		t.Errorf("the base must not impose a storage class: %+v", sts.VolumeClaimTemplates)
	}

	// 3. NetworkPolicies.
	for _, p := range []int{4567, 4568, 4444, 9200} {
		if !ingressAllows(t, m, p, true) {
			t.Errorf("a member cannot reach its peers' port %d", p)
		}
	}
	for _, p := range []int{4567, 4568, 4444} {
		if ingressAllows(t, m, p, false) {
			t.Errorf("port %d (Galera's) is open to everyone", p)
		}
	}
	for _, p := range []int{3306, 9200, 9201} {
		if !ingressAllows(t, m, p, false) {
			t.Errorf("port %d is closed to clients and health checkers", p)
		}
	}
	if ingressAllows(t, m, 22, false) || ingressAllows(t, m, 22, true) {
		t.Error("the members are not isolated for ingress")
	}
	for _, e := range []struct {
		port     int
		protocol string
		toGalera bool
	}{{4567, "TCP", true}, {4568, "TCP", true}, {4444, "TCP", true}, {9200, "TCP", true}, {53, "UDP", false}, {53, "TCP", false}, {443, "TCP", false}, {6443, "TCP", false}} {
		if !egressAllows(t, m, e.port, e.protocol, e.toGalera) {
			t.Errorf("a member cannot open %d/%s (to a member: %v)", e.port, e.protocol, e.toGalera)
		}
	}
	if egressAllows(t, m, 4567, "TCP", false) || egressAllows(t, m, 25, "TCP", false) {
		t.Error("egress is not restricted")
	}

	// 4. Accounts, initdb, SST.
	for env, key := range map[string]string{"MARIADB_ROOT_PASSWORD": "root-password", "MARIADB_USER": "user", "MARIADB_PASSWORD": "password", "MARIADB_DATABASE": "database"} {
		e, ok := findEnv(c, env)
		if !ok || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != "galera-accounts" ||
			e.ValueFrom.SecretKeyRef.Key != key || e.ValueFrom.SecretKeyRef.Optional == nil || !*e.ValueFrom.SecretKeyRef.Optional {
			t.Errorf("%s: want the optional key %s of Secret galera-accounts: %s", env, key, asJSON(e))
		}
	}
	volumes, _ := json.Marshal(pod.Volumes)
	if !strings.Contains(string(volumes), `{"configMap":{"name":"galera-initdb","optional":true},"name":"initdb"}`) {
		t.Errorf("no optional galera-initdb ConfigMap: %s", volumes)
	}
	mounts := map[string]string{}
	for _, vm := range c.VolumeMounts {
		mounts[vm.Name] = vm.MountPath
		if vm.Name == "token" && vm.SubPath != "" {
			t.Error("the token is mounted with subPath: a changed Secret would never reach the pod")
		}
	}
	if mounts["initdb"] != "/docker-entrypoint-initdb.d" {
		t.Errorf("initdb mounted at %q", mounts["initdb"])
	}
	cnf := m.get(t, "ConfigMap", "galera").Data["galera.cnf"]
	if !strings.Contains(cnf, "\nwsrep_sst_method=mariabackup\n") {
		t.Errorf("galera.cnf: want mariabackup state transfers:\n%s", cnf)
	}
	for _, line := range strings.Split(cnf, "\n") {
		if strings.HasPrefix(line, "wsrep_sst_auth") || strings.HasPrefix(line, "wsrep_cluster_address") {
			t.Errorf("galera.cnf sets %s", line)
		}
	}

	// 5. The pod marks (writer label, Primary condition): RBAC, the pod's
	// account, the readiness gate, the Service.
	m.get(t, "ServiceAccount", "galera")
	role := m.get(t, "Role", "galera")
	if len(role.Rules) != 2 || !slices.Equal(role.Rules[0].APIGroups, []string{""}) || !slices.Equal(role.Rules[0].Resources, []string{"pods"}) ||
		!slices.Equal(role.Rules[0].Verbs, []string{"get", "patch"}) ||
		!slices.Equal(role.Rules[1].APIGroups, []string{""}) || !slices.Equal(role.Rules[1].Resources, []string{"pods/status"}) ||
		!slices.Equal(role.Rules[1].Verbs, []string{"patch"}) {
		t.Errorf("Role galera: want pods get, patch, pods/status patch and nothing else: %+v", role.Rules)
	}
	if len(pod.ReadinessGates) != 1 || pod.ReadinessGates[0].ConditionType != kube.PrimaryConditionType {
		t.Errorf("readinessGates %+v: want the one condition %s", pod.ReadinessGates, kube.PrimaryConditionType)
	}
	if e, _ := findEnv(c, "GALERA_SENTINEL_KUBE_PRIMARY_CONDITION"); e.Value != "true" {
		t.Errorf("GALERA_SENTINEL_KUBE_PRIMARY_CONDITION (the readiness gate's condition; without it no pod is ever Ready): %+v", e)
	}
	rb := m.get(t, "RoleBinding", "galera")
	if rb.RoleRef.Kind != "Role" || rb.RoleRef.Name != "galera" || len(rb.Subjects) != 1 || rb.Subjects[0].Kind != "ServiceAccount" || rb.Subjects[0].Name != "galera" {
		t.Errorf("RoleBinding galera: %+v %+v", rb.RoleRef, rb.Subjects)
	}
	if pod.ServiceAccountName != "galera" {
		t.Errorf("serviceAccountName %q", pod.ServiceAccountName)
	}
	if e, _ := findEnv(c, "GALERA_SENTINEL_KUBE_WRITER_LABEL"); e.Value != "true" {
		t.Errorf("GALERA_SENTINEL_KUBE_WRITER_LABEL: %+v", e)
	}
	if e, _ := findEnv(c, "POD_NAME"); e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "metadata.name" {
		t.Errorf("POD_NAME: %+v", e)
	}
	writer := spec[kserviceSpec](t, m.get(t, "Service", "galera-writer"))
	if !maps.Equal(writer.Selector, map[string]string{"app": "galera", "galera-sentinel.io/writer": "true"}) || writer.PublishNotReadyAddresses ||
		len(writer.Ports) != 1 || writer.Ports[0].Port != 3306 {
		t.Errorf("Service galera-writer: %+v", writer)
	}
	if !maps.Equal(sts.Template.Metadata.Labels, map[string]string{"app": "galera"}) {
		t.Errorf("pod labels %v: the writer label belongs to the sentinel, not the template (a rollout would reset it)", sts.Template.Metadata.Labels)
	}

	// 6. Settings exec'd subcommands need: environment, not arguments;
	// and `run` takes the container's arguments and environment as they are.
	for _, a := range c.Args {
		for _, moved := range []string{"--token-file", "--peers-dns", "--node-name", "--expected-size"} {
			if strings.HasPrefix(a, moved) {
				t.Errorf("%s is an argument: `kubectl exec ... galera-sentinel` would not inherit it", a)
			}
		}
	}
	runFlags := flag.NewFlagSet("run", flag.ContinueOnError)
	(&RunConfig{}).flags(runFlags)
	env := map[string]string{"POD_NAME": "galera-1", "POD_NAMESPACE": "db"}
	tokenDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(tokenDir, "token"), []byte(runToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			continue
		}
		v := os.Expand(strings.ReplaceAll(strings.ReplaceAll(e.Value, "$(", "${"), ")", "}"), func(k string) string { return env[k] })
		name, isFlag := strings.CutPrefix(e.Name, envPrefix)
		if isFlag {
			f := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
			if runFlags.Lookup(f) == nil && !slices.Contains(pendingFlags, f) {
				t.Errorf("%s names no flag of run (--%s)", e.Name, f)
			}
			if f == "token-file" {
				if !strings.HasPrefix(v, mounts["token"]+"/") {
					t.Errorf("%s=%s is not in the token Secret's mount %s", e.Name, v, mounts["token"])
				}
				v = filepath.Join(tokenDir, "token")
			}
		}
		env[e.Name] = v
	}
	for k, want := range map[string]string{"GALERA_SENTINEL_NODE_NAME": "galera-1", "GALERA_SENTINEL_PEERS_DNS": "galera-peers.db.svc.cluster.local"} {
		if env[k] != want {
			t.Errorf("%s=%q, want %q", k, env[k], want)
		}
	}
	cfg, err := parseRun(c.Args, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatalf("run refuses the manifest's arguments and environment: %v", err)
	}
	if cfg.NodeName != "galera-1" || cfg.Discovery.PeersDNS != "galera-peers.db.svc.cluster.local" || galeraOf(t, cfg).ExpectedSize != sts.Replicas || cfg.Token != runToken ||
		!slices.Equal(cfg.Mariadbd, []string{"mariadbd"}) {
		t.Errorf("run's configuration: node %q, peers %q, expected %d (replicas %d), token read %v, mariadbd %q",
			cfg.NodeName, cfg.Discovery.PeersDNS, galeraOf(t, cfg).ExpectedSize, sts.Replicas, cfg.Token == runToken, cfg.Mariadbd)
	}
	if strings.Contains(string(src), "set env") || !strings.Contains(string(src), "kubectl -n db exec galera-1 -- galera-sentinel force-bootstrap galera-0") {
		t.Error("galera.yaml: the override is `kubectl exec ... galera-sentinel force-bootstrap NAME`, never `kubectl set env` (a rollout that cannot finish while the cluster is down)")
	}

	// 7. Probes: nothing caps a state transfer; readiness is /readyz.
	if p := c.StartupProbe; p != nil {
		if p.HTTPGet == nil || p.HTTPGet.Path != "/livez" || p.PeriodSeconds*p.FailureThreshold > 60 {
			t.Errorf("startupProbe: want /livez (no cap on a state transfer), at most a minute to listen: %s", asJSON(p))
		}
	}
	if p := c.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/livez" {
		t.Errorf("livenessProbe: %s", asJSON(p))
	}
	if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/readyz" {
		t.Errorf("readinessProbe: %s", asJSON(p))
	}

	// The client Services stay inside the cluster; the peers' sees everyone.
	if s := spec[kserviceSpec](t, m.get(t, "Service", "galera")); s.Type != "ClusterIP" || !maps.Equal(s.Selector, map[string]string{"app": "galera"}) {
		t.Errorf("Service galera: %+v", s)
	}
	if s := spec[kserviceSpec](t, m.get(t, "Service", "galera-peers")); s.ClusterIP != "None" || !s.PublishNotReadyAddresses {
		t.Errorf("Service galera-peers: %+v", s)
	}
	for _, o := range m.all("Secret") {
		t.Errorf("the base ships a Secret (%s): secrets are the operator's", o.Metadata.Name)
	}
}

// TestDeployE2EOverlay: what e2e/kube applies on its worker nodes:
// restricted enforced on its namespace, the pod still passing it, the
// base's required anti-affinity and zone spread unchanged, the test
// accounts, the local image.
func TestDeployE2EOverlay(t *testing.T) {
	m := kustomize(t, "deploy/kubernetes/overlays/e2e")
	ns := m.get(t, "Namespace", "galera-e2e")
	if ns.Metadata.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("namespace labels: %v", ns.Metadata.Labels)
	}
	sts := spec[kstatefulSetSpec](t, m.get(t, "StatefulSet", "galera"))
	pod := sts.Template.Spec
	if v := restrictedViolations(pod); len(v) > 0 {
		t.Errorf("Pod Security restricted refuses the e2e pod: %q", v)
	}
	base := spec[kstatefulSetSpec](t, kustomize(t, "deploy/kubernetes/base").get(t, "StatefulSet", "galera")).Template.Spec
	anti, _ := json.Marshal(pod.Affinity)
	want, _ := json.Marshal(base.Affinity)
	if string(anti) != string(want) || !strings.Contains(string(anti), "requiredDuringSchedulingIgnoredDuringExecution") {
		t.Errorf("the e2e overlay changes the base's affinity: %s, want %s", anti, want)
	}
	spread, _ := json.Marshal(pod.TopologySpread)
	wantSpread, _ := json.Marshal(base.TopologySpread)
	if string(spread) != string(wantSpread) {
		t.Errorf("the e2e overlay changes the base's topology spread: %s, want %s", spread, wantSpread)
	}
	if pod.Containers[0].ImagePullPolicy != "Never" {
		t.Errorf("imagePullPolicy %q", pod.Containers[0].ImagePullPolicy)
	}
	decoded := map[string]string{}
	for k, v := range m.get(t, "Secret", "galera-accounts").Data {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			t.Fatalf("galera-accounts %s: %v", k, err)
		}
		decoded[k] = string(b)
	}
	// The scenarios' clients log in with these (e2e/kube appUser, appPass).
	if decoded["user"] != "e2e" || decoded["password"] != "e2e-password" || decoded["database"] != "e2e" || decoded["root-password"] == "" {
		t.Errorf("galera-accounts: %v", slices.Sorted(maps.Keys(decoded)))
	}
	m.get(t, "Secret", "galera-sentinel")
	// The suite runs what users get: the base's mariabackup transfers.
	for _, v := range pod.Containers[0].VolumeMounts {
		if strings.HasPrefix(v.MountPath, "/etc/mysql/") && v.MountPath != "/etc/mysql/conf.d/galera.cnf" {
			t.Errorf("the e2e overlay mounts %s over the base's configuration", v.MountPath)
		}
	}
}

// TestDeployRebuildLostComponent: components/rebuild-lost, as the e2e
// overlay uses it, turns on --kube-rebuild-lost and grants exactly what
// kube.Rebuild calls: get and delete on pods and claims in the namespace,
// read-only get on volumes and get, list on nodes cluster-wide, bound to
// the pods' account in the overlay's namespace. The base alone has none
// of it.
func TestDeployRebuildLostComponent(t *testing.T) {
	base := kustomize(t, "deploy/kubernetes/base")
	bc := spec[kstatefulSetSpec](t, base.get(t, "StatefulSet", "galera")).Template.Spec.Containers[0]
	if _, ok := findEnv(bc, "GALERA_SENTINEL_KUBE_REBUILD_LOST"); ok {
		t.Error("the base turns on --kube-rebuild-lost without its rights")
	}
	if len(base.all("ClusterRole")) > 0 || len(base.all("ClusterRoleBinding")) > 0 {
		t.Error("the base has cluster-wide rights")
	}
	m := kustomize(t, "deploy/kubernetes/overlays/e2e")
	c := spec[kstatefulSetSpec](t, m.get(t, "StatefulSet", "galera")).Template.Spec.Containers[0]
	if e, _ := findEnv(c, "GALERA_SENTINEL_KUBE_REBUILD_LOST"); e.Value != "true" {
		t.Errorf("GALERA_SENTINEL_KUBE_REBUILD_LOST: %+v", e)
	}
	if e, _ := findEnv(c, "GALERA_SENTINEL_KUBE_PRIMARY_CONDITION"); e.Value != "true" {
		t.Errorf("the component dropped the base's environment: %+v", e)
	}
	role := m.get(t, "Role", "galera-rebuild-lost")
	if len(role.Rules) != 1 || !slices.Equal(role.Rules[0].APIGroups, []string{""}) ||
		!slices.Equal(role.Rules[0].Resources, []string{"pods", "persistentvolumeclaims"}) || !slices.Equal(role.Rules[0].Verbs, []string{"get", "delete"}) {
		t.Errorf("Role galera-rebuild-lost: %+v", role.Rules)
	}
	cr := m.get(t, "ClusterRole", "galera-sentinel-rebuild-lost")
	want := []kpolicyRule{{APIGroups: []string{""}, Resources: []string{"persistentvolumes"}, Verbs: []string{"get"}},
		{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get", "list"}}}
	if got, _ := json.Marshal(cr.Rules); string(got) != string(must(json.Marshal(want))) {
		t.Errorf("ClusterRole galera-sentinel-rebuild-lost: %s, want read-only %s", got, must(json.Marshal(want)))
	}
	for _, kind := range []string{"RoleBinding", "ClusterRoleBinding"} {
		b := m.get(t, kind, "galera-rebuild-lost")
		if len(b.Subjects) != 1 || b.Subjects[0].Kind != "ServiceAccount" || b.Subjects[0].Name != "galera" || b.Subjects[0].Namespace != "galera-e2e" && kind == "ClusterRoleBinding" {
			t.Errorf("%s galera-rebuild-lost: subjects %+v", kind, b.Subjects)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// lbAnnotations are the only annotations the load-balancer overlays may
// use, each checked against its cloud's documentation:
// cloud-provider-azure site/content/en/topics/loadbalancer.md (AKS),
// aws-load-balancer-controller docs/guide/service/annotations.md (EKS),
// GKE "LoadBalancer Service parameters".
var lbAnnotations = map[string]map[string]string{
	"azure-internal-lb": {
		"service.beta.kubernetes.io/azure-load-balancer-internal":        "true",
		"service.beta.kubernetes.io/port_3306_health-probe_interval":     "5",
		"service.beta.kubernetes.io/port_3306_health-probe_num-of-probe": "2",
	},
	"aws-internal-lb": {
		"service.beta.kubernetes.io/aws-load-balancer-type":                            "external",
		"service.beta.kubernetes.io/aws-load-balancer-nlb-target-type":                 "instance",
		"service.beta.kubernetes.io/aws-load-balancer-scheme":                          "internal",
		"service.beta.kubernetes.io/aws-load-balancer-healthcheck-protocol":            "http",
		"service.beta.kubernetes.io/aws-load-balancer-healthcheck-path":                "/healthz",
		"service.beta.kubernetes.io/aws-load-balancer-healthcheck-interval":            "10",
		"service.beta.kubernetes.io/aws-load-balancer-healthcheck-healthy-threshold":   "2",
		"service.beta.kubernetes.io/aws-load-balancer-healthcheck-unhealthy-threshold": "2",
	},
	"gcp-internal-lb": {
		"networking.gke.io/load-balancer-type": "Internal",
	},
}

// TestDeployInternalLoadBalancers: each cloud's overlay builds, keeps the
// whole base, and adds an internal load balancer for the ready members
// and one for the writer, with externalTrafficPolicy: Local (the cloud's
// check then asks kube-proxy's healthCheckNodePort, which follows the
// pods' readiness, instead of a TCP connect to mariadbd) and exactly the
// documented annotations.
func TestDeployInternalLoadBalancers(t *testing.T) {
	base := kustomize(t, "deploy/kubernetes/base")
	for overlay, annotations := range lbAnnotations {
		t.Run(overlay, func(t *testing.T) {
			m := kustomize(t, "deploy/kubernetes/overlays/"+overlay)
			for _, o := range base.objects {
				got := m.get(t, o.Kind, o.Metadata.Name)
				if !bytes.Equal(got.Spec, o.Spec) {
					t.Errorf("%s %s differs from the base's", o.Kind, o.Metadata.Name)
				}
			}
			selectors := map[string]map[string]string{
				"galera-lb":        {"app": "galera"},
				"galera-writer-lb": {"app": "galera", "galera-sentinel.io/writer": "true"},
			}
			var lbs []string
			for _, o := range m.all("Service") {
				s := spec[kserviceSpec](t, o)
				if s.Type != "LoadBalancer" {
					continue
				}
				lbs = append(lbs, o.Metadata.Name)
				if s.ExternalTrafficPolicy != "Local" {
					t.Errorf("%s: externalTrafficPolicy %q: the cloud would TCP-connect to mariadbd", o.Metadata.Name, s.ExternalTrafficPolicy)
				}
				if want, ok := selectors[o.Metadata.Name]; !ok || !maps.Equal(s.Selector, want) {
					t.Errorf("%s: selector %v", o.Metadata.Name, s.Selector)
				}
				if len(s.Ports) != 1 || s.Ports[0].Port != 3306 {
					t.Errorf("%s: ports %+v", o.Metadata.Name, s.Ports)
				}
				if !maps.Equal(o.Metadata.Annotations, annotations) {
					t.Errorf("%s: annotations\n got %v\nwant %v", o.Metadata.Name, o.Metadata.Annotations, annotations)
				}
			}
			slices.Sort(lbs)
			if !slices.Equal(lbs, []string{"galera-lb", "galera-writer-lb"}) {
				t.Errorf("LoadBalancer Services: %v", lbs)
			}
		})
	}
}

// TestDeployDocsNameEveryOverlay: docs/kubernetes.md covers every overlay
// shipped and the operations the manifests' comments send readers to.
func TestDeployDocsNameEveryOverlay(t *testing.T) {
	doc, err := os.ReadFile("../../docs/kubernetes.md")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir("../../deploy/kubernetes/overlays")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), "e2e-") && !strings.Contains(string(doc), e.Name()) {
			t.Errorf("docs/kubernetes.md does not mention overlays/%s", e.Name())
		}
	}
	for _, want := range []string{"galera-sentinel force-bootstrap galera-0", "galera-accounts", "galera-initdb", "kubectl -n db scale statefulset galera",
		"components/peer-tls", "components/rebuild-lost", "externalTrafficPolicy: Local", "WaitForFirstConsumer", "Not covered"} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("docs/kubernetes.md lacks %q", want)
		}
	}
}

// TestDeployGraceCoversStop: the kubelet's grace period of each shipped
// StatefulSet covers the sentinel's longest stop (drain delay, drain
// timeout, mariadbd's shutdown timeout, from the manifest's arguments or
// run's defaults), so that the stop before a new image is mariadbd's clean
// shutdown, never a kill; the sentinel says the same at start
// (kube.ShortGrace) on a pod whose grace is shorter.
func TestDeployGraceCoversStop(t *testing.T) {
	for _, d := range []struct{ dir, name string }{{"deploy/kubernetes/base", "galera"}, {"deploy/kubernetes/replication", "mariadb"}} {
		var sts struct {
			Template struct {
				Spec struct {
					TerminationGracePeriodSeconds *int64       `json:"terminationGracePeriodSeconds"`
					Containers                    []kcontainer `json:"containers"`
				} `json:"spec"`
			} `json:"template"`
		}
		if err := json.Unmarshal(kustomize(t, d.dir).get(t, "StatefulSet", d.name).Spec, &sts); err != nil {
			t.Fatal(err)
		}
		runFlags := flag.NewFlagSet("run", flag.ContinueOnError)
		runFlags.SetOutput(io.Discard)
		var cfg RunConfig
		cfg.flags(runFlags)
		value := func(name string) time.Duration {
			v := runFlags.Lookup(name).DefValue
			for _, c := range sts.Template.Spec.Containers {
				for _, a := range c.Args {
					if s, ok := strings.CutPrefix(a, "--"+name+"="); ok {
						v = s
					}
				}
			}
			dur, err := time.ParseDuration(v)
			if err != nil {
				t.Fatalf("%s: --%s=%s: %v", d.dir, name, v, err)
			}
			return dur
		}
		stop := kube.Stop{DrainDelay: value("drain-delay"), DrainTimeout: value("drain-timeout"), ShutdownTimeout: value("shutdown-timeout")}
		grace := 30 * time.Second
		if g := sts.Template.Spec.TerminationGracePeriodSeconds; g != nil {
			grace = time.Duration(*g) * time.Second
		}
		if why, short := kube.ShortGrace(grace, stop); short {
			t.Errorf("%s, StatefulSet %s: %s", d.dir, d.name, why)
		} else {
			t.Logf("%s: grace %v covers a stop of %v", d.dir, grace, stop.Total())
		}
	}
}
