package recovery

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
	"github.com/galera-sentinel/galera-sentinel/internal/testsentinel"
)

// TestRunFullOutage: every member goes down, cleanly and then by kill -9,
// and the sentinels bring the cluster back by themselves with every
// committed row.
func TestRunFullOutage(t *testing.T) {
	rc := testsentinel.NewRunCluster(t, testcluster.Options{Nodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	rc.StartAll()
	rc.WaitSynced(ctx, 3)
	rows := testsentinel.WriteRows(ctx, t, rc.C.Nodes[0], "before", 50)

	t.Run("graceful", func(t *testing.T) {
		rc.StopAll(ctx)
		begin := time.Now()
		rc.StartAll()
		rc.WaitSynced(ctx, 3)
		t.Logf("full graceful outage: all three started -> three Synced in %v", time.Since(begin).Round(time.Millisecond))
		testsentinel.CheckRows(ctx, t, rows, rc.C.Nodes...)
		rows += testsentinel.WriteRows(ctx, t, rc.C.Nodes[1], "graceful", 50)
	})
	t.Run("kill-9", func(t *testing.T) {
		// Every member has applied every row: the positions agree, which
		// is the case pc.recovery is left to handle. (Members killed at
		// different positions are bootstrapped from the most advanced,
		// as in TestRunMostAdvancedLast.)
		testsentinel.CheckRows(ctx, t, rows, rc.C.Nodes...)
		uuidBefore := testsentinel.StateUUID(ctx, t, rc.C.Nodes[0])
		seqnoBefore, err := rc.C.Nodes[0].QueryInt(ctx, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='WSREP_LAST_COMMITTED'")
		if err != nil {
			t.Fatal(err)
		}
		rc.KillAll()
		begin := time.Now()
		rc.StartAll()
		rc.WaitSynced(ctx, 3)
		t.Logf("full outage by kill -9: all three started -> three Synced in %v", time.Since(begin).Round(time.Millisecond))
		recovered := 0
		for _, n := range rc.C.Nodes {
			recovered += testsentinel.CountLogs(n, "recovered position")
		}
		if recovered == 0 {
			t.Error("no sentinel ran mariadbd --wsrep-recover after kill -9")
		}
		// The cluster's history survives: same state UUID, no seqno going
		// back. (Galera's own pc.recovery, left to itself, restarted it at
		// 00000000-...:0; see galera.Decide.)
		for _, n := range rc.C.Nodes {
			u := testsentinel.StateUUID(ctx, t, n)
			lc, err := n.QueryInt(ctx, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='WSREP_LAST_COMMITTED'")
			if err != nil {
				t.Fatal(err)
			}
			if u != uuidBefore || lc < seqnoBefore {
				t.Errorf("%s: cluster position %s:%d after the outage, was %s:%d", n.Name, u, lc, uuidBefore, seqnoBefore)
			}
		}
		testsentinel.CheckRows(ctx, t, rows, rc.C.Nodes...)
	})
	t.Run("kill-9 at different positions", func(t *testing.T) {
		n1, n2, n3 := rc.C.Nodes[0], rc.C.Nodes[1], rc.C.Nodes[2]
		if err := n3.Kill(); err != nil {
			t.Fatal(err)
		}
		rows += testsentinel.WriteRows(ctx, t, n1, "behind-n3", 20)
		testsentinel.CheckRows(ctx, t, rows, n1, n2)
		var wg sync.WaitGroup
		for _, n := range []*testcluster.Node{n1, n2} {
			wg.Add(1)
			go func() { defer wg.Done(); n.Kill() }()
		}
		wg.Wait()
		before := testsentinel.CountLogs(n1, "--wsrep-new-cluster") + testsentinel.CountLogs(n2, "--wsrep-new-cluster") + testsentinel.CountLogs(n3, "--wsrep-new-cluster")
		begin := time.Now()
		rc.StartAll()
		rc.WaitSynced(ctx, 3)
		t.Logf("full outage by kill -9, one member behind: all three started -> three Synced in %v", time.Since(begin).Round(time.Millisecond))
		after := testsentinel.CountLogs(n1, "--wsrep-new-cluster") + testsentinel.CountLogs(n2, "--wsrep-new-cluster") + testsentinel.CountLogs(n3, "--wsrep-new-cluster")
		if after-before != 1 {
			t.Errorf("%d bootstraps, want exactly one (from a most advanced member)", after-before)
		}
		testsentinel.CheckRows(ctx, t, rows, rc.C.Nodes...)
	})
}

// TestRunMostAdvancedLast: members stop one by one while rows are written,
// so their seqnos differ. The two behind start first and wait; only when
// the most advanced starts (last) does it bootstrap, and no committed row
// is lost.
func TestRunMostAdvancedLast(t *testing.T) {
	rc := testsentinel.NewRunCluster(t, testcluster.Options{Nodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	n1, n2, n3 := rc.C.Nodes[0], rc.C.Nodes[1], rc.C.Nodes[2]
	rc.StartAll()
	rc.WaitSynced(ctx, 3)
	rows := testsentinel.WriteRows(ctx, t, n2, "all", 20)
	rc.Stop(ctx, n1)
	rows += testsentinel.WriteRows(ctx, t, n2, "two", 20)
	rc.Stop(ctx, n3)
	rows += testsentinel.WriteRows(ctx, t, n2, "one", 20)
	rc.Stop(ctx, n2) // n2 is the most advanced

	before := map[string]int{}
	for _, n := range rc.C.Nodes {
		before[n.Name] = testsentinel.CountLogs(n, "--wsrep-new-cluster")
	}
	begin := time.Now()
	rc.StartAll(n1, n3)
	testsentinel.WaitListening(t, n1, n3)
	for _, n := range []*testcluster.Node{n1, n3} {
		testsentinel.WaitProbe(t, "http://"+n.SentinelAddr()+"/readyz", 503, "waiting for every expected member", 20*time.Second)
	}
	time.Sleep(3 * time.Second) // several decisions
	for _, n := range []*testcluster.Node{n1, n3} {
		if pid := n.MariadbdPid(); pid != 0 {
			t.Fatalf("%s started mariadbd (pid %d) while the most advanced member was down", n.Name, pid)
		}
		if code, body, _ := testsentinel.TryProbe("http://" + n.SentinelAddr() + "/livez"); code != 200 {
			t.Errorf("%s: /livez %d %q while waiting", n.Name, code, body)
		}
	}
	rc.Start(n2)
	rc.WaitSynced(ctx, 3)
	t.Logf("most advanced last: first two started -> three Synced in %v (the last started 3+ s later)", time.Since(begin).Round(time.Millisecond))
	for _, n := range rc.C.Nodes {
		want := 0
		if n == n2 {
			want = 1
		}
		if got := testsentinel.CountLogs(n, "--wsrep-new-cluster") - before[n.Name]; got != want {
			t.Errorf("%s bootstrapped %d times after the outage, want %d", n.Name, got, want)
		}
	}
	testsentinel.CheckRows(ctx, t, rows, rc.C.Nodes...)
}

// TestRunMemberGoneOverride: after a crash of every member, one member of
// the last Primary component never comes back. The others wait and say
// who is missing and what to type; the operator's override, sent to any
// sentinel (it forwards to the node it names), brings them up with every
// row, and is refused on a member that is behind.
func TestRunMemberGoneOverride(t *testing.T) {
	rc := testsentinel.NewRunCluster(t, testcluster.Options{Nodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	n1, n2, n3 := rc.C.Nodes[0], rc.C.Nodes[1], rc.C.Nodes[2]
	rc.StartAll()
	rc.WaitSynced(ctx, 3)
	testsentinel.WaitSavedView(t, 3, rc.C.Nodes...)
	rows := testsentinel.WriteRows(ctx, t, n1, "rows", 30)
	// n2 is killed first and misses the next rows; then n1 and n3, the
	// last Primary component, are killed at once, and n3 never comes back.
	if err := n2.Kill(); err != nil {
		t.Fatal(err)
	}
	rows += testsentinel.WriteRows(ctx, t, n1, "more", 10)
	testsentinel.WaitSavedView(t, 2, n1, n3)
	var wg sync.WaitGroup
	for _, n := range []*testcluster.Node{n1, n3} {
		wg.Add(1)
		go func() { defer wg.Done(); n.Kill() }()
	}
	wg.Wait()

	rc.StartAll(n1, n2)
	testsentinel.WaitListening(t, n1, n2)
	for _, n := range []*testcluster.Node{n1, n2} {
		testsentinel.WaitProbe(t, "http://"+n.SentinelAddr()+"/readyz", 503, "missing "+n3.Name, 30*time.Second)
		testsentinel.WaitProbe(t, "http://"+n.SentinelAddr()+"/readyz", 503, "`galera-sentinel force-bootstrap "+n1.Name+"`", 10*time.Second)
	}
	post := func(n *testcluster.Node, node, token string) (int, string) {
		req, _ := http.NewRequest("POST", "http://"+n.SentinelAddr()+"/api/v1/bootstrap?node="+node, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := testsentinel.ProbeClient.Do(req)
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
	if code, body := post(n1, "nobody-9", testsentinel.Token); code != 409 || !strings.Contains(body, "no member named nobody-9") {
		t.Fatalf("override naming no member: %d %s", code, body)
	}
	// Sent to n1 and naming n2, the override reaches n2, which is behind
	// n1: it must refuse, not obey.
	if code, body := post(n1, n2.Name, testsentinel.Token); code != 202 || !strings.Contains(body, "forwarded to "+n2.Name) {
		t.Fatalf("forwarded override: %d %s", code, body)
	}
	testsentinel.WaitProbe(t, "http://"+n2.SentinelAddr()+"/readyz", 503, "override refused", 10*time.Second)
	if n1.MariadbdPid() != 0 || n2.MariadbdPid() != 0 {
		t.Fatalf("mariadbd started before an acceptable override: %s pid %d, %s pid %d", n1.Name, n1.MariadbdPid(), n2.Name, n2.MariadbdPid())
	}
	// The subcommand, as `kubectl exec` into n2 would run it: sent to n2's
	// sentinel, it names n1 and follows n1's decisions until it runs.
	begin := time.Now()
	stdout, stderr, err := testsentinel.Command(ctx, t, []string{"force-bootstrap", "--sentinel", n2.SentinelAddr(), "--wait", "60s", n1.Name},
		"GALERA_SENTINEL_TOKEN="+testsentinel.Token)
	var out strings.Builder
	out.WriteString(stdout + stderr)
	if err != nil {
		t.Fatalf("force-bootstrap: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "forwarded to "+n1.Name) || !strings.Contains(out.String(), n1.Name+" runs mariadbd") {
		t.Errorf("force-bootstrap printed:\n%s", out.String())
	}
	rc.WaitSynced(ctx, 2, n1, n2)
	t.Logf("override: sent -> two Synced in %v; force-bootstrap printed:\n%s", time.Since(begin).Round(time.Millisecond), out.String())
	testsentinel.CheckRows(ctx, t, rows, n1, n2)
	if code, _ := post(n1, n1.Name, testsentinel.Token); code != 409 {
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
	if !strings.Contains(testsentinel.TailFile(n2.SentinelLog(), 5), "mariadbd exited on its own (signal 9: killed)") {
		t.Errorf("no clear message:\n%s", testsentinel.TailFile(n2.SentinelLog(), 5))
	}
}

// TestRunPartitionDuringStart: after a full outage one member can reach
// none of the others. Nobody bootstraps (the other two cannot see all
// three either); once the partition heals, the cluster forms.
func TestRunPartitionDuringStart(t *testing.T) {
	rc := testsentinel.NewRunCluster(t, testcluster.Options{Nodes: 3, Netns: true})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rc.StartAll()
	rc.WaitSynced(ctx, 3)
	rows := testsentinel.WriteRows(ctx, t, rc.C.Nodes[0], "rows", 20)
	rc.StopAll(ctx)

	n3 := rc.C.Nodes[2]
	if err := n3.Partition(); err != nil {
		t.Fatal(err)
	}
	rc.StartAll()
	testsentinel.WaitListening(t, rc.C.Nodes...)
	for _, n := range rc.C.Nodes {
		testsentinel.WaitProbe(t, "http://"+n.SentinelAddr()+"/readyz", 503, "waiting for every expected member", 20*time.Second)
	}
	time.Sleep(5 * time.Second)
	for _, n := range rc.C.Nodes {
		if pid := n.MariadbdPid(); pid != 0 {
			t.Fatalf("%s started mariadbd during the partition", n.Name)
		}
	}
	_, body, _ := testsentinel.TryProbe("http://" + n3.SentinelAddr() + "/readyz")
	if !strings.Contains(body, "1 of the 3 members of the last Primary component") || !strings.Contains(body, "missing node1, node2") {
		t.Errorf("the isolated member says %q", body)
	}
	if err := n3.Heal(); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	rc.WaitSynced(ctx, 3)
	t.Logf("partition during start: healed -> three Synced in %v", time.Since(begin).Round(time.Millisecond))
	testsentinel.CheckRows(ctx, t, rows, rc.C.Nodes...)
}
