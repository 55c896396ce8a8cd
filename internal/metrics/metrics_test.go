package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/member"
	"github.com/galera-sentinel/galera-sentinel/internal/metrics"
	"github.com/galera-sentinel/galera-sentinel/internal/metrics/scrape"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
	"github.com/galera-sentinel/galera-sentinel/internal/readiness"
)

// script is a sampler that answers from a list the test controls: the
// unit under test is the collector, not the database (the cmd tests scrape
// sentinels on a real cluster).
type script struct {
	mu   sync.Mutex
	next func() (galera.Sample, error)
}

func (s *script) Sample(context.Context) (galera.Sample, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next()
}

func (s *script) set(f func() (galera.Sample, error)) {
	s.mu.Lock()
	s.next = f
	s.mu.Unlock()
}

func synced(at time.Time, pausedNs, bytes int64) galera.Sample {
	st := galera.UnknownStats()
	st.ConfID, st.RecvQueue, st.SendQueue, st.CertFailures, st.BFAborts = 5, 2, 0, 7, 1
	st.FlowControlPausedNs, st.FlowControlSent, st.FlowControlRecv = pausedNs, 0, 3
	st.ReplicatedBytes, st.ReceivedBytes = bytes, 0
	st.ReplLatencyAvg, st.ReplLatencyMax, st.GcacheSize = 0.001, 0.004, 32<<20
	return galera.Sample{At: at, WsrepOn: true, Connected: true, Ready: true, ClusterStatus: "Primary", LocalState: galera.StateSynced,
		LocalIndex: 0, ClusterSize: 3, ClusterUUID: "6d1e7a1c-e5d5-11f1-af80-3bed973a687b", LastCommitted: 42, NodeName: "node1",
		RejectQueries: "NONE", ThreadsConnected: 4, Stats: st}
}

type fixture struct {
	m      *metrics.Metrics
	poller *health.Poller[galera.Sample]
	srv    *httptest.Server
	src    *script
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	m := metrics.New(metrics.Options{Version: "test", ErrorKind: func(err error) string {
		if strings.Contains(err.Error(), "refused") {
			return "refused"
		}
		return "other"
	}})
	src := &script{}
	judge := readiness.Judge[galera.Sample]{Policy: galera.Policy{}, Limits: readiness.Limits{MaxStaleness: time.Hour, LivenessGrace: time.Hour}}
	p := health.NewPoller(health.PollerConfig{Interval: time.Hour, Timeout: time.Second, Recorder: m}, judge, health.Sampler[galera.Sample](src))
	h := health.NewHandlers(p)
	metrics.Watch(m, p, h, metrics.Galera)
	mux := http.NewServeMux()
	h.Register(mux)
	m.Routes().Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{m: m, poller: p, srv: srv, src: src}
}

// poll runs n polls through the poller's own loop (Kick), waiting for each.
func (f *fixture) poll(t *testing.T, ctx context.Context, n int) {
	t.Helper()
	want := f.poller.Snapshot().Polls + uint64(n)
	for f.poller.Snapshot().Polls < want {
		f.poller.Kick()
		select {
		case <-ctx.Done():
			t.Fatal("polls did not happen")
		case <-time.After(time.Millisecond):
		}
	}
}

