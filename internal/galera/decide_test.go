package galera

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

const (
	uuidA = "c8bb4bee-e5d7-11f1-a5ed-f285d65e2e99"
	uuidB = "0a3f5e10-e5d8-11f1-9c1e-6a0b1f2e3d4c"
)

func empty(name string) Member { return Member{Name: name, Empty: true, PositionKnown: true} }

// fresh: only what an installation creates; own: data of its own, no
// Galera position; sst: an interrupted state transfer.
func fresh(name string) Member {
	return Member{Name: name, Fresh: true, PositionKnown: true, Position: Position{ZeroUUID, -1}}
}
func own(name string) Member {
	return Member{Name: name, PositionKnown: true, Position: Position{ZeroUUID, -1}}
}
func sst(name string) Member { return Member{Name: name, NeedsSST: true, PositionKnown: true} }

func at(name string, seqno int64) Member {
	return Member{Name: name, PositionKnown: true, Position: Position{uuidA, seqno}}
}

// survivor: a member whose mariadbd runs outside a Primary component.
func survivor(name string, seqno int64) Member {
	m := at(name, seqno)
	m.Running, m.NonPrimary = true, true
	return m
}

// joiner: a member whose mariadbd was started to join and never got into
// a Primary component (nothing fresh is known of it).
func joiner(name string, seqno int64) Member {
	m := at(name, seqno)
	m.Running, m.Joining = true, true
	return m
}

