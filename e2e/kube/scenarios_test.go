//go:build e2ek8s

package kube

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testkube"
)

// The scenarios share one cluster and run in this order.

func logFailures(t *testing.T, st writeStats) {
	t.Helper()
	for i, f := range st.Failures {
		if i == 10 {
			t.Logf("  … %d more", len(st.Failures)-10)
			break
		}
		t.Logf("  failed: %s", f)
	}
}

// 1. apply → 3 pods Ready, wsrep_cluster_size 3, a client writes through
// the Service.
func testS1Apply(t *testing.T) {
	ctx := testCtx(t, 12*time.Minute)
	t0 := time.Now()
	// Server-side apply: the apiserver validates every field (strict).
	kubectl(t, ctx, "apply", "-k", overlay(t), "--server-side", "--validate=strict")
	waitHealthy(t, ctx, 10*time.Minute)
	t.Logf("apply → 3 Ready, Synced, cluster size 3 in %s", time.Since(t0).Round(100*time.Millisecond))

	// The application's account and database come from the
	// galera-accounts Secret (overlays/e2e), created once by the member
	// that bootstrapped the cluster and replicated by state transfer: the
	// client logs in with them on every member, over TCP.
	for name, p := range mustPods(t, ctx) {
		if err := loginAs(ctx, p.Status.PodIP, appUser, appPass, "e2e"); err != nil {
			t.Errorf("%s: %s cannot log in with the Secret's password: %v", name, appUser, err)
		}
	}
	if err := loginAs(ctx, mustPods(t, ctx)["galera-1"].Status.PodIP, appUser, "wrong-password", "e2e"); err == nil {
		t.Error("a wrong password was accepted")
	}
	// The DDL replicates: one member is enough.
	if _, err := query(ctx, "galera-0", "CREATE TABLE IF NOT EXISTS e2e.t (id BIGINT PRIMARY KEY, host VARCHAR(64) NOT NULL, at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))"); err != nil {
		t.Fatal(err)
	}
	// Pod Security "restricted" is enforced on the namespace the pods run
	// in: a privileged pod is refused there.
	priv := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"e2e-privileged","namespace":"` + ns + `"},"spec":{"containers":[{"name":"c","image":"localhost/galera-sentinel-mariadb:test","imagePullPolicy":"Never","securityContext":{"privileged":true}}]}}`
	if out, err := cluster.KubectlIn(ctx, priv, "apply", "--server-side", "--dry-run=server", "-f", "-"); err == nil || !strings.Contains(out+err.Error(), "PodSecurity") {
		t.Errorf("a privileged pod was not refused by Pod Security: %s %v", out, err)
	}
	// Ready pods reach the client Service through the EndpointSlice
	// controller and kube-proxy: wait for all three before counting.
	tReady := time.Now()
	waitUntil(t, ctx, "3 ready endpoints in the client Service", 200*time.Millisecond, func() error {
		eps, err := readyEndpoints(ctx)
		if err != nil {
			return err
		}
		if len(eps) != replicas {
			return fmt.Errorf("%d ready endpoints", len(eps))
		}
		return nil
	})
	t.Logf("all 3 in the client Service's EndpointSlice %s after all were Ready", time.Since(tReady).Round(100*time.Millisecond))
	db := client(t, ctx)
	w := startWriter(db, 1, 20*time.Millisecond)
	time.Sleep(5 * time.Second)
	st := w.stop()
	t.Logf("writes through the Service: %d attempted, %d committed, %d failed; by member %v", st.Attempts, len(st.Acked), len(st.Failures), st.byHost())
	logFailures(t, st)
	if len(st.Failures) > 0 || len(st.Acked) == 0 {
		t.Errorf("%d failed writes, %d committed", len(st.Failures), len(st.Acked))
	}
	if len(st.byHost()) < 2 {
		t.Errorf("the Service sent every connection to one member: %v", st.byHost())
	}
	verifyRows(t, ctx, st.Acked)
}

// The cluster's plumbing that the scenarios rely on, checked directly:
// CoreDNS serves the headless Service's records (what --peers-dns reads)
// and nothing outside cluster.local; the Service range is routed to the
// local sink; the guard is the first thing forwarded packets meet; the
// image's mariadbd listens on every address (Debian's 50-server.cnf
// bind-address=127.0.0.1 removed).
func testS1Plumbing(t *testing.T) {
	ctx := testCtx(t, 2*time.Minute)
	waitHealthy(t, ctx, time.Minute)
	ps, err := pods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, net.JoinHostPort(testkube.NodeIP, "53"))
	}}
	addrs, err := r.LookupHost(ctx, "galera-peers."+ns+".svc.cluster.local")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(addrs)
	var want []string
	for _, p := range ps {
		want = append(want, p.Status.PodIP)
	}
	sort.Strings(want)
	if strings.Join(addrs, ",") != strings.Join(want, ",") {
		t.Errorf("galera-peers resolves to %v, the pods are %v", addrs, want)
	}
	if a, err := r.LookupHost(ctx, "example.com"); err == nil {
		t.Errorf("CoreDNS answered for a name outside cluster.local: %v", a)
	}
	out, err := exec.CommandContext(ctx, "ip", "route", "get", "10.218.0.250").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "dev "+testkube.Dummy) {
		t.Errorf("the Service range is not routed to %s: %s %v", testkube.Dummy, out, err)
	}
	out, err = exec.CommandContext(ctx, "iptables", "-w", "-t", "mangle", "-S", "FORWARD").CombinedOutput()
	if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); err != nil || len(lines) < 2 || lines[1] != "-A FORWARD -j "+testkube.GuardChain {
		t.Errorf("%s is not the first rule of mangle FORWARD: %s %v", testkube.GuardChain, out, err)
	}
	for name := range ps {
		if v, err := query(ctx, name, "SELECT @@bind_address"); err != nil || v != "0.0.0.0" {
			t.Errorf("%s: bind_address %q %v", name, v, err)
		}
	}
}

// 2. Every pod deleted at once → 3 Ready again with no human action, every
// acknowledged row present.
func testS2FullOutage(t *testing.T) {
	ctx := testCtx(t, 15*time.Minute)
	waitHealthy(t, ctx, 5*time.Minute)
	before, err := pods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	db := client(t, ctx)
	w := startWriter(db, maxID(t, ctx), 50*time.Millisecond)
	time.Sleep(3 * time.Second)

	// A pod's log goes with it: follow each to its end, to show what
	// its mariadbd said while it stopped, should the outage be slow.
	logs := followLogs(t, ctx, before)
	t0 := time.Now()
	kubectl(t, ctx, "-n", ns, "delete", "pods", "-l", "app=galera", "--wait=false")
	var allReady time.Duration
	waitUntil(t, ctx, "every pod replaced and Ready", time.Second, func() error {
		ps, err := pods(ctx)
		if err != nil {
			return err
		}
		for name, p := range ps {
			if p.Metadata.UID == before[name].Metadata.UID {
				return fmt.Errorf("%s not replaced yet", name)
			}
			if !p.ready() {
				return fmt.Errorf("%s not Ready", name)
			}
		}
		if len(ps) != replicas {
			return fmt.Errorf("%d pods", len(ps))
		}
		allReady = time.Since(t0)
		return nil
	})
	waitHealthy(t, ctx, 5*time.Minute)
	time.Sleep(3 * time.Second)
	st := w.stop()
	t.Logf("full outage: delete of all 3 pods → all 3 Ready again in %s (cluster healthy at %s)", allReady.Round(100*time.Millisecond), time.Since(t0).Round(100*time.Millisecond))
	// Each member's journal of the outage (its previous life's drain and
	// stop, this life's decision), to tell where the time went.
	logJournals(t, ctx, t0)
	if allReady > time.Minute {
		for name, text := range logs() {
			t.Logf("%s's last life, its last lines (the outage took %v):\n%s", name, allReady.Round(time.Second), lastLines(text, 40))
		}
	}
	t.Logf("writes: %d attempted, %d committed, %d failed (during the outage, as expected); longest time without a committed write %s",
		st.Attempts, len(st.Acked), len(st.Failures), st.longestGap(t0).Round(100*time.Millisecond))
	verifyRows(t, ctx, st.Acked)
}

// 3. A rolling update of the StatefulSet while clients write through the
// Service (kube-proxy): a connection per transaction, a pool whose
// long-lived connections sit idle between writes (the drain closes them
// between transactions; the driver reconnects unseen), and a busy pool
// whose connections live 5 s, below --drain-timeout (it retires them
// itself). No failed transaction, no lost row.
func testS3RollingUpdate(t *testing.T) {
	ctx := testCtx(t, 20*time.Minute)
	waitHealthy(t, ctx, 5*time.Minute)
	first := maxID(t, ctx)
	w := startWriter(client(t, ctx), first, 50*time.Millisecond)
	pools := []struct {
		name string
		w    *writer
	}{
		{"pool idle between writes", startWriter(pooledOn(t, ctx, "galera", 0), first+1_000_000_000, 2*time.Second)},
		{"busy pool, 5s lifetime", startWriter(pooledOn(t, ctx, "galera", 5*time.Second), first+2_000_000_000, 20*time.Millisecond)},
	}
	time.Sleep(3 * time.Second)
	t0 := time.Now()
	kubectl(t, ctx, "-n", ns, "patch", "statefulset", "galera", "--type", "merge", "-p",
		fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"e2e.galera-sentinel.io/rollout":"%d"}}}}}`, t0.UnixNano()))
	kubectl(t, ctx, "-n", ns, "rollout", "status", "statefulset/galera", "--timeout=15m")
	waitHealthy(t, ctx, 5*time.Minute)
	rollout := time.Since(t0)
	time.Sleep(3 * time.Second)
	st := w.stop()
	t.Logf("rolling update in %s: %d transactions attempted, %d committed, %d failed; by member %v",
		rollout.Round(100*time.Millisecond), st.Attempts, len(st.Acked), len(st.Failures), st.byHost())
	logFailures(t, st)
	if len(st.Failures) > 0 {
		t.Errorf("%d failed transactions during the rolling update", len(st.Failures))
	}
	verifyRows(t, ctx, st.Acked)
	for _, p := range pools {
		ps := p.w.stop()
		t.Logf("%s: %d committed, %d failed; by member %v", p.name, len(ps.Acked), len(ps.Failures), ps.byHost())
		logFailures(t, ps)
		if len(ps.Failures) > 0 || len(ps.Acked) == 0 {
			t.Errorf("%s: %d failed, %d committed during the rolling update", p.name, len(ps.Failures), len(ps.Acked))
		}
		verifyRows(t, ctx, ps.Acked)
	}
}

