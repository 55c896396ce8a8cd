package testsentinel

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
)

// Token is the peer token every RunCluster's sentinels share.
const Token = "run-mode-test-token-0123456789"

// RunCluster is a testcluster whose nodes are started by `galera-sentinel
// run`, never by the harness.
type RunCluster struct {
	T     *testing.T
	C     *testcluster.Cluster
	Bin   string
	Token string // path of the token file
	// Flags are the flags of node n's sentinel: every flag a member of
	// this cluster needs, with test-sized intervals.
	Flags func(n *testcluster.Node) []string
}

// NewRunCluster prepares a cluster (nothing is started) and the flags of
// its sentinels; when t fails, the end of every sentinel's log is printed.
func NewRunCluster(t *testing.T, opts testcluster.Options) *RunCluster {
	t.Helper()
	c := testcluster.New(t, opts)
	bin := Binary(t)
	tmpl, err := c.Template()
	if err != nil {
		t.Fatal(err)
	}
	tok := filepath.Join(filepath.Dir(c.Nodes[0].Dir), "token")
	if err := os.WriteFile(tok, []byte(Token+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var peers []string
	for _, n := range c.Nodes {
		peers = append(peers, n.SentinelAddr())
	}
	rc := &RunCluster{T: t, C: c, Bin: bin, Token: tok}
	rc.Flags = func(n *testcluster.Node) []string {
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
				t.Logf("%s sentinel log:\n%s", n.Name, TailFile(n.SentinelLog(), 30))
				t.Logf("%s mariadbd error log:\n%s", n.Name, TailFile(n.ErrorLog, 30))
				t.Logf("%s mariadbd error log, its last errors and state-transfer lines:\n%s", n.Name, grepTail(n.ErrorLog, 25, "[ERROR]", "WSREP_SST", "Aborting"))
			}
		}
	})
	return rc
}

// Start starts node n's sentinel with the cluster's flags and extra ones.
func (rc *RunCluster) Start(n *testcluster.Node, extra ...string) {
	rc.T.Helper()
	if err := n.StartRun(rc.Bin, append(rc.Flags(n), extra...)...); err != nil {
		rc.T.Fatal(err)
	}
}

// WithFlags adds flags to every sentinel the cluster starts from now on.
func (rc *RunCluster) WithFlags(f func(n *testcluster.Node) []string) {
	base := rc.Flags
	rc.Flags = func(n *testcluster.Node) []string { return append(base(n), f(n)...) }
}

// KillAll sends SIGKILL to every sentinel and its mariadbd at once.
func (rc *RunCluster) KillAll() {
	var wg sync.WaitGroup
	for _, n := range rc.C.Nodes {
		wg.Add(1)
		go func() { defer wg.Done(); n.Kill() }()
	}
	wg.Wait()
}

// StartAll starts every sentinel (or the given ones) at (nearly) the same
// moment, in random order.
func (rc *RunCluster) StartAll(nodes ...*testcluster.Node) {
	rc.T.Helper()
	if len(nodes) == 0 {
		nodes = rc.C.Nodes
	}
	order := rand.Perm(len(nodes))
	var wg sync.WaitGroup
	errs := make([]error, len(nodes))
	for k, i := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(k) * time.Duration(rand.IntN(50)) * time.Millisecond)
			errs[i] = nodes[i].StartRun(rc.Bin, rc.Flags(nodes[i])...)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			rc.T.Fatal(err)
		}
	}
}

// StopAll sends every sentinel (or the given ones) SIGINT at once and
// checks each exits 0.
func (rc *RunCluster) StopAll(ctx context.Context, nodes ...*testcluster.Node) {
	rc.T.Helper()
	if len(nodes) == 0 {
		nodes = rc.C.Nodes
	}
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc.Stop(ctx, n)
		}()
	}
	wg.Wait()
}

// Stop sends n's sentinel SIGINT and checks it exits 0.
func (rc *RunCluster) Stop(ctx context.Context, n *testcluster.Node) {
	if err := n.Signal(os.Interrupt); err != nil {
		rc.T.Errorf("%s: %v", n.Name, err)
		return
	}
	code, err := n.ExitCode(ctx)
	if err != nil || code != 0 {
		rc.T.Errorf("%s: sentinel exit %d, %v", n.Name, code, err)
	}
}

// Sigterm stops a node's sentinel the way an orchestrator does and checks
// it exits 0; it returns how long the sentinel took.
func (rc *RunCluster) Sigterm(ctx context.Context, n *testcluster.Node) time.Duration {
	rc.T.Helper()
	begin := time.Now()
	if err := n.Signal(syscall.SIGTERM); err != nil {
		rc.T.Fatalf("%s: %v", n.Name, err)
	}
	code, err := n.ExitCode(ctx)
	if err != nil || code != 0 {
		rc.T.Fatalf("%s: sentinel exit %d, %v\n%s", n.Name, code, err, TailFile(n.SentinelLog(), 20))
	}
	return time.Since(begin)
}

// WaitSynced waits until every node's sentinel (or the given ones') says
// ready in a Primary component of the given size, and returns how long
// that took.
func (rc *RunCluster) WaitSynced(ctx context.Context, size int, nodes ...*testcluster.Node) time.Duration {
	rc.T.Helper()
	if len(nodes) == 0 {
		nodes = rc.C.Nodes
	}
	begin := time.Now()
	want := fmt.Sprintf("ready: Primary, Synced, size %d", size)
	for _, n := range nodes {
		for {
			code, body, err := TryProbe("http://" + n.SentinelAddr() + "/readyz")
			if err == nil && code == 200 && body == want {
				break
			}
			if ctx.Err() != nil {
				rc.T.Fatalf("%s: not ready in a cluster of %d: %d %q %v", n.Name, size, code, body, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return time.Since(begin)
}

// WaitListening waits for a sentinel to answer HTTP: run mode serves
// before it does anything else.
func WaitListening(t testing.TB, nodes ...*testcluster.Node) {
	t.Helper()
	for _, n := range nodes {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		testcluster.Eventually(t, ctx, n.Name+": sentinel listening", 20*time.Millisecond, func() error {
			_, _, err := TryProbe("http://" + n.SentinelAddr() + "/livez")
			if err != nil {
				return fmt.Errorf("%v\n%s", err, TailFile(n.SentinelLog(), 10))
			}
			return nil
		})
		cancel()
	}
}

// KillAtEnd kills what is left of the nodes' processes when t ends, so a
// failed subtest does not leave them to the next one.
func KillAtEnd(t testing.TB, nodes ...*testcluster.Node) {
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

// CountLogs counts needle in n's sentinel log.
func CountLogs(n *testcluster.Node, needle string) int {
	b, _ := os.ReadFile(n.SentinelLog())
	return strings.Count(string(b), needle)
}

// TailFile is the last n lines of a file, or the error reading it.
func TailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return LastLines(string(b), n)
}

// grepTail is the last n lines of the file at path holding any of needles.
func grepTail(path string, n int, needles ...string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	var keep []string
	for _, l := range strings.Split(string(b), "\n") {
		for _, s := range needles {
			if strings.Contains(l, s) {
				keep = append(keep, l)
				break
			}
		}
	}
	return LastLines(strings.Join(keep, "\n"), n)
}

// LastLines is the last n lines of s.
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// CountLogs counts needle in the sentinel logs of every node.
func (rc *RunCluster) CountLogs(needle string) int {
	n := 0
	for _, node := range rc.C.Nodes {
		n += CountLogs(node, needle)
	}
	return n
}
