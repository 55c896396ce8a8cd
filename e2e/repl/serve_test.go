package repl

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
)

// unlogged runs statements on n with sql_log_bin=0 on one connection: a
// write made on the replica alone, as a stray client would.
func unlogged(t *testing.T, n *testcluster.Node, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := n.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, s := range append([]string{"SET SESSION sql_log_bin=0"}, stmts...) {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %s: %v", n.Name, s, err)
		}
	}
}

func exec1(t *testing.T, n *testcluster.Node, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Exec(ctx, stmts...); err != nil {
		t.Fatal(err)
	}
}

// TestReplicaProbes is the probe half of --mode=replication against a
// real primary and two real replicas: node2's sentinel measures lag by
// the heartbeat, node3's by the GTID positions of its primary.
func TestReplicaProbes(t *testing.T) {
	c := testcluster.StartAsync(t, testcluster.Options{Nodes: 3, Netns: true})
	primary, hb, gt := c.Nodes[0], c.Nodes[1], c.Nodes[2]
	createMonitor(t, primary)
	const maxLag, staleness = 3 * time.Second, 3 * time.Second
	common := []string{"--poll-interval=1s", "--max-staleness=" + staleness.String(), "--max-replica-lag=" + maxLag.String(), "--replica-connect-grace=5s"}
	p := startServe(t, primary, append(common, "--heartbeat-table=sentinel.heartbeat")...)
	a := startServe(t, hb, append(common, "--heartbeat-table=sentinel.heartbeat")...)
	b := startServe(t, gt, common...)

	waitProbe(t, p.Base+"/readyz", 200, "ready: primary, writable", 10*time.Second)
	waitProbe(t, a.Base+"/readyz", 200, "(heartbeat)", 15*time.Second)
	waitProbe(t, b.Base+"/readyz", 200, "(gtid)", 15*time.Second)
	waitProbe(t, p.Base+"/writerz", 200, "writer", 5*time.Second)
	for _, s := range []*sentinel{a, b} {
		waitProbe(t, s.Base+"/writerz", 503, "replica", 5*time.Second)
	}
	if d := status(t, a); d.Sample == nil || d.Sample.Role != "replica" || d.Sample.LagSource != "heartbeat" || d.Sample.LagSeconds == nil {
		t.Fatalf("node2 status: %+v", d.Sample)
	}
	exec1(t, primary, "CREATE DATABASE t", "CREATE TABLE t.kv (id INT PRIMARY KEY, v INT)")

	t.Run("STOP SLAVE is 503 within max-staleness + 1 s", func(t *testing.T) {
		start := time.Now()
		exec1(t, hb, "STOP SLAVE")
		waitProbe(t, a.Base+"/readyz", 503, "replication SQL thread not running", staleness+time.Second)
		t.Logf("STOP SLAVE → 503 in %v", time.Since(start).Round(time.Millisecond))
		exec1(t, hb, "START SLAVE")
		waitProbe(t, a.Base+"/readyz", 200, "ready: replica", 10*time.Second)
	})

	t.Run("a duplicate key stops the replica with the error number in the reason", func(t *testing.T) {
		unlogged(t, gt, "INSERT INTO t.kv VALUES (1000, 1)")
		exec1(t, primary, "INSERT INTO t.kv VALUES (1000, 2)")
		waitProbe(t, b.Base+"/readyz", 503, "replication SQL error 1062", 10*time.Second)
		// The operator's repair: remove the stray row, restart the thread.
		unlogged(t, gt, "DELETE FROM t.kv WHERE id = 1000")
		exec1(t, gt, "START SLAVE SQL_THREAD")
		waitProbe(t, b.Base+"/readyz", 200, "ready: replica", 10*time.Second)
	})

	t.Run("MASTER_DELAY beyond the bound is lagging, and back", func(t *testing.T) {
		w := startWriter(t, primary, 300*time.Millisecond)
		exec1(t, gt, "STOP SLAVE", "CHANGE MASTER TO MASTER_DELAY=8", "START SLAVE")
		d := waitProbe(t, b.Base+"/readyz", 503, "lagging", maxLag+6*time.Second)
		t.Logf("MASTER_DELAY=8 with writes every 300 ms: lagging after %v", d.Round(time.Millisecond))
		exec1(t, gt, "STOP SLAVE", "CHANGE MASTER TO MASTER_DELAY=0", "START SLAVE")
		waitProbe(t, b.Base+"/readyz", 200, "ready: replica", 20*time.Second)
		w.Stop()
	})

	t.Run("an IO thread stalled by a DROP is lagging, not 0", func(t *testing.T) {
		w := startWriter(t, primary, 300*time.Millisecond)
		time.Sleep(time.Second)
		for _, n := range []*testcluster.Node{hb, gt} {
			if err := n.DropFrom(primary); err != nil {
				t.Fatal(err)
			}
		}
		healed := false
		heal := func() {
			if !healed {
				hb.Heal()
				gt.Heal()
				healed = true
			}
		}
		t.Cleanup(heal)
		start := time.Now()
		// The bound: the lag itself, two polls, a second of slack.
		bound := maxLag + 2*time.Second + time.Second
		waitProbe(t, a.Base+"/readyz", 503, "(heartbeat)", bound)
		waitProbe(t, b.Base+"/readyz", 503, "(gtid)", bound)
		t.Logf("DROP between the replicas and the primary: both lagging after %v", time.Since(start).Round(time.Millisecond))
		// Meanwhile the server itself still believes all is well.
		st, err := hb.SlaveStatus(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("node2 says Slave_IO_Running=%s Seconds_Behind_Master=%q meanwhile", st["Slave_IO_Running"], st["Seconds_Behind_Master"])
		if st["Slave_IO_Running"] == "Yes" && st["Seconds_Behind_Master"] != "0" {
			t.Logf("note: Seconds_Behind_Master is not 0 here (%s)", st["Seconds_Behind_Master"])
		}
		heal()
		w.Stop()
		waitProbe(t, a.Base+"/readyz", 200, "ready: replica", 90*time.Second)
		waitProbe(t, b.Base+"/readyz", 200, "ready: replica", 90*time.Second)
	})

	t.Run("a frozen primary never makes a replica unalive", func(t *testing.T) {
		if err := primary.Freeze(); err != nil {
			t.Fatal(err)
		}
		thawed := false
		t.Cleanup(func() {
			if !thawed {
				primary.Thaw()
			}
		})
		deadline := time.Now().Add(8 * time.Second)
		sawUnready := false
		for time.Now().Before(deadline) {
			for _, s := range []*sentinel{a, b} {
				code, body, err := get(s.Base + "/livez")
				if err != nil || code != 200 {
					t.Fatalf("%s/livez while the primary is frozen: %d %q %v", s.Base, code, body, err)
				}
			}
			if code, _, _ := get(b.Base + "/readyz"); code == 503 {
				sawUnready = true
			}
			time.Sleep(200 * time.Millisecond)
		}
		if !sawUnready {
			t.Error("node3 (GTID lag against a frozen primary) stayed ready: its lag cannot be known")
		}
		if err := primary.Thaw(); err != nil {
			t.Fatal(err)
		}
		thawed = true
		waitProbe(t, b.Base+"/readyz", 200, "ready: replica", 30*time.Second)
	})

	t.Run("metrics and status show role, lag and its source", func(t *testing.T) {
		// The frozen primary wrote no heartbeat: node2 catches up first.
		waitProbe(t, a.Base+"/readyz", 200, "ready: replica", 30*time.Second)
		_, body, err := get(a.Base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`galera_sentinel_replication_role{role="replica"} 1`, `galera_sentinel_replication_lag_seconds{source="heartbeat"}`,
			`galera_sentinel_replication_io_running{state="Yes"} 1`, `galera_sentinel_verdict{probe="ready"} 1`} {
			if !strings.Contains(body, want) {
				t.Errorf("node2 /metrics lacks %s", want)
			}
		}
		peers := strings.Join([]string{strings.TrimPrefix(p.Base, "http://"), strings.TrimPrefix(a.Base, "http://"), strings.TrimPrefix(b.Base, "http://")}, ",")
		out, err := exec.Command(sentinelBinary(t), "status", "--mode=replication", "--peers="+peers).CombinedOutput()
		// The sentinels run on loopback while MariaDB's hosts are the
		// namespaces' addresses, so `status` cannot match a replica's
		// source to the primary by host: it says so, and exits 1.
		text := string(out)
		for _, want := range []string{"primary", "replica", "heartbeat", "gtid"} {
			if !strings.Contains(text, want) {
				t.Errorf("status lacks %q:\n%s", want, text)
			}
		}
		if err == nil || !strings.Contains(text, fmt.Sprintf("replicates from %s, not from the primary", primary.Host)) {
			t.Errorf("status (exit %v):\n%s", err, text)
		}
	})
}
