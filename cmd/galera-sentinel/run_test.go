package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
)

const runToken = "run-mode-test-token-0123456789"

// sentinelBinary builds galera-sentinel once per test binary, somewhere
// the mysql user can execute it.
var sentinelBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "galera-sentinel-bin-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "galera-sentinel")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func TestMain(m *testing.M) {
	code := m.Run()
	if bin, err := sentinelBinary(); err == nil {
		os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

// runCluster is a testcluster whose nodes are started by `galera-sentinel
// run`, never by the harness.
type runCluster struct {
	t     *testing.T
	c     *testcluster.Cluster
	bin   string
	token string // path of the token file
	flags func(n *testcluster.Node) []string
}

func newRunCluster(t *testing.T, opts testcluster.Options) *runCluster {
	t.Helper()
	c := testcluster.New(t, opts)
	bin, err := sentinelBinary()
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := c.Template()
	if err != nil {
		t.Fatal(err)
	}
	tok := filepath.Join(filepath.Dir(c.Nodes[0].Dir), "token")
	if err := os.WriteFile(tok, []byte(runToken+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var peers []string
	for _, n := range c.Nodes {
		peers = append(peers, n.SentinelAddr())
	}
	rc := &runCluster{t: t, c: c, bin: bin, token: tok}
	rc.flags = func(n *testcluster.Node) []string {
		return []string{
			"--node-name=" + n.Name, "--datadir=" + n.DataDir, fmt.Sprintf("--expected-size=%d", len(c.Nodes)),
			"--peers=" + strings.Join(peers, ","), "--listen=" + n.SentinelAddr(), "--token-file=" + tok,
			fmt.Sprintf("--gcomm-port=%d", testcluster.GcommPort), "--mysql-addr=" + n.Socket, "--mysql-user=mysql",
			"--poll-interval=250ms", "--max-staleness=2s", "--decide-interval=300ms", "--peer-timeout=1s",
			"--shutdown-timeout=60s", "--log-format=text",
			"--init-command=cp -a " + tmpl + "/. \"$DATADIR\"/",
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range c.Nodes {
				t.Logf("%s sentinel log:\n%s", n.Name, tailFile(n.SentinelLog(), 30))
			}
		}
	})
	return rc
}

func (rc *runCluster) start(n *testcluster.Node, extra ...string) {
	rc.t.Helper()
	if err := n.StartRun(rc.bin, append(rc.flags(n), extra...)...); err != nil {
		rc.t.Fatal(err)
	}
}

// startAll starts every sentinel at (nearly) the same moment, in random
// order.
func (rc *runCluster) startAll(nodes ...*testcluster.Node) {
	rc.t.Helper()
	if len(nodes) == 0 {
		nodes = rc.c.Nodes
	}
	order := rand.Perm(len(nodes))
	var wg sync.WaitGroup
	errs := make([]error, len(nodes))
	for k, i := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(k) * time.Duration(rand.IntN(50)) * time.Millisecond)
			errs[i] = nodes[i].StartRun(rc.bin, rc.flags(nodes[i])...)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			rc.t.Fatal(err)
		}
	}
}

// stopAll sends every sentinel SIGTERM at once and checks each exits 0.
func (rc *runCluster) stopAll(ctx context.Context, nodes ...*testcluster.Node) {
	rc.t.Helper()
	if len(nodes) == 0 {
		nodes = rc.c.Nodes
	}
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc.stop(ctx, n)
		}()
	}
	wg.Wait()
}

func (rc *runCluster) stop(ctx context.Context, n *testcluster.Node) {
	if err := n.Signal(os.Interrupt); err != nil {
		rc.t.Errorf("%s: %v", n.Name, err)
		return
	}
	code, err := n.ExitCode(ctx)
	if err != nil || code != 0 {
		rc.t.Errorf("%s: sentinel exit %d, %v", n.Name, code, err)
	}
}

// waitSynced waits until every node's sentinel says ready in a Primary
// component of the given size, and returns how long that took.
func (rc *runCluster) waitSynced(ctx context.Context, size int, nodes ...*testcluster.Node) time.Duration {
	rc.t.Helper()
	if len(nodes) == 0 {
		nodes = rc.c.Nodes
	}
	begin := time.Now()
	want := fmt.Sprintf("ready: Primary, Synced, size %d", size)
	for _, n := range nodes {
		for {
			code, body, err := tryProbe("http://" + n.SentinelAddr() + "/readyz")
			if err == nil && code == 200 && body == want {
				break
			}
			if ctx.Err() != nil {
				rc.t.Fatalf("%s: not ready in a cluster of %d: %d %q %v", n.Name, size, code, body, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return time.Since(begin)
}

func tryProbe(url string) (int, string, error) {
	resp, err := probeClient.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, strings.TrimSpace(string(b)), nil
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func countLogs(n *testcluster.Node, needle string) int {
	b, _ := os.ReadFile(n.SentinelLog())
	return strings.Count(string(b), needle)
}

// TestRunNewCluster: three sentinels started at the same moment, in random
// order, with empty data directories and peers found through a real DNS
// server, form one 3-node Primary cluster. Several times over.
func TestRunNewCluster(t *testing.T) {
	for round := 1; round <= 3; round++ {
		t.Run(fmt.Sprintf("round%d", round), func(t *testing.T) {
			rc := newRunCluster(t, testcluster.Options{Nodes: 3})
			var ips []string
			for _, n := range rc.c.Nodes {
				ips = append(ips, n.Host)
			}
			dns := testcluster.StartDNS(t, map[string][]string{"galera.test": ips})
			base := rc.flags
			rc.flags = func(n *testcluster.Node) []string {
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
			rc.startAll()
			rc.waitSynced(ctx, 3)
			t.Logf("new cluster: all three started -> three Synced in %v", time.Since(begin).Round(time.Millisecond))

			bootstraps, uuids := 0, map[string]bool{}
			for _, n := range rc.c.Nodes {
				bootstraps += countLogs(n, "--wsrep-new-cluster")
				u, err := n.QueryString(ctx, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='WSREP_CLUSTER_STATE_UUID'")
				if err != nil {
					t.Fatal(err)
				}
				uuids[u] = true
			}
			if bootstraps != 1 || len(uuids) != 1 {
				t.Fatalf("%d bootstraps, cluster UUIDs %v: want one of each", bootstraps, uuids)
			}
			rc.stopAll(ctx)
		})
	}
}
