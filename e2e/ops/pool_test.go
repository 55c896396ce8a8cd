package ops

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
	"github.com/galera-sentinel/galera-sentinel/internal/testsentinel"
)

// drainEnded is the journal's end of a drain, as the sentinel logs it.
var drainEnded = regexp.MustCompile(`kind=drain [^\n]*reason="ended after ([^,]+), (\d+) client connections open; (\d+) client sessions closed between transactions, (\d+) cut"`)

// TestRollingRestartPooledClients: applications with long-lived pooled
// connections (Go database/sql, go-sql-driver/mysql) through the shipped
// HAProxy readers listener, while every member is stopped with SIGTERM
// and started again in turn:
//   - a busy pool whose connections live 8 s (below --drain-timeout):
//     it retires them itself at transaction boundaries, 0 failed;
//   - a pool that writes every 3 s (its connections sit idle): the drain
//     closes them between transactions, the driver reconnects unseen,
//     0 failed;
//   - connection-per-transaction clients, 0 failed;
//   - the control, a busy pool whose connections live for ever: nothing
//     can close them between transactions from outside, so the drain
//     cuts them at --drain-timeout: failures (at most one per connection
//     per member), and never 1047 (they are cut before mariadbd leaves
//     the cluster).
//
// Every acknowledged row of every client is on every member at the end.
func TestRollingRestartPooledClients(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Minute)
	defer cancel()
	rc := testsentinel.OpsCluster(ctx, t, func(n *testcluster.Node) []string {
		// The shipped listener checks every 1s, fall 2: out of the
		// balancer within 3s.
		return []string{"--agent-check-listen=" + n.AgentAddr(), "--drain-delay=3s", "--drain-timeout=20s"}
	})
	listener, err := testcluster.ShippedListener("../../deploy/haproxy/haproxy.cfg", "galera-readers")
	if err != nil {
		t.Fatal(err)
	}
	h := rc.C.StartHAProxyWith(t, strings.NewReplacer(" port 9200", fmt.Sprintf(" port %d", testcluster.SentinelPort),
		" agent-port 9201", fmt.Sprintf(" agent-port %d", testcluster.AgentPort)).Replace(listener))
	for _, n := range rc.C.Nodes {
		if err := h.WaitStatus(ctx, n.Name, "UP"); err != nil {
			t.Fatal(err)
		}
	}

	wctx, stopWriters := context.WithCancel(ctx)
	type group struct {
		name string
		log  *testsentinel.WriteLog
		wait func()
	}
	var groups []group
	add := func(name string, log *testsentinel.WriteLog, wait func()) {
		groups = append(groups, group{name, log, wait})
	}
	lifetime, lwait := testsentinel.StartPoolWriters(wctx, t, h.Addr, testsentinel.PoolOptions{Workers: 4, Pool: 4, Lifetime: 8 * time.Second, Pause: 5 * time.Millisecond})
	add("busy pool, 8s lifetime", lifetime, lwait)
	idle, iwait := testsentinel.StartPoolWriters(wctx, t, h.Addr, testsentinel.PoolOptions{Workers: 6, Pool: 6, Pause: 3 * time.Second})
	add("pool idle between writes", idle, iwait)
	perConn, pwait := testsentinel.StartWriters(wctx, t, h.Addr, 2)
	add("connection per transaction", perConn, pwait)
	control, cwait := testsentinel.StartPoolWriters(wctx, t, h.Addr, testsentinel.PoolOptions{Workers: 2, Pool: 2})
	add("control: busy pool, no lifetime", control, cwait)
	time.Sleep(3 * time.Second)

	for _, n := range rc.C.Nodes {
		took := rc.Sigterm(ctx, n)
		b, _ := os.ReadFile(n.SentinelLog())
		ends := drainEnded.FindAllStringSubmatch(string(b), -1)
		if len(ends) == 0 {
			t.Fatalf("%s: no end of the drain in the journal:\n%s", n.Name, testsentinel.TailFile(n.SentinelLog(), 30))
		}
		e := ends[len(ends)-1]
		t.Logf("%s: SIGTERM -> sentinel exit %v; drain %s: %s sessions closed between transactions, %s cut, %s connections open at its end",
			n.Name, took.Round(time.Millisecond), e[1], e[3], e[4], e[2])
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "client sessions") && !strings.Contains(l, "kind=drain") {
				t.Logf("%s: %s", n.Name, l)
			}
		}
		rc.Start(n)
		rc.WaitSynced(ctx, 3, n)
		if err := h.WaitStatus(ctx, n.Name, "UP"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
	}
	time.Sleep(2 * time.Second)
	stopWriters()
	for _, g := range groups {
		g.wait()
	}
	for _, g := range groups {
		testsentinel.CheckAcked(ctx, t, rc, g.log)
		g.log.Mu.Lock()
		acked, failed, missing := len(g.log.Acked), g.log.Failures, g.log.Missing
		g.log.Mu.Unlock()
		t.Logf("%s: %d committed, %d failed, %d missing", g.name, acked, failed, missing)
		if failed > 0 {
			t.Logf("%s errors:\n%s", g.name, g.log.Summary())
		}
		if missing != 0 {
			t.Errorf("%s: %d acknowledged rows missing at the end (summed over the members)", g.name, missing)
		}
		if acked == 0 {
			t.Errorf("%s: nothing committed", g.name)
		}
		if g.log == control {
			// Two connections, three members stopped.
			if failed == 0 || failed > 2*len(rc.C.Nodes) {
				t.Errorf("%s: %d failed, want 1 to %d (a busy pool without a lifetime is cut at the drain timeout, once per connection and member): the test cannot tell the drain from none", g.name, failed, 2*len(rc.C.Nodes))
			}
			if s := g.log.Summary(); strings.Contains(s, "1047") {
				t.Errorf("%s: a statement reached a member after it left its cluster:\n%s", g.name, s)
			}
			continue
		}
		if failed != 0 {
			t.Errorf("%s: %d transactions failed during the rolling restart", g.name, failed)
		}
	}
}
