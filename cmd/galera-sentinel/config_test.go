package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/mariadbd"
)

// configToken is a valid API token for the config tests.
const configToken = "config-test-token-0123456789"

// TestModeFlags: every mode declares its flags on serve's and run's flag
// sets without clashing with another's or a common flag (the flag package
// panics on a second definition), run has every flag serve has, --mode
// names every mode, and what a mode ignores is a common flag.
func TestModeFlags(t *testing.T) {
	serveFS := flag.NewFlagSet("serve", flag.ContinueOnError)
	serveCfg := &ServeConfig{}
	serveCfg.flags(serveFS)
	runFS := flag.NewFlagSet("run", flag.ContinueOnError)
	runCfg := &RunConfig{}
	runCfg.flags(runFS)
	serveFS.VisitAll(func(f *flag.Flag) {
		if runFS.Lookup(f.Name) == nil {
			t.Errorf("serve has --%s, run does not", f.Name)
		}
		if serveCfg.modes.owner[f.Name] != runCfg.modes.owner[f.Name] {
			t.Errorf("--%s: mode %q in serve, %q in run", f.Name, serveCfg.modes.owner[f.Name], runCfg.modes.owner[f.Name])
		}
	})
	if len(runCfg.modes.modes) != len(modeList) || len(runCfg.modes.owner) == 0 {
		t.Fatalf("modes %v, owners %v", runCfg.modes.names(), runCfg.modes.owner)
	}
	for _, m := range runCfg.modes.modes {
		name := m.Info().Name
		if !strings.Contains(runFS.Lookup("mode").Usage, name+": ") {
			t.Errorf("--mode's help does not name %s: %q", name, runFS.Lookup("mode").Usage)
		}
		for _, ig := range m.Info().Ignores {
			if runFS.Lookup(ig) == nil || runCfg.modes.owner[ig] != "" {
				t.Errorf("mode %s ignores --%s, which is not a common flag", name, ig)
			}
		}
	}
	if runFS.Lookup("mode").DefValue != modeGalera {
		t.Errorf("--mode's default is %q", runFS.Lookup("mode").DefValue)
	}
	for flagName, mode := range map[string]string{"expected-size": modeGalera, "available-when-donor": modeGalera, "primary": modeReplication, "node-name": ""} {
		if got := runCfg.modes.owner[flagName]; got != mode {
			t.Errorf("--%s belongs to %q, want %q", flagName, got, mode)
		}
	}
}

// envOf is an environment of name, value pairs.
func envOf(vars ...string) func(string) string {
	return func(k string) string {
		for i := 0; i+1 < len(vars); i += 2 {
			if vars[i] == k {
				return vars[i+1]
			}
		}
		return ""
	}
}

