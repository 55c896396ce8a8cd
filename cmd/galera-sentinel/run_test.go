package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/recovery"
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

// waitListening waits for a sentinel to answer HTTP: run mode serves
// before it does anything else.
func waitListening(t *testing.T, nodes ...*testcluster.Node) {
	t.Helper()
	for _, n := range nodes {
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, _, err := tryProbe("http://" + n.SentinelAddr() + "/livez")
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: sentinel not listening: %v\n%s", n.Name, err, tailFile(n.SentinelLog(), 10))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// killAll sends SIGKILL to every sentinel and its mariadbd at once.
func (rc *runCluster) killAll() {
	var wg sync.WaitGroup
	for _, n := range rc.c.Nodes {
		wg.Add(1)
		go func() { defer wg.Done(); n.Kill() }()
	}
	wg.Wait()
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
				uuids[stateUUID(ctx, t, n)] = true
			}
			if bootstraps != 1 || len(uuids) != 1 {
				t.Fatalf("%d bootstraps, cluster UUIDs %v: want one of each", bootstraps, uuids)
			}
			rc.stopAll(ctx)
		})
	}
}

// writeRows inserts n rows through node, one transaction each, and
// returns how many were acknowledged.
func writeRows(ctx context.Context, t *testing.T, n *testcluster.Node, tag string, count int) int {
	t.Helper()
	if err := n.Exec(ctx, "CREATE DATABASE IF NOT EXISTS app", "CREATE TABLE IF NOT EXISTS app.rows (id INT AUTO_INCREMENT PRIMARY KEY, tag VARCHAR(32))"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < count; i++ {
		if err := n.Exec(ctx, fmt.Sprintf("INSERT INTO app.rows (tag) VALUES ('%s')", tag)); err != nil {
			t.Fatalf("insert %d of %s: %v", i, tag, err)
		}
	}
	return count
}

func countRows(ctx context.Context, t *testing.T, n *testcluster.Node) int64 {
	t.Helper()
	v, err := n.QueryInt(ctx, "SELECT COUNT(*) FROM app.rows")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// checkRows checks that every node holds exactly want rows.
func checkRows(ctx context.Context, t *testing.T, want int, nodes ...*testcluster.Node) {
	t.Helper()
	for _, n := range nodes {
		// A node just Synced may apply the last writesets a moment later.
		var got int64
		for i := 0; i < 50; i++ {
			if got = countRows(ctx, t, n); got == int64(want) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if got != int64(want) {
			t.Errorf("%s holds %d rows, want %d: committed data lost", n.Name, got, want)
		}
	}
}

// TestRunFullOutage: every member goes down, cleanly and then by kill -9,
// and the sentinels bring the cluster back by themselves with every
// committed row.
func TestRunFullOutage(t *testing.T) {
	rc := newRunCluster(t, testcluster.Options{Nodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	rc.startAll()
	rc.waitSynced(ctx, 3)
	rows := writeRows(ctx, t, rc.c.Nodes[0], "before", 50)

	t.Run("graceful", func(t *testing.T) {
		rc.stopAll(ctx)
		begin := time.Now()
		rc.startAll()
		rc.waitSynced(ctx, 3)
		t.Logf("full graceful outage: all three started -> three Synced in %v", time.Since(begin).Round(time.Millisecond))
		checkRows(ctx, t, rows, rc.c.Nodes...)
		rows += writeRows(ctx, t, rc.c.Nodes[1], "graceful", 50)
	})
	t.Run("kill-9", func(t *testing.T) {
		// Every member has applied every row: the positions agree, which
		// is the case pc.recovery is left to handle. (Members killed at
		// different positions are bootstrapped from the most advanced,
		// as in TestRunMostAdvancedLast.)
		checkRows(ctx, t, rows, rc.c.Nodes...)
		uuidBefore := stateUUID(ctx, t, rc.c.Nodes[0])
		seqnoBefore, err := rc.c.Nodes[0].QueryInt(ctx, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='WSREP_LAST_COMMITTED'")
		if err != nil {
			t.Fatal(err)
		}
		rc.killAll()
		begin := time.Now()
		rc.startAll()
		rc.waitSynced(ctx, 3)
		t.Logf("full outage by kill -9: all three started -> three Synced in %v", time.Since(begin).Round(time.Millisecond))
		recovered := 0
		for _, n := range rc.c.Nodes {
			recovered += countLogs(n, "recovered position")
		}
		if recovered == 0 {
			t.Error("no sentinel ran mariadbd --wsrep-recover after kill -9")
		}
		// The cluster's history survives: same state UUID, no seqno going
		// back. (Galera's own pc.recovery, left to itself, restarted it at
		// 00000000-...:0; see galera.Decide.)
		for _, n := range rc.c.Nodes {
			u := stateUUID(ctx, t, n)
			lc, err := n.QueryInt(ctx, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='WSREP_LAST_COMMITTED'")
			if err != nil {
				t.Fatal(err)
			}
			if u != uuidBefore || lc < seqnoBefore {
				t.Errorf("%s: cluster position %s:%d after the outage, was %s:%d", n.Name, u, lc, uuidBefore, seqnoBefore)
			}
		}
		checkRows(ctx, t, rows, rc.c.Nodes...)
	})
	t.Run("kill-9 at different positions", func(t *testing.T) {
		n1, n2, n3 := rc.c.Nodes[0], rc.c.Nodes[1], rc.c.Nodes[2]
		if err := n3.Kill(); err != nil {
			t.Fatal(err)
		}
		rows += writeRows(ctx, t, n1, "behind-n3", 20)
		checkRows(ctx, t, rows, n1, n2)
		var wg sync.WaitGroup
		for _, n := range []*testcluster.Node{n1, n2} {
			wg.Add(1)
			go func() { defer wg.Done(); n.Kill() }()
		}
		wg.Wait()
		before := countLogs(n1, "--wsrep-new-cluster") + countLogs(n2, "--wsrep-new-cluster") + countLogs(n3, "--wsrep-new-cluster")
		begin := time.Now()
		rc.startAll()
		rc.waitSynced(ctx, 3)
		t.Logf("full outage by kill -9, one member behind: all three started -> three Synced in %v", time.Since(begin).Round(time.Millisecond))
		after := countLogs(n1, "--wsrep-new-cluster") + countLogs(n2, "--wsrep-new-cluster") + countLogs(n3, "--wsrep-new-cluster")
		if after-before != 1 {
			t.Errorf("%d bootstraps, want exactly one (from a most advanced member)", after-before)
		}
		checkRows(ctx, t, rows, rc.c.Nodes...)
	})
}

// waitSavedView waits until each node's sentinel has saved a Primary
// component of size members, every one named.
func waitSavedView(t *testing.T, size int, nodes ...*testcluster.Node) {
	t.Helper()
	for _, n := range nodes {
		deadline := time.Now().Add(20 * time.Second)
		for {
			v, err := recovery.ReadLastView(n.DataDir)
			if err == nil && v != nil && v.Size == size && len(v.Members) == size {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no saved view of %d members (%+v, %v)", n.Name, size, v, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func stateUUID(ctx context.Context, t *testing.T, n *testcluster.Node) string {
	t.Helper()
	u, err := n.QueryString(ctx, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='WSREP_CLUSTER_STATE_UUID'")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestRunMostAdvancedLast: members stop one by one while rows are written,
// so their seqnos differ. The two behind start first and wait; only when
// the most advanced starts (last) does it bootstrap, and no committed row
// is lost.
func TestRunMostAdvancedLast(t *testing.T) {
	rc := newRunCluster(t, testcluster.Options{Nodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	n1, n2, n3 := rc.c.Nodes[0], rc.c.Nodes[1], rc.c.Nodes[2]
	rc.startAll()
	rc.waitSynced(ctx, 3)
	rows := writeRows(ctx, t, n2, "all", 20)
	rc.stop(ctx, n1)
	rows += writeRows(ctx, t, n2, "two", 20)
	rc.stop(ctx, n3)
	rows += writeRows(ctx, t, n2, "one", 20)
	rc.stop(ctx, n2) // n2 is the most advanced

	before := map[string]int{}
	for _, n := range rc.c.Nodes {
		before[n.Name] = countLogs(n, "--wsrep-new-cluster")
	}
	begin := time.Now()
	rc.startAll(n1, n3)
	waitListening(t, n1, n3)
	for _, n := range []*testcluster.Node{n1, n3} {
		waitProbe(t, "http://"+n.SentinelAddr()+"/readyz", 503, "waiting for every expected member", 20*time.Second)
	}
	time.Sleep(3 * time.Second) // several decisions
	for _, n := range []*testcluster.Node{n1, n3} {
		if pid := n.MariadbdPid(); pid != 0 {
			t.Fatalf("%s started mariadbd (pid %d) while the most advanced member was down", n.Name, pid)
		}
		if code, body, _ := tryProbe("http://" + n.SentinelAddr() + "/livez"); code != 200 {
			t.Errorf("%s: /livez %d %q while waiting", n.Name, code, body)
		}
	}
	rc.start(n2)
	rc.waitSynced(ctx, 3)
	t.Logf("most advanced last: first two started -> three Synced in %v (the last started 3+ s later)", time.Since(begin).Round(time.Millisecond))
	for _, n := range rc.c.Nodes {
		want := 0
		if n == n2 {
			want = 1
		}
		if got := countLogs(n, "--wsrep-new-cluster") - before[n.Name]; got != want {
			t.Errorf("%s bootstrapped %d times after the outage, want %d", n.Name, got, want)
		}
	}
	checkRows(ctx, t, rows, rc.c.Nodes...)
}

// TestRunMemberGoneOverride: after a crash of every member, one member of
// the last Primary component never comes back. The others wait and say
// who is missing and what to type; the operator's override, sent to any
// sentinel (it forwards to the node it names), brings them up with every
// row, and is refused on a member that is behind.
func TestRunMemberGoneOverride(t *testing.T) {
	rc := newRunCluster(t, testcluster.Options{Nodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	n1, n2, n3 := rc.c.Nodes[0], rc.c.Nodes[1], rc.c.Nodes[2]
	rc.startAll()
	rc.waitSynced(ctx, 3)
	waitSavedView(t, 3, rc.c.Nodes...)
	rows := writeRows(ctx, t, n1, "rows", 30)
	// n2 is killed first and misses the next rows; then n1 and n3, the
	// last Primary component, are killed at once, and n3 never comes back.
	if err := n2.Kill(); err != nil {
		t.Fatal(err)
	}
	rows += writeRows(ctx, t, n1, "more", 10)
	waitSavedView(t, 2, n1, n3)
	var wg sync.WaitGroup
	for _, n := range []*testcluster.Node{n1, n3} {
		wg.Add(1)
		go func() { defer wg.Done(); n.Kill() }()
	}
	wg.Wait()

	rc.startAll(n1, n2)
	waitListening(t, n1, n2)
	for _, n := range []*testcluster.Node{n1, n2} {
		waitProbe(t, "http://"+n.SentinelAddr()+"/readyz", 503, "missing "+n3.Name, 30*time.Second)
		waitProbe(t, "http://"+n.SentinelAddr()+"/readyz", 503, "`galera-sentinel force-bootstrap "+n1.Name+"`", 10*time.Second)
	}
	post := func(n *testcluster.Node, node, token string) (int, string) {
		req, _ := http.NewRequest("POST", "http://"+n.SentinelAddr()+"/api/v1/bootstrap?node="+node, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := probeClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := post(n1, n1.Name, "not-the-token-0123456789"); code != 403 {
		t.Fatalf("override with a wrong token: %d", code)
	}
	if code, body := post(n1, "nobody-9", runToken); code != 409 || !strings.Contains(body, "no member named nobody-9") {
		t.Fatalf("override naming no member: %d %s", code, body)
	}
	// Sent to n1 and naming n2, the override reaches n2, which is behind
	// n1: it must refuse, not obey.
	if code, body := post(n1, n2.Name, runToken); code != 202 || !strings.Contains(body, "forwarded to "+n2.Name) {
		t.Fatalf("forwarded override: %d %s", code, body)
	}
	waitProbe(t, "http://"+n2.SentinelAddr()+"/readyz", 503, "override refused", 10*time.Second)
	if n1.MariadbdPid() != 0 || n2.MariadbdPid() != 0 {
		t.Fatalf("mariadbd started before an acceptable override: %s pid %d, %s pid %d", n1.Name, n1.MariadbdPid(), n2.Name, n2.MariadbdPid())
	}
	// The subcommand, as `kubectl exec` into n2 would run it: sent to n2's
	// sentinel, it names n1 and follows n1's decisions until it runs.
	begin := time.Now()
	var out strings.Builder
	env := func(k string) string {
		if k == tokenEnv {
			return runToken
		}
		return ""
	}
	if err := run(ctx, []string{"force-bootstrap", "--sentinel", n2.SentinelAddr(), "--wait", "60s", n1.Name}, env, &out, &out); err != nil {
		t.Fatalf("force-bootstrap: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "forwarded to "+n1.Name) || !strings.Contains(out.String(), n1.Name+" runs mariadbd") {
		t.Errorf("force-bootstrap printed:\n%s", out.String())
	}
	rc.waitSynced(ctx, 2, n1, n2)
	t.Logf("override: sent -> two Synced in %v; force-bootstrap printed:\n%s", time.Since(begin).Round(time.Millisecond), out.String())
	checkRows(ctx, t, rows, n1, n2)
	if code, _ := post(n1, n1.Name, runToken); code != 409 {
		t.Errorf("an override on a running member: %d, want 409", code)
	}

	// mariadbd dies under its sentinel: the sentinel exits with its
	// status, for the orchestrator to restart the member; no restart
	// loop inside.
	if err := n2.KillMariadbd(); err != nil {
		t.Fatal(err)
	}
	code, err := n2.ExitCode(ctx)
	if err != nil || code != 137 {
		t.Fatalf("sentinel exit after mariadbd was killed: %d, %v; want 137", code, err)
	}
	if !strings.Contains(tailFile(n2.SentinelLog(), 5), "mariadbd exited on its own (signal 9: killed)") {
		t.Errorf("no clear message:\n%s", tailFile(n2.SentinelLog(), 5))
	}
}

// TestRunPartitionDuringStart: after a full outage one member can reach
// none of the others. Nobody bootstraps (the other two cannot see all
// three either); once the partition heals, the cluster forms.
func TestRunPartitionDuringStart(t *testing.T) {
	rc := newRunCluster(t, testcluster.Options{Nodes: 3, Netns: true})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rc.startAll()
	rc.waitSynced(ctx, 3)
	rows := writeRows(ctx, t, rc.c.Nodes[0], "rows", 20)
	rc.stopAll(ctx)

	n3 := rc.c.Nodes[2]
	if err := n3.Partition(); err != nil {
		t.Fatal(err)
	}
	rc.startAll()
	waitListening(t, rc.c.Nodes...)
	for _, n := range rc.c.Nodes {
		waitProbe(t, "http://"+n.SentinelAddr()+"/readyz", 503, "waiting for every expected member", 20*time.Second)
	}
	time.Sleep(5 * time.Second)
	for _, n := range rc.c.Nodes {
		if pid := n.MariadbdPid(); pid != 0 {
			t.Fatalf("%s started mariadbd during the partition", n.Name)
		}
	}
	_, body, _ := tryProbe("http://" + n3.SentinelAddr() + "/readyz")
	if !strings.Contains(body, "1 of the 3 members of the last Primary component") || !strings.Contains(body, "missing node1, node2") {
		t.Errorf("the isolated member says %q", body)
	}
	if err := n3.Heal(); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	rc.waitSynced(ctx, 3)
	t.Logf("partition during start: healed -> three Synced in %v", time.Since(begin).Round(time.Millisecond))
	checkRows(ctx, t, rows, rc.c.Nodes...)
}

// TestRunWipedNodeRejoins: a member whose disk was replaced rejoins by
// SST; its sentinel is alive throughout and ready only once Synced.
func TestRunWipedNodeRejoins(t *testing.T) {
	rc := newRunCluster(t, testcluster.Options{Nodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rc.startAll()
	rc.waitSynced(ctx, 3)
	n1, n3 := rc.c.Nodes[0], rc.c.Nodes[2]
	if err := n1.Exec(ctx, "CREATE DATABASE big", "CREATE TABLE big.t (id INT AUTO_INCREMENT PRIMARY KEY, pad VARCHAR(1000))",
		"INSERT INTO big.t (pad) SELECT REPEAT('x', 1000) FROM big.seq_1_to_20000"); err != nil {
		t.Fatal(err)
	}
	rc.stop(ctx, n3)
	if err := n3.Wipe(); err != nil {
		t.Fatal(err)
	}
	url := "http://" + n3.SentinelAddr()
	rc.start(n3)
	waitListening(t, n3)
	begin := time.Now()
	var earlyReady, notLive []string
	for {
		code, body, err := tryProbe(url + "/readyz")
		if err == nil && code == 200 {
			if sc, _, _ := tryProbe(url + "/startupz"); sc != 200 {
				earlyReady = append(earlyReady, body)
			}
			break
		}
		if lc, lb, err := tryProbe(url + "/livez"); err == nil && lc != 200 {
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
	if countLogs(n3, "data directory is empty") == 0 {
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
	rc := newRunCluster(t, testcluster.Options{Nodes: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n1, n2 := rc.c.Nodes[0], rc.c.Nodes[1]

	t.Run("corrupt grastate.dat", func(t *testing.T) {
		corrupt := []byte("# GALERA saved state\nversion: 2.1\nuuid:    c8bb4bee-e5d7-11f1-a5ed\nseqno:   12\n")
		path := filepath.Join(n1.DataDir, "grastate.dat")
		if err := os.WriteFile(path, corrupt, 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
		rc.start(n1)
		code, err := n1.ExitCode(ctx)
		if err != nil || code != 1 {
			t.Fatalf("exit %d, %v; want 1", code, err)
		}
		log := tailFile(n1.SentinelLog(), 5)
		if !strings.Contains(log, "grastate.dat line 3: uuid") || !strings.Contains(log, "nothing was started") {
			t.Errorf("unclear error:\n%s", log)
		}
		if countLogs(n1, "starting mariadbd") != 0 {
			t.Error("mariadbd was started")
		}
		if b, _ := os.ReadFile(path); string(b) != string(corrupt) {
			t.Error("the corrupt file was modified")
		}
	})

	t.Run("garbage peer and wrong token", func(t *testing.T) {
		garbage := httptestServer(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"version":1,"node_name":"liar"`) })
		flags := rc.flags(n1)
		for i, f := range flags {
			if strings.HasPrefix(f, "--peers=") {
				flags[i] = "--peers=" + n1.SentinelAddr() + "," + n2.SentinelAddr() + "," + garbage
			}
		}
		flags = append(flags, "--expected-size=3")
		if err := n1.StartRun(rc.bin, flags...); err != nil {
			t.Fatal(err)
		}
		killAtEnd(t, n1, n2)
		waitListening(t, n1)
		bad := filepath.Join(filepath.Dir(n2.Dir), "bad-token")
		if err := os.WriteFile(bad, []byte("a-different-token-0123456789"), 0o644); err != nil {
			t.Fatal(err)
		}
		rc.start(n2, "--token-file="+bad)
		url := "http://" + n1.SentinelAddr() + "/readyz"
		waitProbe(t, url, 503, "decode state", 15*time.Second)
		waitProbe(t, url, 503, "HTTP 403", 5*time.Second)
		if n1.MariadbdPid() != 0 || n2.MariadbdPid() != 0 {
			t.Fatal("mariadbd started")
		}
		rc.stopAll(ctx, n1, n2)
	})

	t.Run("DNS name that does not resolve", func(t *testing.T) {
		dns := testcluster.StartDNS(t, map[string][]string{"other.test": {"127.0.0.1"}})
		flags := rc.flags(n1)
		for i, f := range flags {
			if strings.HasPrefix(f, "--peers=") {
				flags[i] = "--peers-dns=galera.missing.test"
			}
		}
		if err := n1.StartRun(rc.bin, append(flags, "--dns-server="+dns.Addr)...); err != nil {
			t.Fatal(err)
		}
		killAtEnd(t, n1)
		waitListening(t, n1)
		waitProbe(t, "http://"+n1.SentinelAddr()+"/readyz", 503, "resolve galera.missing.test", 10*time.Second)
		if !strings.Contains(tailFile(n1.SentinelLog(), 20), "resolve galera.missing.test") {
			t.Errorf("no clear DNS error:\n%s", tailFile(n1.SentinelLog(), 20))
		}
		if n1.MariadbdPid() != 0 {
			t.Fatal("mariadbd started")
		}
		rc.stopAll(ctx, n1)
	})
}

// killAtEnd kills what is left of the nodes' processes when t ends, so a
// failed subtest does not leave them to the next one.
func killAtEnd(t *testing.T, nodes ...*testcluster.Node) {
	t.Cleanup(func() {
		for _, n := range nodes {
			if n.Running() {
				n.Kill()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			n.ExitCode(ctx)
			cancel()
		}
	})
}

func httptestServer(t *testing.T, h http.HandlerFunc) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}
