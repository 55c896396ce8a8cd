package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

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
}
