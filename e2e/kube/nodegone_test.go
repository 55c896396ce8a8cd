//go:build e2ek8s

package kube

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// 18. A member's node declared gone (issue 23), twice: first by the
// out-of-service taint, then by deleting its Node object. Each time the
// node is powered off under writes through the writer Service, and the
// declaration comes once the survivors have taken the lost member out of
// the Services. Kubernetes alone would leave the member down for ever: the
// old pod Terminating (or, after the taint, a new pod Pending on a claim
// bound to a volume of the dead node). The survivors' sentinels
// (--kube-rebuild-lost, components/rebuild-lost) force delete the pod,
// delete the claim, and delete the pending pod: the StatefulSet makes a
// new claim and pod, the pod lands on a spare node with a new volume, and
// the member joins by SST. No human command; every acknowledged row
// present on every member, the rebuilt one included.
func testS18NodeDeclaredGone(t *testing.T) {
	if !multiNode() {
		if os.Getenv("CI") == "true" {
			t.Fatal("S18 needs worker nodes (GALERA_KUBE_NODES=5, as make e2e-k8s runs): a member must move to a spare node")
		}
		t.Skip("S18 needs worker nodes (GALERA_KUBE_NODES=5): a member must move to a spare node")
	}
	ctx := testCtx(t, 20*time.Minute)
	rebuildOnGoneNode(t, ctx, "out-of-service taint")
	rebuildOnGoneNode(t, ctx, "Node deleted")
}

