//go:build e2ek8s

package kube

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testkube"
)

// Day 2 on the real cluster (issue 12): the writer Service, a state
// transfer longer than the startup probe's budget, a full outage with a
// member kept Pending, scaling 3 → 5 → 3, and token rotation. They run
// after S1–S8 and before the replication variant (TestE2E's order).

const writerLabel = "galera-sentinel.io/writer"

// e2eToken is the overlay's peer token until testS14TokenRotation
// replaces it.
var e2eToken = "e2e-test-token-not-a-secret"

// sentinelGet fetches path from a pod's sentinel (plain HTTP on the pod
// network), with the token when one is given.
func sentinelGet(ctx context.Context, ip, path, token string) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ip+":9200"+path, nil)
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, strings.TrimSpace(string(b)), nil
}

// labelled returns the pods whose writer label is "true".
func labelled(ctx context.Context) ([]string, error) {
	out, err := cluster.Kubectl(ctx, "-n", ns, "get", "pods", "-l", "app=galera,"+writerLabel+"=true", "-o", "jsonpath={.items[*].metadata.name}")
	if err != nil {
		return nil, err
	}
	return strings.Fields(out), nil
}

// labelledWriter waits for exactly one pod labelled writer and returns
// it. A scenario that starts right after another may find a handover in
// progress (a rebuilt or returning member of a lower ordinal taking the
// writer back: the old writer keeps its label through the handover
// window); a handover that never ends fails the scenario.
func labelledWriter(t *testing.T, ctx context.Context) string {
	t.Helper()
	t0 := time.Now()
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var l []string
	waitUntil(t, wctx, "one pod labelled "+writerLabel+"=true", 200*time.Millisecond, func() (err error) {
		if l, err = labelled(ctx); err != nil {
			return err
		}
		if len(l) != 1 {
			return fmt.Errorf("labelled %v", l)
		}
		return nil
	})
	if d := time.Since(t0); d > time.Second {
		t.Logf("one labelled writer (%s) after %v", l[0], d.Round(100*time.Millisecond))
	}
	return l[0]
}

// 10. The writer Service routes to exactly one member, the one whose
// /writerz answers 200, and moves when that member drains (its pod
// deleted: SIGTERM, the sentinel drains).
func testS10WriterService(t *testing.T) {
	ctx := testCtx(t, 10*time.Minute)
	waitHealthy(t, ctx, 5*time.Minute)
	one := func() (string, error) {
		eps, err := readyEndpointsOf(ctx, "galera-writer")
		if err != nil {
			return "", err
		}
		if len(eps) != 1 {
			return "", fmt.Errorf("the writer Service has %d ready endpoints: %v", len(eps), eps)
		}
		for ip := range eps {
			return ip, nil
		}
		return "", nil
	}
	var ip string
	waitUntil(t, ctx, "one endpoint in the writer Service", 200*time.Millisecond, func() (err error) {
		ip, err = one()
		return err
	})
	ps, err := pods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var writer string
	for name, p := range ps {
		code, body, err := sentinelGet(ctx, p.Status.PodIP, "/writerz", "")
		if err != nil {
			t.Fatal(err)
		}
		if (code == 200) != (p.Status.PodIP == ip) {
			t.Errorf("%s (%s): /writerz %d %q, writer Service endpoint %s", name, p.Status.PodIP, code, body, ip)
		}
		if code == 200 {
			writer = name
		}
	}
	if l, err := labelled(ctx); err != nil || len(l) != 1 || l[0] != writer {
		t.Fatalf("pods labelled %s=true: %v (%v), /writerz 200 on %s", writerLabel, l, err, writer)
	}
	t.Logf("writer Service → %s (%s), the one /writerz 200", writer, ip)

	// Drain the writer: watch the Service's endpoints every 100 ms.
	db := writerClient(t, ctx)
	w := startWriter(db, maxID(t, ctx), 50*time.Millisecond)
	type sample struct {
		at  time.Time
		eps map[string]bool
	}
	var trace []sample
	t0 := time.Now()
	kubectl(t, ctx, "-n", ns, "delete", "pod", writer, "--wait=false")
	var moved time.Duration
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		eps, err := readyEndpointsOf(ctx, "galera-writer")
		if err != nil {
			continue
		}
		trace = append(trace, sample{time.Now(), eps})
		if len(eps) == 1 && !eps[ip] && moved == 0 {
			moved = time.Since(t0)
		}
		if moved > 0 && time.Since(t0) > moved+5*time.Second {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the writer Service did not move off %s within 3 minutes", writer)
		}
	}
	var none, two time.Duration
	for i := 1; i < len(trace); i++ {
		d := trace[i].at.Sub(trace[i-1].at)
		switch len(trace[i-1].eps) {
		case 0:
			none += d
		case 1:
		default:
			two += d
		}
	}
	waitHealthy(t, ctx, 5*time.Minute)
	st := w.stop()
	t.Logf("writer %s deleted → the writer Service on one other member after %s; about %s with no endpoint, %s with two (100 ms samples); writes through it: %d attempted, %d committed, %d failed, longest without a committed write %s",
		writer, moved.Round(100*time.Millisecond), none.Round(100*time.Millisecond), two.Round(100*time.Millisecond),
		st.Attempts, len(st.Acked), len(st.Failures), st.longestGap(t0).Round(100*time.Millisecond))
	logFailures(t, st)
	verifyRows(t, ctx, st.Acked)
	if _, err := one(); err != nil {
		t.Errorf("after the member came back: %v", err)
	}
}

