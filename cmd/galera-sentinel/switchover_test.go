package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSwitchover(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(tok, []byte("switchover-token-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cfg, err := parseSwitchover([]string{"--to=db2", "--peers=db1:9200,db2:9200", "--token-file=" + tok, "--wait=1m"}, env(nil), io.Discard)
	if err != nil || cfg.Token != "switchover-token-0123456789abcdef" || cfg.To != "db2" || cfg.Wait.String() != "1m0s" {
		t.Fatalf("%+v %v", cfg, err)
	}
	cfg, err = parseSwitchover([]string{"--to=db2"}, env(map[string]string{"GALERA_SENTINEL_TOKEN": "from-the-environment-0123", "GALERA_SENTINEL_PEERS": "db1:9200,db2:9200"}), io.Discard)
	if err != nil || cfg.Token != "from-the-environment-0123" || cfg.Discovery.Peers != "db1:9200,db2:9200" {
		t.Fatalf("environment: %+v %v", cfg, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--peers=a:1", "--token-file=" + tok}, "--to is required"},
		{[]string{"--to=a"}, "--peers or --peers-dns is required"},
		{[]string{"--to=a", "--peers=a:1"}, "needs their token"},
		{[]string{"--to=a", "--peers=a:1", "--token-file=" + tok, "--wait=20m"}, "--wait=20m0s: at most 10m0s"},
		{[]string{"--to=a", "--peers=a:1", "--token-file=" + tok, "--wait=30"}, "a duration needs a unit"},
		{[]string{"--to=a", "--peers=a:1", "--token=x"}, "never the command line"},
		{[]string{"--to=a", "--peers=a:1", "--token-file=" + tok, "extra"}, "takes no arguments"},
	} {
		_, err := parseSwitchover(tc.args, env(nil), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) || exitCode(err) != 2 {
			t.Errorf("%q: %v; want %q (exit 2)", tc.args, err, tc.want)
		}
	}
	// Dispatched, with its usage listed.
	var out strings.Builder
	if err := run(context.Background(), []string{"help"}, env(nil), &out, io.Discard); err != nil || !strings.Contains(out.String(), "switchover ") {
		t.Fatalf("usage: %v %q", err, out.String())
	}
	if err := run(context.Background(), []string{"switchover", "--to=a"}, env(nil), io.Discard, io.Discard); exitCode(err) != 2 {
		t.Fatalf("switchover without peers: %v", err)
	}
}