// TestValidateModeFlags: a flag set on the command line or by its
// environment variable under a mode it is not for is refused, every one
// at once; defaults and flags of both modes are not.
func TestValidateModeFlags(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "repl-password")
	if err := os.WriteFile(pw, []byte("replication-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tok := func(vars ...string) func(string) string {
		return envOf(append([]string{tokenEnv, configToken}, vars...)...)
	}
	galeraRun := []string{"--expected-size=3", "--peers=a:9200,b:9200,c:9200", "--node-name=a"}
	replRun := []string{"--mode=replication", "--peers=a:9200,b:9200,c:9200", "--node-name=a", "--replication-password-file=" + pw}
	run := func(args ...string) []string { return append(args, "--", "mariadbd") }
	for _, tc := range []struct {
		name    string
		serve   bool // parseServe, else parseRun
		args    []string
		env     func(string) string
		want    []string // each in the error; none: no error
		notWant []string
	}{
		{name: "galera run", args: run(galeraRun...), env: tok()},
		{name: "replication run", args: run(replRun...), env: tok(),
			notWant: []string{"expected-size"}},
		{name: "replication run, galera flags", args: run(append(replRun, "--expected-size=3", "--gcomm-port=4567", "--force-bootstrap=a",
			"--writer-handover=1s", "--stall-timeout=1m", "--available-when-donor", "--available-when-readonly", "--notify-socket=/run/n.sock")...), env: tok(),
			want: []string{"--expected-size is for --mode=galera", "--gcomm-port is for --mode=galera", "--force-bootstrap is for --mode=galera",
				"--writer-handover is for --mode=galera", "--stall-timeout is for --mode=galera", "--available-when-donor is for --mode=galera",
				"--available-when-readonly is for --mode=galera", "--notify-socket is for --mode=galera", "under --mode=replication it would do nothing"}},
		{name: "replication run, the Primary condition", args: run(replRun...), env: tok("GALERA_SENTINEL_KUBE_PRIMARY_CONDITION", "true"),
			want: []string{"--kube-primary-condition (set by GALERA_SENTINEL_KUBE_PRIMARY_CONDITION) is for --mode=galera"}},
		{name: "replication run, the rebuild of lost members", args: run(append(replRun, "--kube-rebuild-lost")...), env: tok(),
			want: []string{"--kube-rebuild-lost is for --mode=galera"}},
		{name: "replication run, galera flag from the environment", args: run(replRun...), env: tok("GALERA_SENTINEL_STALL_TIMEOUT", "5m"),
			want: []string{"--stall-timeout (set by GALERA_SENTINEL_STALL_TIMEOUT) is for --mode=galera"}},
		{name: "replication by the environment", args: run(replRun[1:]...), env: tok("GALERA_SENTINEL_MODE", "replication", "GALERA_SENTINEL_EXPECTED_SIZE", "3"),
			want: []string{"--expected-size (set by GALERA_SENTINEL_EXPECTED_SIZE) is for --mode=galera: under --mode=replication"}},
		{name: "galera run, replication flags", args: run(append(galeraRun, "--max-replica-lag=5s", "--replica-connect-grace=5s", "--replication-user=r",
			"--replication-password-file="+pw, "--heartbeat-table=s.h", "--primary=db1")...), env: tok(),
			want: []string{"--max-replica-lag is for --mode=replication", "--replica-connect-grace is for --mode=replication", "--replication-user is for --mode=replication",
				"--replication-password-file is for --mode=replication", "--heartbeat-table is for --mode=replication", "--primary is for --mode=replication"}},
		{name: "replication run without its password", args: run(replRun[:3]...), env: tok(),
			want: []string{"needs the replication account's password"}},
		{name: "replication run without password or token, and a galera flag", args: run(append(replRun[:3], "--gcomm-port=1")...), env: envOf(),
			want: []string{"needs the replication account's password", "needs a token", "--gcomm-port is for --mode=galera"}},
		{name: "galera serve", serve: true, args: []string{"--available-when-donor", "--notify-socket=/run/n.sock"}, env: envOf()},
		{name: "galera serve, replication flags", serve: true, args: []string{"--max-replica-lag=1s", "--primary=db1:3306"}, env: envOf("GALERA_SENTINEL_HEARTBEAT_TABLE", "s.h"),
			want: []string{"--max-replica-lag is for --mode=replication", "--primary is for --mode=replication", "--heartbeat-table (set by GALERA_SENTINEL_HEARTBEAT_TABLE) is for --mode=replication"}},
		{name: "replication serve", serve: true, args: []string{"--mode=replication", "--max-replica-lag=1s", "--heartbeat-table=s.h", "--primary=db1"}, env: envOf()},
		{name: "replication serve, galera flags", serve: true, args: []string{"--mode=replication", "--available-when-donor=false", "--notify-socket=/run/n.sock"}, env: envOf(),
			want: []string{"--available-when-donor is for --mode=galera", "--notify-socket is for --mode=galera"}},
		// serve ignores run's flags in the environment (one systemd
		// environment file serves both) and refuses them on its command line.
		{name: "serve, run's flag in the environment", serve: true, args: nil, env: envOf("GALERA_SENTINEL_EXPECTED_SIZE", "3")},
		{name: "serve, run's flag on the command line", serve: true, args: []string{"--expected-size=3"}, env: envOf(),
			want: []string{"flag provided but not defined: -expected-size"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.serve {
				_, err = parseServe(tc.args, tc.env, io.Discard)
			} else {
				_, err = parseRun(tc.args, tc.env, io.Discard)
			}
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("%q: %v", tc.args, err)
				}
				return
			}
			if err == nil || !errors.Is(err, errUsage) {
				t.Fatalf("%q: %v, want a usage error", tc.args, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q: %v\nwant %q in it", tc.args, err, w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(err.Error(), w) {
					t.Errorf("%q: %v\ndo not want %q in it", tc.args, err, w)
				}
			}
		})
	}
}

