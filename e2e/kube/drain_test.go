//go:build e2ek8s

package kube

import (
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testkube"
)

// 16. `kubectl drain` of the node under writes, with the shipped
// PodDisruptionBudget (maxUnavailable 1): one member is evicted (its
// sentinel drains it: no failed transaction for a connection per
// transaction or a pool whose connections live 5 s), its replacement
// cannot schedule (the node is cordoned; on a real cluster it would go to
// another node), and every further eviction is refused by the budget for
// as long as that member is not back: the drain never takes a second
// member down, and gives up at its --timeout. Uncordoned, the member
// comes back and rejoins.
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

	t0 := time.Now()
	out, err := cluster.Kubectl(ctx, "drain", testkube.NodeName, "--pod-selector=app=galera", "--ignore-daemonsets",
		"--delete-emptydir-data", "--timeout=20s")
	drained := time.Since(t0)
	uncordoned := false
	uncordon := func() {
		if !uncordoned {
			kubectl(t, ctx, "uncordon", testkube.NodeName)
			uncordoned = true
		}
	}
	defer uncordon()
	if err == nil {
		t.Errorf("kubectl drain evicted every member (the budget allows one at a time):\n%s", out)
	}
	text := out
	if err != nil {
		text += "\n" + err.Error() // kubectl's stderr
	}
	refused := strings.Count(text, "disruption budget")
	t.Logf("kubectl drain gave up after %v; evictions refused by the budget: %d", drained.Round(100*time.Millisecond), refused)
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
