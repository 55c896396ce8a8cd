package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
)

// sizesEnv runs TestRunFormAndRecoverSizes: forming and recovering 7
// members takes minutes on 2 cores, too long for every run of the suite.
const sizesEnv = "GALERA_SENTINEL_SIZES"

// TestRunFormAndRecoverSizes: 3, 5 and 7 members started by `run` at the
// same moment with empty data directories form one Primary component
// (run mode initialises the first, the others join by state transfer);
// then, three times in a row, every member is killed -9 (sentinel and
// mariadbd together) and started again, and the sentinels bring the whole
// cluster back with every row written before the kill. The formation and
// recovery times are logged ("sizes:" lines) for the note.
//
// It runs only with GALERA_SENTINEL_SIZES=1 (or =3,5 for some sizes):
// the three sizes take 15-20 minutes on 2 cores. On failure it logs each
// member's wsrep status and its error log's IST and ERROR lines. At 5 and
// 7 members a joiner can end its IST with Galera's "IST didn't contain all
// write sets" (the missing write set is the configuration change of a
// member joining at the same time) and stay up outside the cluster for
// good; until the supervision restarts such a member the test fails there.
func TestRunFormAndRecoverSizes(t *testing.T) {
	env := os.Getenv(sizesEnv)
	if env == "" {
		t.Skip("set " + sizesEnv + "=1 (every size) or a list such as 3,7 to run it: it takes minutes")
	}
	for _, size := range []int{3, 5, 7} {
		if env != "1" && !strings.Contains(","+env+",", fmt.Sprintf(",%d,", size)) {
			continue
		}
		t.Run(fmt.Sprintf("%d", size), func(t *testing.T) { formAndRecover(t, size, 3) })
	}
}

func formAndRecover(t *testing.T, size, rounds int) {
	rc := newRunCluster(t, testcluster.Options{Nodes: size})
	t.Cleanup(func() {
		if t.Failed() {
			reportStuck(t, rc)
		}
	})
	// A minute per member is generous on 2 loaded cores; past it the
	// cluster is stuck, not slow.
	bound := time.Duration(size) * time.Minute
	form, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	begin := time.Now()
	rc.startAll()
	rc.waitSynced(form, size)
	formed := time.Since(begin)
	t.Logf("sizes: %d members: all started with empty data directories -> %d Synced in %v", size, size, formed.Round(time.Millisecond))
	bootstraps := 0
	for _, n := range rc.c.Nodes {
		bootstraps += countLogs(n, "--wsrep-new-cluster")
	}
	if bootstraps != 1 {
		t.Errorf("%d bootstraps while forming, want one", bootstraps)
	}

	rows := 0
	for round := 1; round <= rounds; round++ {
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		// Rows through a different member each round, so that every one
		// has written before some kill.
		rows += writeRows(ctx, t, rc.c.Nodes[(round-1)%size], fmt.Sprintf("round%d", round), 20)
		checkRows(ctx, t, rows, rc.c.Nodes...)
		uuid := stateUUID(ctx, t, rc.c.Nodes[0])
		rc.killAll()
		begin := time.Now()
		rc.startAll()
		rc.waitSynced(ctx, size)
		took := time.Since(begin)
		t.Logf("sizes: %d members: round %d: every member killed -9 and started -> %d Synced in %v", size, round, size, took.Round(time.Millisecond))
		for _, n := range rc.c.Nodes {
			if u := stateUUID(ctx, t, n); u != uuid {
				t.Errorf("%s: cluster state UUID %s after the kill, was %s", n.Name, u, uuid)
			}
		}
		checkRows(ctx, t, rows, rc.c.Nodes...)
		cancel()
		if t.Failed() {
			return
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rc.stopAll(ctx)
}

// reportStuck logs what each member's mariadbd says of itself, and the
// lines of its error log about a failed state transfer: the evidence for
// a member that is alive but out of the cluster for good.
func reportStuck(t *testing.T, rc *runCluster) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, n := range rc.c.Nodes {
		st, err := n.Status(ctx)
		if err != nil {
			t.Logf("%s: mariadbd status: %v", n.Name, err)
		} else {
			var kv []string
			for _, k := range []string{"wsrep_ready", "wsrep_connected", "wsrep_cluster_status", "wsrep_local_state_comment", "wsrep_local_state",
				"wsrep_cluster_size", "wsrep_cluster_conf_id", "wsrep_local_index", "wsrep_last_committed", "wsrep_cluster_state_uuid"} {
				kv = append(kv, k+"="+st.Raw[k])
			}
			t.Logf("%s: %s", n.Name, strings.Join(kv, " "))
		}
		_, body, err := tryProbe("http://" + n.SentinelAddr() + "/readyz")
		t.Logf("%s: /readyz %q %v", n.Name, body, err)
		b, _ := os.ReadFile(n.ErrorLog)
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "IST") && (strings.Contains(line, "fail") || strings.Contains(line, "didn't")) ||
				strings.Contains(line, "restart required") || strings.Contains(line, "[ERROR]") {
				t.Logf("%s error.log: %s", n.Name, line)
			}
		}
	}
}
