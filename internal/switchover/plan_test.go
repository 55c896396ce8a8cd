package switchover

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/replica"
)

func lag(s float64) *float64 { return &s }

func primaryView(addr, pos string) View {
	return View{Addr: addr, Ready: true, ReadyReason: "ready: primary, writable",
		Repl: &Replication{Role: "primary", BinlogPos: pos, CurrentPos: pos}}
}

func replicaView(addr, pos string, l float64) View {
	return View{Addr: addr, Ready: true, ReadyReason: "ready: replica",
		Repl: &Replication{Role: "replica", ReadOnly: true, BinlogPos: pos, SlavePos: pos, MasterHost: "10.0.0.1", MasterPort: 3307,
			IORunning: "Yes", SQLRunning: true, LagSeconds: lag(l), LagSource: "heartbeat"}}
}

func TestDecide(t *testing.T) {
	lim := Limits{MaxLag: 10 * time.Second}
	healthy := func() []View {
		return []View{primaryView("db1:9200", "0-1-100"), replicaView("db2:9200", "0-1-98", 0.5), replicaView("db3:9200", "0-1-100", 0)}
	}
	t.Run("healthy", func(t *testing.T) {
		p, err := Decide(healthy(), 1, lim)
		if err != nil {
			t.Fatal(err)
		}
		if p.Old.Addr != "db1:9200" || p.New.Addr != "db2:9200" || len(p.Others) != 1 || p.Others[0].Addr != "db3:9200" || p.Behind != 2 {
			t.Fatalf("plan %+v", p)
		}
	})
	for _, tc := range []struct {
		name   string
		change func(vs []View) int
		want   string
	}{
		{"member silent", func(vs []View) int { vs[2] = View{Addr: "db3:9200", Err: "connection refused"}; return 1 }, "db3:9200 did not answer"},
		{"galera mode", func(vs []View) int { vs[2].Repl = nil; return 1 }, "--mode=replication"},
		{"no primary", func(vs []View) int { vs[0].Repl.ReadOnly = true; vs[0].Repl.Role = "unknown"; return 1 }, "no member is a writable primary"},
		{"two primaries", func(vs []View) int { vs[2] = primaryView("db3:9200", "0-3-5"); return 1 }, "2 writable primaries (db1:9200, db3:9200)"},
		{"already primary", func([]View) int { return 0 }, "db1:9200 is already the primary"},
		{"sql error", func(vs []View) int {
			vs[1].Repl.LastSQLErrno, vs[1].Repl.LastError = 1062, "Duplicate entry"
			return 1
		}, "SQL 1062"},
		{"io stopped", func(vs []View) int { vs[1].Repl.IORunning = "No"; return 1 }, "does not replicate (IO thread No"},
		{"connecting", func(vs []View) int { vs[1].Repl.IORunning = "Connecting"; return 1 }, "IO thread Connecting"},
		{"writable replica", func(vs []View) int { vs[1].Repl.ReadOnly = false; return 1 }, "writable replica"},
		{"lag unknown", func(vs []View) int {
			vs[1].Repl.LagSeconds = nil
			vs[1].ReadyReason = "lag unknown: no heartbeat row"
			return 1
		}, "lag unknown (lag unknown: no heartbeat row)"},
		{"lags", func(vs []View) int { vs[1].Repl.LagSeconds = lag(12.5); return 1 }, "lags 12.5s (heartbeat), more than --max-lag 10s"},
		{"not ready", func(vs []View) int { vs[1].Ready, vs[1].ReadyReason = false, "maintenance"; return 1 }, "not ready: maintenance"},
		{"candidate ahead", func(vs []View) int { vs[1].Repl.SlavePos = "0-1-101"; return 1 }, "db2:9200: this server is ahead of the primary in domain 0"},
		{"candidate other history", func(vs []View) int { vs[1].Repl.SlavePos = "0-1-100,7-2-3"; return 1 }, "domain 7 (this server at 7-2-3) never existed on the primary"},
		{"candidate same seq other server", func(vs []View) int { vs[1].Repl.SlavePos = "0-2-100"; return 1 }, "histories forked in domain 0: 0-2-100 here, 0-1-100 on the primary"},
		{"other diverged", func(vs []View) int { vs[2].Repl.SlavePos = "0-3-200"; return 1 }, "db3:9200: this server is ahead"},
		{"bad position", func(vs []View) int { vs[1].Repl.SlavePos = "0-1"; return 1 }, "want domain-server-sequence"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vs := healthy()
			cand := tc.change(vs)
			_, err := Decide(vs, cand, lim)
			var re *RefusedError
			if !errors.As(err, &re) {
				t.Fatalf("want a refusal, got %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("refusal %q lacks %q", err, tc.want)
			}
		})
	}
	t.Run("other not ready is a warning", func(t *testing.T) {
		vs := healthy()
		vs[2].Ready, vs[2].ReadyReason, vs[2].Repl.IORunning = false, "replication IO thread not running", "No"
		p, err := Decide(vs, 1, lim)
		if err != nil || len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "db3:9200 is not ready") {
			t.Fatalf("plan %+v, %v", p, err)
		}
	})
}

