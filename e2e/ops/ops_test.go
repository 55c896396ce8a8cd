package ops

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
	"github.com/galera-sentinel/galera-sentinel/internal/testsentinel"
)

// rollingRestart brings up a 3-node cluster under run with HAProxy in
// front, writes through HAProxy continuously while each node in turn is
// stopped with SIGTERM and started again, and returns what the writers
// saw. Every acknowledged row must be on every node at the end.
func rollingRestart(t *testing.T, check testcluster.HAProxyCheck) *testsentinel.WriteLog {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	rc := testsentinel.OpsCluster(ctx, t, func(n *testcluster.Node) []string {
		f := []string{"--agent-check-listen=" + n.AgentAddr(), "--notify-socket=" + filepath.Join(n.Dir, "notify.sock")}
		if check == testcluster.CheckSentinel {
			// HAProxy needs 2 × 300 ms to see the 503; leave it more.
			return append(f, "--drain-delay=2s", "--drain-timeout=20s")
		}
		// No sentinel in the path: stop at once, as a plain restart does.
		return append(f, "--drain-delay=0s", "--drain-timeout=0s")
	})
	h := rc.C.StartHAProxy(t, check)
	for _, n := range rc.C.Nodes {
		if err := h.WaitStatus(ctx, n.Name, "UP"); err != nil {
			t.Fatal(err)
		}
	}

	wctx, stopWriters := context.WithCancel(ctx)
	log, wait := testsentinel.StartWriters(wctx, t, h.Addr, 8)
	time.Sleep(2 * time.Second)
	for _, n := range rc.C.Nodes {
		took := rc.Sigterm(ctx, n)
		rc.Start(n)
		begin := time.Now()
		rc.WaitSynced(ctx, 3, n)
		if err := h.WaitStatus(ctx, n.Name, "UP"); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: SIGTERM -> exit %v; start -> ready and UP in HAProxy %v", n.Name,
			took.Round(time.Millisecond), time.Since(begin).Round(time.Millisecond))
		n.CloseDB()
		time.Sleep(time.Second)
	}
	time.Sleep(2 * time.Second)
	stopWriters()
	wait()
	testsentinel.CheckAcked(ctx, t, rc, log)
	return log
}

// TestRollingRestartThroughHAProxy: with HAProxy checking the sentinels,
// a rolling restart of every node is invisible to clients: no failed
// transaction, and every acknowledged row on every node.
func TestRollingRestartThroughHAProxy(t *testing.T) {
	log := rollingRestart(t, testcluster.CheckSentinel)
	if log.Failures != 0 {
		t.Errorf("%d transactions failed during the rolling restart:\n%s", log.Failures, log.Summary())
	}
	if log.Missing != 0 {
		t.Errorf("%d acknowledged rows missing at the end (summed over the members)", log.Missing)
	}
}

// TestRollingRestartWithTCPCheck is the control: the same restart behind
// a plain TCP check fails transactions, so the test above can fail.
func TestRollingRestartWithTCPCheck(t *testing.T) {
	log := rollingRestart(t, testcluster.CheckTCP)
	t.Logf("failures behind a TCP check:\n%s", log.Summary())
	// Rows lost by a restart without a drain are Galera's behaviour, not
	// ours: reported, not asserted.
	t.Logf("acknowledged rows missing at the end (summed over the members): %d", log.Missing)
	if log.Failures == 0 {
		t.Error("no transaction failed behind a plain TCP check: the rolling-restart test cannot tell a drain from none")
	}
}