func grepLines(s, sub string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return out
}

// waitNotReady measures how long a pod takes to leave Ready.
func waitNotReady(t *testing.T, ctx context.Context, name string, t0 time.Time) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	waitUntil(t, ctx, name+" not Ready", 200*time.Millisecond, func() error {
		ps, err := pods(ctx)
		if err != nil {
			return err
		}
		if ps[name].ready() {
			return fmt.Errorf("%s still Ready", name)
		}
		return nil
	})
	return time.Since(t0)
}

// 4. kill -9 of mariadbd in one pod, then a frozen mariadbd (SIGSTOP) in
// another: readiness drops at once, the kubelet restarts only what
// liveness says is dead, the member rejoins.
func testS4KillAndFreeze(t *testing.T) {
	ctx := testCtx(t, 20*time.Minute)
	waitHealthy(t, ctx, 5*time.Minute)
	before, err := pods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	db := client(t, ctx)
	tStart := time.Now()
	w := startWriter(db, maxID(t, ctx), 50*time.Millisecond)
	defer func() {
		st := w.stop()
		t.Logf("writes during kill and freeze: %d attempted, %d committed, %d failed; longest time without a committed write %s",
			st.Attempts, len(st.Acked), len(st.Failures), st.longestGap(tStart).Round(100*time.Millisecond))
		logFailures(t, st)
		verifyRows(t, ctx, st.Acked)
	}()

	t0 := time.Now()
	kubectl(t, ctx, "-n", ns, "exec", "galera-1", "--", "pkill", "-KILL", "-x", "mariadbd")
	t.Logf("kill -9 mariadbd in galera-1: not Ready after %s", waitNotReady(t, ctx, "galera-1", t0).Round(100*time.Millisecond))
	d := waitHealthy(t, ctx, 8*time.Minute)
	t.Logf("galera-1 rejoined, cluster healthy %s after the kill", (time.Since(t0)).Round(100*time.Millisecond))
	_ = d

	t1 := time.Now()
	kubectl(t, ctx, "-n", ns, "exec", "galera-2", "--", "pkill", "-STOP", "-x", "mariadbd")
	t.Logf("SIGSTOP mariadbd in galera-2: not Ready after %s", waitNotReady(t, ctx, "galera-2", t1).Round(100*time.Millisecond))
	waitHealthy(t, ctx, 12*time.Minute)
	t.Logf("galera-2 restarted and rejoined, cluster healthy %s after the freeze", time.Since(t1).Round(100*time.Millisecond))

	after, err := pods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"galera-0", "galera-1", "galera-2"} {
		t.Logf("%s: restarts %d → %d", name, before[name].restarts(), after[name].restarts())
	}
	if after["galera-0"].restarts() != before["galera-0"].restarts() {
		t.Errorf("galera-0 (never harmed) was restarted")
	}
	if after["galera-2"].restarts() <= before["galera-2"].restarts() {
		t.Errorf("the frozen galera-2 was not restarted by the kubelet")
	}
	// Why each container restarted, from the sentinel's own log of the
	// previous container (the kubelet's events are rate limited per pod:
	// a storm of readiness failures can drop its "failed liveness probe").
	// galera-2 was stopped from outside (the sentinel drained on SIGTERM),
	// and nothing but its liveness probe makes the kubelet do that to an
	// unchanged, undeleted pod; galera-1's sentinel exited by itself when
	// mariadbd died, and was restarted by restartPolicy.
	prev := func(pod string) string {
		out, err := cluster.Kubectl(ctx, "-n", ns, "logs", pod, "--previous")
		if err != nil {
			t.Errorf("previous log of %s: %v", pod, err)
		}
		return out
	}
	if l := prev("galera-2"); !strings.Contains(l, "draining") {
		t.Errorf("galera-2's previous container was not stopped by the kubelet (no drain in its log)")
	}
	if l := prev("galera-1"); !strings.Contains(l, "mariadbd exited on its own") || strings.Contains(l, "draining") {
		t.Errorf("galera-1's previous container did not exit by itself when mariadbd died")
	}
	ev := kubectl(t, ctx, "-n", ns, "get", "events", "--field-selector", "involvedObject.name=galera-2",
		"-o", "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}")
	t.Logf("galera-2 liveness events: %v", grepLines(ev, "iveness"))
}

