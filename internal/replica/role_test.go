package replica

import (
	"strings"
	"testing"
)

func primaryPeer(name, addr, pos string) PeerState {
	return PeerState{Name: name, Reachable: true, Addr: addr,
		Sample: &SampleDoc{Role: RolePrimary, ReadOnly: false, GTIDBinlogPos: pos}}
}

func replicaPeer(name, addr, master, pos string) PeerState {
	return PeerState{Name: name, Reachable: true, Addr: addr,
		Sample: &SampleDoc{Role: RoleReplica, ReadOnly: true, MasterHost: master, MasterPort: 3306, GTIDBinlogPos: pos, GTIDSlavePos: pos}}
}

func TestDecideStart(t *testing.T) {
	me := func(mut func(*SelfState)) SelfState {
		s := SelfState{Name: "b", Hosts: []string{"b", "10.0.0.2"}}
		mut(&s)
		return s
	}
	a := primaryPeer("a:9200", "a:3306", "0-1-100")
	for _, tc := range []struct {
		name    string
		self    SelfState
		peers   []PeerState
		action  StartAction
		primary string
		reason  string
	}{
		{"empty, primary reachable: clone", me(func(s *SelfState) { s.Empty = true }), []PeerState{a}, StartClone, "a:3306", "cloning"},
		{"empty, nobody: wait", me(func(s *SelfState) { s.Empty = true }), []PeerState{{Name: "a:9200"}}, StartWait, "", "waiting for a writable primary"},
		{"empty and flagged, peers empty: new set", me(func(s *SelfState) { s.Empty, s.FlaggedPrimary = true, true }),
			[]PeerState{{Name: "c:9200", Reachable: true, Empty: true}, {Name: "d:9200"}}, StartPrimary, "", "new set"},
		{"empty and flagged, a peer has history: refuse", me(func(s *SelfState) { s.Empty, s.FlaggedPrimary = true, true }),
			[]PeerState{replicaPeer("c:9200", "c:3306", "b", "0-1-50")}, StartRefuse, "", "another history"},
		{"empty and flagged, a peer with data not up: wait", me(func(s *SelfState) { s.Empty, s.FlaggedPrimary = true, true }),
			[]PeerState{{Name: "c:9200", Reachable: true}}, StartWait, "", "not up yet"},
		{"replica behind the primary: follow", me(func(s *SelfState) {
			s.BinlogPos, s.SlavePos, s.HasReplica, s.MasterHost, s.MasterPort = "0-1-90", "0-1-90", true, "a", 3306
		}), []PeerState{a}, StartReplica, "a:3306", "descends"},
		{"replica with a write of its own: refuse", me(func(s *SelfState) {
			s.BinlogPos, s.SlavePos, s.HasReplica, s.MasterHost = "0-2-91", "0-1-90", true, "a"
		}), []PeerState{a}, StartRefuse, "", "transactions of its own"},
		{"replica ahead of the primary: refuse", me(func(s *SelfState) {
			s.BinlogPos, s.SlavePos, s.HasReplica, s.MasterHost = "0-1-120", "0-1-120", true, "a"
		}), []PeerState{a}, StartRefuse, "", "ahead of the primary"},
		{"replica forked: refuse", me(func(s *SelfState) { s.BinlogPos, s.SlavePos, s.HasReplica = "0-3-100", "0-3-100", true }),
			[]PeerState{a}, StartRefuse, "", "forked"},
		{"replica of a foreign domain: refuse", me(func(s *SelfState) { s.SlavePos, s.HasReplica = "0-1-5,9-9-1", true }),
			[]PeerState{a}, StartRefuse, "", "domain 9"},
		{"two writable primaries: wait", me(func(s *SelfState) { s.Empty = true }),
			[]PeerState{a, primaryPeer("c:9200", "c:3306", "0-3-1")}, StartWait, "", "more than one writable primary"},
		{"read-only primary is not writable: own config wins", me(func(s *SelfState) {
			s.SlavePos, s.BinlogPos, s.HasReplica, s.MasterHost, s.MasterPort = "0-1-5", "0-1-5", true, "c", 3306
		}), []PeerState{{Name: "a:9200", Reachable: true, Addr: "a:3306", Sample: &SampleDoc{Role: RolePrimary, ReadOnly: true}}},
			StartReplica, "c:3306", "own replica configuration"},
		{"old flagged primary demoted by a switchover follows its config", me(func(s *SelfState) {
			s.FlaggedPrimary, s.BinlogPos, s.SlavePos, s.HasReplica, s.MasterHost, s.MasterPort = true, "0-1-100", "0-1-100", true, "c", 3306
		}), nil, StartReplica, "c:3306", "own replica configuration"},
		{"promoted primary after a full restart: its replicas follow it", me(func(s *SelfState) { s.BinlogPos, s.SlavePos = "0-2-120", "0-1-100" }),
			[]PeerState{replicaPeer("a:9200", "a:3306", "10.0.0.2", "0-2-120")}, StartPrimary, "", "follow this server"},
		{"flagged primary restarted: primary", me(func(s *SelfState) { s.FlaggedPrimary, s.BinlogPos = true, "0-2-10" }),
			[]PeerState{{Name: "a:9200"}}, StartPrimary, "", "--primary names"},
		{"flagged, but a peer follows someone else: wait", me(func(s *SelfState) { s.FlaggedPrimary, s.BinlogPos = true, "0-2-10" }),
			[]PeerState{replicaPeer("a:9200", "a:3306", "c", "0-3-10")}, StartWait, "", "not becoming a second one"},
		{"not flagged, no config, nobody: wait", me(func(s *SelfState) { s.BinlogPos = "0-2-10" }), nil, StartWait, "", "no writable primary"},
		{"promoted primary meets another writable primary: refuse", me(func(s *SelfState) { s.BinlogPos, s.SlavePos = "0-2-120", "0-1-100" }),
			[]PeerState{a}, StartRefuse, "", "transactions of its own"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := DecideStart(tc.self, tc.peers)
			if d.Action != tc.action || d.Primary != tc.primary || !strings.Contains(d.Reason, tc.reason) {
				t.Fatalf("got %s %q (%s); want %s %q containing %q", d.Action, d.Primary, d.Reason, tc.action, tc.primary, tc.reason)
			}
			if d.Class == "" {
				t.Fatalf("%s %q without a class", d.Action, d.Reason)
			}
			if d.Action == StartRefuse && d.Fix == "" {
				t.Fatal("a refusal without a fix")
			}
			if d.Action == StartClone && d.From != "a:9200" {
				t.Fatalf("clone from %q", d.From)
			}
		})
	}
}
