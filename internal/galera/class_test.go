package galera

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

// classValues pins every class to the label value users' dashboards know;
// a value once published is never changed.
var classValues = map[DecisionClass]string{
	DecidedPeerPrimary:            "a member is in a Primary component",
	DecidedTokenRefused:           "a member refuses this member's token",
	DecidedPeersStopping:          "members in a Primary component are being stopped",
	DecidedExpected:               "waiting for every expected member",
	DecidedPositionUnknown:        "waiting for a member to read its position",
	DecidedAll:                    "all",
	DecidedUUIDConflict:           "refusing to choose",
	DecidedWaitStepDown:           "a member runs mariadbd outside a Primary component while the other members are stopped",
	DecidedWaitJoining:            "a member runs mariadbd but is not in a Primary component yet; waiting for it",
	DecidedWaitGalera:             "members run mariadbd outside a Primary component",
	DecidedSelfPrimary:            "this member is in a Primary component",
	DecidedSelfUnknown:            "this member's state is not known yet",
	DecidedOutsideExpected:        "outside a Primary component; waiting for every expected member",
	DecidedOutsidePositionUnknown: "outside a Primary component; waiting for a member to read its position",
	DecidedOutsideStateUnknown:    "outside a Primary component; waiting for a member's state",
	DecidedEveryoneOutside:        "every member",
	DecidedStepDown:               "this member runs mariadbd outside a Primary component",
	DecidedStepDownJoiner:         "this member started mariadbd to join a Primary component that is gone",
	DecidedOwnData:                "this member has data and no Galera position, the other",
	DecidedPeerOwnData:            "a member has data and no Galera position, the others are empty or freshly installed",
	DecidedOwnDataMany:            "members hold data but no Galera position, and the sentinel cannot tell which to keep",
	DecidedSSTInterrupted:         "the state transfer of a member was interrupted, but no member has data to send it",
	DecidedDowngrade:              "the data directory was written by a newer MariaDB",
	DecidedVersionGap:             "the Primary component runs a MariaDB version this one may not join",
	DecidedSSTAcross:              "a full state transfer would come from another major version",
	DecidedProtocolGap:            "the Primary component speaks a Galera protocol this member's library does not",
	DecidedOverride:               "override",
	DecidedOverrideRefused:        "override refused",
	DecidedCannotDecide:           "cannot decide",
}

// named are the classes whose rule's reason names a member before the
// old cut: the old label held the name, the class a constant in its place
// (see DecisionClass).
var named = map[DecisionClass]bool{
	DecidedPeerPrimary: true, DecidedTokenRefused: true, DecidedPeersStopping: true, DecidedPositionUnknown: true,
	DecidedWaitStepDown: true, DecidedWaitJoining: true, DecidedWaitGalera: true,
	DecidedOutsidePositionUnknown: true, DecidedOutsideStateUnknown: true,
	DecidedStepDown: true, DecidedStepDownJoiner: true,
	DecidedPeerOwnData: true, DecidedOwnDataMany: true, DecidedSSTInterrupted: true,
	// Classes born after the cut: no dashboard knew an older label.
	DecidedDowngrade: true, DecidedVersionGap: true, DecidedSSTAcross: true, DecidedProtocolGap: true,
}

func TestClassValues(t *testing.T) {
	for c, want := range classValues {
		if string(c) != want {
			t.Errorf("class %q, want %q: a published label value changed", c, want)
		}
	}
}

