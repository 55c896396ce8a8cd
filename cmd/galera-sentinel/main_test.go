package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"version"}, func(string) string { return "" }, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"galera-sentinel ", "commit: ", "go: go1."} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("version output %q lacks %q", out.String(), want)
		}
	}
}

func TestBadCommandLines(t *testing.T) {
	for _, args := range [][]string{nil, {"frobnicate"}, {"version", "--bogus"}, {"version", "extra"},
		{"notify", "--status", "Synced"}, {"notify", "--socket"},
		{"status", "--format=yaml"}, {"status", "--peers=nohostport"}, {"status", "extra"}, {"status", "--timeout=0s"},
		{"demo", "extra"}, {"demo", "--bogus"},
		{"events", "--since=yesterday"}, {"events", "--format=xml"}, {"events", "extra"},
		{"serve", "--agent-check-listen=nope"}, {"serve", "--notify-socket=relative.sock"}} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, func(string) string { return "" }, &out, &errOut)
		if !errors.Is(err, errUsage) || exitCode(err) != 2 {
			t.Errorf("%q: err %v (exit %d), want a usage error (exit 2)", args, err, exitCode(err))
		}
	}
}

// TestBadRunCommandLines: every mistake is a usage error that says what
// is wrong, and nothing is started (run returns before any I/O).
// TestNotifyWithoutSentinel: mariadbd's notifier fails (exit 1, which
// mariadbd logs) with a message that names the socket, and never hangs.
func TestNotifyWithoutSentinel(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	var out, errOut bytes.Buffer
	begin := time.Now()
	err := run(context.Background(), []string{"notify", "--socket=" + sock, "--status", "Synced", "--primary", "yes"},
		func(string) string { return "" }, &out, &errOut)
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), sock) {
		t.Errorf("notify with no sentinel: %v (exit %d)", err, exitCode(err))
	}
	if d := time.Since(begin); d > 3*time.Second {
		t.Errorf("notify took %v with no sentinel", d)
	}
}

func TestBadRunCommandLines(t *testing.T) {
	tok := "GALERA_SENTINEL_TOKEN"
	good := []string{"run", "--expected-size=3", "--peers=10.0.0.1:9200", "--", "/usr/sbin/mariadbd"}
	env := func(vars ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(vars); i += 2 {
				if vars[i] == k {
					return vars[i+1]
				}
			}
			return ""
		}
	}
	for _, tc := range []struct {
		args []string
		env  func(string) string
		want string
	}{
		{good, env(), "needs a token"},
		{good, env(tok, "short"), "use at least 16"},
		{[]string{"run", "--peers=10.0.0.1:9200", "--", "mariadbd"}, env(tok, runToken), "--expected-size is required"},
		{[]string{"run", "--expected-size=3", "--", "mariadbd"}, env(tok, runToken), "--peers or --peers-dns"},
		{[]string{"run", "--expected-size=3", "--peers=a:1", "--peers-dns=x", "--", "mariadbd"}, env(tok, runToken), "use one"},
		{[]string{"run", "--expected-size=3", "--peers=10.0.0.1", "--", "mariadbd"}, env(tok, runToken), "want host:port"},
		{[]string{"run", "--expected-size=3", "--peers=a:1"}, env(tok, runToken), "no mariadbd command"},
		{[]string{"run", "--expected-size=3", "--peers=a:1", "mariadbd"}, env(tok, runToken), "put -- before"},
		{append(good, "--wsrep-new-cluster"), env(tok, runToken), "decides when to bootstrap"},
		{append([]string{"run", "--datadir=/var/lib/mysql"}, append(good[1:], "--datadir=/elsewhere")...), env(tok, runToken), "differs from --datadir"},
		{good, env(tok, runToken, "GALERA_SENTINEL_EXPECTED_SIZE", "three"), "GALERA_SENTINEL_EXPECTED_SIZE"},
		{append([]string{"run", "--tls-cert-file=/x"}, good[1:]...), env(tok, runToken), "go together"},
		{append([]string{"run", "--tls-server-name=galera-peers.db.svc"}, good[1:]...), env(tok, runToken), "--tls-server-name needs --tls-ca-file"},
		{good, env(tok, runToken+",short"), "GALERA_SENTINEL_TOKEN: token 2: token is 5 bytes"},
		{good, env(tok, " , \n"), "GALERA_SENTINEL_TOKEN: no token in it"},
		{append([]string{"run", "--drain-delay=-1s"}, good[1:]...), env(tok, runToken), "--drain-delay=-1s: must not be negative"},
		{append([]string{"run", "--drain-timeout=soon"}, good[1:]...), env(tok, runToken), "drain-timeout"},
		{append([]string{"run", "--drain-close-idle=200ms"}, good[1:]...), env(tok, runToken), "--drain-close-idle=200ms: want 0 (never close early) or at least 600ms"},
		{append([]string{"run", "--agent-check-listen=9201"}, good[1:]...), env(tok, runToken), "--agent-check-listen"},
		{append([]string{"run", "--notify-socket=notify.sock"}, good[1:]...), env(tok, runToken), "want an absolute path"},
		{append([]string{"run", "--notify-socket=/run/n.sock"}, append(good[1:], "--wsrep_notify_cmd=/bin/true")...), env(tok, runToken), "sets wsrep_notify_cmd itself"},
		{append([]string{"run", "--kube-writer-label"}, good[1:]...), env(tok, runToken, "POD_NAME", "Galera_0"), `--kube-pod-name="Galera_0"`},
		{append([]string{"run", "--kube-writer-label=maybe"}, good[1:]...), env(tok, runToken), "kube-writer-label"},
		{append([]string{"run", "--kube-primary-condition"}, good[1:]...), env(tok, runToken, "POD_NAME", "-galera"), `--kube-pod-name="-galera"`},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), tc.args, tc.env, &out, &errOut)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want a usage error containing %q", tc.args, err, tc.want)
		}
	}
}

