package transfer

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
	"github.com/galera-sentinel/galera-sentinel/internal/testsentinel"
)

// waitFile waits for path to exist, polling quickly: a state transfer's
// marker appears and goes within a second on this machine.
func waitFile(t *testing.T, path string, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(2 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %v", path, within)
		}
	}
}

// donorOf is the member whose mariadbd runs the donor side of an rsync
// state transfer now, or nil.
func donorOf(rc *testsentinel.RunCluster) *testcluster.Node {
	out, _ := exec.Command("pgrep", "-af", "wsrep_sst_rsync --role donor").Output()
	for _, n := range rc.C.Nodes {
		if strings.Contains(string(out), n.DataDir+"/") || strings.Contains(string(out), n.ConfigFile) {
			return n
		}
	}
	return nil
}

// TestRunInterruptedSST: a state transfer broken off by a killed joiner,
// one refused by a closed SST port, and one broken off by a killed donor,
// leave a member that joins by a full state transfer on a later try and
// never bootstraps, while the cluster keeps serving; the member whose
// transfers fail retries in its own process instead of exiting.
func TestRunInterruptedSST(t *testing.T) {
	rc := testsentinel.NewRunCluster(t, testcluster.Options{Nodes: 3})
	n1, n2 := rc.C.Nodes[0], rc.C.Nodes[2] // n2: the joiner
	// One budget for the three subtests: 2.5 min alone, over 4 with other
	// packages running beside it (go test -p).
	ctx, cancel := context.WithTimeout(context.Background(), 7*time.Minute)
	defer cancel()
	rc.StartAll()
	rc.WaitSynced(ctx, 3)
	if err := n1.Exec(ctx, "CREATE DATABASE k", "CREATE TABLE k.r (id INT PRIMARY KEY AUTO_INCREMENT, v TEXT)",
		"INSERT INTO k.r (v) VALUES (REPEAT('x', 1000))"); err != nil {
		t.Fatal(err)
	}
	for range 12 { // 4096 rows, about 4 MB
		if err := n1.Exec(ctx, "INSERT INTO k.r (v) SELECT v FROM k.r"); err != nil {
			t.Fatal(err)
		}
	}
	want, err := n1.QueryInt(ctx, "SELECT COUNT(*) FROM k.r")
	if err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(n2.DataDir, "sst_in_progress")
	bootstraps := func() int { return strings.Count(testsentinel.TailFile(n2.SentinelLog(), 100000), "new_cluster=true") }
	// rejoin stops the joiner, wipes it and starts it again, and returns
	// once its state transfer is under way, with its bootstraps so far.
	rejoin := func(t *testing.T) int {
		rc.Stop(ctx, n2)
		if err := n2.Wipe(); err != nil {
			t.Fatal(err)
		}
		before := bootstraps()
		rc.Start(n2)
		waitFile(t, marker, time.Minute)
		return before
	}

	t.Run("joiner killed", func(t *testing.T) {
		before := rejoin(t)
		if err := n2.Kill(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(marker); err != nil {
			t.Fatalf("the kill came too late to interrupt the transfer: %v", err)
		}
		rc.Start(n2)
		rc.WaitSynced(ctx, 3)
		if got := testsentinel.CountLogs(n2, "an interrupted state transfer left sst_in_progress"); got == 0 {
			t.Errorf("%s did not see its interrupted transfer:\n%s", n2.Name, testsentinel.TailFile(n2.SentinelLog(), 20))
		}
		if bootstraps() != before {
			t.Errorf("%s bootstrapped from an interrupted state transfer", n2.Name)
		}
	})

	t.Run("SST port refused", func(t *testing.T) {
		// A firewall closes the joiner's state-transfer port: every
		// donor's rsync is refused, every try fails. The member keeps
		// trying in its own process, and joins once the port is open.
		rc.Stop(ctx, n2)
		if err := n2.Wipe(); err != nil {
			t.Fatal(err)
		}
		unblock, err := n2.BlockSST()
		if err != nil {
			t.Fatal(err)
		}
		blocked := true
		defer func() {
			if blocked {
				unblock()
			}
		}()
		before, failed := bootstraps(), testsentinel.CountLogs(n2, "mariadbd exited before it was Synced")
		rc.Start(n2)
		for deadline := time.Now().Add(2 * time.Minute); testsentinel.CountLogs(n2, "mariadbd exited before it was Synced") < failed+2; time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: no two failed tries behind a refused SST port:\n%s", n2.Name, testsentinel.TailFile(n2.SentinelLog(), 30))
			}
			if !n2.Running() {
				t.Fatalf("%s: the sentinel exited instead of retrying:\n%s", n2.Name, testsentinel.TailFile(n2.SentinelLog(), 30))
			}
		}
		for _, n := range []*testcluster.Node{rc.C.Nodes[0], rc.C.Nodes[1]} {
			if st, err := n.Status(ctx); err != nil || st.LocalState != "Synced" {
				t.Errorf("%s stopped serving while %s's transfers failed: %+v, %v", n.Name, n2.Name, st, err)
			}
		}
		if err := unblock(); err != nil {
			t.Fatal(err)
		}
		blocked = false
		t0 := time.Now()
		rc.WaitSynced(ctx, 3)
		t.Logf("%s joined %s after its SST port was opened again", n2.Name, time.Since(t0).Round(100*time.Millisecond))
		if bootstraps() != before {
			t.Errorf("%s bootstrapped while its state transfers failed:\n%s", n2.Name, testsentinel.TailFile(n2.SentinelLog(), 30))
		}
	})

	t.Run("donor killed", func(t *testing.T) {
		// Failed twice in whole parallel runs before the running sweep
		// of state-transfer pid files: the DONOR's next transfer script
		// waited on its wsrep_sst.pid ("Previous SST is not completed",
		// 30 s, "previous SST script still running...") at every try,
		// and the joiner aborted ("Will never receive state") each time.
		before := rejoin(t)
		var donor *testcluster.Node
		for deadline := time.Now().Add(30 * time.Second); donor == nil; time.Sleep(5 * time.Millisecond) {
			if donor = donorOf(rc); donor == nil && time.Now().After(deadline) {
				t.Fatal("no donor side of the state transfer found")
			}
		}
		if err := donor.KillMariadbd(); err != nil {
			t.Fatal(err)
		}
		// The donor's mariadbd had been Synced: its sentinel exits with
		// its status and is restarted, as an orchestrator would. The
		// joiner's never was: its sentinel tries again by itself.
		if code, err := donor.ExitCode(ctx); err != nil || code != 137 {
			t.Fatalf("%s (the donor) sentinel: exit %d, %v", donor.Name, code, err)
		}
		testcluster.EventuallyWithin(t, time.Minute, n2.Name+": a retry in its own process", 100*time.Millisecond, func() error {
			if testsentinel.CountLogs(n2, "mariadbd exited before it was Synced") == 0 {
				return fmt.Errorf("no failed try logged:\n%s", testsentinel.TailFile(n2.SentinelLog(), 20))
			}
			return nil
		})
		if !n2.Running() {
			t.Fatalf("%s: the sentinel exited instead of retrying:\n%s", n2.Name, testsentinel.TailFile(n2.SentinelLog(), 20))
		}
		rc.Start(donor)
		rc.WaitSynced(ctx, 3)
		if bootstraps() != before {
			t.Errorf("%s bootstrapped from an interrupted state transfer:\n%s", n2.Name, testsentinel.TailFile(n2.SentinelLog(), 30))
		}
		for _, n := range rc.C.Nodes {
			got, err := n.QueryInt(ctx, "SELECT /*+ wsrep_sync_wait */ COUNT(*) FROM k.r")
			if err != nil || got != want {
				t.Errorf("%s: %d of %d rows, %v", n.Name, got, want, err)
			}
		}
	})
}
