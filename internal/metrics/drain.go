package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Drain is run mode's drain series: the client sessions it closed, by
// how, and how long the last drain took.
type Drain struct {
	sessions    *prometheus.CounterVec
	last        prometheus.Gauge
	maintenance prometheus.Counter
}

// How a drain ended a client session (the label values are published).
const (
	DrainClosedBetweenTransactions = "between-transactions"
	DrainCut                       = "cut"
)

// NewDrain registers the drain series on m.
func NewDrain(m *Metrics) *Drain {
	d := &Drain{
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "drain_sessions_closed_total",
			Help: "Run mode: client sessions the drain ended before stopping mariadbd: between-transactions (idle, no open transaction), cut (still open at --drain-timeout or a second signal)."}, []string{"how"}),
		last: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "drain_last_duration_seconds",
			Help: "Run mode: how long the last drain took, from the stop signal to mariadbd being told to stop."}),
		maintenance: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "maintenance_sessions_closed_total",
			Help: "Run mode with --maintenance-close-idle: client sessions closed between transactions while the node was in maintenance."}),
	}
	for _, how := range []string{DrainClosedBetweenTransactions, DrainCut} {
		d.sessions.WithLabelValues(how)
	}
	m.Register(d.sessions)
	m.Register(d.last)
	m.Register(d.maintenance)
	return d
}

// Drained records one drain.
func (d *Drain) Drained(closed, cut int, took time.Duration) {
	d.sessions.WithLabelValues(DrainClosedBetweenTransactions).Add(float64(closed))
	d.sessions.WithLabelValues(DrainCut).Add(float64(cut))
	d.last.Set(took.Seconds())
}

// MaintenanceClosed records client sessions closed in maintenance.
func (d *Drain) MaintenanceClosed(n int) { d.maintenance.Add(float64(n)) }

// Departures are the series of the pods of departed members taken out of
// the Services (kube.Departures).
type Departures struct {
	taken *prometheus.CounterVec
}

// Results of taking a pod out.
const (
	DepartureTakenOut = "taken-out"
	DepartureFailed   = "failed"
)

// NewDepartures registers the departure series on m.
func NewDepartures(m *Metrics) *Departures {
	d := &Departures{taken: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "kube_departed_pods_total",
		Help: "Run mode on Kubernetes (Galera): pods of members that left this member's Primary component, by result: taken-out (their Primary condition False and writer label false, as this sentinel keeps them), failed (a call to the API server failed; tried again)."}, []string{"result"})}
	for _, r := range []string{DepartureTakenOut, DepartureFailed} {
		d.taken.WithLabelValues(r)
	}
	m.Register(d.taken)
	return d
}

// Done records one pod taken out (err nil) or a failed try.
func (d *Departures) Done(err error) {
	if err == nil {
		d.taken.WithLabelValues(DepartureTakenOut).Inc()
		return
	}
	d.taken.WithLabelValues(DepartureFailed).Inc()
}

// Rebuild is the series of kube.Rebuild: the steps taken to rebuild lost
// members whose node is declared gone, and the failed rounds.
type Rebuild struct {
	steps  *prometheus.CounterVec
	failed prometheus.Counter
}

// NewRebuild registers the rebuild series on m, with a zero for each of
// steps (kube.Rebuild's).
func NewRebuild(m *Metrics, steps ...string) *Rebuild {
	r := &Rebuild{
		steps: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "kube_rebuild_steps_total",
			Help: "Run mode on Kubernetes (Galera, --kube-rebuild-lost): deletions made so that a lost member whose node is declared gone is rebuilt on another node, by step: pod-deleted (its pod force deleted from the gone node), claim-deleted (its claim, bound to a volume pinned to the gone node), pending-pod-deleted (its pending pod, for the StatefulSet to make the claim anew)."}, []string{"step"}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "kube_rebuild_failures_total",
			Help: "Run mode on Kubernetes (Galera, --kube-rebuild-lost): rounds of a lost member's rebuild that failed on a call to the API server (tried again)."}),
	}
	for _, s := range steps {
		r.steps.WithLabelValues(s)
	}
	m.Register(r.steps)
	m.Register(r.failed)
	return r
}

// Step records one step taken.
func (r *Rebuild) Step(step string) { r.steps.WithLabelValues(step).Inc() }

// Failed records one failed round.
func (r *Rebuild) Failed() { r.failed.Inc() }