// 5. One pod's PVC deleted with its pod: the new member is never Ready and
// never receives client traffic until it is Synced.
func testS5PVCDeleted(t *testing.T) {
	ctx := testCtx(t, 15*time.Minute)
	waitHealthy(t, ctx, 5*time.Minute)
	const victim = "galera-2"
	before, err := pods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	oldPV := strings.TrimSpace(kubectl(t, ctx, "-n", ns, "get", "pvc", "data-"+victim, "-o", "jsonpath={.spec.volumeName}"))
	db := client(t, ctx)
	w := startWriter(db, maxID(t, ctx), 50*time.Millisecond)

	t0 := time.Now()
	kubectl(t, ctx, "-n", ns, "delete", "pvc", "data-"+victim, "--wait=false")
	kubectl(t, ctx, "-n", ns, "delete", "pod", victim, "--wait=false")

	var syncedAt, readyAt, newSeen time.Time
	violations := 0
	checks := 0
	waitUntil(t, ctx, "the new "+victim+" Synced and Ready", 300*time.Millisecond, func() error {
		state, _ := query(ctx, victim, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='wsrep_local_state_comment'")
		ps, err := pods(ctx)
		if err != nil {
			return err
		}
		p, ok := ps[victim]
		if !ok || p.Metadata.UID == before[victim].Metadata.UID {
			return fmt.Errorf("new %s not created yet", victim)
		}
		if newSeen.IsZero() {
			newSeen = time.Now()
		}
		eps, err := readyEndpoints(ctx)
		if err != nil {
			return err
		}
		checks++
		synced := state == "Synced" || !syncedAt.IsZero()
		if synced && syncedAt.IsZero() {
			syncedAt = time.Now()
		}
		if !synced && (p.ready() || (p.Status.PodIP != "" && eps[p.Status.PodIP])) {
			violations++
			t.Errorf("%s is %q but Ready=%v, in the client Service=%v", victim, state, p.ready(), eps[p.Status.PodIP])
		}
		if !synced {
			return fmt.Errorf("%s is %q", victim, state)
		}
		if !p.ready() {
			return fmt.Errorf("%s Synced, not Ready yet", victim)
		}
		readyAt = time.Now()
		return nil
	})
	waitHealthy(t, ctx, 5*time.Minute)
	time.Sleep(2 * time.Second)
	st := w.stop()
	newPV := strings.TrimSpace(kubectl(t, ctx, "-n", ns, "get", "pvc", "data-"+victim, "-o", "jsonpath={.spec.volumeName}"))
	t.Logf("PVC deleted: new volume %s (was %s); Synced %s after the delete, Ready %s after; %d checks, %d violations",
		newPV, oldPV, syncedAt.Sub(t0).Round(100*time.Millisecond), readyAt.Sub(t0).Round(100*time.Millisecond), checks, violations)
	if newPV == oldPV || newPV == "" {
		t.Errorf("the new member did not get a new volume: %q", newPV)
	}
	// Client traffic: nothing was committed by the new member before it
	// was Synced. (The old pod, draining, may commit until it is gone; the
	// StatefulSet creates the new one only after.)
	early := 0
	for id, h := range st.Acked {
		if h == victim && st.AckedAt[id].After(newSeen) && st.AckedAt[id].Before(syncedAt) {
			early++
		}
	}
	t.Logf("writes: %d attempted, %d committed, %d failed; by member %v; committed by the new member before Synced: %d",
		st.Attempts, len(st.Acked), len(st.Failures), st.byHost(), early)
	logFailures(t, st)
	if early > 0 {
		t.Errorf("%d client transactions reached %s before it was Synced", early, victim)
	}
	verifyRows(t, ctx, st.Acked)
}

// 6. kill -9 of every container at once (issue 15): each restarted
// sentinel runs mariadbd --wsrep-recover, which with no
// wsrep_cluster_address at all made the rsync SST script abort and the
// pods crash-loop. The cluster must come back by itself with every
// acknowledged row.
func testS6KillEveryContainer(t *testing.T) {
	ctx := testCtx(t, 15*time.Minute)
	waitHealthy(t, ctx, 5*time.Minute)
	before, err := pods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	db := client(t, ctx)
	w := startWriter(db, maxID(t, ctx), 50*time.Millisecond)
	time.Sleep(3 * time.Second)
	t0 := time.Now()
	for name, p := range before {
		if len(p.Status.ContainerStatuses) == 0 {
			t.Fatalf("%s has no container", name)
		}
		if err := cluster.KillContainer(ctx, p.Status.ContainerStatuses[0].ContainerID); err != nil {
			t.Fatal(err)
		}
	}
	waitHealthy(t, ctx, 10*time.Minute)
	recovery := time.Since(t0)
	time.Sleep(3 * time.Second)
	st := w.stop()
	after, err := pods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name := range before {
		t.Logf("%s: restarts %d → %d", name, before[name].restarts(), after[name].restarts())
		// One restart for the kill; more is a crash loop.
		if n := after[name].restarts() - before[name].restarts(); n > 2 {
			t.Errorf("%s restarted %d times after one kill", name, n)
		}
	}
	t.Logf("kill -9 of every container → healthy again in %s; writes: %d attempted, %d committed, %d failed; longest time without a committed write %s",
		recovery.Round(100*time.Millisecond), st.Attempts, len(st.Acked), len(st.Failures), st.longestGap(t0).Round(100*time.Millisecond))
	verifyRows(t, ctx, st.Acked)
}

// 8. Interrupted state transfers (issue 15). A member whose PVC was
// deleted joins by SST, and that transfer is broken off three ways in a
// row: its own container killed mid-transfer, its donor's container
// killed mid-transfer, and its SST port refused (iptables REJECT in the
// pod's network namespace, as a firewall would) for several tries. The
// member must join on a later try, never bootstrap, never sit in
// CrashLoopBackOff, and the cluster must keep every acknowledged row.
func testS8InterruptedSST(t *testing.T) {
	ctx := testCtx(t, 20*time.Minute)
	waitHealthy(t, ctx, 5*time.Minute)
	const victim = "galera-2"
	// About 16 MB, so that a transfer lasts long enough to be broken off.
	if _, err := query(ctx, "galera-0", "CREATE TABLE IF NOT EXISTS e2e.pad (id INT PRIMARY KEY AUTO_INCREMENT, v TEXT); "+
		"TRUNCATE e2e.pad; INSERT INTO e2e.pad (v) VALUES (REPEAT('x', 1000))"); err != nil {
		t.Fatal(err)
	}
	for range 14 {
		if _, err := query(ctx, "galera-0", "INSERT INTO e2e.pad (v) SELECT v FROM e2e.pad"); err != nil {
			t.Fatal(err)
		}
	}
	uuid := func(name string) string {
		out, _ := query(ctx, name, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='wsrep_cluster_state_uuid'")
		return out
	}
	clusterUUID := uuid("galera-0")
	before, err := pods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	db := client(t, ctx)
	w := startWriter(db, maxID(t, ctx), 50*time.Millisecond)

	// Watch the member for CrashLoopBackOff for the whole scenario. (The
	// donor's container is killed by the test, and the kubelet delays its
	// restart by its back-off from the kills of earlier scenarios, which
	// it reports as CrashLoopBackOff too: the donor's restarts are
	// counted instead.)
	watchCtx, stopWatch := context.WithCancel(ctx)
	var backoffs []string
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for watchCtx.Err() == nil {
			if ps, err := pods(watchCtx); err == nil {
				for _, c := range ps[victim].Status.ContainerStatuses {
					if c.State.Waiting != nil && c.State.Waiting.Reason == "CrashLoopBackOff" {
						backoffs = append(backoffs, time.Now().Format("15:04:05.0"))
					}
				}
			}
			time.Sleep(500 * time.Millisecond)
		}
	}()

	t0 := time.Now()
	kubectl(t, ctx, "-n", ns, "delete", "pvc", "data-"+victim, "--wait=false")
	kubectl(t, ctx, "-n", ns, "delete", "pod", victim, "--wait=false")
	// The new member's data directory is a hostPath volume: watch its
	// state-transfer marker from the host, every 2 ms.
	var dir string
	var joiner pod
	waitUntil(t, ctx, "the new "+victim+" running on a new volume", 200*time.Millisecond, func() error {
		ps, err := pods(ctx)
		if err != nil {
			return err
		}
		p, ok := ps[victim]
		if !ok || p.Metadata.UID == before[victim].Metadata.UID || len(p.Status.ContainerStatuses) == 0 ||
			p.Status.ContainerStatuses[0].ContainerID == "" || p.Status.PodIP == "" {
			return fmt.Errorf("new %s not running yet", victim)
		}
		pv, err := cluster.Kubectl(ctx, "-n", ns, "get", "pvc", "data-"+victim, "-o", "jsonpath={.spec.volumeName}")
		if err != nil || strings.TrimSpace(pv) == "" {
			return fmt.Errorf("PVC not bound yet: %v", err)
		}
		out, err := cluster.Kubectl(ctx, "get", "pv", strings.TrimSpace(pv), "-o", "jsonpath={.spec.hostPath.path}")
		if err != nil || strings.TrimSpace(out) == "" {
			return fmt.Errorf("no hostPath for %s: %v", pv, err)
		}
		dir, joiner = strings.TrimSpace(out), p
		return nil
	})
	marker := filepath.Join(dir, "sst_in_progress")
	waitMarker := func(what string) {
		t.Helper()
		for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(2 * time.Millisecond) {
			if _, err := os.Stat(marker); err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no state transfer into %s within 3 minutes", what, dir)
			}
		}
	}

	// a. The joiner's own container killed mid-transfer.
	waitMarker("joiner killed")
	if err := cluster.KillContainer(ctx, joiner.Status.ContainerStatuses[0].ContainerID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the kill came too late to interrupt the transfer: %v", err)
	}
	tA := time.Now()
	t.Logf("a. %s killed mid-transfer %s after the PVC was deleted", victim, tA.Sub(t0).Round(100*time.Millisecond))

	// b. The donor's container killed mid-transfer of the next try. Then
	// c. the joiner's SST port refused, so that the tries after fail too.
	// The donor side of the transfer just broken off may linger for a
	// moment: the donor to kill is the one of the member's next try, in
	// its restarted container. (Killing the old transfer's donor right
	// after the joiner is two of three members killed at once: the
	// survivor loses quorum, which is another scenario.)
	donorPids := func() []int {
		out, _ := exec.Command("pgrep", "-f", "wsrep_sst_(rsync|mariabackup) --role donor").Output()
		var pids []int
		for _, f := range strings.Fields(string(out)) {
			var pid int
			fmt.Sscan(f, &pid)
			pids = append(pids, pid)
		}
		return pids
	}
	stale := map[int]bool{}
	waitUntil(t, ctx, victim+"'s container running again", 100*time.Millisecond, func() error {
		for _, pid := range donorPids() {
			stale[pid] = true
		}
		ps, err := pods(ctx)
		if err != nil {
			return err
		}
		c := ps[victim].Status.ContainerStatuses
		if len(c) == 0 || c[0].RestartCount < 1 || c[0].State.Running == nil {
			return fmt.Errorf("%s not restarted yet", victim)
		}
		return nil
	})
	for _, pid := range donorPids() {
		stale[pid] = true
	}
	// The possible donors' containers, looked up before the transfer so
	// that the kill follows the donor's appearance within milliseconds.
	donors := map[string]string{} // container ID → pod
	ps, err := pods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range ps {
		if name != victim && len(p.Status.ContainerStatuses) > 0 {
			donors[p.Status.ContainerStatuses[0].ContainerID] = name
		}
	}
	var donorPod string
	var donorPid int
	for deadline := time.Now().Add(3 * time.Minute); donorPod == ""; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("b. no donor side of a state transfer within 3 minutes")
		}
		for _, pid := range donorPids() {
			if stale[pid] {
				continue
			}
			id, err := testkube.ContainerOf(pid)
			if name, ok := donors[id]; err == nil && ok {
				if err := cluster.KillContainer(ctx, id); err != nil {
					t.Fatal(err)
				}
				donorPod, donorPid = name, pid
				break
			}
		}
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("b. the donor's kill came too late to interrupt the transfer: %v", err)
	}
	tB := time.Now()
	t.Logf("b. donor %s (state transfer script pid %d) killed mid-transfer, %s after a.", donorPod, donorPid, tB.Sub(tA).Round(100*time.Millisecond))
	netns, err := testkube.PodNetns(ctx, joiner.Status.PodIP)
	if err != nil {
		t.Fatal(err)
	}
	rule := []string{"INPUT", "-p", "tcp", "--dport", "4444", "-j", "REJECT", "--reject-with", "tcp-reset"}
	if out, err := exec.Command("ip", append([]string{"netns", "exec", netns, "iptables", "-I"}, rule...)...).CombinedOutput(); err != nil {
		t.Fatalf("c. block the SST port: %v: %s", err, out)
	}
	blocked := true
	unblock := func() {
		if blocked {
			if out, err := exec.Command("ip", append([]string{"netns", "exec", netns, "iptables", "-D"}, rule...)...).CombinedOutput(); err != nil {
				t.Errorf("c. unblock the SST port: %v: %s", err, out)
			}
			blocked = false
		}
	}
	t.Cleanup(unblock)
	// The joiner's tries fail (the donor died; then every donor is
	// refused) and its sentinel retries in its own process: the same
	// container, no restart.
	tries := func() int {
		out, _ := cluster.Kubectl(ctx, "-n", ns, "logs", victim, "-c", "mariadb")
		return strings.Count(out, "mariadbd exited before it was Synced")
	}
	waitUntil(t, ctx, "three failed tries of "+victim+" in one container", time.Second, func() error {
		if n := tries(); n < 3 {
			return fmt.Errorf("%d failed tries", n)
		}
		return nil
	})
	tC := time.Now()
	unblock()
	t.Logf("c. %d failed tries in one container behind the refused SST port; port opened %s after b.", tries(), tC.Sub(tB).Round(100*time.Millisecond))

	waitHealthy(t, ctx, 10*time.Minute)
	t.Logf("healthy again %s after the port was opened, %s after the PVC was deleted",
		time.Since(tC).Round(100*time.Millisecond), time.Since(t0).Round(100*time.Millisecond))
	time.Sleep(2 * time.Second)
	st := w.stop()
	stopWatch()
	<-watched

	after, err := pods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := after[victim].restarts(); n != 1 {
		t.Errorf("%s restarted %d times, want 1 (the kill; a failed transfer is retried in process)", victim, n)
	}
	if len(backoffs) > 0 {
		t.Errorf("%s in CrashLoopBackOff at %v", victim, backoffs)
	}
	for name, p := range before {
		want := p.restarts()
		if name == donorPod {
			want++ // the kill
		}
		if name != victim && after[name].restarts() != want {
			t.Errorf("%s restarted %d times, want %d", name, after[name].restarts()-p.restarts(), want-p.restarts())
		}
	}
	cur, _ := cluster.Kubectl(ctx, "-n", ns, "logs", victim, "-c", "mariadb")
	prev, _ := cluster.Kubectl(ctx, "-n", ns, "logs", victim, "-c", "mariadb", "--previous")
	for _, l := range []string{cur, prev} {
		if strings.Contains(l, `"new_cluster":true`) || strings.Contains(l, "new_cluster=true") {
			t.Errorf("%s bootstrapped a cluster from an interrupted state transfer:\n%s", victim, strings.Join(grepLines(l, "new_cluster"), "\n"))
		}
	}
	if !strings.Contains(cur, "sst_in_progress") {
		t.Errorf("%s's restarted sentinel did not see the interrupted transfer (sst_in_progress):\n%s", victim, strings.Join(grepLines(cur, "data directory"), "\n"))
	}
	for i := 0; i < replicas; i++ {
		name := fmt.Sprintf("galera-%d", i)
		if got := uuid(name); got != clusterUUID {
			t.Errorf("%s: cluster UUID %s, want %s (the one cluster)", name, got, clusterUUID)
		}
	}
	t.Logf("writes: %d attempted, %d committed, %d failed; longest time without a committed write %s",
		st.Attempts, len(st.Acked), len(st.Failures), st.longestGap(t0).Round(100*time.Millisecond))
	logFailures(t, st)
	verifyRows(t, ctx, st.Acked)
}