func (f *fixture) scrape(t *testing.T, accept string) *scrape.Page {
	t.Helper()
	p, err := scrape.Get(f.srv.URL+"/metrics", accept)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func want(t *testing.T, p *scrape.Page, v float64, name string, labels ...string) {
	t.Helper()
	got, ok := p.Value(name, labels...)
	if !ok {
		t.Errorf("%s%v missing from the page", name, labels)
	} else if got != v {
		t.Errorf("%s%v = %v, want %v", name, labels, got, v)
	}
}

func TestCollector(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t0 := time.Now()
	f.src.set(func() (galera.Sample, error) { return synced(t0, 1e9, 1000), nil })
	go f.poller.Run(ctx) // polls once at once
	f.poll(t, ctx, 1)
	// One second later: half of it paused by flow control, 1 MB written.
	f.src.set(func() (galera.Sample, error) { return synced(t0.Add(time.Second), 1.5e9, 1000+1<<20), nil })
	f.poll(t, ctx, 1)
	for range 3 {
		if _, err := http.Get(f.srv.URL + "/readyz"); err != nil {
			t.Fatal(err)
		}
	}

	p := f.scrape(t, "")
	if !strings.HasPrefix(p.ContentType, "text/plain") {
		t.Errorf("content type %q, want the text format", p.ContentType)
	}
	const ns = "galera_sentinel_"
	want(t, p, 1, ns+"up")
	want(t, p, 3, ns+"cluster_size")
	want(t, p, 5, ns+"cluster_conf_id")
	want(t, p, 42, ns+"last_committed")
	want(t, p, 1, ns+"local_state", "state", "Synced")
	want(t, p, 0, ns+"local_state", "state", "Joining")
	want(t, p, 1, ns+"cluster_status", "status", "Primary")
	want(t, p, 1, ns+"verdict", "probe", "ready")
	want(t, p, 1, ns+"verdict", "probe", "writer")
	want(t, p, 1, ns+"verdict_info", "probe", "ready", "reason", "ready")
	want(t, p, 1, ns+"writer_role", "role", "writer")
	want(t, p, 0, ns+"writer_role", "role", "standby")
	want(t, p, 2, ns+"recv_queue")
	want(t, p, 7, ns+"cert_failures_total")
	want(t, p, 1.5, ns+"flow_control_paused_seconds_total")
	want(t, p, 0.5, ns+"flow_control_paused_ratio")
	want(t, p, 32<<20, ns+"gcache_size_bytes")
	want(t, p, 32, ns+"gcache_headroom_seconds") // 32 MiB at 1 MiB/s
	want(t, p, 0.004, ns+"repl_latency_seconds", "stat", "max")
	want(t, p, 1, ns+"cluster_info", "cluster_uuid", "6d1e7a1c-e5d5-11f1-af80-3bed973a687b", "node_name", "node1")
	want(t, p, 3, ns+"http_requests_total", "handler", "/readyz", "code", "200")
	polls := float64(f.poller.Snapshot().Polls)
	want(t, p, polls, ns+"polls_total")
	want(t, p, polls, ns+"poll_duration_seconds") // observations
	want(t, p, 100, ns+"traffic_weight_percent")
	want(t, p, 1, ns+"build_info", "version", "test")
	if _, ok := p.Value("go_goroutines"); !ok {
		t.Error("no Go runtime series")
	}
	if _, ok := p.Value("process_resident_memory_bytes"); !ok {
		t.Error("no process series")
	}

	// A flap between two scrapes: ready → desynced → ready. The gauge
	// says ready both times; the counter says what happened.
	before, _ := p.Value(ns+"verdict_changes_total", "probe", "ready", "reason", "desynced")
	desynced := synced(t0.Add(2*time.Second), 1.5e9, 1000+1<<20)
	desynced.Desync = true
	f.src.set(func() (galera.Sample, error) { return desynced, nil })
	f.poll(t, ctx, 1)
	f.src.set(func() (galera.Sample, error) { return synced(t0.Add(3*time.Second), 1.5e9, 1000+1<<20), nil })
	f.poll(t, ctx, 1)
	p = f.scrape(t, "")
	want(t, p, 1, ns+"verdict", "probe", "ready")
	want(t, p, before+1, ns+"verdict_changes_total", "probe", "ready", "reason", "desynced")
	if age, ok := p.Value(ns+"seconds_since_verdict_change", "probe", "ready"); !ok || age > 5 {
		t.Errorf("seconds since the ready verdict changed: %v %v", age, ok)
	}
	// Nothing written in the last interval: no headroom estimate.
	if _, ok := p.Value(ns + "gcache_headroom_seconds"); ok {
		t.Error("a headroom estimate with no writes")
	}

	// Failed polls count by kind; up goes to 0; the verdict's reason is
	// a class, not the error text.
	f.src.set(func() (galera.Sample, error) { return galera.Sample{}, errors.New("dial tcp: connection refused") })
	f.poll(t, ctx, 2)
	p = f.scrape(t, "")
	want(t, p, 0, ns+"up")
	want(t, p, 2, ns+"poll_errors_total", "kind", "refused")
	want(t, p, 0, ns+"poll_errors_total", "kind", "auth")
}

func TestOpenMetricsNegotiation(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f.src.set(func() (galera.Sample, error) { return synced(time.Now(), 0, 0), nil })
	go f.poller.Run(ctx)
	f.poll(t, ctx, 1)
	p := f.scrape(t, "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")
	if !strings.HasPrefix(p.ContentType, "application/openmetrics-text") {
		t.Fatalf("content type %q, want OpenMetrics", p.ContentType)
	}
	want(t, p, 3, "galera_sentinel_cluster_size")
	want(t, p, 1, "galera_sentinel_verdict", "probe", "ready")
	if _, ok := p.Value("galera_sentinel_polls_total"); !ok {
		t.Error("polls_total missing from the OpenMetrics page")
	}
	// A scrape never polls: the count stays.
	polls := f.poller.Snapshot().Polls
	for range 5 {
		f.scrape(t, "")
	}
	if got := f.poller.Snapshot().Polls; got != polls {
		t.Errorf("scrapes polled the node: %d → %d", polls, got)
	}
}

func TestMemberSeries(t *testing.T) {
	m := metrics.New(metrics.Options{})
	reason := "waiting for every expected member: 2 of 3 expected members answered; missing: node3"
	state := peer.State{Phase: peer.PhaseWaiting, PositionKnown: true, Seqno: 108, Action: member.Wait,
		DecisionReason: reason, DecisionClass: member.Class(galera.DecidedExpected), Decision: "wait: " + reason}
	view := galera.View{Expected: 3, Peers: []galera.Member{{Name: "node2", PositionKnown: true, Position: galera.Position{Seqno: 110}}},
		Unreachable: []galera.Unreachable{{Addr: "10.0.0.3:9200", Err: "connection refused"}}}
	metrics.Member(m, func() peer.State { return state }, func() galera.View { return view })
	mux := http.NewServeMux()
	m.Routes().Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	p, err := scrape.Get(srv.URL+"/metrics", "")
	if err != nil {
		t.Fatal(err)
	}
	want(t, p, 1, "galera_sentinel_member_phase", "phase", "waiting")
	want(t, p, 0, "galera_sentinel_member_phase", "phase", "running")
	want(t, p, 108, "galera_sentinel_member_position_seqno")
	want(t, p, 1, "galera_sentinel_member_datadir", "kind", "position")
	want(t, p, 110, "galera_sentinel_member_peer_position_seqno", "peer", "node2")
	want(t, p, 1, "galera_sentinel_member_peers_unreachable")
	// The decision's typed class only: the names of missing members
	// would make a series per outage.
	want(t, p, 1, "galera_sentinel_member_decision_info", "action", "wait")
	if r, _ := p.Label("galera_sentinel_member_decision_info", "reason", "action", "wait"); r != "waiting for every expected member" {
		t.Errorf("decision reason label %q, want the decision's class", r)
	}
	state = peer.State{Phase: peer.PhasePosition, NeedsSST: true, PositionKnown: true}
	p, err = scrape.Get(srv.URL+"/metrics", "")
	if err != nil {
		t.Fatal(err)
	}
	want(t, p, 1, "galera_sentinel_member_datadir", "kind", "needs-sst")
}

func TestRates(t *testing.T) {
	t0 := time.Now()
	a, b := synced(t0, 0, 0), synced(t0.Add(2*time.Second), 3e9, 4000) // paused longer than the interval: capped
	r, ok := metrics.Rates(&a, &b)
	if !ok || r.PausedRatio != 1 || r.BytesPerSecond != 2000 {
		t.Errorf("rates %+v %v", r, ok)
	}
	if _, ok := metrics.Rates(&b, &a); ok {
		t.Error("counters that went back (a restart) gave a rate")
	}
	if _, ok := metrics.Rates(nil, &a); ok {
		t.Error("a rate from one sample")
	}
	u := synced(t0.Add(time.Second), 0, 0)
	u.Stats.FlowControlPausedNs = galera.Unknown
	if _, ok := metrics.Rates(&a, &u); ok {
		t.Error("a rate from an unknown counter")
	}
}

// BenchmarkScrape is the cost of one /metrics scrape of a Synced node's
// sentinel (text format, no gzip): time and allocations per scrape.
func BenchmarkScrape(b *testing.B) {
	f := newFixture(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t0 := time.Now()
	f.src.set(func() (galera.Sample, error) { return synced(t0, 1e9, 1000), nil })
	go f.poller.Run(ctx)
	for f.poller.Snapshot().Polls < 1 {
		time.Sleep(time.Millisecond)
	}
	f.src.set(func() (galera.Sample, error) { return synced(t0.Add(time.Second), 1.5e9, 1<<20), nil })
	f.poller.Kick()
	for f.poller.Snapshot().Polls < 2 {
		time.Sleep(time.Millisecond)
	}
	h := f.m.Handler()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	b.ReportAllocs()
	b.ResetTimer()
	var size int
	for range b.N {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code, w.Body.String())
		}
		size = w.Body.Len()
	}
	b.ReportMetric(float64(size), "bytes/scrape")
}