func TestDecide(t *testing.T) {
	primary := at("galera-2", 10)
	primary.Running, primary.Primary = true, true
	running := at("galera-0", 10)
	running.Running = true
	unknown := Member{Name: "galera-1"}
	other := at("galera-2", 50)
	other.Position.UUID = uuidB
	safe := at("galera-2", 7)
	safe.SafeToBootstrap = true
	noState := Member{Name: "galera-1", PositionKnown: true, Position: Position{ZeroUUID, -1}}
	saved := func(m Member) Member { m.SavedView = true; return m }
	lost := []Unreachable{{"10.0.0.3:9200", "connection refused"}}
	primary1 := primary
	primary1.Name = "galera-1"
	stopping := func(m Member) Member { m.Stopping = true; return m }

	for _, tc := range []struct {
		name   string
		view   View
		action Action
		reason string
	}{
		{"a Primary exists: join", View{Self: at("galera-0", 3), Peers: []Member{at("galera-1", 3), primary}, Expected: 3}, Join, "galera-2 is in a Primary"},
		{"a Primary exists even with a member missing", View{Self: empty("galera-0"), Peers: []Member{primary}, Unreachable: lost, Expected: 3}, Join, "joining"},
		{"every Primary member is being stopped: wait", View{Self: at("galera-0", 3), Peers: []Member{at("galera-1", 3), stopping(primary)}, Expected: 3}, Wait, "galera-2 is in a Primary component but being stopped by its sentinel"},
		{"two Primary members being stopped, override too: wait", View{Self: at("galera-0", 99), Peers: []Member{stopping(primary), stopping(primary1)}, Expected: 3, Force: true}, Wait, "galera-2, galera-1 are in a Primary component but being stopped by their sentinels"},
		{"one Primary member stopping, another staying: join the other", View{Self: empty("galera-0"), Peers: []Member{stopping(primary), primary1}, Expected: 3}, Join, "galera-1 is in a Primary"},
		{"override never beats a Primary", View{Self: at("galera-0", 99), Peers: []Member{primary}, Expected: 3, Force: true}, Join, "joining"},
		{"brand new, first member", View{Self: empty("galera-0"), Peers: []Member{empty("galera-2"), empty("galera-1")}, Expected: 3}, BootstrapNew, "first"},
		{"brand new, not first", View{Self: empty("galera-1"), Peers: []Member{empty("galera-2"), empty("galera-0")}, Expected: 3}, Wait, "waiting for galera-0"},
		{"brand new, one missing", View{Self: empty("galera-0"), Peers: []Member{empty("galera-1")}, Unreachable: lost, Expected: 3}, Wait, "2 of 3 expected members answered (the configured --expected-size); no answer from 10.0.0.3:9200 (connection refused)"},
		{"fewer answered than expected", View{Self: empty("galera-0"), Peers: []Member{empty("galera-1")}, Expected: 3}, Wait, "2 of 3"},
		{"position not read yet", View{Self: at("galera-0", 5), Peers: []Member{unknown, at("galera-2", 5)}, Expected: 3}, Wait, "galera-1 to read its position"},
		{"highest seqno bootstraps", View{Self: at("galera-1", 12), Peers: []Member{at("galera-0", 11), at("galera-2", 3)}, Expected: 3}, Bootstrap, "most recent"},
		{"lower seqno waits for the highest", View{Self: at("galera-0", 11), Peers: []Member{at("galera-1", 12), at("galera-2", 3)}, Expected: 3}, Wait, "waiting for galera-1 (seqno 12"},
		{"tie broken by safe_to_bootstrap", View{Self: at("galera-0", 7), Peers: []Member{at("galera-1", 7), safe}, Expected: 3}, Wait, "galera-2"},
		{"tie broken by ordinal", View{Self: at("galera-0", 7), Peers: []Member{at("galera-1", 7), at("galera-2", 7)}, Expected: 3}, Bootstrap, ""},
		{"ordinal, not string order", View{Self: at("galera-10", 7), Peers: []Member{at("galera-9", 7)}, Expected: 2}, Wait, "galera-9"},
		{"empty member is never chosen", View{Self: empty("galera-0"), Peers: []Member{at("galera-1", 4), at("galera-2", 2)}, Expected: 3}, Wait, "galera-1"},
		{"member without state is never chosen", View{Self: noState, Peers: []Member{at("galera-0", -1), empty("galera-2")}, Expected: 3}, Wait, "galera-0 (seqno -1"},
		{"different clusters", View{Self: at("galera-0", 5), Peers: []Member{at("galera-1", 5), other}, Expected: 3}, Refuse, "different clusters"},
		{"data without position, the others empty: it bootstraps", View{Self: own("galera-1"), Peers: []Member{empty("galera-0"), fresh("galera-2")}, Expected: 3}, Bootstrap, "this member has data and no Galera position"},
		{"data without position elsewhere: the fresh one waits for it", View{Self: fresh("galera-0"), Peers: []Member{own("galera-1"), empty("galera-2")}, Expected: 3}, Wait, "galera-1 has data and no Galera position, the others are empty or freshly installed: waiting for it to bootstrap"},
		{"two with data and no position: refused, naming both and the override", View{Self: own("galera-0"), Peers: []Member{own("galera-2"), fresh("galera-1")}, Expected: 3}, Refuse, "galera-0, galera-2 hold data but no Galera position, and the sentinel cannot tell which to keep: choose one with `galera-sentinel force-bootstrap NAME`"},
		{"fresh installs are as good as empty: the first bootstraps a new cluster", View{Self: fresh("galera-0"), Peers: []Member{fresh("galera-1"), empty("galera-2")}, Expected: 3}, BootstrapNew, "freshly installed"},
		{"fresh installs: the others wait", View{Self: fresh("galera-2"), Peers: []Member{fresh("galera-1"), fresh("galera-0")}, Expected: 3}, Wait, "waiting for galera-0"},
		{"an interrupted SST is never a candidate, even with the highest ordinal rule", View{Self: sst("galera-0"), Peers: []Member{at("galera-1", 7), at("galera-2", 5)}, Expected: 3}, Wait, "waiting for galera-1"},
		{"an interrupted SST and fresh members only: refused", View{Self: fresh("galera-0"), Peers: []Member{sst("galera-1"), empty("galera-2")}, Expected: 3}, Refuse, "state transfer of galera-1 was interrupted"},
		{"override on an interrupted SST: refused", View{Self: sst("galera-0"), Peers: []Member{empty("galera-1")}, Expected: 3, Force: true}, Refuse, "interrupted"},
		{"all crashed together: most advanced bootstraps", View{Self: saved(at("galera-0", 9)), Peers: []Member{saved(at("galera-1", 9)), saved(at("galera-2", 9))}, Expected: 3}, Bootstrap, "most recent"},
		{"crashed together, positions differ: most advanced bootstraps", View{Self: saved(at("galera-0", 10)), Peers: []Member{saved(at("galera-1", 10)), saved(at("galera-2", 9))}, Expected: 3}, Bootstrap, "most recent"},
		{"crashed together, positions differ: behind waits", View{Self: saved(at("galera-2", 9)), Peers: []Member{saved(at("galera-1", 10)), saved(at("galera-0", 10))}, Expected: 3}, Wait, "waiting for galera-0"},
		{"one saved view changes nothing", View{Self: saved(at("galera-0", 9)), Peers: []Member{at("galera-1", 9), at("galera-2", 8)}, Expected: 3}, Bootstrap, ""},
		{"a member running without a Primary", View{Self: at("galera-1", 9), Peers: []Member{running, at("galera-2", 9)}, Expected: 3}, Wait, "galera-0 runs mariadbd"},
		{"2 killed, the survivor runs non-Primary: the survivor steps down", View{Self: survivor("galera-2", 40), Peers: []Member{at("galera-0", 40), at("galera-1", 39)}, Expected: 3}, StepDown, "galera-0, galera-1 are stopped and waiting"},
		{"2 killed, survivor non-Primary: a killed one waits for its step-down, saying what to type", View{Self: at("galera-0", 40), Peers: []Member{survivor("galera-2", 40), at("galera-1", 39)}, Expected: 3}, Wait, "galera-2 runs mariadbd outside a Primary component while the other members are stopped: waiting for its sentinel to stop it (step-down), then the most advanced member bootstraps; if it does not stop, stop that member (kill -TERM"},
		{"2 killed, a killed one is the most advanced: the survivor still steps down, never forced Primary", View{Self: survivor("galera-2", 39), Peers: []Member{at("galera-0", 41), at("galera-1", 40)}, Expected: 3}, StepDown, "most advanced one bootstraps"},
		{"2 killed, the most advanced killed one does not bootstrap beside a running survivor", View{Self: at("galera-0", 41), Peers: []Member{survivor("galera-2", 39), at("galera-1", 40)}, Expected: 3}, Wait, "waiting for its sentinel to stop it"},
		{"survivor non-Primary, a member unreachable: wait", View{Self: survivor("galera-2", 40), Peers: []Member{at("galera-0", 40)}, Unreachable: lost, Expected: 3}, Wait, "2 of 3 expected members answered (the configured --expected-size); no answer from 10.0.0.3:9200"},
		{"survivor non-Primary, fewer answered: wait", View{Self: survivor("galera-2", 40), Peers: []Member{at("galera-0", 40)}, Expected: 3}, Wait, "2 of 3"},
		{"survivor non-Primary, a killed one still reading its position: wait", View{Self: survivor("galera-2", 40), Peers: []Member{at("galera-0", 40), unknown}, Expected: 3}, Wait, "galera-1 to read its position"},
		{"every member runs non-Primary: each steps down (after EveryoneOutsideSettle)", View{Self: survivor("galera-0", 40), Peers: []Member{survivor("galera-1", 41), survivor("galera-2", 40)}, Expected: 3}, StepDown, "every member (galera-0, galera-1, galera-2) runs mariadbd outside a Primary component"},
		{"every member runs, one without a fresh sample: wait", View{Self: survivor("galera-0", 40), Peers: []Member{survivor("galera-1", 41), joiner("galera-2", 40)}, Expected: 3}, Wait, "pc.bootstrap=YES' on the one with the highest wsrep_last_committed"},
		{"two running non-Primary and one stopped: both step down", View{Self: survivor("galera-0", 40), Peers: []Member{survivor("galera-1", 41), at("galera-2", 40)}, Expected: 3}, StepDown, "galera-2 is stopped"},
		{"two running non-Primary and one stopped: the stopped one waits", View{Self: at("galera-2", 40), Peers: []Member{survivor("galera-1", 41), survivor("galera-0", 40)}, Expected: 3}, Wait, "galera-1, galera-0 run mariadbd outside a Primary component while the other members are stopped"},
		{"a running member with nothing fresh known: no step-down beside it", View{Self: survivor("galera-1", 40), Peers: []Member{running, at("galera-2", 40)}, Expected: 3}, Wait, "waiting for galera-0's state"},
		{"this running member not sampled: wait", View{Self: running, Peers: []Member{at("galera-1", 40), at("galera-2", 40)}, Expected: 3}, Wait, "not known yet"},
		{"a running member beside a Primary: wait, never step down", View{Self: survivor("galera-0", 40), Peers: []Member{primary, at("galera-1", 40)}, Expected: 3}, Wait, "galera-2 is in a Primary component"},
		{"a Primary running member: nothing to do", View{Self: primary, Peers: []Member{at("galera-0", 40), at("galera-1", 40)}, Expected: 3}, Wait, "this member is in a Primary component"},
		{"a killed one restarted as a joiner just before the survivor left the Primary: the joiner steps down", View{Self: joiner("galera-0", 41), Peers: []Member{survivor("galera-2", 39), at("galera-1", 40)}, Expected: 3}, StepDown, "started mariadbd to join a Primary component that is gone"},
		{"... and the survivor beside it steps down too", View{Self: survivor("galera-2", 39), Peers: []Member{joiner("galera-0", 41), at("galera-1", 40)}, Expected: 3}, StepDown, "galera-1 is stopped"},
		{"... and the stopped one waits for both", View{Self: at("galera-1", 40), Peers: []Member{joiner("galera-0", 41), survivor("galera-2", 39)}, Expected: 3}, Wait, "galera-0, galera-2 run mariadbd outside a Primary component while the other members are stopped"},
		{"a joiner beside a Primary (a state transfer): never steps down", View{Self: joiner("galera-0", 41), Peers: []Member{primary, at("galera-1", 40)}, Expected: 3}, Wait, "galera-2 is in a Primary component"},
		{"override with a member gone", View{Self: at("galera-0", 9), Peers: []Member{at("galera-1", 8)}, Unreachable: lost, Expected: 3, Force: true}, Bootstrap, "override"},
		{"override refuses to lose data", View{Self: at("galera-0", 8), Peers: []Member{at("galera-1", 9)}, Unreachable: lost, Expected: 3, Force: true}, Refuse, "force the bootstrap on galera-1"},
		{"override refuses another cluster", View{Self: at("galera-0", 8), Peers: []Member{other}, Expected: 3, Force: true}, Refuse, "belongs to cluster"},
		{"override on an empty node while others have data", View{Self: empty("galera-0"), Peers: []Member{at("galera-1", 1)}, Expected: 3, Force: true}, Refuse, "empty"},
		{"override on empty everywhere", View{Self: empty("galera-0"), Unreachable: lost, Expected: 3, Force: true}, BootstrapNew, "override"},
		{"override before the position is read", View{Self: Member{Name: "galera-0"}, Expected: 3, Force: true}, Wait, "position"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.view)
			if d.Action != tc.action || !strings.Contains(d.Reason, tc.reason) {
				t.Fatalf("got %s %q, want %s containing %q", d.Action, d.Reason, tc.action, tc.reason)
			}
			if d.Class == "" {
				t.Fatalf("%s %q without a class", d.Action, d.Reason)
			}
		})
	}
}

