package formation

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
	"github.com/galera-sentinel/galera-sentinel/internal/testsentinel"
)

// TestRunNewCluster: three sentinels started at the same moment, in random
// order, with empty data directories and peers found through a real DNS
// server, form one 3-node Primary cluster. Several times over.
func TestRunNewCluster(t *testing.T) {
	for round := 1; round <= 3; round++ {
		t.Run(fmt.Sprintf("round%d", round), func(t *testing.T) {
			rc := testsentinel.NewRunCluster(t, testcluster.Options{Nodes: 3})
			var ips []string
			for _, n := range rc.C.Nodes {
				ips = append(ips, n.Host)
			}
			dns := testcluster.StartDNS(t, map[string][]string{"galera.test": ips})
			base := rc.Flags
			rc.Flags = func(n *testcluster.Node) []string {
				var out []string
				for _, f := range base(n) {
					if !strings.HasPrefix(f, "--peers=") {
						out = append(out, f)
					}
				}
				return append(out, "--peers-dns=galera.test", "--dns-server="+dns.Addr, fmt.Sprintf("--peer-port=%d", testcluster.SentinelPort))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			begin := time.Now()
			rc.StartAll()
			rc.WaitSynced(ctx, 3)
			t.Logf("new cluster: all three started -> three Synced in %v", time.Since(begin).Round(time.Millisecond))

			bootstraps, uuids := 0, map[string]bool{}
			for _, n := range rc.C.Nodes {
				bootstraps += testsentinel.CountLogs(n, "--wsrep-new-cluster")
				uuids[testsentinel.StateUUID(ctx, t, n)] = true
			}
			if bootstraps != 1 || len(uuids) != 1 {
				t.Fatalf("%d bootstraps, cluster UUIDs %v: want one of each", bootstraps, uuids)
			}
			rc.StopAll(ctx)
		})
	}
}

// TestRunWipedNodeRejoins: a member whose disk was replaced rejoins by
// SST; its sentinel is alive throughout and ready only once Synced.
func TestRunWipedNodeRejoins(t *testing.T) {
	rc := testsentinel.NewRunCluster(t, testcluster.Options{Nodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rc.StartAll()
	rc.WaitSynced(ctx, 3)
	n1, n3 := rc.C.Nodes[0], rc.C.Nodes[2]
	if err := n1.Exec(ctx, "CREATE DATABASE big", "CREATE TABLE big.t (id INT AUTO_INCREMENT PRIMARY KEY, pad VARCHAR(1000))",
		"INSERT INTO big.t (pad) SELECT REPEAT('x', 1000) FROM big.seq_1_to_20000"); err != nil {
		t.Fatal(err)
	}
	rc.Stop(ctx, n3)
	if err := n3.Wipe(); err != nil {
		t.Fatal(err)
	}
	url := "http://" + n3.SentinelAddr()
	rc.Start(n3)
	testsentinel.WaitListening(t, n3)
	begin := time.Now()
	var earlyReady, notLive []string
	for {
		code, body, err := testsentinel.TryProbe(url + "/readyz")
		if err == nil && code == 200 {
			if sc, _, _ := testsentinel.TryProbe(url + "/startupz"); sc != 200 {
				earlyReady = append(earlyReady, body)
			}
			break
		}
		if lc, lb, err := testsentinel.TryProbe(url + "/livez"); err == nil && lc != 200 {
			notLive = append(notLive, lb)
		}
		if ctx.Err() != nil {
			t.Fatalf("wiped node never ready: %d %q", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("wiped node: sentinel started -> Synced through SST in %v", time.Since(begin).Round(time.Millisecond))
	if len(earlyReady) > 0 || len(notLive) > 0 {
		t.Errorf("ready before Synced: %q; not live during SST: %q", earlyReady, notLive)
	}
	if testsentinel.CountLogs(n3, "data directory is empty") == 0 {
		t.Error("the sentinel did not see the empty data directory")
	}
	n, err := n3.QueryInt(ctx, "SELECT COUNT(*) FROM big.t")
	if err != nil || n != 20000 {
		t.Fatalf("rows after SST: %d, %v", n, err)
	}
}

// TestRunBadInput: a corrupt grastate.dat, a peer answering garbage, a
// peer with the wrong token, a DNS name that does not resolve. Each is a
// clear error and nothing that could harm data is started.
func TestRunBadInput(t *testing.T) {
	rc := testsentinel.NewRunCluster(t, testcluster.Options{Nodes: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n1, n2 := rc.C.Nodes[0], rc.C.Nodes[1]

	t.Run("corrupt grastate.dat", func(t *testing.T) {
		corrupt := []byte("# GALERA saved state\nversion: 2.1\nuuid:    c8bb4bee-e5d7-11f1-a5ed\nseqno:   12\n")
		path := filepath.Join(n1.DataDir, "grastate.dat")
		if err := os.WriteFile(path, corrupt, 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
		rc.Start(n1)
		code, err := n1.ExitCode(ctx)
		if err != nil || code != 1 {
			t.Fatalf("exit %d, %v; want 1", code, err)
		}
		log := testsentinel.TailFile(n1.SentinelLog(), 5)
		if !strings.Contains(log, "grastate.dat line 3: uuid") || !strings.Contains(log, "nothing was started") {
			t.Errorf("unclear error:\n%s", log)
		}
		if testsentinel.CountLogs(n1, "starting mariadbd") != 0 {
			t.Error("mariadbd was started")
		}
		if b, _ := os.ReadFile(path); string(b) != string(corrupt) {
			t.Error("the corrupt file was modified")
		}
	})

	t.Run("garbage peer and wrong token", func(t *testing.T) {
		garbage := httptestServer(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"version":1,"node_name":"liar"`) })
		flags := rc.Flags(n1)
		for i, f := range flags {
			if strings.HasPrefix(f, "--peers=") {
				flags[i] = "--peers=" + n1.SentinelAddr() + "," + n2.SentinelAddr() + "," + garbage
			}
		}
		flags = append(flags, "--expected-size=3")
		if err := n1.StartRun(rc.Bin, flags...); err != nil {
			t.Fatal(err)
		}
		testsentinel.KillAtEnd(t, n1, n2)
		testsentinel.WaitListening(t, n1)
		bad := filepath.Join(filepath.Dir(n2.Dir), "bad-token")
		if err := os.WriteFile(bad, []byte("a-different-token-0123456789"), 0o644); err != nil {
			t.Fatal(err)
		}
		rc.Start(n2, "--token-file="+bad)
		url := "http://" + n1.SentinelAddr() + "/readyz"
		testsentinel.WaitProbe(t, url, 503, "decode state", 15*time.Second)
		testsentinel.WaitProbe(t, url, 503, "HTTP 403", 5*time.Second)
		if n1.MariadbdPid() != 0 || n2.MariadbdPid() != 0 {
			t.Fatal("mariadbd started")
		}
		rc.StopAll(ctx, n1, n2)
	})

	t.Run("DNS name that does not resolve", func(t *testing.T) {
		dns := testcluster.StartDNS(t, map[string][]string{"other.test": {"127.0.0.1"}})
		flags := rc.Flags(n1)
		for i, f := range flags {
			if strings.HasPrefix(f, "--peers=") {
				flags[i] = "--peers-dns=galera.missing.test"
			}
		}
		if err := n1.StartRun(rc.Bin, append(flags, "--dns-server="+dns.Addr)...); err != nil {
			t.Fatal(err)
		}
		testsentinel.KillAtEnd(t, n1)
		testsentinel.WaitListening(t, n1)
		testsentinel.WaitProbe(t, "http://"+n1.SentinelAddr()+"/readyz", 503, "resolve galera.missing.test", 10*time.Second)
		if !strings.Contains(testsentinel.TailFile(n1.SentinelLog(), 20), "resolve galera.missing.test") {
			t.Errorf("no clear DNS error:\n%s", testsentinel.TailFile(n1.SentinelLog(), 20))
		}
		if n1.MariadbdPid() != 0 {
			t.Fatal("mariadbd started")
		}
		rc.StopAll(ctx, n1)
	})
}

func httptestServer(t *testing.T, h http.HandlerFunc) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}