// TestNotifyDetection measures how long a state change takes to reach
// /readyz with and without wsrep_notify_cmd, for a desync and for a
// partition. node1 polls every second and is notified; node2 polls every
// second and is not; node3 is notified and polls once a minute, so it can
// only become ready, and see its partition, through its notifications:
// that is what makes this test able to fail.
func TestNotifyDetection(t *testing.T) {
	rc := testsentinel.NewRunCluster(t, testcluster.Options{Nodes: 3, Netns: true})
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	rc.WithFlags(func(n *testcluster.Node) []string {
		sock := "--notify-socket=" + filepath.Join(n.Dir, "notify.sock")
		switch n.Name {
		case "node1":
			return []string{sock, "--poll-interval=1s", "--max-staleness=3s"}
		case "node2":
			return []string{"--poll-interval=1s", "--max-staleness=3s"}
		}
		return []string{sock, "--poll-interval=1m", "--max-staleness=5m"}
	})
	rc.StartAll()
	rc.WaitSynced(ctx, 3)
	// mariadbd logs a failed wsrep_notify_cmd in its own error log.
	for _, n := range []*testcluster.Node{rc.C.Nodes[0], rc.C.Nodes[2]} {
		b, err := os.ReadFile(n.ErrorLog)
		if err != nil {
			t.Fatal(err)
		}
		if c := strings.Count(string(b), "Notification command failed"); c > 0 {
			t.Errorf("%s: mariadbd could not run the notifier %d times", n.Name, c)
		}
	}

	// readyAfter returns how long after begin the node's /readyz first
	// answered 503, polling every 5 ms.
	notReadyAfter := func(n *testcluster.Node, begin time.Time, within time.Duration) time.Duration {
		t.Helper()
		url := "http://" + n.SentinelAddr() + "/readyz"
		for time.Since(begin) < within {
			if code, _, err := testsentinel.TryProbe(url); err == nil && code == 503 {
				return time.Since(begin)
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("%s: /readyz still not 503 %v after the change", n.Name, within)
		return 0
	}
	// A desync is not a server state change for mariadbd 10.11: it runs
	// no wsrep_notify_cmd for it (measured), so only the poll sees it.
	// node3, which polls once a minute, is left out.
	const rounds = 3
	for _, n := range rc.C.Nodes[:2] {
		var fromSet, fromReturn []time.Duration
		for range rounds {
			// Out of step with the poll, which waitSynced just saw.
			time.Sleep(rand.N(time.Second))
			begin := time.Now()
			if err := n.Exec(ctx, "SET GLOBAL wsrep_desync=ON"); err != nil {
				t.Fatal(err)
			}
			returned := time.Since(begin)
			took := notReadyAfter(n, begin, 5*time.Second)
			fromSet = append(fromSet, took.Round(time.Millisecond))
			fromReturn = append(fromReturn, max(took-returned, 0).Round(time.Millisecond))
			if err := n.Exec(ctx, "SET GLOBAL wsrep_desync=OFF"); err != nil {
				t.Fatal(err)
			}
			rc.WaitSynced(ctx, 3, n)
		}
		t.Logf("%s desync -> /readyz 503: %v from the SET, %v from its return", n.Name, fromSet, fromReturn)
	}

	for _, n := range rc.C.Nodes {
		nonPrimary := make(chan time.Time, 1)
		pctx, stop := context.WithCancel(ctx)
		go func() {
			for pctx.Err() == nil {
				if st, err := n.QueryString(pctx, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='WSREP_CLUSTER_STATUS'"); err == nil && st != "Primary" {
					nonPrimary <- time.Now()
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
		begin := time.Now()
		if err := n.Partition(); err != nil {
			t.Fatal(err)
		}
		took := notReadyAfter(n, begin, 30*time.Second)
		var lag string
		select {
		case at := <-nonPrimary:
			lag = fmt.Sprintf("%v after the node itself went non-Primary", took-at.Sub(begin))
		case <-time.After(10 * time.Second):
			lag = "non-Primary not seen by the harness"
		}
		stop()
		t.Logf("%s partition -> /readyz 503: %v (%s)", n.Name, took.Round(time.Millisecond), lag)
		if err := n.Heal(); err != nil {
			t.Fatal(err)
		}
		rc.WaitSynced(ctx, 3)
	}
}

// TestMaintenanceInRunMode drains the writer through the maintenance API:
// its /readyz answers 503 "maintenance" at once and its agent says
// "maint"; its /writerz hands over (200 while its successor already
// answers 200, then 404 when the window ends), without the drained
// member leaving the cluster. Ending maintenance brings it back.
func TestMaintenanceInRunMode(t *testing.T) {
	rc := testsentinel.NewRunCluster(t, testcluster.Options{Nodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rc.WithFlags(func(n *testcluster.Node) []string {
		return []string{"--agent-check-listen=" + n.AgentAddr()}
	})
	rc.StartAll()
	rc.WaitSynced(ctx, 3)
	first, _ := testsentinel.WaitOneWriter(t, rc.C.Nodes, "", 10*time.Second)
	var w *testcluster.Node
	for _, n := range rc.C.Nodes {
		if n.Name == first {
			w = n
		}
	}
	post := func(n *testcluster.Node, state, token string) int {
		req, _ := http.NewRequest("POST", "http://"+n.SentinelAddr()+"/api/v1/maintenance?state="+state, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := testsentinel.ProbeClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(w, "on", "not-the-token-not-the-token"); code != 403 {
		t.Fatalf("maintenance with a wrong token: %d", code)
	}
	if code := post(w, "on", testsentinel.Token); code != 200 {
		t.Fatalf("maintenance on: %d", code)
	}
	on := time.Now()
	if code, body, _ := testsentinel.TryProbe("http://" + w.SentinelAddr() + "/readyz"); code != 503 || body != "maintenance" {
		t.Errorf("%s /readyz right after maintenance on: %d %q", w.Name, code, body)
	}
	// The writer hands over: 200 for the window, its successor 200 at
	// once, then 404 (stands by: its open transactions may finish).
	if code, body, _ := testsentinel.TryProbe("http://" + w.SentinelAddr() + "/writerz"); code != 200 || !strings.Contains(body, "handing over") || !strings.HasSuffix(body, ": maintenance") {
		t.Errorf("%s /writerz right after maintenance on: %d %q, want 200 handing over", w.Name, code, body)
	}
	if got := agentAnswer(t, w.AgentAddr()); got != "maint" {
		t.Errorf("agent of the drained member: %q", got)
	}
	var next string
	for next == "" && time.Since(on) < 10*time.Second {
		for _, n := range testsentinel.Writers(rc.C.Nodes) {
			if n != w.Name {
				next = n
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if next == "" {
		t.Fatalf("no successor answers /writerz 200 while %s hands over", w.Name)
	}
	t.Logf("successor %s answers /writerz 200 %v after maintenance on", next, time.Since(on).Round(time.Millisecond))
	testsentinel.WaitProbe(t, "http://"+w.SentinelAddr()+"/writerz", 404, "maintenance", 10*time.Second)
	standsBy := time.Since(on)
	t.Logf("%s answers /writerz 404 (stands by) %v after maintenance on (--writer-handover=5s)", w.Name, standsBy.Round(time.Millisecond))
	if standsBy < 4*time.Second {
		t.Errorf("%s stopped answering as the writer after %v, before its handover window", w.Name, standsBy)
	}
	if one, _ := testsentinel.WaitOneWriter(t, rc.C.Nodes, w.Name, 5*time.Second); one != next {
		t.Errorf("the writer is %s once %s stands by, want %s", one, w.Name, next)
	}
	if st, err := w.Status(ctx); err != nil || st.ClusterSize != 3 {
		t.Errorf("the drained member left the cluster: %+v %v", st, err)
	}
	if code := post(w, "off", testsentinel.Token); code != 200 {
		t.Fatalf("maintenance off: %d", code)
	}
	back, took := testsentinel.WaitOneWriter(t, rc.C.Nodes, next, 10*time.Second)
	if back != w.Name {
		t.Errorf("after maintenance the writer is %s, want %s (lowest index)", back, w.Name)
	}
	t.Logf("writer back on %s in %v", back, took.Round(time.Millisecond))
	if got := agentAnswer(t, w.AgentAddr()); got != "up ready 100%" {
		t.Errorf("agent after maintenance: %q", got)
	}
	// Settled: exactly one writer, and it stays one.
	for range 10 {
		if ws := testsentinel.Writers(rc.C.Nodes); len(ws) != 1 {
			t.Fatalf("writers: %v", ws)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func agentAnswer(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestDrainWaitsForClients: on SIGTERM the sentinel answers 503 at once
// but keeps mariadbd running while a client is connected, so the client's
// open transaction still commits; once the client disconnects mariadbd
// stops long before --drain-timeout. A second SIGTERM cuts a drain short.
func TestDrainWaitsForClients(t *testing.T) {
	rc := testsentinel.NewRunCluster(t, testcluster.Options{Nodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rc.WithFlags(func(*testcluster.Node) []string { return []string{"--drain-delay=1s", "--drain-timeout=60s"} })
	rc.StartAll()
	rc.WaitSynced(ctx, 3)
	n1, n2, n3 := rc.C.Nodes[0], rc.C.Nodes[1], rc.C.Nodes[2]
	if err := n1.Exec(ctx, "CREATE DATABASE d", "CREATE TABLE d.t (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	if err := n3.WaitFor(ctx, "table d.t", func(testcluster.Status) bool {
		c, err := n3.QueryInt(ctx, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='d'")
		return err == nil && c == 1
	}); err != nil {
		t.Fatal(err)
	}
	n3.CloseDB()

	// A client in the middle of a transaction when SIGTERM arrives.
	conn, err := n3.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"BEGIN", "INSERT INTO d.t VALUES (1)"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := n3.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	testsentinel.WaitProbe(t, "http://"+n3.SentinelAddr()+"/readyz", 503, "maintenance: shutting down", 2*time.Second)
	// Past --drain-delay, the sentinel counts the client and waits.
	testcluster.EventuallyWithin(t, 10*time.Second, n3.Name+": the drain waits for the client", 50*time.Millisecond, func() error {
		if testsentinel.CountLogs(n3, "waiting for client connections to close") == 0 {
			return fmt.Errorf("not in the log:\n%s", testsentinel.TailFile(n3.SentinelLog(), 5))
		}
		return nil
	})
	if n3.MariadbdPid() == 0 {
		t.Fatalf("mariadbd stopped while a client was still connected:\n%s", testsentinel.TailFile(n3.SentinelLog(), 10))
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatalf("the client's transaction failed during the drain: %v", err)
	}
	conn.Close()
	n3.CloseDB()
	closed := time.Now()
	if code, err := n3.ExitCode(ctx); err != nil || code != 0 {
		t.Fatalf("sentinel exit %d, %v", code, err)
	}
	took := time.Since(closed)
	t.Logf("client disconnected -> sentinel exited (mariadbd stopped cleanly) in %v; --drain-timeout is 60s", took.Round(time.Millisecond))
	if took > 30*time.Second {
		t.Errorf("mariadbd stopped %v after the last client left: the drain did not notice", took)
	}
	if err := n1.WaitFor(ctx, "the row committed during the drain", func(testcluster.Status) bool {
		c, err := n1.QueryInt(ctx, "SELECT COUNT(*) FROM d.t WHERE id = 1")
		return err == nil && c == 1
	}); err != nil {
		t.Fatal(err)
	}

	// An impatient operator: a second SIGTERM ends the wait for clients.
	n2.CloseDB()
	held, err := n2.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if err := held.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n2.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if n2.MariadbdPid() == 0 {
		t.Fatal("mariadbd stopped while a client was still connected")
	}
	again := time.Now()
	if err := n2.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, err := n2.ExitCode(ctx); err != nil || code != 0 {
		t.Fatalf("sentinel exit %d, %v", code, err)
	}
	t.Logf("second SIGTERM -> exit in %v with a client still connected", time.Since(again).Round(time.Millisecond))
	if c := testsentinel.CountLogs(n2, "second signal"); c != 1 {
		t.Errorf("the sentinel logged %d second signals, want 1", c)
	}
}
