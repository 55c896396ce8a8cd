package replica

import (
	"strings"
	"testing"
	"time"
)

func replicaSample(mut func(s *Sample)) *Sample {
	s := &Sample{ReadOnly: true, SlavePos: "0-1-10", Replica: &Status{MasterHost: "db-0", MasterPort: 3306, IO: IOYes, SQLRunning: true,
		SecondsBehindKnown: true}, Lag: KnownLag(time.Second, LagHeartbeat)}
	if mut != nil {
		mut(s)
	}
	return s
}

func TestReady(t *testing.T) {
	p := Policy{MaxLag: 10 * time.Second, ConnectGrace: 10 * time.Second}
	tests := []struct {
		name   string
		s      *Sample
		ok     bool
		reason string
	}{
		{"a healthy replica", replicaSample(nil), true, "ready: replica of db-0:3306, lag 1.0s (heartbeat)"},
		{"a writable primary", &Sample{}, true, "ready: primary, writable"},
		{"read-only without a replica row", &Sample{ReadOnly: true}, false, "neither a writable primary nor a replica"},
		{"STOP SLAVE", replicaSample(func(s *Sample) { s.Replica.IO, s.Replica.SQLRunning = IONo, false }), false, "SQL thread not running"},
		{"STOP SLAVE IO_THREAD", replicaSample(func(s *Sample) { s.Replica.IO = IONo }), false, "IO thread not running"},
		{"a duplicate key", replicaSample(func(s *Sample) {
			s.Replica.SQLRunning, s.Replica.LastSQLErrno, s.Replica.LastSQLError = false, 1062, "Could not execute Write_rows_v1 event\n on table t.t; Duplicate entry '1'"
		}), false, "replication SQL error 1062: Could not execute Write_rows_v1 event on table t.t; Duplicate entry '1'"},
		{"an IO error", replicaSample(func(s *Sample) {
			s.Replica.IO, s.Replica.LastIOErrno, s.Replica.LastIOError = IONo, 1236, "Got fatal error 1236 from master"
		}), false, "replication IO error 1236"},
		{"connecting, within the grace", replicaSample(func(s *Sample) {
			s.Replica.IO, s.Replica.IOConnectingFor, s.Replica.LastIOErrno = IOConnecting, 5*time.Second, 2003
		}), true, "ready: replica"},
		{"connecting, past the grace", replicaSample(func(s *Sample) {
			s.Replica.IO, s.Replica.IOConnectingFor, s.Replica.LastIOErrno, s.Replica.LastIOError = IOConnecting, 11*time.Second, 2003, "Can't connect"
		}), false, "IO thread Connecting to db-0:3306 for 11s (more than --replica-connect-grace 10s): error 2003: Can't connect"},
		{"a writable replica", replicaSample(func(s *Sample) { s.ReadOnly = false }), false, "replica is writable"},
		{"lag unknown", replicaSample(func(s *Sample) { s.Lag = UnknownLag("Seconds_Behind_Master is NULL") }), false, "lag unknown: Seconds_Behind_Master is NULL"},
		{"lagging", replicaSample(func(s *Sample) { s.Lag = KnownLag(12500*time.Millisecond, LagGTID) }), false, "lagging: 12.5s behind its primary (gtid)"},
		{"at the bound", replicaSample(func(s *Sample) { s.Lag = KnownLag(10*time.Second, LagGTID) }), true, "lag 10.0s (gtid)"},
		{"unknown, but at least past the bound", replicaSample(func(s *Sample) {
			s.Lag = UnknownLag("catching up")
			s.Lag.AtLeast = 11
		}), false, "lagging: at least 11.0s"},
		{"unknown, below the bound", replicaSample(func(s *Sample) {
			s.Lag = UnknownLag("catching up")
			s.Lag.AtLeast = 3
		}), false, "lag unknown: catching up"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := p.Ready(tt.s)
			if v.OK != tt.ok || !strings.Contains(v.Reason, tt.reason) {
				t.Errorf("Ready = %v %q, want %v containing %q", v.OK, v.Reason, tt.ok, tt.reason)
			}
		})
	}
}

func TestRole(t *testing.T) {
	tests := []struct {
		name string
		s    *Sample
		want Role
	}{
		{"writable, no row", &Sample{}, RolePrimary},
		{"replicating", replicaSample(nil), RoleReplica},
		{"replicating although writable", replicaSample(func(s *Sample) { s.ReadOnly = false }), RoleReplica},
		{"writable with a stopped row (after STOP SLAVE on a promoted server)", replicaSample(func(s *Sample) {
			s.ReadOnly, s.Replica.IO, s.Replica.SQLRunning = false, IONo, false
		}), RolePrimary},
		{"read-only with a stopped row", replicaSample(func(s *Sample) { s.Replica.IO, s.Replica.SQLRunning = IONo, false }), RoleReplica},
		{"read-only, no row", &Sample{ReadOnly: true}, RoleUnknown},
	}
	for _, tt := range tests {
		if got := tt.s.Role(); got != tt.want {
			t.Errorf("%s: Role = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestWriterOnlyOnThePrimary(t *testing.T) {
	p := Policy{}
	if v := p.Writer(&Sample{}, -1); !v.OK {
		t.Errorf("primary: %v", v)
	}
	if v := p.Writer(replicaSample(nil), -1); v.OK {
		t.Errorf("replica is the writer: %v", v)
	}
	if v := p.Writable(replicaSample(nil)); v.OK {
		t.Errorf("replica writable: %v", v)
	}
	if v := p.Writable(&Sample{ReadOnly: true}); v.OK {
		t.Errorf("read-only server writable: %v", v)
	}
}

func TestSecondsBehindLag(t *testing.T) {
	r := &Status{SecondsBehind: 40, SecondsBehindKnown: true, SQLDelay: 30}
	if l := SecondsBehindLag(r); !l.Known || l.Seconds != 10 || l.Source != LagSecondsBehind {
		t.Errorf("40 behind with a 30 s delay: %+v", l)
	}
	r.SecondsBehindKnown = false
	if l := SecondsBehindLag(r); l.Known || l.Why != "Seconds_Behind_Master is NULL" {
		t.Errorf("NULL: %+v", l)
	}
}

func TestDocUnknownLagIsNull(t *testing.T) {
	d := replicaSample(func(s *Sample) { s.Lag = UnknownLag("no heartbeat row") }).Doc()
	if d.LagSeconds != nil || d.LagUnknown != "no heartbeat row" || d.LagSource != "unknown" || d.Role != RoleReplica {
		t.Errorf("doc: %+v", d)
	}
}
