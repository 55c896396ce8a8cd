package replica

import (
	"strings"
	"testing"
)

func mustList(t *testing.T, s string) GTIDList {
	t.Helper()
	l, err := ParseGTIDList(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestParseGTIDList(t *testing.T) {
	l := mustList(t, " 1-2-5,\n0-1-100 ")
	if len(l) != 2 || l[0] != (GTID{0, 1, 100}) || l[1] != (GTID{1, 2, 5}) {
		t.Fatalf("got %v", l)
	}
	if got := l.String(); got != "0-1-100,1-2-5" {
		t.Fatalf("String() = %q", got)
	}
	if l := mustList(t, ""); len(l) != 0 || l.String() != "" {
		t.Fatalf("empty: %v", l)
	}
	for _, bad := range []string{"0-1", "a-1-2", "0-1-2,0-3-4", "0-1-2,", "-1-2-3", "0-1-99999999999999999999999"} {
		if _, err := ParseGTIDList(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestDescends(t *testing.T) {
	for _, tc := range []struct {
		replica, primary string
		ok               bool
		why              string
		dist             int64
	}{
		{"", "", true, "", 0},
		{"", "0-1-10", true, "", 10},
		{"0-1-5", "0-1-10", true, "", 5},
		{"0-1-10", "0-1-10", true, "", 0},
		{"0-1-10", "0-2-20,1-3-4", true, "", 14}, // a switchover: the new primary wrote on
		{"0-1-11", "0-1-10", false, "ahead of the primary in domain 0", 0},
		{"0-2-10", "0-1-10", false, "forked in domain 0", 0},
		{"0-1-5,7-2-1", "0-1-10", false, "domain 7", 0},
	} {
		ok, why := Descends(mustList(t, tc.replica), mustList(t, tc.primary))
		if ok != tc.ok || !strings.Contains(why, tc.why) || (tc.ok && why != "") {
			t.Errorf("Descends(%q, %q) = %v, %q; want %v, %q", tc.replica, tc.primary, ok, why, tc.ok, tc.why)
		}
		d, cmp := Distance(mustList(t, tc.replica), mustList(t, tc.primary))
		if cmp != tc.ok || d != tc.dist {
			t.Errorf("Distance(%q, %q) = %d, %v; want %d, %v", tc.replica, tc.primary, d, cmp, tc.dist, tc.ok)
		}
	}
}

func TestLocalWrites(t *testing.T) {
	for _, tc := range []struct {
		binlog, slave, want string
	}{
		{"", "", ""},
		{"0-1-10", "0-1-10", ""},
		{"0-1-9", "0-1-10", ""}, // binary log purged or slave_pos set ahead
		{"0-2-11", "0-1-10", "0-2-11"},
		{"0-1-10", "", "0-1-10"},
		{"0-1-10,1-2-3", "0-1-10", "1-2-3"},
	} {
		got := LocalWrites(mustList(t, tc.binlog), mustList(t, tc.slave))
		var s []string
		for _, g := range got {
			s = append(s, g.String())
		}
		if strings.Join(s, ",") != tc.want {
			t.Errorf("LocalWrites(%q, %q) = %v; want %q", tc.binlog, tc.slave, s, tc.want)
		}
	}
}
