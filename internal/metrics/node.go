package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/readiness"
)

// Emit sends one sample of desc; labels are desc's variable labels.
type Emit func(desc *prometheus.Desc, vt prometheus.ValueType, v float64, labels ...string)

// Domain sends a domain's series for its latest sample cur; prev is the
// good sample before it (nil until there were two), for rates over one
// poll interval. It runs at scrape time and must only read the samples.
type Domain[S any] func(prev, cur *S, emit Emit)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, labels, nil)
}

var (
	upDesc            = desc("up", "1 when the latest poll of the node succeeded (mysqld_exporter's mysql_up).")
	verdictDesc       = desc("verdict", "1 when the probe passes: ready (/readyz), live (/livez), started (/startupz), writer (/writerz 200).", "probe")
	verdictInfoDesc   = desc("verdict_info", "The class of the probe's current reason (the reason without ages, counts and details); always 1.", "probe", "reason")
	verdictAgeDesc    = desc("seconds_since_verdict_change", "Seconds since the probe's verdict last changed (since the sentinel started, when it never did).", "probe")
	stateAgeDesc      = desc("seconds_since_state_change", "Seconds since the node's state (wsrep_local_state) last changed.")
	writerRoleDesc    = desc("writer_role", "The member's writer role: writer (/writerz 200), standby (404: could take writes), unfit (503); 1 for the current one.", "role")
	maintenanceDesc   = desc("maintenance", "1 while the operator's drain (maintenance file or API) is on.")
	stoppingDesc      = desc("stopping", "1 while run mode drains and stops mariadbd.")
	heldDesc          = desc("held", "1 while run mode holds mariadbd back (reading its position, waiting for peers, retrying).")
	sampleAgeDesc     = desc("sample_age_seconds", "Age of the last good sample at scrape time; absent before the first.")
	weightDesc        = desc("traffic_weight_percent", "The share of traffic the agent-check offers HAProxy (0 when not ready).")
	requestsDesc      = desc("http_requests_total", "Probe and status answers, by endpoint and status code.", "handler", "code")
	writerRoleNames   = []string{readiness.Writer.String(), readiness.Standby.String(), readiness.Unfit.String()}
	requestCodeLabels = map[int]string{}
)

func init() {
	for _, c := range []int{200, 404, 503} {
		requestCodeLabels[c] = strconv.Itoa(c)
	}
}

// node collects one watched node's series at scrape time.
type node[S any] struct {
	m        *Metrics
	poller   *health.Poller[S]
	handlers *health.Handlers[S]
	domain   Domain[S]
	now      func() time.Time
}

// Watch adds the series of the node that poller watches and handlers
// answer for, with domain's own.
func Watch[S any](m *Metrics, poller *health.Poller[S], handlers *health.Handlers[S], domain Domain[S]) {
	m.Register(&node[S]{m: m, poller: poller, handlers: handlers, domain: domain, now: time.Now})
}

// Describe sends nothing: the collector is unchecked, its series depend
// on what the node reports.
func (n *node[S]) Describe(chan<- *prometheus.Desc) {}

func (n *node[S]) Collect(ch chan<- prometheus.Metric) {
	emit := func(d *prometheus.Desc, vt prometheus.ValueType, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, vt, v, labels...)
	}
	now := n.now()
	snap := n.poller.Snapshot()
	j := n.poller.Judge()
	ready := n.poller.Ready(snap, now)
	writer := n.handlers.Writer(now)
	verdicts := map[string]readiness.Verdict{
		"ready": ready, "live": j.Live(snap.Observation, now), "started": j.Started(snap.Observation, now),
		"writer": writer.Verdict(),
	}
	var stateAge time.Duration
	for _, probe := range Probes {
		v := verdicts[probe]
		emit(verdictDesc, prometheus.GaugeValue, b2f(v.OK), probe)
		emit(verdictInfoDesc, prometheus.GaugeValue, 1, probe, string(v.Class))
		var age time.Duration
		age, stateAge = n.m.sinceChange(probe, now)
		emit(verdictAgeDesc, prometheus.GaugeValue, age.Seconds(), probe)
	}
	emit(stateAgeDesc, prometheus.GaugeValue, stateAge.Seconds())
	for _, role := range writerRoleNames {
		emit(writerRoleDesc, prometheus.GaugeValue, b2f(writer.Role.String() == role), role)
	}
	emit(upDesc, prometheus.GaugeValue, b2f(snap.Err == nil && snap.Last != nil))
	emit(maintenanceDesc, prometheus.GaugeValue, b2f(snap.Maintenance))
	emit(stoppingDesc, prometheus.GaugeValue, b2f(snap.Stopping))
	emit(heldDesc, prometheus.GaugeValue, b2f(snap.Hold != ""))
	if snap.Last != nil {
		emit(sampleAgeDesc, prometheus.GaugeValue, now.Sub(snap.LastAt).Seconds())
	}
	weight := 0
	if t := health.TrafficAt(j, snap.Observation, now); t.Ready.OK && !t.Stopping && !t.Maintenance {
		weight = t.Weight
	}
	emit(weightDesc, prometheus.GaugeValue, float64(weight))
	for _, r := range n.handlers.Requests() {
		emit(requestsDesc, prometheus.CounterValue, float64(r.N), r.Endpoint, requestCodeLabels[r.Code])
	}
	if snap.Last != nil && n.domain != nil {
		n.domain(snap.Prev, snap.Last, emit)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