func TestMatch(t *testing.T) {
	vs := []View{{Addr: "10.0.0.1:9200"}, {Addr: "10.0.0.2:9200"}, {Addr: "db3:9300"}}
	for _, tc := range []struct {
		to   string
		dns  []string
		want int
		err  string
	}{
		{"10.0.0.2:9200", nil, 1, ""},
		{"10.0.0.2", nil, 1, ""},
		{"DB3", nil, 2, ""},
		{"db3:9300", nil, 2, ""},
		{"db3:9200", nil, -1, "names none of the members (10.0.0.1:9200, 10.0.0.2:9200, db3:9300)"},
		{"mariadb-1.mariadb.db.svc.cluster.local", []string{"10.0.0.2"}, 1, ""},
		{"mariadb-1.mariadb.db.svc.cluster.local:9200", []string{"10.0.0.2"}, 1, ""},
		{"nobody", nil, -1, "names none"},
	} {
		got, err := Match(vs, tc.to, tc.dns)
		if got != tc.want || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("Match(%q, %v) = %d, %v; want %d, %q", tc.to, tc.dns, got, err, tc.want, tc.err)
		}
	}
	if _, err := Match([]View{{Addr: "a:1"}, {Addr: "a:2"}}, "a", nil); err == nil || !strings.Contains(err.Error(), "names 2 members") {
		t.Errorf("ambiguous: %v", err)
	}
}

func TestPrimaryAddr(t *testing.T) {
	p := Plan{New: replicaView("10.0.0.2:9200", "0-1-1", 0)}
	for _, tc := range []struct{ to, explicit, want, err string }{
		{"10.0.0.2:9200", "", "10.0.0.2:3307", ""}, // the port the replicas use
		{"mariadb-1.mariadb:9200", "", "mariadb-1.mariadb:3307", ""},
		{"x", "db2", "db2:3306", ""},
		{"x", "db2:3310", "db2:3310", ""},
		{"x", "[fd00::2]:3306", "[fd00::2]:3306", ""},
		{"x", "db2:0", "", "port must be 1-65535"},
		{"x", "db'2", "", "bad host"},
	} {
		got, err := PrimaryAddr(p, tc.to, tc.explicit)
		if got != tc.want || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("PrimaryAddr(%q, %q) = %q, %v; want %q, %q", tc.to, tc.explicit, got, err, tc.want, tc.err)
		}
	}
}

func TestGTID(t *testing.T) {
	a, err := replica.ParseGTIDList("0-1-100,\n1-2-5")
	if err != nil || len(a) != 2 || a[1].Seq != 5 {
		t.Fatalf("%v %v", a, err)
	}
	for _, bad := range []string{"0-1", "a-b-c", "0-1-1,0-2-2", "0-1-1;", "-1-1-1"} {
		if _, err := replica.ParseGTIDList(bad); err == nil {
			t.Errorf("replica.ParseGTIDList(%q): no error", bad)
		}
	}
	if m, _ := replica.ParseGTIDList(""); len(m) != 0 {
		t.Errorf("empty: %v", m)
	}
	bin, _ := replica.ParseGTIDList("0-1-120,2-1-4")
	slave, _ := replica.ParseGTIDList("0-2-90,1-3-7")
	if got := merged(bin, slave).String(); got != "0-1-120,1-3-7,2-1-4" {
		t.Errorf("merged: %s", got)
	}
	p, _ := replica.ParseGTIDList("0-1-120,1-3-7")
	r, _ := replica.ParseGTIDList("0-1-100")
	if n, _, ok := behind(r, p); !ok || n != 27 {
		t.Errorf("behind: %d %v", n, ok)
	}
	if n, _, ok := behind(replica.GTIDList{}, p); !ok || n != 127 {
		t.Errorf("behind from empty: %d %v", n, ok)
	}
}

func TestDecodeView(t *testing.T) {
	// The sentinel puts the replication object in "sample" (replica.SampleDoc).
	v := decodeView("db2:9200", []byte(`{"ready":{"ok":true,"reason":"ready: replica of db1:3306"},"sample":{"at":"2026-01-02T03:04:05Z","role":"replica","read_only":true,"gtid_slave_pos":"0-1-5","master_host":"db1","master_port":3306,"io_running":"Yes","sql_running":true,"lag_seconds":0.2,"lag_source":"heartbeat"}}`))
	if v.Err != "" || v.Repl == nil || v.Repl.Role != "replica" || v.Repl.MasterHost != "db1" || *v.Repl.LagSeconds != 0.2 || !v.Ready {
		t.Fatalf("%+v", v)
	}
	// A Galera sentinel's sample has no role: no replication state.
	if v := decodeView("g:9200", []byte(`{"ready":{"ok":true},"sample":{"state":"Synced"}}`)); v.Repl != nil {
		t.Fatalf("galera: %+v", v.Repl)
	}
	if v := decodeView("x:9200", []byte(`<html>`)); v.Err == "" {
		t.Fatal("no error for a non-JSON answer")
	}
}