// TestDecideAgrees: for random sets of members, all down or some running
// outside a Primary component, every member decides from its own point of
// view, and at most one of them starts a new Primary component, none while
// a member runs, whatever order it sees its peers in; the running ones
// step down all together or not at all.
func TestDecideAgrees(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 20000; round++ {
		n := 1 + r.IntN(5)
		ms := make([]Member, n)
		for i := range ms {
			m := Member{Name: fmt.Sprintf("galera-%d", i), PositionKnown: r.IntN(10) > 0}
			switch r.IntN(7) {
			case 0:
				m.Empty = true
			case 5:
				m.Fresh, m.Position = true, Position{ZeroUUID, -1}
			case 6:
				m.NeedsSST = true
			case 1:
				m.Position = Position{ZeroUUID, -1}
			default:
				m.Position = Position{uuidA, int64(r.IntN(4)) - 1}
				if r.IntN(20) == 0 {
					m.Position.UUID = uuidB
				}
				m.SafeToBootstrap = r.IntN(3) == 0
				m.SavedView = r.IntN(2) == 0
			}
			// Some members run mariadbd outside a Primary component
			// (the survivors of a kill), known to be so or not.
			if r.IntN(4) == 0 {
				m.Running = true
				m.NonPrimary = r.IntN(4) > 0
				m.Joining = r.IntN(3) == 0
			}
			ms[i] = m
		}
		expected := n
		if r.IntN(4) == 0 {
			expected++
		}
		starters, steppers := 0, 0
		anyRunning := slices.ContainsFunc(ms, func(m Member) bool { return m.Running })
		var decisions []string
		for i := range ms {
			var peers []Member
			for j := range ms {
				if j != i {
					peers = append(peers, ms[j])
				}
			}
			r.Shuffle(len(peers), func(a, b int) { peers[a], peers[b] = peers[b], peers[a] })
			d := Decide(View{Self: ms[i], Peers: peers, Expected: expected})
			decisions = append(decisions, d.Action.String()+": "+d.Reason)
			if d.Action == StepDown {
				steppers++
				if !ms[i].outside() || expected > n {
					t.Fatalf("step-down of a member not known to run outside a Primary component, or with a member missing: %+v\n%s", ms, strings.Join(decisions, "\n"))
				}
			}
			if ms[i].Running && d.Action != Wait && d.Action != StepDown {
				t.Fatalf("a running member told to %s: %+v\n%s", d.Action, ms, strings.Join(decisions, "\n"))
			}
			if d.Action == Bootstrap || d.Action == BootstrapNew {
				starters++
				if anyRunning {
					t.Fatalf("bootstrap while a member runs mariadbd: %+v\n%s", ms, strings.Join(decisions, "\n"))
				}
				if expected > n {
					t.Fatalf("bootstrap with a member missing: %+v -> %s", ms, d.Reason)
				}
			}
			// Bootstrap from data without a position only when no member
			// has a position; never from an interrupted state transfer.
			if d.Action == Bootstrap && (ms[i].NeedsSST || (!ms[i].HasPosition() && slices.ContainsFunc(ms, Member.HasPosition))) {
				t.Fatalf("inconsistent: %+v\n%s", ms, strings.Join(decisions, "\n"))
			}
			if d.Action == BootstrapNew && !ms[i].asGoodAsEmpty() {
				t.Fatalf("a new cluster on data: %+v\n%s", ms, strings.Join(decisions, "\n"))
			}
		}
		// A step-down is all or nothing: every running member steps
		// down, or none does (they must agree, as the stopped ones do).
		if steppers > 0 && steppers != len(slices.DeleteFunc(slices.Clone(ms), func(m Member) bool { return !m.Running })) {
			t.Fatalf("%d members step down, not every running one: %+v\n%s", steppers, ms, strings.Join(decisions, "\n"))
		}
		if starters > 1 {
			t.Fatalf("%d members would bootstrap: %+v\n%s", starters, ms, strings.Join(decisions, "\n"))
		}
	}
}

