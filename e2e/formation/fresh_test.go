package formation

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
	"github.com/galera-sentinel/galera-sentinel/internal/testsentinel"
)

// installed fills a node's data directory as a distribution package does:
// mariadb-install-db, then one start of the server without Galera (which
// runs the post-install steps), with the given statements run meanwhile.
func installed(t *testing.T, ctx context.Context, rc *testsentinel.RunCluster, n *testcluster.Node, stmts ...string) {
	t.Helper()
	tmpl, err := rc.C.Template()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", tmpl+"/.", n.DataDir+"/").CombinedOutput(); err != nil {
		t.Fatalf("%s: %v %s", n.Name, err, out)
	}
	if err := n.StartArgs(ctx, "--wsrep-on=OFF"); err != nil {
		t.Fatal(err)
	}
	if err := n.Exec(ctx, stmts...); err != nil {
		t.Fatal(err)
	}
	if err := n.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

func userData(db string, rows int) []string {
	s := []string{"CREATE DATABASE " + db, "CREATE TABLE " + db + ".r (id INT PRIMARY KEY)"}
	for i := 1; i <= rows; i++ {
		s = append(s, fmt.Sprintf("INSERT INTO %s.r VALUES (%d)", db, i))
	}
	return s
}

// TestRunFreshInstalls: data directories that an installation filled are
// as good as empty, a single standalone server with data becomes the
// cluster, and two with data of their own are refused.
func TestRunFreshInstalls(t *testing.T) {
	t.Run("three fresh installations form a cluster, no override", func(t *testing.T) {
		rc := testsentinel.NewRunCluster(t, testcluster.Options{Nodes: 3})
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		for _, n := range rc.C.Nodes {
			installed(t, ctx, rc, n)
		}
		rc.StartAll()
		t.Logf("three fresh installations: Synced in %v", rc.WaitSynced(ctx, 3).Round(time.Millisecond))
		if got := rc.CountLogs("new_cluster=true"); got != 1 {
			t.Errorf("%d members started a new cluster, want 1", got)
		}
	})

	t.Run("one server with data and two fresh ones: the data on all three", func(t *testing.T) {
		rc := testsentinel.NewRunCluster(t, testcluster.Options{Nodes: 3})
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		installed(t, ctx, rc, rc.C.Nodes[0])
		installed(t, ctx, rc, rc.C.Nodes[1], userData("shop", 50)...)
		installed(t, ctx, rc, rc.C.Nodes[2])
		rc.StartAll()
		t.Logf("node2's data and two fresh members: Synced in %v", rc.WaitSynced(ctx, 3).Round(time.Millisecond))
		if got := testsentinel.CountLogs(rc.C.Nodes[1], "new_cluster=true"); got != 1 {
			t.Errorf("node2, the one with data, did not bootstrap (%d)", got)
		}
		for _, n := range rc.C.Nodes {
			got, err := n.QueryInt(ctx, "SELECT /*+ wsrep_sync_wait */ COUNT(*) FROM shop.r")
			if err != nil || got != 50 {
				t.Errorf("%s: %d of 50 rows, %v", n.Name, got, err)
			}
		}
	})

	t.Run("two servers with data of their own are refused, nothing started", func(t *testing.T) {
		rc := testsentinel.NewRunCluster(t, testcluster.Options{Nodes: 3})
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		installed(t, ctx, rc, rc.C.Nodes[0], userData("shop", 10)...)
		installed(t, ctx, rc, rc.C.Nodes[1])
		installed(t, ctx, rc, rc.C.Nodes[2], userData("crm", 20)...)
		rc.StartAll()
		testsentinel.WaitListening(t, rc.C.Nodes...)
		want := "node1, node3 hold data but no Galera position"
		for _, n := range rc.C.Nodes {
			testsentinel.WaitProbe(t, "http://"+n.SentinelAddr()+"/readyz", 503, want, 30*time.Second)
			code, body, err := testsentinel.TryProbe("http://" + n.SentinelAddr() + "/livez")
			if err != nil || code != 200 {
				t.Errorf("%s: /livez %d %q %v while refusing: it must not be restarted", n.Name, code, body, err)
			}
		}
		time.Sleep(2 * time.Second) // several decisions
		if got := rc.CountLogs("starting mariadbd"); got != 0 {
			t.Errorf("%d mariadbd started while refusing", got)
		}
		if !strings.Contains(testsentinel.TailFile(rc.C.Nodes[0].SentinelLog(), 50), "galera-sentinel force-bootstrap NAME") {
			t.Errorf("the refusal does not say how to choose:\n%s", testsentinel.TailFile(rc.C.Nodes[0].SentinelLog(), 10))
		}
	})
}
