package galera

import (
	"encoding/json"
	"strings"
	"testing"
)

func withView(m Member, seqno int64, members ...string) Member {
	m.LastView = &LastView{Members: members, Size: len(members), ConfID: 7, Seqno: seqno}
	return m
}

func TestDecideLastView(t *testing.T) {
	five := []string{"galera-0", "galera-1", "galera-2", "galera-3", "galera-4"}
	three := five[:3]
	countOnly := func(m Member, size int) Member {
		m.LastView = &LastView{Size: size, ConfID: 3, Seqno: 40}
		return m
	}
	for _, tc := range []struct {
		name   string
		view   View
		action Action
		reason string
	}{
		{"scaled to 5, two Pending after an outage: wait for them, whatever --expected-size says",
			View{Self: withView(at("galera-0", 90), 80, five...), Peers: []Member{withView(at("galera-1", 90), 80, five...), withView(at("galera-2", 89), 80, five...)}, Expected: 3},
			Wait, "3 of the 5 members of the last Primary component, as galera-0, galera-1, galera-2 saved it (galera-0, galera-1, galera-2, galera-3, galera-4) answered; missing galera-3, galera-4; if a missing member is gone for good (its last commits are lost with it): `galera-sentinel force-bootstrap galera-0`"},
		{"scaled back to 3 with --expected-size still 5: the three bootstrap",
			View{Self: withView(at("galera-0", 90), 85, three...), Peers: []Member{withView(at("galera-1", 91), 85, three...), withView(at("galera-2", 89), 85, three...)}, Expected: 5},
			Wait, "waiting for galera-1 (seqno 91"},
		{"the most advanced of the last view bootstraps",
			View{Self: withView(at("galera-1", 91), 85, three...), Peers: []Member{withView(at("galera-0", 90), 85, three...), withView(at("galera-2", 89), 85, three...)}, Expected: 5},
			Bootstrap, "most recent"},
		{"a member left before the outage: the two of the last view need not wait for it",
			View{Self: withView(at("galera-0", 120), 100, "galera-0", "galera-1"), Peers: []Member{withView(at("galera-1", 120), 100, "galera-0", "galera-1")}, Expected: 3},
			Bootstrap, "most recent"},
		{"views saved at one seqno are joined: the member that knew the bigger one makes everyone wait",
			View{Self: withView(at("galera-0", 120), 100, "galera-0", "galera-1"), Peers: []Member{withView(at("galera-2", 100), 100, three...)}, Expected: 3},
			Wait, "missing galera-1"},
		{"the newest view wins over a stale one (a member that missed the scale-down)",
			View{Self: withView(at("galera-0", 120), 110, three...), Peers: []Member{withView(at("galera-1", 120), 110, three...), withView(at("galera-2", 60), 50, five...)}, Expected: 5},
			Bootstrap, "most recent"},
		{"a newer view from a member that left: its members are waited for",
			View{Self: withView(at("galera-0", 100), 100, three...), Peers: []Member{withView(at("galera-3", 150), 150, "galera-1", "galera-2", "galera-3", "galera-4")}, Expected: 3},
			Wait, "missing galera-1, galera-2, galera-4"},
		{"a view without names counts",
			View{Self: countOnly(at("galera-0", 50), 3), Peers: []Member{countOnly(at("galera-1", 50), 3)}, Expected: 2},
			Wait, "2 of 3 expected members answered (the last Primary component"},
		{"a new empty member has no view: the saved ones decide",
			View{Self: empty("galera-3"), Peers: []Member{withView(at("galera-0", 50), 40, three...), withView(at("galera-1", 50), 40, three...), withView(at("galera-2", 50), 40, three...)}, Expected: 4},
			Wait, "waiting for galera-0 (seqno 50"},
		{"an unreachable address still waits, view or not",
			View{Self: withView(at("galera-0", 50), 40, "galera-0", "galera-1"), Peers: []Member{withView(at("galera-1", 50), 40, "galera-0", "galera-1")}, Unreachable: []Unreachable{{"10.0.0.9:9200", "timeout"}}, Expected: 2},
			Wait, "no answer from 10.0.0.9:9200"},
		{"the override names the member missing and still bootstraps",
			View{Self: withView(at("galera-0", 90), 80, five...), Peers: []Member{withView(at("galera-1", 90), 80, five...)}, Expected: 3, Force: true},
			Bootstrap, "missing galera-2, galera-3, galera-4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.view)
			if d.Action != tc.action || !strings.Contains(d.Reason, tc.reason) {
				t.Fatalf("got %s %q, want %s containing %q", d.Action, d.Reason, tc.action, tc.reason)
			}
		})
	}
}

// A survivor outside a Primary component steps down only when every
// member of the last view answered.
func TestDecideRunningLastView(t *testing.T) {
	three := []string{"galera-0", "galera-1", "galera-2"}
	v := View{Self: withView(survivor("galera-0", 10), 9, three...), Peers: []Member{withView(at("galera-1", 12), 9, three...)}, Expected: 2}
	if d := Decide(v); d.Action != Wait || !strings.Contains(d.Reason, "missing galera-2") {
		t.Fatalf("got %s %q, want a wait for galera-2", d.Action, d.Reason)
	}
	v.Peers = append(v.Peers, withView(at("galera-2", 12), 9, three...))
	if d := Decide(v); d.Action != StepDown {
		t.Fatalf("got %s %q, want step-down", d.Action, d.Reason)
	}
}

func TestParseLastView(t *testing.T) {
	good := `{"members":["a","b","c"],"size":3,"conf_id":4,"seqno":17}`
	v, err := ParseLastView([]byte(good))
	if err != nil || v.Size != 3 || v.Seqno != 17 || len(v.Members) != 3 {
		t.Fatalf("ParseLastView(%s) = %+v, %v", good, v, err)
	}
	for _, bad := range []struct{ text, want string }{
		{``, "not a saved view"},
		{`{"size":3`, "not a saved view"},
		{`{"size":3,"color":"red"}`, "unknown field"},
		{`{"size":0}`, "view size 0"},
		{`{"members":["a","b"],"size":3}`, "names 2 members for a size of 3"},
		{`{"members":["b","a"],"size":2}`, "not sorted"},
		{`{"members":["a","a"],"size":2}`, "twice"},
		{`{"members":["a b","c"],"size":2}`, "not a node name"},
		{`{"size":2,"seqno":-5}`, "seqno -5"},
	} {
		if _, err := ParseLastView([]byte(bad.text)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ParseLastView(%q) = %v, want an error containing %q", bad.text, err, bad.want)
		}
	}
}

// FuzzParseLastView: a saved view file is read before anything is
// decided; whatever it holds, parsing must not panic, and what it accepts
// must be a valid view that encodes back to itself.
func FuzzParseLastView(f *testing.F) {
	f.Add([]byte(`{"members":["a","b","c"],"size":3,"conf_id":4,"seqno":17}`))
	f.Add([]byte(`{"size":2,"seqno":-1}`))
	f.Add([]byte(`{"members":["b","a"],"size":2}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseLastView(b)
		if err != nil {
			return
		}
		if err := v.Validate(); err != nil {
			t.Fatalf("accepted an invalid view %+v: %v", v, err)
		}
		enc, _ := json.Marshal(v)
		w, err := ParseLastView(enc)
		if err != nil || !w.Same(v) || w.Seqno != v.Seqno {
			t.Fatalf("%s does not read back: %+v, %v", enc, w, err)
		}
	})
}
