//go:build e2ek8s

package kube

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// events is a member's journal since t0 (galera-sentinel events).
func events(ctx context.Context, name string, t0 time.Time) (string, error) {
	return cluster.Kubectl(ctx, "-n", ns, "exec", name, "--", "galera-sentinel", "events", "--since", t0.Add(-time.Second).UTC().Format(time.RFC3339))
}

// 20. A new MariaDB version by image, as Debian users make it: bookworm's
// 10.11 to trixie's 11.8 (the Dockerfile built on trixie). MariaDB
// supports a mixed cluster only between adjacent long-term series, and
// 11.4 lies between: the first member on 11.8 must refuse to join the
// 10.11 members, with its reason, while they go on serving; the
// documented path (every member stopped, then started on 11.8: the most
// advanced bootstraps, the others join by IST) must bring the cluster to
// 11.8 without editing a manifest, mariadb-upgrade run once on each member
// before it reports ready, and every acknowledged row kept.
func testS20VersionUpgrade(t *testing.T) {
	ctx := testCtx(t, 25*time.Minute)
	waitHealthy(t, ctx, 5*time.Minute)
	old, err := query(ctx, "galera-0", "SELECT VERSION()")
	if err != nil || !strings.HasPrefix(old, "10.11.") {
		t.Fatalf("galera-0 runs %q (%v), want 10.11", old, err)
	}
	w := startWriter(client(t, ctx), maxID(t, ctx), 50*time.Millisecond)
	t0 := time.Now()
	kubectl(t, ctx, "-n", ns, "set", "image", "statefulset/galera", "mariadb=localhost/galera-sentinel-mariadb:trixie")

	// The controller replaces the highest ordinal first.
	var refusal string
	waitUntil(t, ctx, "galera-2 on 11.8 to refuse the 10.11 members", time.Second, func() error {
		out, err := events(ctx, "galera-2", t0)
		if err != nil {
			return err
		}
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "refuse") && strings.Contains(l, "may not run in one cluster") {
				refusal = l
				return nil
			}
		}
		return fmt.Errorf("no refusal in its journal yet:\n%s", lastLines(out, 5))
	})
	refusedAt := time.Since(t0)
	t.Logf("galera-2 refused at +%s: %s", refusedAt.Round(100*time.Millisecond), refusal)
	if !strings.Contains(refusal, "scale the StatefulSet to 0, then back") {
		t.Errorf("the refusal does not say the way: %s", refusal)
	}
	// Meanwhile the 10.11 members go on, alone in their component.
	time.Sleep(5 * time.Second)
	ps := mustPods(t, ctx)
	for _, name := range []string{"galera-0", "galera-1"} {
		if !ps[name].ready() {
			t.Errorf("%s is not Ready while galera-2 refuses", name)
		}
		if v, err := query(ctx, name, "SELECT VERSION()"); err != nil || !strings.HasPrefix(v, "10.11.") {
			t.Errorf("%s runs %q (%v)", name, v, err)
		}
	}
	if ps["galera-2"].ready() {
		t.Errorf("galera-2 is Ready while it refuses")
	}
	if size, err := query(ctx, "galera-0", "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='wsrep_cluster_size'"); err != nil || size != "2" {
		t.Errorf("galera-0's component has %q members (%v), want 2: a mixed cluster formed", size, err)
	}

	// The documented path, without editing a manifest.
	tStop := time.Now()
	kubectl(t, ctx, "-n", ns, "scale", "statefulset/galera", "--replicas=0")
	waitUntil(t, ctx, "every member stopped", time.Second, func() error {
		ps, err := pods(ctx)
		if err != nil {
			return err
		}
		if len(ps) > 0 {
			return fmt.Errorf("%d pods left", len(ps))
		}
		return nil
	})
	stopped := time.Since(tStop)
	tStart := time.Now()
	kubectl(t, ctx, "-n", ns, "scale", "statefulset/galera", fmt.Sprintf("--replicas=%d", replicas))
	kubectl(t, ctx, "-n", ns, "rollout", "status", "statefulset/galera", "--timeout=15m")
	waitHealthy(t, ctx, 10*time.Minute)
	started := time.Since(tStart)
	total := time.Since(t0)
	time.Sleep(3 * time.Second)
	st := w.stop()

	for i := 0; i < replicas; i++ {
		name := fmt.Sprintf("galera-%d", i)
		v, err := query(ctx, name, "SELECT VERSION()")
		if err != nil || !strings.HasPrefix(v, "11.8.") {
			t.Errorf("%s runs %q (%v), want 11.8", name, v, err)
		}
		out, err := events(ctx, name, tStart)
		if err != nil {
			t.Errorf("%s: journal: %v", name, err)
			continue
		}
		var ran []string
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "mariadb-upgrade brought the system tables from 10.11.") {
				ran = append(ran, l)
			}
		}
		if len(ran) != 1 {
			t.Errorf("%s: mariadb-upgrade ran %d times after the start on 11.8, want once:\n%s", name, len(ran), out)
			continue
		}
		t.Logf("%s: %s", name, ran[0][strings.Index(ran[0], "mariadb-upgrade"):])
	}
	t.Logf("10.11 → 11.8: refused at +%s, every member stopped in %s, all Ready on 11.8 in %s after the start, %s in all; "+
		"writes: %d attempted, %d committed, %d failed (the stop of every member: %s without a writer at the longest)",
		refusedAt.Round(100*time.Millisecond), stopped.Round(100*time.Millisecond), started.Round(100*time.Millisecond), total.Round(100*time.Millisecond),
		st.Attempts, len(st.Acked), len(st.Failures), st.longestGap(t0).Round(100*time.Millisecond))
	verifyRows(t, ctx, st.Acked)

	// The trial's GRANT: a privilege 11.x has and 10.11 had not (SHOW
	// CREATE ROUTINE), granted on one member. Had a member not run
	// mariadb-upgrade, its mysql.db would lack the column and it would
	// apply the replicated GRANT without the privilege, silently. Every
	// member ran it before it was Ready: every member has the grant.
	if _, err := query(ctx, "galera-0", "CREATE USER e2e_routines@localhost ACCOUNT LOCK; GRANT SHOW CREATE ROUTINE ON e2e.* TO e2e_routines@localhost"); err != nil {
		t.Errorf("galera-0: the grant: %v", err)
	} else {
		for i := 0; i < replicas; i++ {
			name := fmt.Sprintf("galera-%d", i)
			v, err := query(ctx, name, "SET SESSION wsrep_sync_wait=1; SELECT Show_create_routine_priv FROM mysql.db WHERE User='e2e_routines' AND Host='localhost' AND Db='e2e'")
			if err != nil || v != "Y" {
				t.Errorf("%s: the SHOW CREATE ROUTINE granted on galera-0 reads %q in mysql.db (%v), want Y: the system tables diverged", name, v, err)
			} else {
				t.Logf("%s: GRANT SHOW CREATE ROUTINE issued on galera-0 present in mysql.db", name)
			}
		}
	}
	if t.Failed() {
		logJournals(t, ctx, t0)
	}
}
