// Package metrics is the sentinel's Prometheus endpoint, GET /metrics:
// its own registry (never the global one), collectors that read the
// poller's latest snapshot when Prometheus scrapes, and the counters the
// poller feeds as things happen (a verdict that flaps between two scrapes
// still moves its counter). Text format 0.0.4 and OpenMetrics, by the
// scraper's Accept header.
//
// It must not touch the database (a scrape reads what the last poll saw,
// so scraping never adds a query), judge anything (verdicts come from
// package readiness through health), or block a poll.
package metrics

import (
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/httpserver"
	"github.com/galera-sentinel/galera-sentinel/internal/readiness"
)

// Namespace prefixes every series of ours.
const Namespace = "galera_sentinel"

// Options configure New.
type Options struct {
	Version string
	// ErrorKind names the kind of a failed poll, for the label of
	// poll_errors_total: "refused", "timeout", "auth", "query" or
	// "other" (mysqlstat.ErrorKind). Nil: every error is "other".
	ErrorKind func(error) string
}

// Probes are the verdicts metrics report, in their label's spelling.
var Probes = []string{"ready", "live", "started", "writer"}

// Metrics is the registry and the poller's health.Recorder.
type Metrics struct {
	reg       *prometheus.Registry
	errorKind func(error) string

	polls         prometheus.Counter
	pollErrors    *prometheus.CounterVec
	pollDuration  prometheus.Histogram
	changes       *prometheus.CounterVec
	notifications prometheus.Counter

	mu         sync.Mutex
	lastChange map[string]time.Time // probe → when its verdict last changed
	stateAt    time.Time            // when the node's state last changed
	started    time.Time
}

var _ health.Recorder = (*Metrics)(nil)

// New returns a registry with the sentinel's own series, Go's runtime
// and this process's; Watch adds a node's.
func New(opts Options) *Metrics {
	kind := opts.ErrorKind
	if kind == nil {
		kind = func(error) string { return "other" }
	}
	now := time.Now()
	m := &Metrics{
		reg: prometheus.NewRegistry(), errorKind: kind, lastChange: map[string]time.Time{}, stateAt: now, started: now,
		polls: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "polls_total",
			Help: "Polls of the node attempted (one connection, SHOW GLOBAL STATUS and VARIABLES)."}),
		pollErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "poll_errors_total",
			Help: "Polls that failed, by kind: refused, timeout, auth, query, other."}, []string{"kind"}),
		pollDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "poll_duration_seconds",
			Help:    "How long a poll took, failed ones included.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "verdict_changes_total",
			Help: "Changes of a probe's verdict, by probe and the class of the new reason; counted as they happen, so a flap shorter than a scrape shows."},
			[]string{"probe", "reason"}),
		notifications: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "notifications_total",
			Help: "wsrep_notify_cmd notifications received (each triggers a poll)."}),
	}
	for _, k := range []string{"refused", "timeout", "auth", "query", "other"} {
		m.pollErrors.WithLabelValues(k) // every kind from the first scrape, at 0
	}
	m.reg.MustRegister(m.polls, m.pollErrors, m.pollDuration, m.changes, m.notifications,
		// Go's runtime from runtime/metrics, without the MemStats series:
		// go_memstats_alloc_bytes and go_memstats_alloc_bytes_total are one
		// family name in OpenMetrics, which Prometheus's parser refuses.
		collectors.NewGoCollector(collectors.WithGoCollectorMemStatsMetricsDisabled(),
			collectors.WithGoCollectorRuntimeMetrics(collectors.MetricsGC, collectors.MetricsMemory, collectors.MetricsScheduler)),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: "build_info",
			Help: "The sentinel's version; always 1.", ConstLabels: prometheus.Labels{"version": opts.Version, "goversion": runtime.Version()}},
			func() float64 { return 1 }),
	)
	return m
}

// Polled records one poll (health.Recorder).
func (m *Metrics) Polled(d time.Duration, err error) {
	m.polls.Inc()
	m.pollDuration.Observe(d.Seconds())
	if err != nil {
		m.pollErrors.WithLabelValues(m.errorKind(err)).Inc()
	}
}

// VerdictChanged records a change of a probe's verdict (health.Recorder).
func (m *Metrics) VerdictChanged(probe string, v readiness.Verdict, at time.Time) {
	m.changes.WithLabelValues(probe, string(v.Class)).Inc()
	m.mu.Lock()
	m.lastChange[probe] = at
	m.mu.Unlock()
}

// StateChanged records a change of the node's state (health.Recorder).
func (m *Metrics) StateChanged(state string, at time.Time) {
	m.mu.Lock()
	m.stateAt = at
	m.mu.Unlock()
}

// Notified records a wsrep notification.
func (m *Metrics) Notified() { m.notifications.Inc() }

// sinceChange is how long ago probe's verdict changed (since the start
// when it never did), and the node's state.
func (m *Metrics) sinceChange(probe string, now time.Time) (verdict, state time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	at, ok := m.lastChange[probe]
	if !ok {
		at = m.started
	}
	return now.Sub(at), now.Sub(m.stateAt)
}

// Register adds a collector, such as Member's.
func (m *Metrics) Register(c prometheus.Collector) { m.reg.MustRegister(c) }

// Gatherer is the registry, for tests and benchmarks.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// Handler serves the registry: OpenMetrics when the scraper asks for it,
// the text format otherwise; gzip when accepted. A collector that fails
// makes the scrape answer 500 with the error, never a partial page that
// looks whole.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{EnableOpenMetrics: true, ErrorHandling: promhttp.HTTPErrorOnError,
		MaxRequestsInFlight: 4, Timeout: 5 * time.Second})
}

// Routes registers GET /metrics.
func (m *Metrics) Routes() httpserver.Routes {
	h := m.Handler()
	return httpserver.RoutesFunc(func(mux *http.ServeMux) { mux.Handle("GET /metrics", h) })
}