// rebuildOnGoneNode loses a member that is not the writer, declares its
// node gone by how, and waits for the member to be rebuilt elsewhere.
func rebuildOnGoneNode(t *testing.T, ctx context.Context, how string) {
	waitHealthy(t, ctx, 5*time.Minute)
	ps := mustPods(t, ctx)
	labelledW := labelledWriter(t, ctx)
	var names []string
	for n := range ps {
		names = append(names, n)
	}
	slices.Sort(names)
	victim := names[0]
	if victim == labelledW {
		victim = names[1]
	}
	node := ps[victim].Spec.NodeName
	oldPod := ps[victim].Metadata.UID
	claim := "data-" + victim
	oldClaim := kubectl(t, ctx, "-n", ns, "get", "pvc", claim, "-o", "jsonpath={.metadata.uid} {.spec.volumeName}")

	first := maxID(t, ctx)
	wdb := writerClient(t, ctx)
	var ws []*writer
	for i := range 3 {
		ws = append(ws, startWriter(wdb, first+int64(i)*10_000_000, 50*time.Millisecond))
	}
	time.Sleep(2 * time.Second)

	t0 := time.Now()
	if err := cluster.PowerOff(ctx, node); err != nil {
		t.Fatal(err)
	}
	off := true
	declared := false
	defer func() {
		// Whatever happened, the node is given back as it was.
		if declared && how == "out-of-service taint" {
			if _, err := cluster.Kubectl(context.Background(), "taint", "node", node, "node.kubernetes.io/out-of-service-"); err != nil {
				t.Errorf("untaint %s: %v", node, err)
			}
		}
		if off {
			if err := cluster.PowerOn(context.Background(), node); err != nil {
				t.Errorf("power on %s: %v", node, err)
			}
		}
		if err := cluster.WaitNodeReady(context.Background(), node, 3*time.Minute); err != nil {
			t.Errorf("%s back: %v", node, err)
		}
	}()
	waitUntil(t, ctx, victim+" out of the Services (its Ready False, set by the survivors)", 200*time.Millisecond, func() error {
		c, err := podConditions(ctx, victim)
		if err != nil {
			return err
		}
		if c["Ready"].Status != "False" {
			return fmt.Errorf("Ready %+v", c["Ready"])
		}
		return nil
	})
	out := time.Since(t0)

	// The declaration, as an administrator makes it.
	tDecl := time.Now()
	switch how {
	case "out-of-service taint":
		kubectl(t, ctx, "taint", "node", node, "node.kubernetes.io/out-of-service=nodeshutdown:NoExecute")
	case "Node deleted":
		kubectl(t, ctx, "delete", "node", node, "--wait=false")
	}
	declared = true
	t.Logf("%s on %s powered off at %s, out of the Services at +%v; %s at +%v",
		victim, node, t0.Format("15:04:05.000"), out.Round(100*time.Millisecond), how, tDecl.Sub(t0).Round(100*time.Millisecond))

	// The member rebuilt: a new pod on another node, a new claim, Ready.
	var podGone, claimNew, scheduled time.Duration
	var newNode string
	waitUntil(t, ctx, victim+" rebuilt on another node and Ready", time.Second, func() error {
		now := time.Since(tDecl)
		ps, err := pods(ctx)
		if err != nil {
			return err
		}
		p, ok := ps[victim]
		if podGone == 0 && (!ok || p.Metadata.UID != oldPod) {
			podGone = now
		}
		if c, err := cluster.Kubectl(ctx, "-n", ns, "get", "pvc", claim, "-o", "jsonpath={.metadata.uid} {.spec.volumeName}"); err == nil && claimNew == 0 &&
			strings.Fields(c) != nil && strings.Fields(c)[0] != strings.Fields(oldClaim)[0] {
			claimNew = now
		}
		if !ok || p.Metadata.UID == oldPod {
			return fmt.Errorf("the old pod is still there (node %s)", p.Spec.NodeName)
		}
		if p.Spec.NodeName == "" {
			return fmt.Errorf("the new pod is not scheduled")
		}
		if scheduled == 0 {
			scheduled, newNode = now, p.Spec.NodeName
		}
		if !p.ready() {
			return fmt.Errorf("the new pod on %s is not Ready", p.Spec.NodeName)
		}
		return nil
	})
	ready := time.Since(tDecl)
	newClaim := kubectl(t, ctx, "-n", ns, "get", "pvc", claim, "-o", "jsonpath={.metadata.uid} {.spec.volumeName}")
	t.Logf("%s (%s) rebuilt: old pod gone at +%v, new claim at +%v, new pod scheduled on %s at +%v, Ready at +%v after the declaration; claim %s → %s",
		victim, how, podGone.Round(100*time.Millisecond), claimNew.Round(100*time.Millisecond), newNode, scheduled.Round(100*time.Millisecond),
		ready.Round(100*time.Millisecond), oldClaim, newClaim)
	if newNode == node {
		t.Errorf("the new pod is on the gone node %s", node)
	}
	if strings.Fields(newClaim)[0] == strings.Fields(oldClaim)[0] {
		t.Errorf("claim %s was not replaced (%s)", claim, newClaim)
	}
	if st, err := query(ctx, victim, "SHOW STATUS LIKE 'wsrep_local_state_comment'"); err != nil || !strings.Contains(st, "Synced") {
		t.Errorf("%s after the rebuild: %q (%v), want Synced", victim, st, err)
	}

	// The survivors say what they did, in their journals.
	steps := map[string]bool{}
	for _, n := range names {
		if n == victim {
			continue
		}
		j, err := cluster.Kubectl(ctx, "-n", ns, "exec", n, "--", "galera-sentinel", "events", "--since", t0.Add(-time.Second).UTC().Format(time.RFC3339))
		if err != nil {
			t.Errorf("%s journal: %v", n, err)
			continue
		}
		for _, line := range strings.Split(j, "\n") {
			if strings.Contains(line, "--kube-rebuild-lost") {
				steps[n] = true
				t.Logf("%s: %s", n, line)
			}
		}
	}
	if len(steps) == 0 {
		t.Errorf("no survivor journaled a rebuild step (--kube-rebuild-lost): was it Kubernetes alone?")
	}

	all := collect(ws)
	t.Logf("through the writer Service: %d attempted, %d committed, %d failed; longest time without a commit %v; by member %v",
		all.Attempts, len(all.Acked), len(all.Failures), all.longestGap(t0).Round(100*time.Millisecond), all.byHost())
	logFailures(t, all)
	if len(all.Acked) < 50 {
		t.Errorf("only %d writes committed", len(all.Acked))
	}
	verifyRows(t, ctx, all.Acked)

	// Give the node back before the next scenario.
	if how == "out-of-service taint" {
		kubectl(t, ctx, "taint", "node", node, "node.kubernetes.io/out-of-service-")
		declared = false
	}
	if err := cluster.PowerOn(ctx, node); err != nil {
		t.Fatal(err)
	}
	off = false
}