// writerClient is client on the writer Service.
func writerClient(t *testing.T, ctx context.Context) *sql.DB {
	return clientOn(t, ctx, "galera-writer")
}

// 11. A state transfer that takes longer than the startup probe's budget
// (the donors' links throttled to 10 Mbit/s inside their pods' network
// namespaces, tc tbf) does not get the member killed: it joins, with no
// restart.
func testS11SlowSST(t *testing.T) {
	ctx := testCtx(t, 20*time.Minute)
	waitHealthy(t, ctx, 5*time.Minute)
	const victim = "galera-2"
	before, err := pods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	budget := startupBudget(t, ctx)
	var netnss []string
	for name, p := range before {
		if name == victim {
			continue
		}
		n, err := testkube.PodNetns(ctx, p.Status.PodIP)
		if err != nil {
			t.Fatal(err)
		}
		netnss = append(netnss, n)
	}
	for _, n := range netnss {
		if out, err := exec.Command("ip", "netns", "exec", n, "tc", "qdisc", "replace", "dev", "eth0", "root", "tbf", "rate", "10mbit", "burst", "32kb", "latency", "2s").CombinedOutput(); err != nil {
			t.Fatalf("throttle %s: %v: %s", n, err, out)
		}
	}
	unthrottle := func() {
		for _, n := range netnss {
			_ = exec.Command("ip", "netns", "exec", n, "tc", "qdisc", "del", "dev", "eth0", "root").Run()
		}
		netnss = nil
	}
	t.Cleanup(unthrottle)
	t0 := time.Now()
	kubectl(t, ctx, "-n", ns, "delete", "pvc", "data-"+victim, "--wait=false")
	kubectl(t, ctx, "-n", ns, "delete", "pod", victim, "--wait=false")
	var uid string
	restarts := 0
	waitUntil(t, ctx, "the new "+victim+" Ready", time.Second, func() error {
		ps, err := pods(ctx)
		if err != nil {
			return err
		}
		p, ok := ps[victim]
		if !ok || p.Metadata.UID == before[victim].Metadata.UID {
			return fmt.Errorf("no new %s yet", victim)
		}
		uid, restarts = p.Metadata.UID, p.restarts()
		if restarts > 0 {
			return nil // reported below
		}
		if !p.ready() {
			return fmt.Errorf("%s not Ready", victim)
		}
		return nil
	})
	took := time.Since(t0)
	unthrottle()
	if restarts > 0 {
		logs, _ := cluster.Kubectl(ctx, "-n", ns, "logs", victim, "-c", "mariadb", "--previous")
		t.Fatalf("%s (uid %s) was restarted %d times during its state transfer; previous log:\n%s", victim, uid, restarts, tail(logs, 30))
	}
	waitHealthy(t, ctx, 5*time.Minute)
	logs, _ := cluster.Kubectl(ctx, "-n", ns, "logs", victim, "-c", "mariadb")
	if !strings.Contains(logs, "sst_in_progress") && !strings.Contains(logs, "State transfer") && !strings.Contains(logs, "SST") {
		t.Errorf("no state transfer in %s's log", victim)
	}
	t.Logf("new %s joined by a state transfer through links throttled to 10 Mbit/s in %s (the startup probe's budget: %s), 0 restarts", victim, took.Round(time.Second), budget)
	if took <= budget {
		t.Errorf("the transfer took %s, within the startup probe's budget %s: it proves nothing; make the data set bigger", took.Round(time.Second), budget)
	}
}

