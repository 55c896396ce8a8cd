package metrics

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
)

var (
	phaseDesc    = desc("member_phase", "Run mode: the member's phase as a state set (reading-position, waiting, running, stopping).", "phase")
	decisionDesc = desc("member_decision_info", "Run mode: the last bootstrap decision (wait, join, bootstrap-new, bootstrap, refuse) and the class of its reason; always 1.", "action", "reason")
	positionDesc = desc("member_position_seqno", "Run mode: the seqno this member read from its data directory before mariadbd started (-1: unknown).")
	dataDirDesc  = desc("member_datadir", "Run mode: what the data directory held before mariadbd started, as a state set (empty, fresh, needs-sst, position, unknown).", "kind")

	phases   = []string{peer.PhasePosition, peer.PhaseWaiting, peer.PhaseRunning, peer.PhaseStopping}
	dataDirs = []string{"empty", "fresh", "needs-sst", "position", "unknown"}
)

// member collects run mode's series from the document the member
// publishes to its peers.
type member struct{ state func() peer.State }

// Member adds run mode's series, read at scrape time from state (the
// member's peer state document).
func Member(m *Metrics, state func() peer.State) { m.Register(member{state}) }

func (member) Describe(chan<- *prometheus.Desc) {}

func (c member) Collect(ch chan<- prometheus.Metric) {
	s := c.state()
	g := prometheus.GaugeValue
	for _, p := range phases {
		ch <- prometheus.MustNewConstMetric(phaseDesc, g, b2f(s.Phase == p), p)
	}
	if s.Decision != "" {
		action, reason, _ := strings.Cut(s.Decision, ": ")
		ch <- prometheus.MustNewConstMetric(decisionDesc, g, 1, action, health.ReasonClass(reason))
	}
	kind := "unknown"
	switch {
	case !s.PositionKnown:
	case s.NeedsSST:
		kind = "needs-sst"
	case s.DataDirEmpty:
		kind = "empty"
	case s.DataDirFresh:
		kind = "fresh"
	default:
		kind = "position"
	}
	for _, k := range dataDirs {
		ch <- prometheus.MustNewConstMetric(dataDirDesc, g, b2f(k == kind), k)
	}
	seqno := float64(-1)
	if s.PositionKnown {
		seqno = float64(s.Seqno)
	}
	ch <- prometheus.MustNewConstMetric(positionDesc, g, seqno)
}