// TestClientFlags: status, switchover and force-bootstrap take the same
// client flags under the same names and environment variables.
func TestClientFlags(t *testing.T) {
	dir := t.TempDir()
	tokFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokFile, []byte("client-flags-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := envOf("GALERA_SENTINEL_TLS_CA_FILE", "/ca.pem", "GALERA_SENTINEL_TLS_SERVER_NAME", "galera-peers.db.svc",
		"GALERA_SENTINEL_TOKEN_FILE", tokFile, "GALERA_SENTINEL_TIMEOUT", "7s", "GALERA_SENTINEL_PEERS_DNS", "galera-peers.db.svc")
	st, err := parseStatus(nil, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	sw, err := parseSwitchover([]string{"--to=b"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := parseForceBootstrap([]string{"--sentinel=a:9200", "galera-0"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]clientFlags{"status": st.clientFlags, "switchover": sw.clientFlags, "force-bootstrap": fb.clientFlags} {
		if c.TLSCAFile != "/ca.pem" || c.TLSServerName != "galera-peers.db.svc" || c.Timeout != 7*time.Second {
			t.Errorf("%s: %+v", name, c)
		}
		if name != "status" && c.Token != "client-flags-token-0123456789" {
			t.Errorf("%s: token %q", name, c.Token)
		}
		if name != "force-bootstrap" && (c.Discovery.PeersDNS != "galera-peers.db.svc" || c.Discovery.PeerPort != 9200 || c.Discovery.Timeout != 7*time.Second) {
			t.Errorf("%s: discovery %+v", name, c.Discovery)
		}
	}
	if fb.Sentinel != "a:9200" || fb.Node != "galera-0" {
		t.Errorf("force-bootstrap: %+v", fb)
	}
	// --tls-server-name names the CA's certificate: alone it is refused.
	for _, args := range [][]string{{"status", "--tls-server-name=x"}, {"switchover", "--to=b", "--peers=a:1", "--token-file=" + tokFile, "--tls-server-name=x"},
		{"force-bootstrap", "--token-file=" + tokFile, "--tls-server-name=x", "galera-0"}} {
		var err error
		switch args[0] {
		case "status":
			_, err = parseStatus(args[1:], envOf(), io.Discard)
		case "switchover":
			_, err = parseSwitchover(args[1:], envOf(), io.Discard)
		default:
			_, err = parseForceBootstrap(args[1:], envOf(), io.Discard)
		}
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "--tls-server-name needs --tls-ca-file") {
			t.Errorf("%q: %v", args, err)
		}
	}
	if _, err := parseForceBootstrap([]string{"galera-0"}, envOf(), io.Discard); err == nil || !strings.Contains(err.Error(), "needs their token") {
		t.Errorf("force-bootstrap without a token: %v", err)
	}
}

// TestRunConfigMachine: the node name's default, the pod name's last
// fallback and the user mariadbd runs as come from the injected machine.
func TestRunConfigMachine(t *testing.T) {
	m := machine{
		hostname:  func() (string, error) { return "db-7", nil },
		lookupEnv: func(string) (string, bool) { return "", false },
		user:      func() (*user.User, error) { return &user.User{Username: "root", Uid: "0"}, nil },
	}
	args := []string{"--expected-size=3", "--peers=a:9200,b:9200,c:9200", "--", "mariadbd"}
	cfg, err := parseRunOn(m, args, envOf(tokenEnv, configToken), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NodeName != "db-7" || cfg.KubePodName != "db-7" {
		t.Errorf("node %q, pod %q; want the host name db-7", cfg.NodeName, cfg.KubePodName)
	}
	if _, set := cfg.explicit["node-name"]; set {
		t.Error("the host name default counts as set")
	}
	cfg.DataDir = "/var/lib/mysql"
	if d := cfg.mariadbd("/bin/galera-sentinel", mariadbd.Effective{User: "mysql"}); d.OSUser != "root" || d.RunAs != "mysql" {
		t.Errorf("as root with user=mysql: OS user %q, runs as %q", d.OSUser, d.RunAs)
	}
}