// TestKubeWriterLabelConfig: the pod name comes from --kube-pod-name,
// else $POD_NAME (the downward API), else the host name; outside a pod
// the flag is refused before anything starts.
func TestKubeWriterLabelConfig(t *testing.T) {
	args := []string{"run", "--expected-size=3", "--peers=10.0.0.1:9200", "--", "/usr/sbin/mariadbd"}
	vars := map[string]string{"GALERA_SENTINEL_TOKEN": runToken, "GALERA_SENTINEL_KUBE_WRITER_LABEL": "true", "POD_NAME": "galera-2"}
	getenv := func(k string) string { return vars[k] }
	cfg, err := parseRun(args[1:], getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.KubeWriterLabel || cfg.KubePodName != "galera-2" || cfg.KubeServiceAccountDir != "/var/run/secrets/kubernetes.io/serviceaccount" {
		t.Fatalf("from the environment: label %v, pod %q, dir %q", cfg.KubeWriterLabel, cfg.KubePodName, cfg.KubeServiceAccountDir)
	}
	cfg, err = parseRun(append([]string{"--kube-pod-name=galera-0"}, args[1:]...), getenv, io.Discard)
	if err != nil || cfg.KubePodName != "galera-0" {
		t.Fatalf("--kube-pod-name: %q, %v", cfg.KubePodName, err)
	}
	delete(vars, "POD_NAME")
	host, _ := os.Hostname()
	if cfg, err = parseRun(args[1:], getenv, io.Discard); err == nil && cfg.KubePodName != host {
		t.Fatalf("without POD_NAME: pod %q, want the host name %q", cfg.KubePodName, host)
	}
	// Not in a pod: no KUBERNETES_SERVICE_HOST.
	vars["POD_NAME"] = "galera-2"
	err = run(context.Background(), args, getenv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "KUBERNETES_SERVICE_HOST") || !strings.Contains(err.Error(), "nothing was started") {
		t.Fatalf("outside a pod: %v", err)
	}
	// In a pod without a mounted service account.
	vars["KUBERNETES_SERVICE_HOST"], vars["KUBERNETES_SERVICE_PORT"] = "10.96.0.1", "443"
	err = run(context.Background(), append([]string{"run", "--kube-service-account-dir=" + t.TempDir()}, args[1:]...), getenv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "automountServiceAccountToken") {
		t.Fatalf("no service account: %v", err)
	}
}

// TestHelpAndHints: -h and --help exit 0 on every subcommand; the flags
// people reach for by mistake get a hint.
func TestHelpAndHints(t *testing.T) {
	env := func(string) string { return "" }
	for _, cmd := range []string{"serve", "run", "status", "events", "demo", "version", "notify"} {
		for _, h := range []string{"-h", "--help"} {
			var out, errOut bytes.Buffer
			if err := run(context.Background(), []string{cmd, h}, env, &out, &errOut); err != nil {
				t.Errorf("%s %s: %v (exit %d), want exit 0", cmd, h, err, exitCode(err))
			}
			if !strings.Contains(out.String()+errOut.String(), "Usage") {
				t.Errorf("%s %s printed no usage", cmd, h)
			}
			if strings.Contains(errOut.String(), "`") {
				t.Errorf("%s %s: a stray backtick in the help:\n%s", cmd, h, errOut.String())
			}
		}
	}
	for _, tc := range []struct {
		args []string
		env  func(string) string
		want string
	}{
		{[]string{"serve", "--mysql-password=hunter2"}, env, "--mysql-password-file or GALERA_SENTINEL_MYSQL_PASSWORD"},
		{[]string{"run", "--token=abc"}, env, "--token-file or GALERA_SENTINEL_TOKEN"},
		{[]string{"serve", "--poll-interval=5"}, env, "a duration needs a unit: 5s or 5ms"},
		{[]string{"serve"}, func(k string) string {
			if k == "GALERA_SENTINEL_TIMEOUT" {
				return "2"
			}
			return ""
		}, "a duration needs a unit: 2s or 2ms"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), tc.args, tc.env, &out, &errOut)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want a usage error containing %q", tc.args, err, tc.want)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: the error repeats the secret: %v", tc.args, err)
		}
	}
}
