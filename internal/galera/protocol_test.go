package galera

import (
	"strings"
	"testing"
)

// cannotSpeak is m after Galera refused its library gcs_proto_ver 5.
func cannotSpeak(m Member) Member {
	m.CannotSpeak = ProtocolRefusal{Level: "gcs_proto_ver", Requested: 5, Max: 4}
	m.Provider = "26.4.20(r1)"
	return m
}

// speaking is m in a component that speaks p, with a newer library.
func speaking(m Member, p string) Member {
	pr, err := ParseProtocols(p)
	if err != nil {
		panic(err)
	}
	m.Protocols, m.Provider = pr, "26.4.21(r2)"
	return m
}

func TestProtocolsInLog(t *testing.T) {
	for _, c := range []struct {
		line string
		want string // "" : none
	}{
		{"\tprotocols  = 5/11/4 (gcs/repl/appl),", "5/11/4"},
		{"2026-12-06 20:53:32 0 [Note] WSREP:  protocols = 2/10/4 (gcs/repl/appl)", "2/10/4"},
		{"2026-12-06 20:53:32 1 [Note] WSREP: REPL Protocols: 11 (6)", ""},
		{"protocols = 5/11 (gcs/repl/appl)", ""},
		{"protocols = 5/11/999 (gcs/repl/appl)", ""},
	} {
		p, ok := ProtocolsInLog(c.line)
		if ok != (c.want != "") || (ok && p.String() != c.want) {
			t.Errorf("%q: %v %v, want %q", c.line, p, ok, c.want)
		}
	}
	if _, err := ParseProtocols("a/b/c"); err == nil {
		t.Error("a/b/c parsed")
	}
}

func TestProtocolRefused(t *testing.T) {
	// As Galera 26.4 prints it (gcs_group.cpp) before it aborts mariadbd:
	// the case of a 26.4.20 library joining members of 26.4.21.
	line := "2026-12-06 10:00:00 0 [ERROR] WSREP: gcs/src/gcs_group.cpp:group_check_proto_ver():343: Group requested gcs_proto_ver: 5, max supported by this node: 4.Upgrade the node before joining this group.Need to abort."
	r, ok := ProtocolRefused(line)
	if !ok || r != (ProtocolRefusal{Level: "gcs_proto_ver", Requested: 5, Max: 4}) {
		t.Fatalf("%v %v", r, ok)
	}
	if r, ok := ProtocolRefused("FATAL: Group requested repl_proto_ver: 127, max supported by this node: 10.Upgrade the node"); !ok || r.Level != "repl_proto_ver" || r.Max != 10 {
		t.Errorf("repl: %v %v", r, ok)
	}
	for _, l := range []string{"Group requested gcs_proto_ver: 4, max supported by this node: 5", "Group requested other: 5, max supported by this node: 4", "protocols = 5/11/4 (gcs/repl/appl)"} {
		if r, ok := ProtocolRefused(l); ok {
			t.Errorf("%q recognised: %v", l, r)
		}
	}
}

func TestProtocolGap(t *testing.T) {
	self := cannotSpeak(at("galera-0", 9))
	// The component still speaks gcs 5: refused, naming who and what.
	d := Decide(View{Self: self, Peers: []Member{speaking(primaryOn("galera-1", "10.11.19"), "5/11/4"), speaking(primaryOn("galera-2", "10.11.19"), "5/11/4")}, Expected: 3})
	if d.Action != Refuse || d.Class != DecidedProtocolGap {
		t.Fatalf("%s %s: %s", d.Action, d.Class, d.Reason)
	}
	for _, w := range []string{"galera-1, galera-2 speak gcs_proto_ver 5", "galera-1 runs Galera 26.4.21(r2)", "(26.4.20(r1)) supports up to 4", "at least as new as theirs"} {
		if !strings.Contains(d.Reason, w) {
			t.Errorf("reason %q lacks %q", d.Reason, w)
		}
	}
	// A component that went back to 4 (a member with an older library
	// joined, or the newer ones left), or whose protocols are not known
	// (a sentinel of an earlier release): Galera decides, as before.
	for name, peers := range map[string][]Member{
		"speaks 4":        {speaking(primaryOn("galera-1", "10.11.19"), "4/11/4")},
		"not known":       {primaryOn("galera-1", "10.11.19")},
		"being stopped":   {func() Member { p := speaking(primaryOn("galera-1", "10.11.19"), "5/11/4"); p.Stopping = true; return p }()},
		"not primary yet": {speaking(at("galera-1", 9), "5/11/4")},
	} {
		d := Decide(View{Self: self, Peers: peers, Expected: 2})
		if d.Class == DecidedProtocolGap {
			t.Errorf("%s: refused: %s", name, d.Reason)
		}
	}
	// Without a refusal of its own, a member joins.
	if d := Decide(View{Self: at("galera-0", 9), Peers: []Member{speaking(primaryOn("galera-1", "10.11.19"), "5/11/4")}, Expected: 2}); d.Action != Join {
		t.Errorf("%s: %s", d.Action, d.Reason)
	}
}
