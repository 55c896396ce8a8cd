package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
)

// shippedListener returns the directives of one listener of the shipped
// HAProxy configuration, deploy/haproxy/haproxy.cfg, without its bind and
// server lines, with the ports the test sentinels listen on.
func shippedListener(t *testing.T, name string) string {
	t.Helper()
	l, err := testcluster.ShippedListener("../../deploy/haproxy/haproxy.cfg", name)
	if err != nil {
		t.Fatal(err)
	}
	return testPorts(l)
}

func testPorts(line string) string {
	return strings.NewReplacer(" port 9200", fmt.Sprintf(" port %d", testcluster.SentinelPort),
		" agent-port 9201", fmt.Sprintf(" agent-port %d", testcluster.AgentPort)).Replace(line)
}

// lbTrace follows HAProxy's view of a single-writer listener: how long it
// had no server taking new connections (UP; NOLB and DOWN take none) and
// how long two or more.
type lbTrace struct {
	mu                  sync.Mutex
	noneTotal, noneMax  time.Duration
	twoTotal, twoMax    time.Duration
	noneSince, twoSince time.Time
}

func (l *lbTrace) observe(st map[string]string, now time.Time) {
	up := 0
	for _, s := range st {
		if strings.HasPrefix(s, "UP") {
			up++
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	track := func(on bool, since *time.Time, total, longest *time.Duration) {
		switch {
		case on && since.IsZero():
			*since = now
		case !on && !since.IsZero():
			d := now.Sub(*since)
			*total += d
			*longest = max(*longest, d)
			*since = time.Time{}
		}
	}
	track(up == 0, &l.noneSince, &l.noneTotal, &l.noneMax)
	track(up >= 2, &l.twoSince, &l.twoTotal, &l.twoMax)
}

func (l *lbTrace) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("no writer in HAProxy %d ms (longest %d ms); two writers %d ms (longest %d ms)",
		l.noneTotal.Milliseconds(), l.noneMax.Milliseconds(), l.twoTotal.Milliseconds(), l.twoMax.Milliseconds())
}

// follow samples HAProxy's server states every 20 ms until ctx ends.
func follow(ctx context.Context, h *testcluster.HAProxy) *lbTrace {
	l := &lbTrace{}
	go func() {
		for ctx.Err() == nil {
			if st, err := h.Stat(); err == nil {
				l.observe(st, time.Now())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return l
}

// longestGap is the longest time without an acknowledged commit between
// from and to, as the clients saw it.
func (w *writeLog) longestGap(from, to time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var longest time.Duration
	prev := from
	for _, at := range w.ackedAt {
		if at.Before(from) || at.After(to) {
			continue
		}
		longest = max(longest, at.Sub(prev))
		prev = at
	}
	return max(longest, to.Sub(prev))
}

// currentWriter is the member whose /writerz answers 200, waiting for
// exactly one.
func currentWriter(t *testing.T, nodes []*testcluster.Node) *testcluster.Node {
	t.Helper()
	name, _ := waitOneWriter(t, nodes, "", 20*time.Second)
	for _, n := range nodes {
		if n.Name == name {
			return n
		}
	}
	t.Fatalf("writer %q is not a member", name)
	return nil
}

// waitWritable waits until n's /writerz says it could take writes (200
// or 404): back in the cluster, Synced.
func waitWritable(t *testing.T, n *testcluster.Node, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		code, body, err := tryProbe("http://" + n.SentinelAddr() + "/writerz")
		if err == nil && (code == 200 || code == 404) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: /writerz %d %q %v after %v", n.Name, code, body, err, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// writerRestart restarts every member in turn, the writer first, with
// connection-per-transaction clients writing through a single-writer
// HAProxy listener with the given directives.
func writerRestart(t *testing.T, listener string, flags ...string) (*writeLog, *lbTrace, *runCluster, *testcluster.HAProxy) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	rc := opsCluster(ctx, t, func(n *testcluster.Node) []string { return flags })
	h := rc.c.StartHAProxyWith(t, listener)
	w := currentWriter(t, rc.c.Nodes)
	if err := h.WaitStatus(ctx, w.Name, "UP"); err != nil {
		t.Fatal(err)
	}
	tctx, stopTrace := context.WithCancel(ctx)
	defer stopTrace()
	trace := follow(tctx, h)
	wctx, stopWriters := context.WithCancel(ctx)
	log, wait := startWriters(wctx, t, h.Addr, 4)
	time.Sleep(2 * time.Second)
	restartBegin := time.Now()
	order := []*testcluster.Node{w}
	for _, n := range rc.c.Nodes {
		if n != w {
			order = append(order, n)
		}
	}
	for _, n := range order {
		took := rc.sigterm(ctx, n)
		rc.start(n)
		begin := time.Now()
		waitWritable(t, n, 2*time.Minute)
		t.Logf("%s: SIGTERM -> exit %v; start -> writable %v; writer now %s", n.Name,
			took.Round(time.Millisecond), time.Since(begin).Round(time.Millisecond), currentWriter(t, rc.c.Nodes).Name)
		n.CloseDB()
		time.Sleep(time.Second)
	}
	time.Sleep(2 * time.Second)
	restartEnd := time.Now()
	stopWriters()
	wait()
	stopTrace()
	checkAcked(ctx, t, rc, log)
	t.Logf("rolling restart through the writer listener: %d acknowledged, %d failed, %d missing; %s; longest gap between commits %d ms",
		len(log.acked), log.failures, log.missing, trace, log.longestGap(restartBegin, restartEnd).Milliseconds())
	if len(log.acked) < 100 {
		t.Fatalf("only %d transactions acknowledged: the writers did not really run", len(log.acked))
	}
	return log, trace, rc, h
}

// TestWriterHandover: through the shipped single-writer listener, with
// the sentinel's defaults, a restart of every member is invisible to
// connection-per-transaction clients: no failed transaction, no lost row,
// never a moment without a writer in HAProxy. Then a kill -9 of the
// writer: writes move to another member within max-staleness and
// HAProxy's fall.
func TestWriterHandover(t *testing.T) {
	log, trace, rc, h := writerRestart(t, shippedListener(t, "galera-writer"))
	if log.failures != 0 {
		t.Errorf("%d transactions failed during the rolling restart:\n%s", log.failures, log.summary())
	}
	if log.missing != 0 {
		t.Errorf("%d acknowledged rows missing at the end (summed over the members)", log.missing)
	}
	if trace.noneMax > 0 {
		t.Errorf("a window without a writer in HAProxy: %s", trace)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	w := currentWriter(t, rc.c.Nodes)
	wctx, stopWriters := context.WithCancel(ctx)
	crash, wait := startWriters(wctx, t, h.Addr, 4)
	time.Sleep(2 * time.Second)
	killed := time.Now()
	if err := w.Kill(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(8 * time.Second)
	end := time.Now()
	stopWriters()
	wait()
	gap := crash.longestGap(killed, end)
	t.Logf("kill -9 of the writer %s: longest gap between commits %d ms, %d transactions failed:\n%s", w.Name, gap.Milliseconds(), crash.failures, crash.summary())
	// --max-staleness=2s, HAProxy fall 2 × inter 1s, and one check for the
	// successor to be taken back (it was NOLB), with a second of slack on
	// a busy machine.
	if limit := 2*time.Second + 2*time.Second + time.Second + time.Second; gap > limit {
		t.Errorf("writes stopped for %v after the writer's kill -9, want at most %v", gap, limit)
	}
	rc.start(w)
	waitWritable(t, w, 2*time.Minute)
}

// TestWriterHandoverControl is the control: the writer listener HAProxy
// users had before (agent-check, no disable-on-404) and a sentinel that
// hands over at once (--writer-handover=0s) fail transactions in the same
// restart, so the test above can fail.
func TestWriterHandoverControl(t *testing.T) {
	before := testPorts(`    option httpchk GET /writerz
    http-check expect status 200
    default-server inter 1s fall 2 rise 2 port 9200 agent-check agent-port 9201 agent-inter 1s on-marked-down shutdown-sessions
`)
	log, trace, _, _ := writerRestart(t, before, "--writer-handover=0s")
	t.Logf("failures with the handover as it was:\n%s", log.summary())
	if log.failures == 0 && trace.noneMax == 0 {
		t.Errorf("no failure and no window without a writer: the writer test cannot tell a handover from none (%s)", trace)
	}
}
