//go:build e2ek8s

package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testkube"
)

// condition is one pod condition with its reason and when it last
// changed.
type condition struct {
	Type, Status, Reason string
	LastTransitionTime   time.Time
}

// podConditions reads a pod's conditions from the API server.
func podConditions(ctx context.Context, name string) (map[string]condition, error) {
	out, err := cluster.Kubectl(ctx, "-n", ns, "get", "pod", name, "-o", "jsonpath={.status.conditions}")
	if err != nil {
		return nil, err
	}
	var cs []condition
	if err := json.Unmarshal([]byte(out), &cs); err != nil {
		return nil, fmt.Errorf("conditions of %s: %w: %s", name, err, out)
	}
	m := map[string]condition{}
	for _, c := range cs {
		m[c.Type] = c
	}
	return m, nil
}

// 15. The writer's node lost while writes go through the client Service
// and the writer Service. With worker nodes, a power cut: every process
// of the node killed at once and its link down (testkube.PowerOff). On
// the one node, as the API server would see a lost node: its kubelet
// stops (SIGSTOP: no more lease, no more pod status) and every process of
// the writer's pod is frozen (its containers and sandbox; the network
// still accepts connections that nothing answers). Kubernetes alone would keep the pod Ready, in both Services,
// until the node is declared NotReady (node-monitor-grace-period: 40 s
// by default, more from 1.32) and the pod marked not ready. The
// survivors' sentinels take it out on Galera's word: its readiness gate's
// condition and its Ready False, its writer label false, and one of them
// becomes the writer; never two. Then the node comes back: the member
// rejoins, its own sentinel sets its condition True, the kubelet makes it
// Ready; no acknowledged row is lost.
func testS15NodeLost(t *testing.T) {
	ctx := testCtx(t, 15*time.Minute)
	waitHealthy(t, ctx, 5*time.Minute)
	ps := mustPods(t, ctx)
	victim := labelledWriter(t, ctx)
	vp := ps[victim]
	ip, uid := vp.Status.PodIP, vp.Metadata.UID
	for name := range ps {
		c, err := podConditions(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if g := c["galera-sentinel.io/primary"]; g.Status != "True" || g.Reason != "InPrimaryComponent" {
			t.Fatalf("%s: readiness gate condition %+v, want True set by its own sentinel", name, g)
		}
	}

	first := maxID(t, ctx)
	var clients, writers []*writer
	cdb, wdb := client(t, ctx), writerClient(t, ctx)
	for i := range 3 {
		clients = append(clients, startWriter(cdb, first+int64(i)*10_000_000, 50*time.Millisecond))
		writers = append(writers, startWriter(wdb, first+int64(i+3)*10_000_000, 50*time.Millisecond))
	}
	time.Sleep(3 * time.Second)

	node := nodeOf(t, ctx, victim)
	t0 := time.Now()
	var thaw func()
	if multiNode() {
		// A real power cut of the writer's node: everything on it
		// killed at once, its link down.
		if err := cluster.PowerOff(ctx, node); err != nil {
			t.Fatal(err)
		}
		off := true
		thaw = func() {
			if off {
				if err := cluster.PowerOn(ctx, node); err != nil {
					t.Error(err)
				}
				off = false
			}
		}
	} else {
		thaw = freezeNode(t, uid)
	}
	defer thaw()
	t.Logf("%s (the writer) on %s lost at %s", victim, node, t0.Format("15:04:05.000"))

	// Watch both Services every 100 ms for 25 s: the lost member out of
	// each, and the writer Service's endpoints.
	var outClient, outWriter, newWriter time.Duration
	twoWriters, noWriter := time.Duration(0), time.Duration(0)
	last := t0
	for time.Since(t0) < 25*time.Second {
		now := time.Now()
		ce, err1 := readyEndpointsOf(ctx, "galera")
		we, err2 := readyEndpointsOf(ctx, "galera-writer")
		if err1 != nil || err2 != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if outClient == 0 && !ce[ip] {
			outClient = now.Sub(t0)
		}
		if outWriter == 0 && !we[ip] {
			outWriter = now.Sub(t0)
		}
		live := 0
		for a := range we {
			if a != ip {
				live++
			}
		}
		if newWriter == 0 && live == 1 && !we[ip] {
			newWriter = now.Sub(t0)
		}
		switch {
		case len(we) >= 2:
			twoWriters += now.Sub(last)
		case live == 0:
			noWriter += now.Sub(last)
		}
		last = now
		if outClient > 0 && outWriter > 0 && newWriter > 0 && now.Sub(t0) > 15*time.Second {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	c, err := podConditions(ctx, victim)
	if err != nil {
		t.Fatal(err)
	}
	ready, gate := c["Ready"], c["galera-sentinel.io/primary"]
	t.Logf("%s (the writer) lost at +0: out of the client Service at +%v, out of the writer Service at +%v, one live writer endpoint at +%v; "+
		"writer Service with two endpoints for %v, with no live one for %v; Ready %s (%s) and gate %s (%s) at +%v; "+
		"Kubernetes alone: Ready until the node is NotReady, node-monitor-grace-period 40 s",
		victim, outClient.Round(100*time.Millisecond), outWriter.Round(100*time.Millisecond), newWriter.Round(100*time.Millisecond),
		twoWriters.Round(100*time.Millisecond), noWriter.Round(100*time.Millisecond),
		ready.Status, ready.Reason, gate.Status, gate.Reason, ready.LastTransitionTime.Sub(t0.Truncate(time.Second)).Round(time.Second))
	// evs.suspect_timeout (5 s) and a few seconds for the view, the
	// survivors' call and the EndpointSlice controller.
	const bound = 15 * time.Second
	if outClient == 0 || outClient > bound || outWriter == 0 || outWriter > bound {
		t.Errorf("the lost member left the client Service at +%v and the writer Service at +%v, want both within %v", outClient, outWriter, bound)
	}
	if newWriter == 0 || newWriter > bound {
		t.Errorf("no single live writer endpoint within %v (at +%v)", bound, newWriter)
	}
	if ready.Status != "False" || ready.Reason != "LeftPrimaryComponent" || gate.Status != "False" || gate.Reason != "LeftPrimaryComponent" {
		t.Errorf("%s: Ready %+v, gate %+v: want both False, set by the survivors (LeftPrimaryComponent)", victim, ready, gate)
	}
	if l, _ := labelled(ctx); len(l) != 1 || l[0] == victim {
		t.Errorf("labelled writer after the loss: %v, want one survivor", l)
	}
	if multiNode() {
		// What Kubernetes alone does, for the record: the node is
		// NotReady after node-monitor-grace-period.
		var notReady time.Duration
		waitUntil(t, ctx, node+" NotReady", 500*time.Millisecond, func() error {
			out, err := cluster.Kubectl(ctx, "get", "node", node, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
			if err != nil {
				return err
			}
			if strings.TrimSpace(out) == "True" {
				return fmt.Errorf("%s still Ready", node)
			}
			notReady = time.Since(t0)
			return nil
		})
		t.Logf("Kubernetes alone: %s NotReady at +%v (node-monitor-grace-period 40 s); the sentinels had taken %s out of both Services %v before",
			node, notReady.Round(100*time.Millisecond), victim, (notReady - max(outClient, outWriter)).Round(100*time.Millisecond))
	}

	// The node comes back.
	back := time.Now()
	thaw()
	waitUntil(t, ctx, victim+" Ready again", time.Second, func() error {
		c, err := podConditions(ctx, victim)
		if err != nil {
			return err
		}
		if c["Ready"].Status != "True" || c["galera-sentinel.io/primary"].Status != "True" {
			return fmt.Errorf("Ready %+v, gate %+v", c["Ready"], c["galera-sentinel.io/primary"])
		}
		return nil
	})
	t.Logf("%s back: Ready again after %v", victim, time.Since(back).Round(100*time.Millisecond))
	waitHealthy(t, ctx, 5*time.Minute)
	time.Sleep(2 * time.Second)
	report := func(what string, ws []*writer) map[int64]string {
		all := collect(ws)
		t.Logf("through the %s: %d attempted, %d committed, %d failed; longest time without a commit %v; by member %v",
			what, all.Attempts, len(all.Acked), len(all.Failures), all.longestGap(t0).Round(100*time.Millisecond), all.byHost())
		logFailures(t, all)
		if len(all.Acked) < 50 {
			t.Errorf("only %d writes committed through the %s", len(all.Acked), what)
		}
		// A Service that sends a client to a member outside the Primary
		// component gets it 1047: the lost member must never be routed
		// to, neither while it is gone nor when it comes back (its
		// first samples after the thaw are what it knew before).
		for _, f := range all.Failures {
			if strings.Contains(f, "Error 1047") {
				t.Errorf("through the %s, a member outside the Primary component was routed to: %s", what, f)
				break
			}
		}
		return all.Acked
	}
	acked := report("client Service", clients)
	for id, h := range report("writer Service", writers) {
		acked[id] = h
	}
	verifyRows(t, ctx, acked)
	if l, err := labelled(ctx); err != nil || len(l) != 1 {
		t.Errorf("labelled writer at the end: %v (%v)", l, err)
	}
}

// freezeNode loses the one node as the API server sees it: its kubelet
// stops (SIGSTOP: no more lease, no more pod status) and every process of
// the pod with uid is frozen. It returns what undoes both.
func freezeNode(t *testing.T, uid string) func() {
	t.Helper()
	if err := cluster.SignalDaemon("kubelet", syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	kubeletStopped := true
	if err := testkube.FreezePod(uid); err != nil {
		_ = cluster.SignalDaemon("kubelet", syscall.SIGCONT)
		t.Fatal(err)
	}
	podFrozen := true
	return func() {
		if podFrozen {
			if err := testkube.ThawPod(uid); err != nil {
				t.Error(err)
			}
			podFrozen = false
		}
		if kubeletStopped {
			if err := cluster.SignalDaemon("kubelet", syscall.SIGCONT); err != nil {
				t.Error(err)
			}
			kubeletStopped = false
		}
	}
}
