package repl

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
)

// runSet is an async testcluster whose servers only `galera-sentinel run
// --mode=replication` starts: every data directory begins empty.
type runSet struct {
	t     *testing.T
	c     *testcluster.Cluster
	bin   string
	flags func(n *testcluster.Node) []string
}

func newRunSet(t *testing.T, nodes int) *runSet {
	t.Helper()
	c := testcluster.New(t, testcluster.Options{Nodes: nodes, Async: true})
	tmpl, err := c.Template()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(c.Nodes[0].Dir)
	tok, pw := filepath.Join(dir, "token"), filepath.Join(dir, "repl-password")
	for f, v := range map[string]string{tok: token, pw: testcluster.ReplPassword} {
		if err := os.WriteFile(f, []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var peers []string
	for _, n := range c.Nodes {
		peers = append(peers, n.SentinelAddr())
	}
	rs := &runSet{t: t, c: c, bin: sentinelBinary(t)}
	rs.flags = func(n *testcluster.Node) []string {
		return []string{"--mode=replication", "--node-name=" + n.Name, "--datadir=" + n.DataDir,
			"--peers=" + strings.Join(peers, ","), "--listen=" + n.SentinelAddr(), "--token-file=" + tok,
			"--replication-password-file=" + pw, "--primary=" + c.Nodes[0].Addr(),
			"--mysql-addr=" + n.Socket, "--mysql-user=mysql",
			"--poll-interval=250ms", "--max-staleness=2s", "--decide-interval=300ms", "--peer-timeout=1s",
			"--max-replica-lag=5s", "--heartbeat-table=sentinel.heartbeat", "--drain-delay=0s", "--drain-timeout=1s", "--shutdown-timeout=60s", "--log-format=text",
			"--init-command=cp -a " + tmpl + "/. \"$DATADIR\"/",
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range c.Nodes {
				b, _ := os.ReadFile(n.SentinelLog())
				t.Logf("%s sentinel log (last lines):\n%s", n.Name, lastLines(string(b), 40))
			}
		}
	})
	return rs
}

func (rs *runSet) start(n *testcluster.Node) {
	rs.t.Helper()
	if err := n.StartRun(rs.bin, rs.flags(n)...); err != nil {
		rs.t.Fatal(err)
	}
}

// stop sends the sentinel SIGTERM and waits for its clean exit.
func (rs *runSet) stop(n *testcluster.Node) {
	rs.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := n.Signal(os.Interrupt); err != nil {
		rs.t.Fatal(err)
	}
	code, err := n.ExitCode(ctx)
	if err != nil || code != 0 {
		rs.t.Fatalf("%s: sentinel exit %d, %v", n.Name, code, err)
	}
}

func url(n *testcluster.Node, path string) string { return "http://" + n.SentinelAddr() + path }

// tableSum is a table's row count and checksum on a node.
func tableSum(t *testing.T, n *testcluster.Node, table string) (rows int64, sum string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := n.QueryInt(ctx, "SELECT COUNT(*) FROM "+table)
	if err != nil {
		t.Fatal(err)
	}
	var name string
	if err := n.DB().QueryRowContext(ctx, "CHECKSUM TABLE "+table).Scan(&name, &sum); err != nil {
		t.Fatal(err)
	}
	return rows, sum
}

// TestRunSetsUpReplication is run mode's setup of a replication set on
// real servers: (a) a new primary and an empty replica, the replica
// cloned from the primary and ready without a human; (b) the replica
// restarted while rows are written, every row there exactly once; (c) the
// replica given a transaction of its own, refused with the reason, its
// data left as it was.
func TestRunSetsUpReplication(t *testing.T) {
	rs := newRunSet(t, 2)
	primary, rep := rs.c.Nodes[0], rs.c.Nodes[1]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// (a) Both start empty, at once: the one --primary names initialises
	// and becomes writable, the other waits for it and clones it.
	begin := time.Now()
	rs.start(primary)
	rs.start(rep)
	waitProbe(t, url(primary, "/readyz"), 200, "primary", 60*time.Second)
	waitProbe(t, url(primary, "/writerz"), 200, "", 5*time.Second)
	if err := primary.Exec(ctx, "CREATE DATABASE t", "CREATE TABLE t.r (id INT PRIMARY KEY, v VARCHAR(20))",
		"INSERT INTO t.r VALUES (1,'one'),(2,'two')"); err != nil {
		t.Fatal(err)
	}
	// The replicas' sentinels measure lag by the heartbeat the primary's
	// writes: the monitoring account (mysql, over the socket) cannot log
	// in to the primary over TCP.
	waitProbe(t, url(rep, "/readyz"), 200, "", 90*time.Second)
	t.Logf("(a) replica cloned and ready %v after the start", time.Since(begin).Round(time.Millisecond))
	if log, _ := os.ReadFile(rep.SentinelLog()); !strings.Contains(string(log), "clone prepared") {
		t.Fatal("the replica was not cloned (no \"clone prepared\" in its log)")
	}
	if code, _, _ := get(url(rep, "/writerz")); code == 200 {
		t.Fatal("the replica answers /writerz 200")
	}
	if ro, err := rep.QueryInt(ctx, "SELECT @@GLOBAL.read_only"); err != nil || ro != 1 {
		t.Fatalf("replica read_only %d, %v", ro, err)
	}
	if err := rep.WaitCaughtUp(ctx, primary); err != nil {
		t.Fatal(err)
	}
	if n, s := tableSum(t, rep, "t.r"); n != 2 {
		t.Fatalf("replica has %d rows (%s), want 2", n, s)
	}
	st, err := rep.SlaveStatus(ctx)
	if err != nil || st["Using_Gtid"] != "Slave_Pos" || st["Master_Host"] != primary.Host {
		t.Fatalf("replica row: %v %v %v", st["Using_Gtid"], st["Master_Host"], err)
	}

	// (b) The replica's sentinel is stopped (drain, clean shutdown);
	// rows are written meanwhile; started again it resumes.
	rs.stop(rep)
	for i := 10; i < 60; i++ {
		if err := primary.ExecArgs(ctx, "INSERT INTO t.r VALUES (?, ?)", i, fmt.Sprintf("row %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	begin = time.Now()
	rs.start(rep)
	waitProbe(t, url(rep, "/readyz"), 200, "", 60*time.Second)
	t.Logf("(b) replica back and ready %v after its restart", time.Since(begin).Round(time.Millisecond))
	if err := rep.WaitCaughtUp(ctx, primary); err != nil {
		t.Fatal(err)
	}
	pn, ps := tableSum(t, primary, "t.r")
	rn, rsum := tableSum(t, rep, "t.r")
	if pn != 52 || rn != pn || rsum != ps {
		t.Fatalf("after the restart: primary %d rows (checksum %s), replica %d (%s); want 52 each, same checksum", pn, ps, rn, rsum)
	}
	if st, _ := rep.SlaveStatus(ctx); st["Last_SQL_Errno"] != "0" || st["Last_IO_Errno"] != "0" {
		t.Fatalf("replica errors after the restart: SQL %s %s, IO %s", st["Last_SQL_Errno"], st["Last_SQL_Error"], st["Last_IO_Errno"])
	}

	// The primary's sentinel restarted: the primary comes back writable
	// (no other primary, its replica follows it), the replica reconnects
	// by itself and gets what is written next.
	rs.stop(primary)
	begin = time.Now()
	rs.start(primary)
	waitProbe(t, url(primary, "/readyz"), 200, "primary", 60*time.Second)
	t.Logf("(b) primary back and writable %v after its restart", time.Since(begin).Round(time.Millisecond))
	if err := primary.Exec(ctx, "INSERT INTO t.r VALUES (100, 'primary restarted')"); err != nil {
		t.Fatal(err)
	}
	if err := rep.WaitCaughtUp(ctx, primary); err != nil {
		t.Fatal(err)
	}
	waitProbe(t, url(rep, "/readyz"), 200, "", 30*time.Second)
	pn, ps = tableSum(t, primary, "t.r")
	rn, rsum = tableSum(t, rep, "t.r")
	if pn != 53 || rn != pn || rsum != ps {
		t.Fatalf("after the primary's restart: primary %d rows (checksum %s), replica %d (%s); want 53 each, same checksum", pn, ps, rn, rsum)
	}

	// (c) Detached, the replica gets a transaction of its own (binary
	// logged, by an account that read_only does not stop); then it is
	// restarted while the primary goes on.
	if err := rep.Exec(ctx, "STOP SLAVE", "INSERT INTO t.r VALUES (1000, 'stray')"); err != nil {
		t.Fatal(err)
	}
	_, _, before, err := rep.GTIDPos(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rs.stop(rep)
	if err := primary.Exec(ctx, "INSERT INTO t.r VALUES (2000, 'after')"); err != nil {
		t.Fatal(err)
	}
	rs.start(rep)
	waitProbe(t, url(rep, "/readyz"), 503, "transactions of its own", 60*time.Second)
	// It stays refused, and says what to do.
	time.Sleep(2 * time.Second)
	_, body, _ := get(url(rep, "/readyz"))
	if !strings.Contains(body, "transactions of its own") {
		t.Fatalf("refusal gone: %s", body)
	}
	t.Logf("(c) refused: /readyz %s", body)
	if code, doc, _ := get(url(rep, "/api/v1/replication/member")); code != 200 || !strings.Contains(doc, "to fix") {
		t.Fatalf("member document %d: %s", code, doc)
	}
	log, _ := os.ReadFile(rep.SentinelLog())
	if !strings.Contains(string(log), "transactions of its own") {
		t.Fatal("the refusal is not in the sentinel's log")
	}
	// Nothing changed: the stray row is there, the primary's later row is
	// not, replication is not running, the position is the same.
	if n, err := rep.QueryInt(ctx, "SELECT COUNT(*) FROM t.r WHERE id IN (1000, 2000)"); err != nil || n != 1 {
		t.Fatalf("refused replica: %d of the rows 1000 and 2000 (%v), want only 1000", n, err)
	}
	if id, err := rep.QueryInt(ctx, "SELECT id FROM t.r WHERE id >= 1000"); err != nil || id != 1000 {
		t.Fatalf("refused replica: row %d (%v)", id, err)
	}
	if st, _ := rep.SlaveStatus(ctx); st["Slave_IO_Running"] != "No" || st["Slave_SQL_Running"] != "No" {
		t.Fatalf("refused replica replicates: IO %s, SQL %s", st["Slave_IO_Running"], st["Slave_SQL_Running"])
	}
	if _, _, after, _ := rep.GTIDPos(ctx); after != before {
		t.Fatalf("refused replica's position moved: %s, then %s", before, after)
	}
	// The primary is not affected.
	waitProbe(t, url(primary, "/readyz"), 200, "primary", 5*time.Second)
}
