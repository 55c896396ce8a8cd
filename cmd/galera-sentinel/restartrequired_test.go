package main

import (
	"context"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
)

// TestRunEvictedNodeRestarted: a node evicted by a peer (evs.evict) stays
// up, disconnected, after Galera logs "exception from gcomm, backend must
// be restarted" (the same state a failed IST leaves). Its sentinel
// restarts it at once for that line (not after the Detached debounce),
// and it rejoins under a new gcomm identity. The nodes log to the file
// their log_error names, which the sentinel follows (mariadbd's stderr,
// the other way, is covered by the unit tests of package mariadbd).
func TestRunEvictedNodeRestarted(t *testing.T) {
	rc := newRunCluster(t, testcluster.Options{Nodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	n1, n3 := rc.c.Nodes[0], rc.c.Nodes[2]
	rc.startAll()
	rc.waitSynced(ctx, 3)
	const gcommUUID = "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='wsrep_gcomm_uuid'"
	uuid, err := n3.QueryString(ctx, gcommUUID)
	if err != nil {
		t.Fatal(err)
	}
	if err := n1.Exec(ctx, "SET GLOBAL wsrep_provider_options='evs.evict="+uuid+"'"); err != nil {
		t.Fatal(err)
	}
	evicted := time.Now()
	for countLogs(n3, "mariadbd says this node must be restarted") == 0 {
		if ctx.Err() != nil || countLogs(n3, "out of the cluster for good") > 0 {
			t.Fatalf("the evicted node was not restarted for Galera's line:\n%s", tailFile(n3.SentinelLog(), 30))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("evicted -> restart decided in %v", time.Since(evicted).Round(time.Millisecond))
	rc.waitSynced(ctx, 3)
	t.Logf("evicted -> 3 Synced again in %v", time.Since(evicted).Round(time.Millisecond))
	if again, err := n3.QueryString(ctx, gcommUUID); err != nil || again == uuid {
		t.Errorf("gcomm uuid after the restart %q (%v), before %q: want a new one", again, err, uuid)
	}
	rc.stopAll(ctx)
}
