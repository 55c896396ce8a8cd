package replica

import (
	"strings"
	"testing"
)

// reasonClassBefore is how the decision metric's reason label was cut
// from a decision's wording before decisions carried a class
// (health.ReasonClass): up to the first ':', '(' or digit.
func reasonClassBefore(reason string) string {
	for i, r := range reason {
		if r == ':' || r == '(' || (r >= '0' && r <= '9') {
			return strings.TrimRight(reason[:i], " ,")
		}
	}
	return reason
}

// decisionClassValues pins every class to the label value users'
// dashboards know; a value once published is never changed.
var decisionClassValues = map[DecisionClass]string{
	DecidedManyPrimaries:    "more than one writable primary",
	DecidedEmpty:            "the data directory is empty",
	DecidedNewSetHistory:    "this member is the primary --primary names, but its data directory is empty while a peer has replication history",
	DecidedEmptyPeerDown:    "the data directory is empty; a peer has data but its server is not up yet",
	DecidedNewSet:           "a new set",
	DecidedOwnConfig:        "no writable primary reachable",
	DecidedStrays:           "no writable primary reachable, and a peer follows another server",
	DecidedFollowed:         "the replicas follow this server, and no other primary is reachable",
	DecidedFlagged:          "this member is the primary --primary names, it has no replica configuration of its own, and no other primary is reachable",
	DecidedNoPrimary:        "no writable primary reachable to follow",
	DecidedSelfPrimary:      "a peer reports this member's own address as a writable primary",
	DecidedPrimaryPosition:  "the primary reports a position that cannot be read",
	DecidedOwnPosition:      "this server's GTID position cannot be read",
	DecidedDiverged:         "this server's history diverged from the primary's",
	DecidedFollow:           "following the writable primary",
	DecidedOwnWrites:        "this server has transactions of its own that it did not receive from a primary",
	DecidedPositionsUnknown: "this server's positions are not known yet",
}

// namedClasses are the classes whose rule's reason names a peer, an
// address or a primary before the old cut: the old label held it, the
// class a constant in its place (see DecisionClass).
var namedClasses = map[DecisionClass]bool{
	DecidedNewSetHistory: true, DecidedEmptyPeerDown: true, DecidedStrays: true, DecidedFollowed: true,
	DecidedPrimaryPosition: true, DecidedDiverged: true, DecidedFollow: true, DecidedOwnWrites: true,
}

func TestDecisionClassValues(t *testing.T) {
	for c, want := range decisionClassValues {
		if string(c) != want {
			t.Errorf("class %q, want %q: a published label value changed", c, want)
		}
	}
}

// TestDecisionClass: every rule of DecideStart gives its class, never
// empty; a rule whose reason names nothing before the old cut has the
// label that cut gave it; every class is some rule's.
func TestDecisionClass(t *testing.T) {
	me := func(mut func(*SelfState)) SelfState {
		s := SelfState{Name: "b", Hosts: []string{"b", "10.0.0.2"}}
		mut(&s)
		return s
	}
	a := primaryPeer("a:9200", "a:3306", "0-1-100")
	seen := map[DecisionClass]bool{}
	for c := range decisionClassValues {
		seen[c] = true
	}
	for _, tc := range []struct {
		name  string
		self  SelfState
		peers []PeerState
		want  DecisionClass
	}{
		{"two writable primaries", me(func(s *SelfState) {}), []PeerState{a, primaryPeer("c:9200", "c:3306", "0-3-1")}, DecidedManyPrimaries},
		{"empty, nobody", me(func(s *SelfState) { s.Empty = true }), nil, DecidedEmpty},
		{"empty, clone", me(func(s *SelfState) { s.Empty = true }), []PeerState{a}, DecidedEmpty},
		{"empty and flagged, a peer has history", me(func(s *SelfState) { s.Empty, s.FlaggedPrimary = true, true }),
			[]PeerState{replicaPeer("c:9200", "c:3306", "b", "0-1-50")}, DecidedNewSetHistory},
		{"empty and flagged, a peer not up", me(func(s *SelfState) { s.Empty, s.FlaggedPrimary = true, true }),
			[]PeerState{{Name: "c:9200", Reachable: true}}, DecidedEmptyPeerDown},
		{"empty and flagged, a new set", me(func(s *SelfState) { s.Empty, s.FlaggedPrimary = true, true }), nil, DecidedNewSet},
		{"own replica configuration", me(func(s *SelfState) {
			s.BinlogPos, s.SlavePos, s.HasReplica, s.MasterHost, s.MasterPort = "0-1-5", "0-1-5", true, "c", 3306
		}), nil, DecidedOwnConfig},
		{"a peer follows another server", me(func(s *SelfState) { s.BinlogPos = "0-2-10" }),
			[]PeerState{replicaPeer("a:9200", "a:3306", "c", "0-3-10")}, DecidedStrays},
		{"followed by replicas", me(func(s *SelfState) { s.BinlogPos = "0-2-10" }),
			[]PeerState{replicaPeer("a:9200", "a:3306", "10.0.0.2", "0-2-10")}, DecidedFollowed},
		{"flagged", me(func(s *SelfState) { s.FlaggedPrimary, s.BinlogPos = true, "0-2-10" }), nil, DecidedFlagged},
		{"nothing to follow", me(func(s *SelfState) { s.BinlogPos = "0-2-10" }), nil, DecidedNoPrimary},
		{"a peer says this member is the primary", me(func(s *SelfState) {}), []PeerState{primaryPeer("a:9200", "10.0.0.2:3306", "0-1-1")}, DecidedSelfPrimary},
		{"the primary's position unreadable", me(func(s *SelfState) {}), []PeerState{primaryPeer("a:9200", "a:3306", "junk")}, DecidedPrimaryPosition},
		{"own position unreadable", me(func(s *SelfState) { s.BinlogPos = "junk" }), []PeerState{a}, DecidedOwnPosition},
		{"diverged", me(func(s *SelfState) { s.BinlogPos, s.SlavePos, s.HasReplica = "0-1-120", "0-1-120", true }), []PeerState{a}, DecidedDiverged},
		{"follow", me(func(s *SelfState) { s.BinlogPos, s.SlavePos, s.HasReplica = "0-1-90", "0-1-90", true }), []PeerState{a}, DecidedFollow},
		{"own writes", me(func(s *SelfState) { s.BinlogPos, s.SlavePos = "0-2-120", "0-1-100" }), []PeerState{a}, DecidedOwnWrites},
		{"own writes, no primary", me(func(s *SelfState) { s.BinlogPos, s.SlavePos, s.HasReplica = "0-2-120", "0-1-100", true }), nil, DecidedOwnWrites},
	} {
		d := DecideStart(tc.self, tc.peers)
		if d.Class != tc.want {
			t.Errorf("%s: %s %q: class %q, want %q", tc.name, d.Action, d.Reason, d.Class, tc.want)
			continue
		}
		if _, ok := decisionClassValues[d.Class]; !ok {
			t.Errorf("%s: class %q is not pinned", tc.name, d.Class)
		}
		if old := reasonClassBefore(d.Reason); !namedClasses[d.Class] && old != string(d.Class) {
			t.Errorf("%s: class %q, but the label was %q: a user's dashboard breaks", tc.name, d.Class, old)
		}
		delete(seen, d.Class)
	}
	delete(seen, DecidedPositionsUnknown) // package replmember's
	for c := range seen {
		t.Errorf("no rule gives class %q", c)
	}
}
