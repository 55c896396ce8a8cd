package writer

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
	"github.com/galera-sentinel/galera-sentinel/internal/testsentinel"
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

// writerRestart restarts every member in turn, the writer first, with
// connection-per-transaction clients writing through a single-writer
// HAProxy listener with the given directives.
func writerRestart(t *testing.T, listener string, flags ...string) (*testsentinel.WriteLog, *lbTrace, *testsentinel.RunCluster, *testcluster.HAProxy) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	rc := testsentinel.OpsCluster(ctx, t, func(n *testcluster.Node) []string { return flags })
	h := rc.C.StartHAProxyWith(t, listener)
	w := testsentinel.CurrentWriter(t, rc.C.Nodes)
	if err := h.WaitStatus(ctx, w.Name, "UP"); err != nil {
		t.Fatal(err)
	}
	tctx, stopTrace := context.WithCancel(ctx)
	defer stopTrace()
	trace := follow(tctx, h)
	wctx, stopWriters := context.WithCancel(ctx)
	log, wait := testsentinel.StartWriters(wctx, t, h.Addr, 4)
	time.Sleep(2 * time.Second)
	restartBegin := time.Now()
	order := []*testcluster.Node{w}
	for _, n := range rc.C.Nodes {
		if n != w {
			order = append(order, n)
		}
	}
	for _, n := range order {
		took := rc.Sigterm(ctx, n)
		rc.Start(n)
		begin := time.Now()
		testsentinel.WaitWritable(t, n, 2*time.Minute)
		t.Logf("%s: SIGTERM -> exit %v; start -> writable %v; writer now %s", n.Name,
			took.Round(time.Millisecond), time.Since(begin).Round(time.Millisecond), testsentinel.CurrentWriter(t, rc.C.Nodes).Name)
		n.CloseDB()
		time.Sleep(time.Second)
	}
	time.Sleep(2 * time.Second)
	restartEnd := time.Now()
	stopWriters()
	wait()
	stopTrace()
	testsentinel.CheckAcked(ctx, t, rc, log)
	t.Logf("rolling restart through the writer listener: %d acknowledged, %d failed, %d missing; %s; longest gap between commits %d ms",
		len(log.Acked), log.Failures, log.Missing, trace, log.LongestGap(restartBegin, restartEnd).Milliseconds())
	if len(log.Acked) < 100 {
		t.Fatalf("only %d transactions acknowledged: the writers did not really run", len(log.Acked))
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
	if log.Failures != 0 {
		t.Errorf("%d transactions failed during the rolling restart:\n%s", log.Failures, log.Summary())
	}
	if log.Missing != 0 {
		t.Errorf("%d acknowledged rows missing at the end (summed over the members)", log.Missing)
	}
	if trace.noneMax > 0 {
		t.Errorf("a window without a writer in HAProxy: %s", trace)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	w := testsentinel.CurrentWriter(t, rc.C.Nodes)
	wctx, stopWriters := context.WithCancel(ctx)
	crash, wait := testsentinel.StartWriters(wctx, t, h.Addr, 4)
	time.Sleep(2 * time.Second)
	killed := time.Now()
	if err := w.Kill(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(8 * time.Second)
	end := time.Now()
	stopWriters()
	wait()
	gap := crash.LongestGap(killed, end)
	t.Logf("kill -9 of the writer %s: longest gap between commits %d ms, %d transactions failed:\n%s", w.Name, gap.Milliseconds(), crash.Failures, crash.Summary())
	// --max-staleness=2s, HAProxy fall 2 × inter 1s, and one check for the
	// successor to be taken back (it was NOLB), with a second of slack on
	// a busy machine.
	if limit := 2*time.Second + 2*time.Second + time.Second + time.Second; gap > limit {
		t.Errorf("writes stopped for %v after the writer's kill -9, want at most %v", gap, limit)
	}
	rc.Start(w)
	testsentinel.WaitWritable(t, w, 2*time.Minute)
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
	t.Logf("failures with the handover as it was:\n%s", log.Summary())
	if log.Failures == 0 && trace.noneMax == 0 {
		t.Errorf("no failure and no window without a writer: the writer test cannot tell a handover from none (%s)", trace)
	}
}