func TestOrdinal(t *testing.T) {
	for in, want := range map[string]int{"galera-0": 0, "node12": 12, "db-3": 3} {
		if got, ok := Ordinal(in); !ok || got != want {
			t.Errorf("Ordinal(%q) = %d, %v", in, got, ok)
		}
	}
	for _, in := range []string{"galera", "", "x-12345678901"} {
		if _, ok := Ordinal(in); ok {
			t.Errorf("Ordinal(%q) found one", in)
		}
	}
}

// TestDecidePrimaryRefusing: a peer that refuses this member's token but
// says it is Primary is enough to join (a rotation), never to bootstrap:
// without it, every member unreachable means waiting.
func TestDecidePrimaryRefusing(t *testing.T) {
	self := Member{Name: "galera-0", PositionKnown: true, Position: Position{UUID: "c8bb4bee-e5d7-11f1-a5ed-f285d65e2e99", Seqno: 9}}
	un := []Unreachable{{Addr: "10.0.0.2:9200", Err: "HTTP 403"}, {Addr: "10.0.0.3:9200", Err: "HTTP 403"}}
	d := Decide(View{Self: self, Unreachable: un, Expected: 3})
	if d.Action != Wait {
		t.Fatalf("every peer refusing, none Primary: %v %s", d.Action, d.Reason)
	}
	d = Decide(View{Self: self, Unreachable: un, Expected: 3, PrimaryRefusing: []string{"galera-1 (10.0.0.2:9200)"}})
	if d.Action != Join || !strings.Contains(d.Reason, "galera-1") || !strings.Contains(d.Reason, "token") {
		t.Fatalf("a Primary peer refusing the token: %v %s, want Join", d.Action, d.Reason)
	}
	self.Running, self.NonPrimary = true, true
	if d := Decide(View{Self: self, Unreachable: un, Expected: 3, PrimaryRefusing: []string{"galera-1"}}); d.Action != Wait {
		t.Fatalf("running: %v %s, want Wait", d.Action, d.Reason)
	}
}
