package galera

import (
	"strings"
	"testing"

	"github.com/galera-sentinel/galera-sentinel/internal/upgrade"
)

func on(m Member, version, data string) Member {
	m.Version, _ = upgrade.Parse(version)
	m.DataVersion, _ = upgrade.Parse(data)
	return m
}

func primaryOn(name, version string) Member {
	m := on(at(name, 10), version, version)
	m.Running, m.Primary = true, true
	return m
}

// TestDecideVersions: a downgrade is refused whatever the peers say; a
// member joins a Primary component only of versions it may be mixed with
// during a rolling upgrade, and says the way otherwise; once every member
// is stopped the most advanced bootstraps on the new version by itself.
func TestDecideVersions(t *testing.T) {
	for _, tc := range []struct {
		name   string
		view   View
		action Action
		class  DecisionClass
		says   string
	}{
		{"a minor upgrade joins", View{Self: on(at("galera-2", 9), "10.11.19", "10.11.6"), Peers: []Member{primaryOn("galera-0", "10.11.6")}, Expected: 2},
			Join, DecidedPeerPrimary, "galera-0 is in a Primary component"},
		{"an adjacent major upgrade joins", View{Self: on(at("galera-2", 9), "11.4.5", "10.11.19"), Peers: []Member{primaryOn("galera-0", "10.11.19"), primaryOn("galera-1", "11.4.5")}, Expected: 3},
			Join, DecidedPeerPrimary, ""},
		{"an old member rejoins a cluster half upgraded", View{Self: on(at("galera-0", 9), "10.11.19", "10.11.19"), Peers: []Member{primaryOn("galera-1", "11.4.5")}, Expected: 2},
			Join, DecidedPeerPrimary, ""},
		{"a peer of an earlier release says no version", View{Self: on(at("galera-2", 9), "11.8.9", "10.11.19"), Peers: []Member{primaryOn("galera-0", "")}, Expected: 2},
			Join, DecidedPeerPrimary, ""},
		{"a jump over a long-term series is refused, with the way", View{Self: on(at("galera-2", 9), "11.8.9", "10.11.19"), Peers: []Member{primaryOn("galera-0", "10.11.19"), primaryOn("galera-1", "10.11.19")}, Expected: 3},
			Refuse, DecidedVersionGap, "galera-0, galera-1 run MariaDB 10.11.19 in the Primary component and this member 11.8.9: not joining. MariaDB 10.11.19 and 11.8.9 may not run in one cluster: a rolling upgrade is supported only between adjacent major versions, and 11.4 lies between (10.11 → 11.4 → 11.8). Stop every member, then start them on 11.8.9"},
		{"every member stopped: the most advanced bootstraps on the new version", View{Self: on(at("galera-2", 11), "11.8.9", "10.11.19"), Peers: []Member{on(at("galera-0", 10), "10.11.19", "10.11.19"), on(at("galera-1", 10), "11.8.9", "10.11.19")}, Expected: 3},
			Bootstrap, DecidedAll, ""},
		{"an empty member on the next series would take a state transfer from the old one", View{Self: on(empty("galera-2"), "11.4.5", ""), Peers: []Member{primaryOn("galera-0", "10.11.19"), primaryOn("galera-1", "10.11.19")}, Expected: 3},
			Refuse, DecidedSSTAcross, "this member needs a full state transfer and every member of the Primary component runs MariaDB 10.11.19, this member 11.4.5: a state transfer across major versions is not supported"},
		{"an interrupted transfer too", View{Self: on(sst("galera-2"), "11.4.5", ""), Peers: []Member{primaryOn("galera-0", "10.11.19")}, Expected: 2},
			Refuse, DecidedSSTAcross, "Start this member on 10.11.19 until it has joined"},
		{"a member of its series is there: it joins", View{Self: on(empty("galera-2"), "11.4.5", ""), Peers: []Member{primaryOn("galera-0", "10.11.19"), primaryOn("galera-1", "11.4.5")}, Expected: 3},
			Join, DecidedPeerPrimary, ""},
		{"a minor upgrade takes a state transfer", View{Self: on(empty("galera-2"), "10.11.19", ""), Peers: []Member{primaryOn("galera-0", "10.11.6")}, Expected: 2},
			Join, DecidedPeerPrimary, ""},
		{"with a position it may join by IST", View{Self: on(at("galera-2", 9), "11.4.5", "10.11.19"), Peers: []Member{primaryOn("galera-0", "10.11.19")}, Expected: 2},
			Join, DecidedPeerPrimary, ""},
		{"another cluster's position is a state transfer", View{Self: func() Member { m := on(at("galera-2", 9), "11.4.5", "10.11.19"); m.Position.UUID = uuidB; return m }(), Peers: []Member{primaryOn("galera-0", "10.11.19")}, Expected: 2},
			Refuse, DecidedSSTAcross, ""},
		{"a downgrade is refused", View{Self: on(at("galera-0", 9), "10.11.19", "11.8.9"), Peers: []Member{primaryOn("galera-1", "10.11.19")}, Expected: 2},
			Refuse, DecidedDowngrade, "this data directory was last written by MariaDB 11.8.9 and this is 10.11.19: a downgrade is not supported"},
		{"a minor downgrade is refused", View{Self: on(at("galera-0", 9), "10.11.6", "10.11.19"), Expected: 1},
			Refuse, DecidedDowngrade, "last written by MariaDB 10.11.19 and this is 10.11.6"},
		{"a running member is never told it downgraded", View{Self: func() Member {
			m := on(at("galera-0", 9), "10.11.6", "10.11.19")
			m.Running, m.Primary = true, true
			return m
		}(), Expected: 1},
			Wait, DecidedSelfPrimary, ""},
	} {
		d := Decide(tc.view)
		if d.Action != tc.action || d.Class != tc.class || !strings.Contains(d.Reason, tc.says) {
			t.Errorf("%s: %s %s %q; want %s %s saying %q", tc.name, d.Action, d.Class, d.Reason, tc.action, tc.class, tc.says)
		}
	}
}
