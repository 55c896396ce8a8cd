//go:build e2ek8s

package kube

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testkube"
)

// 16. `kubectl drain` under writes, with the shipped PodDisruptionBudget
// (maxUnavailable 1). On the one node: the drain evicts one member (its
// sentinel drains it: no failed transaction for a connection per
// transaction or a pool whose connections live 5 s), whose replacement
// cannot schedule (the node is cordoned), and every further eviction is
// refused by the budget for as long as that member is not back: the
// drain never takes a second member down, and gives up at its --timeout.
// With worker nodes: a drain of one member's node completes (that member
// evicted, its replacement Pending: its volume is pinned to the cordoned
// node), and a drain of a second member's node meanwhile is refused.
// Uncordoned, the member comes back and rejoins.
func testS16NodeDrain(t *testing.T) {
	ctx := testCtx(t, 15*time.Minute)
	waitHealthy(t, ctx, 5*time.Minute)
	before := mustPods(t, ctx)
	first := maxID(t, ctx)
	groups := []struct {
		name   string
		w      *writer
		strict bool // no failure allowed
	}{
		{"connection per transaction", startWriter(client(t, ctx), first, 50*time.Millisecond), true},
		{"busy pool, 5s lifetime", startWriter(pooledOn(t, ctx, "galera", 5*time.Second), first+1_000_000_000, 20*time.Millisecond), true},
		{"pool idle between writes", startWriter(pooledOn(t, ctx, "galera", 0), first+2_000_000_000, 2*time.Second), false},
	}
	time.Sleep(3 * time.Second)

	// The drains: on the one node, a drain of it that tries to evict all
	// three; with worker nodes, a drain of one member's node (it evicts
	// that member and ends), then of a second member's node while the
	// first is not back (every eviction refused).
	drains := []string{testkube.NodeName}
	if multiNode() {
		drains = []string{nodeOf(t, ctx, "galera-2"), nodeOf(t, ctx, "galera-1")}
	}
	var cordoned []string
	defer func() {
		for _, n := range cordoned {
			kubectl(t, context.Background(), "uncordon", n)
		}
	}()
	uncordon := func() {
		for _, n := range cordoned {
			kubectl(t, ctx, "uncordon", n)
		}
		cordoned = nil
	}
	drain := func(node, timeout string) (string, time.Duration, error) {
		t0 := time.Now()
		cordoned = append(cordoned, node)
		out, err := cluster.Kubectl(ctx, "drain", node, "--pod-selector=app=galera", "--ignore-daemonsets",
			"--delete-emptydir-data", "--timeout="+timeout)
		if err != nil {
			out += "\n" + err.Error() // kubectl's stderr
		}
		return out, time.Since(t0), err
	}
	if len(drains) == 2 {
		out, took, err := drain(drains[0], "90s")
		if err != nil {
			t.Fatalf("kubectl drain %s (one member) failed after %v:\n%s", drains[0], took.Round(100*time.Millisecond), out)
		}
		t.Logf("kubectl drain %s: done in %v", drains[0], took.Round(100*time.Millisecond))
	}
	text, drained, err := drain(drains[len(drains)-1], "20s")
	if err == nil {
		t.Errorf("kubectl drain %s evicted a second member (the budget allows one at a time):\n%s", drains[len(drains)-1], text)
	}
	refused := strings.Count(text, "disruption budget")
	t.Logf("kubectl drain %s gave up after %v; evictions refused by the budget: %d", drains[len(drains)-1], drained.Round(100*time.Millisecond), refused)
	if refused == 0 {
		t.Errorf("no eviction was refused by the PodDisruptionBudget:\n%s", text)
	}
	after := mustPods(t, ctx)
	var evicted []string
	for name, p := range before {
		if a, ok := after[name]; !ok || a.Metadata.UID != p.Metadata.UID {
			evicted = append(evicted, name)
		}
	}
	if len(evicted) != 1 {
		t.Fatalf("members evicted: %v, want exactly one", evicted)
	}
	for name, p := range after {
		if name != evicted[0] && !p.ready() {
			t.Errorf("%s is not Ready after the drain: a second member is down", name)
		}
	}
	t.Logf("evicted: %s; the other two Ready throughout", evicted[0])

	back := time.Now()
	uncordon()
	waitHealthy(t, ctx, 5*time.Minute)
	t.Logf("uncordoned: %s back and the cluster healthy after %v", evicted[0], time.Since(back).Round(100*time.Millisecond))
	time.Sleep(2 * time.Second)
	for _, g := range groups {
		st := g.w.stop()
		t.Logf("%s: %d attempted, %d committed, %d failed; by member %v", g.name, st.Attempts, len(st.Acked), len(st.Failures), st.byHost())
		logFailures(t, st)
		switch {
		case g.strict && len(st.Failures) > 0:
			t.Errorf("%s: %d failed transactions across the drain", g.name, len(st.Failures))
		case !g.strict && len(st.Failures) > 1:
			// An idle pooled connection closed between transactions may
			// lose the pool's next BEGIN once (README, the drain).
			t.Errorf("%s: %d failed transactions across the drain, want at most 1", g.name, len(st.Failures))
		}
		for _, f := range st.Failures {
			if strings.Contains(f, "Error 1047") {
				t.Errorf("%s: a member outside the Primary component was routed to: %s", g.name, f)
			}
		}
		verifyRows(t, ctx, st.Acked)
	}
}
