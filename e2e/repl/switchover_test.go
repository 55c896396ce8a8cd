package repl

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
)

// The account the switchover steps run as: the sentinels' own
// (--mysql-user), with what docs/replication.md lists for a switchover.
const switchoverGrants = "GRANT READ_ONLY ADMIN, REPLICATION SLAVE ADMIN, SLAVE MONITOR, RELOAD ON *.* TO '" + monitorUser + "'@'%'"

// The application's account: no READ_ONLY ADMIN, so read_only stops it.
const (
	appUser     = "app"
	appPassword = "app-test-password-51c2"
)

// TestSwitchoverThroughHAProxy: a primary and two replicas, a sentinel on
// each (serve --mode=replication, the switchover API), HAProxy's shipped
// mariadb-writer listener in front, a client writing numbered rows through
// it; `galera-sentinel switchover` moves the primary from node1 to node2.
// Every acknowledged row is on the new primary and on both replicas, the
// old primary replicates from the new one, HAProxy sends writes to node2,
// and the longest time without an acknowledged write is logged.
// switchoverSet starts a primary and two replicas with the application's
// table, and a sentinel for each (serve --mode=replication with the
// switchover API); it returns the set and the sentinels' addresses once
// every one is ready and node1 is the writer.
func switchoverSet(t *testing.T) (*testcluster.Cluster, []string) {
	t.Helper()
	c := testcluster.StartAsync(t, testcluster.Options{Nodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n1, n2, n3 := c.Nodes[0], c.Nodes[1], c.Nodes[2]
	createMonitor(t, n1)
	if err := n1.Exec(ctx, switchoverGrants,
		fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", appUser, appPassword),
		"CREATE DATABASE t", "CREATE TABLE t.seq (id INT PRIMARY KEY, at DATETIME(6)) ENGINE=InnoDB",
		fmt.Sprintf("GRANT INSERT, SELECT ON t.* TO '%s'@'%%'", appUser)); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*testcluster.Node{n2, n3} {
		if err := n.WaitCaughtUp(ctx, n1); err != nil {
			t.Fatal(err)
		}
	}

	var peers []string
	for _, n := range c.Nodes {
		addr := net.JoinHostPort(n.Host, fmt.Sprint(testcluster.SentinelPort))
		peers = append(peers, addr)
		args := []string{"serve", "--mode=replication", "--listen=" + addr, "--mysql-addr=" + n.Addr(),
			"--mysql-user=" + monitorUser, "--log-format=text", "--events-file=off",
			"--poll-interval=250ms", "--max-staleness=2s", "--heartbeat-table=sentinel.heartbeat",
			"--replication-user=" + testcluster.ReplUser}
		startSentinel(t, n.Name, addr, args, []string{"GALERA_SENTINEL_MYSQL_PASSWORD=" + monitorPassword,
			"GALERA_SENTINEL_TOKEN=" + token, "GALERA_SENTINEL_REPLICATION_PASSWORD=" + testcluster.ReplPassword})
	}
	for _, p := range peers {
		waitProbe(t, "http://"+p+"/readyz", 200, "ready", 20*time.Second)
	}
	waitProbe(t, "http://"+peers[0]+"/writerz", 200, "", 5*time.Second)
	return c, peers
}

func TestSwitchoverThroughHAProxy(t *testing.T) {
	c, peers := switchoverSet(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n1, n2, n3 := c.Nodes[0], c.Nodes[1], c.Nodes[2]

	listener, err := testcluster.ShippedListener("../../deploy/haproxy/haproxy-replication.cfg", "mariadb-writer")
	if err != nil {
		t.Fatal(err)
	}
	listener = strings.ReplaceAll(listener, " port 9200", fmt.Sprintf(" port %d", testcluster.SentinelPort))
	lb := c.StartHAProxyWith(t, listener)
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := lb.WaitStatus(wctx, n1.Name, "UP"); err != nil {
		t.Fatal(err)
	}

	w := startSeqWriter(t, lb.Addr)
	time.Sleep(2 * time.Second)

	// The switchover, as an operator runs it.
	begin := time.Now()
	cmd := exec.CommandContext(ctx, sentinelBinary(t), "switchover", "--to="+peers[1], "--peers="+strings.Join(peers, ","), "--wait=20s", "--settle=20s")
	cmd.Env = []string{"GALERA_SENTINEL_TOKEN=" + token}
	out, err := cmd.CombinedOutput()
	took := time.Since(begin)
	t.Logf("galera-sentinel switchover (%s):\n%s", took.Round(time.Millisecond), out)
	if err != nil {
		t.Fatalf("switchover: %v", err)
	}
	if err := lb.WaitStatus(wctx, n2.Name, "UP"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // writes on the new primary
	acks, gap, gapAt, retried := w.Stop()
	if len(acks) == 0 {
		t.Fatal("no write was acknowledged")
	}
	t.Logf("writes: %d acknowledged, %d attempts refused or cut and retried; longest time without an acknowledged write: %s (at +%s after the switchover started; the command took %s)",
		len(acks), retried, gap.Round(time.Millisecond), gapAt.Sub(begin).Round(time.Millisecond), took.Round(time.Millisecond))
	// The shipped listener checks every 1s and marks a server DOWN after
	// 2 failures: about 2s while the demoted primary still gets the new
	// connections (balance first). Far more means a step is slow.
	if gap > 6*time.Second {
		t.Errorf("writes stopped for %s", gap)
	}
	if last := acks[len(acks)-1]; !last.after(begin.Add(took)) {
		t.Errorf("no write acknowledged after the switchover (last at %s)", last.at)
	}

	// The new topology.
	if ro, err := n2.QueryString(ctx, "SELECT @@GLOBAL.read_only"); err != nil || ro != "0" {
		t.Errorf("node2 read_only=%q (%v)", ro, err)
	}
	if st, err := n2.SlaveStatus(ctx); err != nil || st != nil {
		t.Errorf("node2 still has a replica row: %v %v", st, err)
	}
	for _, n := range []*testcluster.Node{n1, n3} {
		if err := n.WaitCaughtUp(ctx, n2); err != nil {
			t.Fatal(err)
		}
		st, err := n.SlaveStatus(ctx)
		if err != nil || st == nil || st["Master_Host"] != n2.Host || st["Slave_IO_Running"] != "Yes" || st["Slave_SQL_Running"] != "Yes" || st["Using_Gtid"] != "Slave_Pos" {
			t.Errorf("%s: replica row %v (%v)", n.Name, st, err)
		}
		if ro, _ := n.QueryString(ctx, "SELECT @@GLOBAL.read_only"); ro != "1" {
			t.Errorf("%s: read_only=%s", n.Name, ro)
		}
	}
	st, err := lb.Stat()
	if err != nil || !strings.HasPrefix(st[n2.Name], "UP") || strings.HasPrefix(st[n1.Name], "UP") || strings.HasPrefix(st[n3.Name], "UP") {
		t.Errorf("HAProxy writer servers: %v (%v)", st, err)
	}
	waitProbe(t, "http://"+peers[0]+"/readyz", 200, "replica of "+n2.Host, 10*time.Second)

	// Every acknowledged row, on every server; each id at most once.
	for _, n := range c.Nodes {
		ids := map[int]bool{}
		rows, err := n.DB().QueryContext(ctx, "SELECT id FROM t.seq")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id int
			rows.Scan(&id)
			ids[id] = true
		}
		rows.Close()
		lost := 0
		for _, a := range acks {
			if !ids[a.id] {
				lost++
			}
		}
		t.Logf("%s: %d rows, %d acknowledged rows missing", n.Name, len(ids), lost)
		if lost > 0 {
			t.Errorf("%s lost %d acknowledged rows", n.Name, lost)
		}
	}
}

type ack struct {
	id int
	at time.Time
}

func (a ack) after(t time.Time) bool { return a.at.After(t) }

// seqWriter inserts rows 1, 2, 3... through addr, one at a time, each
// retried until it is acknowledged: after a connection error (refused,
// cut by HAProxy) and after ER_OPTION_PREVENTS_STATEMENT (1290, the
// demoted primary's read_only), which both mean "not committed". A
// duplicate key on a retry means the attempt cut before its answer had
// committed: the row is there, acknowledged now. Any other error fails
// the test.
type seqWriter struct {
	t       *testing.T
	stop    chan struct{}
	done    chan struct{}
	mu      sync.Mutex
	acks    []ack
	retried int
}

func startSeqWriter(t *testing.T, addr string) *seqWriter {
	t.Helper()
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.User, cfg.Passwd = "tcp", addr, appUser, appPassword
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = 2*time.Second, 5*time.Second, 5*time.Second
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(1)
	w := &seqWriter{t: t, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		defer db.Close()
		id := 1
		retry := false
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := db.ExecContext(ctx, "INSERT INTO t.seq (id, at) VALUES (?, NOW(6))", id)
			cancel()
			var me *mysql.MySQLError
			switch {
			case err == nil, retry && errors.As(err, &me) && me.Number == 1062:
				w.mu.Lock()
				w.acks = append(w.acks, ack{id, time.Now()})
				w.mu.Unlock()
				id++
				retry = false
				time.Sleep(5 * time.Millisecond)
			case errors.As(err, &me) && me.Number != 1290:
				w.t.Errorf("insert %d: %v", id, err)
				return
			default: // connection error or read-only: not committed
				w.mu.Lock()
				w.retried++
				w.mu.Unlock()
				retry = true
				time.Sleep(20 * time.Millisecond)
			}
		}
	}()
	t.Cleanup(func() { w.Stop() })
	return w
}

// Stop ends the writer (idempotent) and returns the acknowledged rows in
// order, the longest time between two of them and when it ended, and how
// many attempts were retried.
func (w *seqWriter) Stop() ([]ack, time.Duration, time.Time, int) {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	var gap time.Duration
	var gapAt time.Time
	for i := 1; i < len(w.acks); i++ {
		if d := w.acks[i].at.Sub(w.acks[i-1].at); d > gap {
			gap, gapAt = d, w.acks[i].at
		}
	}
	return w.acks, gap, gapAt, w.retried
}

// TestSwitchoverUndone: the candidate cannot apply the demoted primary's
// last transaction within --wait (its SQL thread waits for a table lock
// held on it): the switchover fails, says it was undone, the old primary
// takes writes again and the candidate is still its read-only replica.
func TestSwitchoverUndone(t *testing.T) {
	c, peers := switchoverSet(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n1, n2 := c.Nodes[0], c.Nodes[1]
	lock, err := n2.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(ctx, "LOCK TABLES t.seq WRITE"); err != nil {
		t.Fatal(err)
	}
	if err := n1.Exec(ctx, "INSERT INTO t.seq (id, at) VALUES (1, NOW(6))"); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, sentinelBinary(t), "switchover", "--to="+peers[1], "--peers="+strings.Join(peers, ","), "--wait=2s", "--settle=10s")
	cmd.Env = []string{"GALERA_SENTINEL_TOKEN=" + token}
	out, err := cmd.CombinedOutput()
	t.Logf("galera-sentinel switchover:\n%s", out)
	if err == nil || !strings.Contains(string(out), "did not apply") || !strings.Contains(string(out), "undone: "+peers[0]+" is the primary again") {
		t.Fatalf("switchover: %v; want it undone", err)
	}
	if ro, err := n1.QueryString(ctx, "SELECT @@GLOBAL.read_only"); err != nil || ro != "0" {
		t.Errorf("node1 read_only=%q (%v) after the undo", ro, err)
	}
	if err := n1.Exec(ctx, "INSERT INTO t.seq (id, at) VALUES (2, NOW(6))"); err != nil {
		t.Errorf("node1 takes no writes after the undo: %v", err)
	}
	st, err := n2.SlaveStatus(ctx)
	if err != nil || st == nil || st["Master_Host"] != n1.Host || st["Slave_SQL_Running"] != "Yes" {
		t.Errorf("node2 replica row after the undo: %v (%v)", st, err)
	}
	if ro, _ := n2.QueryString(ctx, "SELECT @@GLOBAL.read_only"); ro != "1" {
		t.Errorf("node2 read_only=%s after the undo", ro)
	}
	if _, err := lock.ExecContext(ctx, "UNLOCK TABLES"); err != nil {
		t.Fatal(err)
	}
	if err := n2.WaitCaughtUp(ctx, n1); err != nil {
		t.Fatal(err)
	}
	waitProbe(t, "http://"+peers[0]+"/writerz", 200, "", 5*time.Second)
	waitProbe(t, "http://"+peers[1]+"/readyz", 200, "replica of "+n1.Host, 10*time.Second)
}