// TestDecisionClass: every rule of Decide gives its own class, set by the
// rule, never empty; a rule whose reason does not begin with a member's
// name has the label the old wording-derived cut gave it; every class is
// some rule's.
func TestDecisionClass(t *testing.T) {
	primary := at("galera-2", 10)
	primary.Running, primary.Primary = true, true
	running := at("galera-0", 10)
	running.Running = true
	other := at("galera-2", 50)
	other.Position.UUID = uuidB
	lost := []Unreachable{{"10.0.0.3:9200", "connection refused"}}
	outside := survivor("galera-2", 40)
	seen := map[DecisionClass]bool{}
	for c := range classValues {
		seen[c] = true
	}
	for _, tc := range []struct {
		name string
		view View
		want DecisionClass
	}{
		{"join a Primary", View{Self: at("galera-0", 3), Peers: []Member{primary}, Expected: 2}, DecidedPeerPrimary},
		{"a Primary being stopped", View{Self: at("galera-0", 3), Peers: []Member{func() Member { p := primary; p.Stopping = true; return p }()}, Expected: 2}, DecidedPeersStopping},
		{"join a Primary refusing the token", View{Self: at("galera-0", 3), Unreachable: lost, Expected: 2, PrimaryRefusing: []string{"galera-1"}}, DecidedTokenRefused},
		{"a member missing", View{Self: empty("galera-0"), Unreachable: lost, Expected: 2}, DecidedExpected},
		{"a position not read", View{Self: at("galera-0", 5), Peers: []Member{{Name: "galera-1"}}, Expected: 2}, DecidedPositionUnknown},
		{"a stopped member beside a survivor", View{Self: at("galera-0", 40), Peers: []Member{outside}, Expected: 2}, DecidedWaitStepDown},
		{"a stopped member beside a running one", View{Self: at("galera-1", 9), Peers: []Member{running}, Expected: 2}, DecidedWaitJoining},
		{"brand new, first", View{Self: empty("galera-0"), Peers: []Member{empty("galera-1")}, Expected: 2}, DecidedAll},
		{"brand new, not first", View{Self: empty("galera-1"), Peers: []Member{empty("galera-0")}, Expected: 2}, DecidedAll},
		{"all down, most recent", View{Self: at("galera-0", 9), Peers: []Member{at("galera-1", 8)}, Expected: 2}, DecidedAll},
		{"all down, behind", View{Self: at("galera-0", 8), Peers: []Member{at("galera-1", 9)}, Expected: 2}, DecidedAll},
		{"two clusters", View{Self: at("galera-0", 5), Peers: []Member{other}, Expected: 2}, DecidedUUIDConflict},
		{"data without position, here", View{Self: own("galera-0"), Peers: []Member{empty("galera-1")}, Expected: 2}, DecidedOwnData},
		{"data without position, there", View{Self: empty("galera-0"), Peers: []Member{own("galera-1")}, Expected: 2}, DecidedPeerOwnData},
		{"data without position, twice", View{Self: own("galera-0"), Peers: []Member{own("galera-1")}, Expected: 2}, DecidedOwnDataMany},
		{"interrupted transfer, no source", View{Self: empty("galera-0"), Peers: []Member{sst("galera-1")}, Expected: 2}, DecidedSSTInterrupted},
		{"running, Primary", View{Self: primary, Peers: []Member{at("galera-0", 9)}, Expected: 2}, DecidedSelfPrimary},
		{"running, a peer Primary", View{Self: outside, Peers: []Member{func() Member { p := primary; p.Name = "galera-1"; return p }()}, Expected: 2}, DecidedPeerPrimary},
		{"running, a Primary refusing the token", View{Self: outside, Unreachable: lost, Expected: 2, PrimaryRefusing: []string{"galera-1"}}, DecidedTokenRefused},
		{"running, not sampled", View{Self: running, Peers: []Member{at("galera-1", 9)}, Expected: 2}, DecidedSelfUnknown},
		{"running, a member missing", View{Self: outside, Unreachable: lost, Expected: 2}, DecidedOutsideExpected},
		{"running, a position not read", View{Self: outside, Peers: []Member{{Name: "galera-1"}}, Expected: 2}, DecidedOutsidePositionUnknown},
		{"running, a peer's state unknown", View{Self: outside, Peers: []Member{running}, Expected: 2}, DecidedOutsideStateUnknown},
		{"running, everyone outside", View{Self: outside, Peers: []Member{survivor("galera-1", 40)}, Expected: 2}, DecidedEveryoneOutside},
		{"running, one without a fresh sample", View{Self: outside, Peers: []Member{survivor("galera-1", 41), joiner("galera-0", 40)}, Expected: 3}, DecidedWaitGalera},
		{"running, the others stopped", View{Self: outside, Peers: []Member{at("galera-0", 40)}, Expected: 2}, DecidedStepDown},
		{"joining a Primary that is gone", View{Self: joiner("galera-0", 41), Peers: []Member{at("galera-1", 40)}, Expected: 2}, DecidedStepDownJoiner},
		{"a downgrade", View{Self: on(at("galera-0", 9), "10.11.19", "11.8.9"), Expected: 1}, DecidedDowngrade},
		{"a state transfer across versions", View{Self: on(empty("galera-0"), "11.4.5", ""), Peers: []Member{primaryOn("galera-1", "10.11.19")}, Expected: 2}, DecidedSSTAcross},
		{"a protocol gap", View{Self: cannotSpeak(at("galera-0", 9)), Peers: []Member{speaking(primaryOn("galera-1", "10.11.19"), "5/11/4")}, Expected: 2}, DecidedProtocolGap},
		{"a version gap", View{Self: on(at("galera-0", 9), "11.8.9", "10.11.19"), Peers: []Member{primaryOn("galera-1", "10.11.19")}, Expected: 2}, DecidedVersionGap},
		{"override, position unread", View{Self: Member{Name: "galera-0"}, Expected: 2, Force: true}, DecidedOverride},
		{"override, empty", View{Self: empty("galera-0"), Unreachable: lost, Expected: 2, Force: true}, DecidedOverride},
		{"override, no position", View{Self: own("galera-0"), Unreachable: lost, Expected: 2, Force: true}, DecidedOverride},
		{"override", View{Self: at("galera-0", 9), Unreachable: lost, Expected: 2, Force: true}, DecidedOverride},
		{"override, interrupted transfer", View{Self: sst("galera-0"), Expected: 2, Force: true}, DecidedOverrideRefused},
		{"override, empty beside data", View{Self: empty("galera-0"), Peers: []Member{at("galera-1", 1)}, Expected: 2, Force: true}, DecidedOverrideRefused},
		{"override, another cluster", View{Self: at("galera-0", 9), Peers: []Member{other}, Expected: 2, Force: true}, DecidedOverrideRefused},
		{"override, behind", View{Self: at("galera-0", 8), Peers: []Member{at("galera-1", 9)}, Expected: 2, Force: true}, DecidedOverrideRefused},
	} {
		d := Decide(tc.view)
		if d.Class != tc.want {
			t.Errorf("%s: %s %q: class %q, want %q", tc.name, d.Action, d.Reason, d.Class, tc.want)
			continue
		}
		if _, ok := classValues[d.Class]; !ok {
			t.Errorf("%s: class %q is not pinned in classValues", tc.name, d.Class)
		}
		if old := reasonClassBefore(d.Reason); !named[d.Class] && old != string(d.Class) {
			t.Errorf("%s: class %q, but the label was %q: a user's dashboard breaks", tc.name, d.Class, old)
		}
		delete(seen, d.Class)
	}
	delete(seen, DecidedCannotDecide) // package recovery's
	for c := range seen {
		t.Errorf("no rule gives class %q", c)
	}
}
