//go:build e2ek8s

package kube

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// 19. The writer's node cut off from the API server, but not from the
// other nodes, their pods or the clients (the reverse of S17), for longer
// than node-monitor-grace-period, under writes through both Services.
// Galera sees nothing wrong: the member stays in the Primary component of
// 3 and keeps its data current. Kubernetes sees a silent kubelet: the
// node goes NotReady after the grace period and the node lifecycle
// controller marks its pods not Ready, which takes the member out of every
// Service; its sentinel cannot patch anything. Without more, the writer
// Service would then be empty until the cut heals (measured before the
// fix: 38 s without an endpoint, 2,773 failed). The sentinels move the
// writer first: the cut-off member says so to its peers (its tries to
// reach the API server have failed for 10 s), the next member takes the
// writer and sets the cut-off member's label false. Healed: the member
// Ready again with no restart, the writer back on it, 0 acknowledged rows
// lost.
func testS19CutFromAPIServer(t *testing.T) {
	if !multiNode() {
		if os.Getenv("CI") == "true" {
			t.Fatal("S19 needs worker nodes (GALERA_KUBE_NODES=5, as make e2e-k8s runs)")
		}
		t.Skip("S19 needs worker nodes (GALERA_KUBE_NODES=5)")
	}
	ctx := testCtx(t, 15*time.Minute)
	waitHealthy(t, ctx, 5*time.Minute)
	ps := mustPods(t, ctx)
	victim := labelledWriter(t, ctx)
	ip := ps[victim].Status.PodIP
	node := ps[victim].Spec.NodeName

	first := maxID(t, ctx)
	var clients, writers []*writer
	cdb, wdb := client(t, ctx), writerClient(t, ctx)
	for i := range 3 {
		clients = append(clients, startWriter(cdb, first+int64(i)*10_000_000, 50*time.Millisecond))
		writers = append(writers, startWriter(wdb, first+int64(i+3)*10_000_000, 50*time.Millisecond))
	}
	time.Sleep(3 * time.Second)

	t0 := time.Now()
	if err := cluster.PartitionFromAPI(ctx, node); err != nil {
		t.Fatal(err)
	}
	healed := false
	heal := func() {
		if !healed {
			healed = true
			if err := cluster.Heal(context.Background(), node); err != nil {
				t.Error(err)
			}
		}
	}
	defer heal()
	t.Logf("%s (the writer, on %s) cut off from the API server at %s", victim, node, t0.Format("15:04:05.000"))

	// For 75 s (the 40 s grace, the controller's marking, margin): the
	// node's Ready, the victim in each Service, the writer endpoints, and
	// every member's view of the component.
	var nodeNotReady, outClient, outWriter, noWriterSince, moved time.Duration
	var noWriter time.Duration
	var notPrimary []string
	last := t0
	for time.Since(t0) < 75*time.Second {
		now := time.Now()
		el := now.Sub(t0)
		if nodeNotReady == 0 {
			if out, err := cluster.Kubectl(ctx, "get", "node", node, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`); err == nil && strings.TrimSpace(out) != "True" {
				nodeNotReady = el
			}
		}
		ce, err1 := readyEndpointsOf(ctx, "galera")
		we, err2 := readyEndpointsOf(ctx, "galera-writer")
		if err1 == nil && outClient == 0 && !ce[ip] {
			outClient = el
		}
		if err2 == nil {
			if outWriter == 0 && !we[ip] {
				outWriter = el
			}
			if moved == 0 && len(we) == 1 && !we[ip] {
				moved = el
			}
			if len(we) == 0 {
				noWriter += now.Sub(last)
				if noWriterSince == 0 {
					noWriterSince = el
				}
			}
		}
		last = now
		for name := range ps {
			out, err := query(ctx, name, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN ('wsrep_cluster_size','wsrep_cluster_status') ORDER BY VARIABLE_NAME")
			if f := strings.Fields(out); err != nil || len(f) != 2 || f[0] != fmt.Sprint(replicas) || f[1] != "Primary" {
				notPrimary = append(notPrimary, fmt.Sprintf("%s +%v %v %v", name, el.Round(100*time.Millisecond), f, err))
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	wl, _ := labelled(ctx)
	t.Logf("cut from the API server: %s NotReady at +%v; %s out of the client Service at +%v, out of the writer Service at +%v; "+
		"the writer Service on one other member alone at +%v, without an endpoint for %v (from +%v); labelled writers at +75s: %v",
		node, nodeNotReady.Round(100*time.Millisecond), victim, outClient.Round(100*time.Millisecond), outWriter.Round(100*time.Millisecond),
		moved.Round(100*time.Millisecond), noWriter.Round(100*time.Millisecond), noWriterSince.Round(100*time.Millisecond), wl)
	// 10 s of failed tries, a writer-view round, the label patches and
	// the EndpointSlice controller; before the node is NotReady.
	if moved == 0 || moved > 25*time.Second {
		t.Errorf("the writer Service did not move to one other member within 25s (at +%v): Kubernetes marks the cut-off writer not Ready at +%v", moved, nodeNotReady)
	}
	if noWriter > 2*time.Second {
		t.Errorf("the writer Service had no endpoint for %v", noWriter)
	}
	if len(wl) != 1 || wl[0] == victim {
		t.Errorf("labelled writers while %s is cut off: %v, want one other member (the survivors set its label false)", victim, wl)
	}
	if len(notPrimary) > 0 {
		t.Errorf("a member left the Primary component of %d while only the API server was cut off: %v", replicas, notPrimary[:min(len(notPrimary), 10)])
	}

	healedAt := time.Now()
	heal()
	waitUntil(t, ctx, victim+" Ready again", time.Second, func() error {
		c, err := podConditions(ctx, victim)
		if err != nil {
			return err
		}
		if c["Ready"].Status != "True" {
			return fmt.Errorf("Ready %+v", c["Ready"])
		}
		return nil
	})
	t.Logf("healed: %s Ready again after %v", victim, time.Since(healedAt).Round(100*time.Millisecond))
	waitHealthy(t, ctx, 5*time.Minute)
	waitUntil(t, ctx, "the writer back on "+victim, time.Second, func() error {
		if l, err := labelled(ctx); err != nil || len(l) != 1 || l[0] != victim {
			return fmt.Errorf("labelled %v (%v)", l, err)
		}
		return nil
	})
	if after := mustPods(t, ctx)[victim]; after.Metadata.UID != ps[victim].Metadata.UID || after.restarts() != ps[victim].restarts() {
		t.Errorf("%s was restarted or replaced (restarts %d → %d): Galera never lost it", victim, ps[victim].restarts(), after.restarts())
	}
	time.Sleep(2 * time.Second)
	cs, ws := collect(clients), collect(writers)
	t.Logf("through the client Service: %d attempted, %d committed, %d failed; longest time without a commit %v; by member %v",
		cs.Attempts, len(cs.Acked), len(cs.Failures), cs.longestGap(t0).Round(100*time.Millisecond), cs.byHost())
	logFailures(t, cs)
	t.Logf("through the writer Service: %d attempted, %d committed, %d failed; longest time without a commit %v; by member %v",
		ws.Attempts, len(ws.Acked), len(ws.Failures), ws.longestGap(t0).Round(100*time.Millisecond), ws.byHost())
	logFailures(t, ws)
	acked := cs.Acked
	for id, h := range ws.Acked {
		acked[id] = h
	}
	verifyRows(t, ctx, acked)
}
