package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
)

var (
	phaseDesc    = desc("member_phase", "Run mode: the member's phase as a state set (reading-position, waiting, running, stopping).", "phase")
	decisionDesc = desc("member_decision_info", "Run mode: the last decision (wait, join, bootstrap-new, bootstrap, refuse, step-down, retry, restart) and the class of its reason; always 1.", "action", "reason")
	positionDesc = desc("member_position_seqno", "Run mode: the seqno this member read from its data directory before mariadbd started (-1: unknown).")
	peerSeqDesc  = desc("member_peer_position_seqno", "Run mode: each peer's seqno as the last bootstrap decision saw it (-1: unknown).", "peer")
	unreachDesc  = desc("member_peers_unreachable", "Run mode: peers that did not answer when the last bootstrap decision was made.")
	dataDirDesc  = desc("member_datadir", "Run mode: what the data directory held before mariadbd started, as a state set (empty, fresh, needs-sst, position, unknown).", "kind")

	phases   = []string{peer.PhasePosition, peer.PhaseWaiting, peer.PhaseRunning, peer.PhaseStopping}
	dataDirs = []string{"empty", "fresh", "needs-sst", "position", "unknown"}
)

// member collects run mode's series from the document the member
// publishes to its peers, and the last view of its peers.
type member struct {
	state func() peer.State
	seen  func() galera.View
}

// Member adds run mode's series, read at scrape time from state (the
// member's peer state document) and seen (the view of the peers its last
// decision was made from; nil: none).
func Member(m *Metrics, state func() peer.State, seen func() galera.View) {
	m.Register(member{state, seen})
}

func (member) Describe(chan<- *prometheus.Desc) {}

func (c member) Collect(ch chan<- prometheus.Metric) {
	s := c.state()
	g := prometheus.GaugeValue
	for _, p := range phases {
		ch <- prometheus.MustNewConstMetric(phaseDesc, g, b2f(s.Phase == p), p)
	}
	if d, ok := s.Decided(); ok {
		ch <- prometheus.MustNewConstMetric(decisionDesc, g, 1, string(d.Action), string(d.Class))
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
	if c.seen == nil {
		return
	}
	v := c.seen()
	if v.Expected == 0 {
		return // no decision made yet
	}
	for _, p := range v.Peers {
		seq := float64(-1)
		if p.PositionKnown {
			seq = float64(p.Position.Seqno)
		}
		ch <- prometheus.MustNewConstMetric(peerSeqDesc, g, seq, p.Name)
	}
	ch <- prometheus.MustNewConstMetric(unreachDesc, g, float64(len(v.Unreachable)))
}

var tablesDesc = desc("system_tables_differing_members", "Run mode: members of this member's Primary component whose privilege tables (mysql.global_priv, mysql.db, mysql.tables_priv) and upgrade marker differ from this member's, as their settled checksums say: what Galera neither replicates nor compares (a GRANT run with wsrep_on=OFF, mariadb-upgrade not run everywhere). Absent until known.")

type systemTables func() (int, bool)

// SystemTables adds the count of members whose system tables differ
// from this member's (galeramember.WriterView.SystemTablesDiffer).
func SystemTables(m *Metrics, differ func() (n int, known bool)) { m.Register(systemTables(differ)) }

func (systemTables) Describe(chan<- *prometheus.Desc) {}

func (f systemTables) Collect(ch chan<- prometheus.Metric) {
	if n, ok := f(); ok {
		ch <- prometheus.MustNewConstMetric(tablesDesc, prometheus.GaugeValue, float64(n))
	}
}