// refusedCode: the API refused the token (401 without one, 403 for a
// wrong one).
func refusedCode(code int) bool {
	return code == http.StatusUnauthorized || code == http.StatusForbidden
}

// startupBudget is periodSeconds × failureThreshold of the members'
// startup probe (0 without one).
func startupBudget(t *testing.T, ctx context.Context) time.Duration {
	out := kubectl(t, ctx, "-n", ns, "get", "statefulset", "galera", "-o", "jsonpath={.spec.template.spec.containers[0].startupProbe}")
	if strings.TrimSpace(out) == "" {
		return 0
	}
	var p struct {
		PeriodSeconds    int `json:"periodSeconds"`
		FailureThreshold int `json:"failureThreshold"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	return time.Duration(p.PeriodSeconds*p.FailureThreshold) * time.Second
}

func tail(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

var forceHint = regexp.MustCompile("`galera-sentinel force-bootstrap (galera-[0-9]+)`")

// 12. A full outage (kill -9 of every container) with one member's new
// pod kept Pending (the node tainted, as a disk still attached elsewhere
// would): the others wait for it, by name, and never bootstrap; the
// override through a running sentinel (kubectl exec … force-bootstrap)
// brings them up with every acknowledged row; the Pending member joins
// once it can be scheduled.
func testS12OutagePendingMember(t *testing.T) {
	ctx := testCtx(t, 20*time.Minute)
	waitHealthy(t, ctx, 5*time.Minute)
	const gone = "galera-2"
	db := client(t, ctx)
	w := startWriter(db, maxID(t, ctx), 50*time.Millisecond)
	time.Sleep(3 * time.Second)
	st := w.stop()
	logFailures(t, st)
	before, err := pods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The last Primary component is the three of them.
	// Its node is tainted (with worker nodes, its volume is pinned there).
	node := nodeOf(t, ctx, gone)
	for name, p := range before {
		if name == gone {
			continue
		}
		if err := cluster.KillContainer(ctx, p.Status.ContainerStatuses[0].ContainerID); err != nil {
			t.Fatal(err)
		}
	}
	taint := "e2e-pending=true:NoSchedule"
	kubectl(t, ctx, "taint", "nodes", node, taint)
	tainted := true
	untaint := func() {
		if tainted {
			kubectl(t, context.Background(), "taint", "nodes", node, strings.TrimSuffix(taint, ":NoSchedule")+":NoSchedule-")
			tainted = false
		}
	}
	t.Cleanup(untaint)
	kubectl(t, ctx, "-n", ns, "delete", "pod", gone, "--grace-period=0", "--force")
	t0 := time.Now()
	var best string
	waitUntil(t, ctx, "galera-0 and galera-1 waiting for "+gone, time.Second, func() error {
		ps, err := pods(ctx)
		if err != nil {
			return err
		}
		if p, ok := ps[gone]; !ok || p.Status.PodIP != "" {
			return fmt.Errorf("%s not Pending", gone)
		}
		for _, name := range []string{"galera-0", "galera-1"} {
			code, body, err := sentinelGet(ctx, ps[name].Status.PodIP, "/readyz", "")
			if err != nil {
				return err
			}
			if code != 503 || !strings.Contains(body, "missing "+gone) {
				return fmt.Errorf("%s: %d %q", name, code, body)
			}
			if m := forceHint.FindStringSubmatch(body); m != nil {
				best = m[1]
			}
		}
		return nil
	})
	if best == "" {
		t.Fatal("the waiting reason names no member to force")
	}
	// They keep waiting: no bootstrap while a member of the last Primary
	// component is missing.
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(2 * time.Second) {
		ps, err := pods(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"galera-0", "galera-1"} {
			if ps[name].ready() {
				t.Fatalf("%s Ready while %s, of the last Primary component, is Pending", name, gone)
			}
			_, body, err := sentinelGet(ctx, ps[name].Status.PodIP, "/api/v1/state", e2eToken)
			if err == nil && strings.Contains(body, `"running":true`) {
				t.Fatalf("%s runs mariadbd while %s is Pending: %s", name, gone, body)
			}
		}
	}
	waited := time.Since(t0)
	// The override, typed into the member that is not the one named.
	via := "galera-0"
	if best == via {
		via = "galera-1"
	}
	out, err := cluster.Kubectl(ctx, "-n", ns, "exec", via, "-c", "mariadb", "--", "galera-sentinel", "force-bootstrap", best)
	t.Logf("kubectl exec %s -- galera-sentinel force-bootstrap %s:\n%s", via, best, out)
	if err != nil {
		t.Fatal(err)
	}
	tOverride := time.Now()
	waitUntil(t, ctx, "galera-0 and galera-1 Ready", time.Second, func() error {
		ps, err := pods(ctx)
		if err != nil {
			return err
		}
		for _, name := range []string{"galera-0", "galera-1"} {
			if !ps[name].ready() {
				return fmt.Errorf("%s not Ready", name)
			}
		}
		return nil
	})
	up := time.Since(tOverride)
	verifyRowsOn(t, ctx, st.Acked, "galera-0", "galera-1")
	untaint()
	waitHealthy(t, ctx, 10*time.Minute)
	verifyRows(t, ctx, st.Acked)
	t.Logf("outage with %s Pending: waited %s without a bootstrap; override through %s → 2 Ready in %s; %s back after the taint was removed, %d acknowledged rows everywhere",
		gone, waited.Round(time.Second), via, up.Round(100*time.Millisecond), gone, len(st.Acked))
}

// 13. Scale 3 → 5 → 3 under client load: no acknowledged row lost, and a
// crash of every member after each step recovers by itself (the expected
// members follow the saved views, not --expected-size).
func testS13Scale(t *testing.T) {
	ctx := testCtx(t, 30*time.Minute)
	waitHealthy(t, ctx, 5*time.Minute)
	names := func(n int) []string {
		var out []string
		for i := 0; i < n; i++ {
			out = append(out, fmt.Sprintf("galera-%d", i))
		}
		return out
	}
	waitN := func(n int, what string) time.Duration {
		t.Helper()
		t0 := time.Now()
		waitUntil(t, ctx, what, time.Second, func() error { return healthyN(ctx, n) })
		return time.Since(t0)
	}
	outage := func(n int) time.Duration {
		t.Helper()
		ps, err := pods(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		for _, p := range ps {
			if err := cluster.KillContainer(ctx, p.Status.ContainerStatuses[0].ContainerID); err != nil {
				t.Fatal(err)
			}
		}
		waitN(n, fmt.Sprintf("%d members back after kill -9 of every container", n))
		return time.Since(t0)
	}
	db := client(t, ctx)

	w := startWriter(db, maxID(t, ctx), 50*time.Millisecond)
	kubectl(t, ctx, "-n", ns, "scale", "statefulset", "galera", "--replicas=5")
	up := waitN(5, "5 Ready members, Synced, cluster size 5")
	time.Sleep(2 * time.Second)
	st := w.stop()
	logFailures(t, st)
	verifyRowsOn(t, ctx, st.Acked, names(5)...)
	t.Logf("scale 3 → 5 under writes: 5 Ready in %s; %d committed, %d failed", up.Round(time.Second), len(st.Acked), len(st.Failures))
	rec5 := outage(5)
	verifyRowsOn(t, ctx, st.Acked, names(5)...)
	t.Logf("kill -9 of all 5 → 5 Ready again in %s, by itself", rec5.Round(time.Second))

	w = startWriter(db, maxID(t, ctx), 50*time.Millisecond)
	kubectl(t, ctx, "-n", ns, "scale", "statefulset", "galera", "--replicas=3")
	down := waitN(3, "3 Ready members, Synced, cluster size 3")
	time.Sleep(2 * time.Second)
	st2 := w.stop()
	logFailures(t, st2)
	verifyRows(t, ctx, st2.Acked)
	t.Logf("scale 5 → 3 under writes: 3 members in %s; %d committed, %d failed", down.Round(time.Second), len(st2.Acked), len(st2.Failures))
	rec3 := outage(3)
	verifyRows(t, ctx, st.Acked)
	verifyRows(t, ctx, st2.Acked)
	t.Logf("kill -9 of all 3 → 3 Ready again in %s, by itself (--expected-size never changed)", rec3.Round(time.Second))
	for _, name := range []string{"galera-3", "galera-4"} {
		kubectl(t, ctx, "-n", ns, "delete", "pvc", "data-"+name, "--wait=false")
	}
}

// 14. Token rotation with a rolling restart: the Secret holds the new and
// the old token and the pods are rolled (each new pod answered by peers
// that still know the old one); then the Secret holds only the new one,
// which every sentinel takes without a restart (the old one refused), and
// the cluster stays healthy.
func testS14TokenRotation(t *testing.T) {
	ctx := testCtx(t, 25*time.Minute)
	waitHealthy(t, ctx, 5*time.Minute)
	const next = "e2e-rotated-token-0123456789"
	setToken := func(v string) {
		t.Helper()
		b, _ := json.Marshal(map[string]any{"stringData": map[string]string{"token": v}})
		kubectl(t, ctx, "-n", ns, "patch", "secret", "galera-sentinel", "--type=merge", "-p", string(b))
	}
	roll := func(what string) time.Duration {
		t.Helper()
		t0 := time.Now()
		kubectl(t, ctx, "-n", ns, "rollout", "restart", "statefulset/galera")
		kubectl(t, ctx, "-n", ns, "rollout", "status", "statefulset/galera", "--timeout=12m")
		waitHealthy(t, ctx, 5*time.Minute)
		d := time.Since(t0)
		t.Logf("%s: rollout complete, healthy, in %s", what, d.Round(time.Second))
		return d
	}
	accepts := func(tok string, want int) error {
		ps, err := pods(ctx)
		if err != nil {
			return err
		}
		for name, p := range ps {
			code, _, err := sentinelGet(ctx, p.Status.PodIP, "/api/v1/state", tok)
			if err != nil {
				return err
			}
			if refusedCode(code) != refusedCode(want) || !refusedCode(code) && code != want {
				return fmt.Errorf("%s answers %d, want %d", name, code, want)
			}
		}
		return nil
	}
	db := client(t, ctx)
	w := startWriter(db, maxID(t, ctx), 50*time.Millisecond)
	setToken(next + "\n" + e2eToken)
	r1 := roll("token \"new, old\"")
	setToken(next)
	// The kubelet rewrites a Secret's volume within its sync period; the
	// sentinels reload it.
	t1 := time.Now()
	waitUntil(t, ctx, "every sentinel refusing the old token", 2*time.Second, func() error { return accepts(e2eToken, http.StatusForbidden) })
	t.Logf("the Secret without the old token: every sentinel refuses it %s later (the kubelet's sync, then the reload)", time.Since(t1).Round(time.Second))
	if err := accepts(next, 200); err != nil {
		t.Fatal(err)
	}
	e2eToken = next
	waitHealthy(t, ctx, 5*time.Minute)
	st := w.stop()
	logFailures(t, st)
	verifyRows(t, ctx, st.Acked)
	t.Logf("token rotation: a rolling restart with \"new, old\" in %s, then \"new\" alone taken without a restart; writes through the Service: %d committed, %d failed", r1.Round(time.Second), len(st.Acked), len(st.Failures))
}
