package galera

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/readiness"
)

// Observation is what the tests judge; fix sets LastAt from the sample.
type Observation = readiness.Observation[Sample]

func fix(o Observation) Observation {
	if o.Last != nil && o.LastAt.IsZero() {
		o.LastAt = o.Last.At
	}
	return o
}

// judge is p behind the generic checks, with the limits the tests use.
func judge(p Policy) readiness.Judge[Sample] {
	return readiness.Judge[Sample]{Policy: p, Limits: readiness.Limits{MaxStaleness: 3 * time.Second, LivenessGrace: 30 * time.Second}}
}

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// synced is a healthy node's sample taken at t0.
func synced() *Sample {
	return &Sample{At: t0, WsrepOn: true, Connected: true, Ready: true, ClusterStatus: "Primary",
		LocalState: StateSynced, LocalIndex: 1, ClusterSize: 3, RejectQueries: "NONE"}
}

func with(f func(*Sample)) *Sample { s := synced(); f(s); return s }

func TestReady(t *testing.T) {
	base := Policy{}
	donorOK := base
	donorOK.AvailableWhenDonor = true
	roOK := base
	roOK.AvailableWhenReadOnly = true
	dialErr := errors.New("dial tcp 10.0.0.1:3306: i/o timeout")

	tests := []struct {
		name   string
		p      Policy
		o      Observation
		now    time.Time
		ok     bool
		reason string // substring
	}{
		{"synced", base, Observation{Last: synced()}, t0.Add(time.Second), true, "ready: Primary, Synced, size 3"},
		{"never sampled", base, Observation{}, t0, false, "no sample yet"},
		{"never sampled, with error", base, Observation{Err: dialErr}, t0, false, "no sample yet: dial tcp"},
		{"stale", base, Observation{Last: synced(), Err: dialErr}, t0.Add(4100 * time.Millisecond), false, "stale: last good sample 4.1s ago: dial tcp 10.0.0.1:3306: i/o timeout"},
		{"just fresh enough", base, Observation{Last: synced()}, t0.Add(3 * time.Second), true, "ready"},
		{"maintenance wins over everything", base, Observation{Last: synced(), Maintenance: true}, t0, false, "maintenance"},
		{"maintenance without sample", base, Observation{Maintenance: true}, t0, false, "maintenance"},
		{"stopping", base, Observation{Last: synced(), Stopping: true}, t0, false, "maintenance: shutting down"},
		{"stopping wins over a hold", base, Observation{Stopping: true, Hold: "waiting for peers"}, t0, false, "maintenance: shutting down"},
		{"joining", base, Observation{Last: with(func(s *Sample) { s.LocalState = StateJoining; s.Ready = true })}, t0, false, "not Synced: Joining"},
		{"joined", base, Observation{Last: with(func(s *Sample) { s.LocalState = StateJoined })}, t0, false, "not Synced: Joined"},
		{"donor", base, Observation{Last: with(func(s *Sample) { s.LocalState = StateDonor })}, t0, false, "not Synced: Donor/Desynced"},
		{"donor allowed", donorOK, Observation{Last: with(func(s *Sample) { s.LocalState = StateDonor })}, t0, true, "ready: Primary, Donor/Desynced"},
		{"donor allowed but rejects queries", donorOK, Observation{Last: with(func(s *Sample) { s.LocalState = StateDonor; s.SSTDonorRejectsQueries = true })}, t0, false, "wsrep_sst_donor_rejects_queries=ON"},
		{"desync by hand, even with donor allowed", donorOK, Observation{Last: with(func(s *Sample) { s.LocalState = StateDonor; s.Desync = true })}, t0, false, "desynced: wsrep_desync=ON"},
		{"non-Primary", base, Observation{Last: with(func(s *Sample) { s.ClusterStatus = "non-Primary"; s.Ready = false })}, t0, false, "not Primary: non-Primary"},
		{"disconnected", base, Observation{Last: with(func(s *Sample) { s.Connected = false; s.ClusterStatus = "Disconnected" })}, t0, false, "not connected to the cluster"},
		{"not ready", base, Observation{Last: with(func(s *Sample) { s.Ready = false })}, t0, false, "wsrep_ready=OFF"},
		{"reject queries", base, Observation{Last: with(func(s *Sample) { s.RejectQueries = "ALL" })}, t0, false, "wsrep_reject_queries=ALL"},
		{"read only", base, Observation{Last: with(func(s *Sample) { s.ReadOnly = true })}, t0, false, "read_only=ON"},
		{"read only allowed", roOK, Observation{Last: with(func(s *Sample) { s.ReadOnly = true })}, t0, true, "ready"},
		{"wsrep off", base, Observation{Last: with(func(s *Sample) { s.WsrepOn = false })}, t0, false, "wsrep_on=OFF"},
		{"unknown state", base, Observation{Last: with(func(s *Sample) { s.LocalState = 7 })}, t0, false, "not Synced: state 7"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := judge(tc.p).Ready(fix(tc.o), tc.now)
			if v.OK != tc.ok || !strings.Contains(v.Reason, tc.reason) {
				t.Errorf("Ready = %v %q, want %v containing %q", v.OK, v.Reason, tc.ok, tc.reason)
			}
			if strings.ContainsAny(v.Reason, "\r\n") {
				t.Errorf("reason %q spans lines", v.Reason)
			}
		})
	}
}

func TestLive(t *testing.T) {
	p := judge(Policy{})
	down := errors.New("dial tcp: connection refused")
	tests := []struct {
		name string
		o    Observation
		now  time.Time
		ok   bool
	}{
		{"answering", Observation{Last: synced()}, t0, true},
		{"starting", Observation{}, t0, true},
		{"never answered, for a long time (first SST)", Observation{Err: down, FailingSince: t0}, t0.Add(time.Hour), true},
		{"joining, not answering for an hour", Observation{Last: with(func(s *Sample) { s.LocalState = StateJoining }), Err: down, FailingSince: t0}, t0.Add(time.Hour), true},
		{"donor, not answering for an hour", Observation{Last: with(func(s *Sample) { s.LocalState = StateDonor }), Err: down, FailingSince: t0}, t0.Add(time.Hour), true},
		{"synced, then silent within grace", Observation{Last: synced(), Err: down, FailingSince: t0}, t0.Add(29 * time.Second), true},
		{"synced, then silent past grace", Observation{Last: synced(), Err: down, FailingSince: t0}, t0.Add(31 * time.Second), false},
		{"non-Primary but answering", Observation{Last: with(func(s *Sample) { s.ClusterStatus = "non-Primary" })}, t0.Add(time.Hour), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if v := p.Live(fix(tc.o), tc.now); v.OK != tc.ok {
				t.Errorf("Live = %v %q, want %v", v.OK, v.Reason, tc.ok)
			}
		})
	}
}

func TestStartedAndWriter(t *testing.T) {
	p := judge(Policy{})
	if v := p.Started(Observation{}, time.Now()); v.OK {
		t.Error("started before ever Synced")
	}
	if v := p.Started(Observation{EverSettled: true}, time.Now()); !v.OK {
		t.Error("not started after Synced")
	}
	idx0 := with(func(s *Sample) { s.LocalIndex = 0 })
	for _, tc := range []struct {
		name   string
		o      Observation
		lowest int
		role   readiness.Role
		want   string
	}{
		{"index 0, no view", Observation{Last: idx0}, -1, readiness.Writer, "writer: wsrep_local_index 0"},
		{"index 1 while index 0 is assumed ready", Observation{Last: synced()}, -1, readiness.Standby, "not the writer: wsrep_local_index 1, writer is index 0"},
		{"index 1, the lowest ready", Observation{Last: synced()}, 1, readiness.Writer, "writer: wsrep_local_index 1"},
		{"maintenance", Observation{Last: idx0, Maintenance: true}, -1, readiness.Standby, "maintenance"},
		{"stopping", Observation{Last: idx0, Stopping: true}, -1, readiness.Standby, "maintenance: shutting down"},
		{"desynced", Observation{Last: with(func(s *Sample) { s.Desync = true; s.LocalState = StateDonor })}, 1, readiness.Standby, "not ready: desynced: wsrep_desync=ON"},
		{"non-Primary", Observation{Last: with(func(s *Sample) { s.ClusterStatus = "non-Primary" })}, 1, readiness.Unfit, "not ready: not Primary: non-Primary"},
		{"stopping and non-Primary", Observation{Last: with(func(s *Sample) { s.ClusterStatus = "non-Primary" }), Stopping: true}, 1, readiness.Unfit, "maintenance: shutting down"},
		{"read-only", Observation{Last: with(func(s *Sample) { s.ReadOnly = true })}, 1, readiness.Unfit, "not ready: read_only=ON"},
		{"joining", Observation{Last: with(func(s *Sample) { s.LocalState = StateJoined })}, 1, readiness.Unfit, "not ready: not Synced: Joined"},
	} {
		if v := writer(p, tc.o, t0, tc.lowest); v.Role != tc.role || v.Reason != tc.want {
			t.Errorf("%s: %v %q, want %v %q", tc.name, v.Role, v.Reason, tc.role, tc.want)
		}
	}
}

func TestParseLocalState(t *testing.T) {
	for in, want := range map[string]LocalState{"1": StateJoining, "2": StateDonor, "3": StateJoined, "4": StateSynced, "0": StateUnknown} {
		got, err := ParseLocalState(in)
		if err != nil || got != want {
			t.Errorf("ParseLocalState(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "x", "-1", "4.0", "999"} {
		if _, err := ParseLocalState(bad); err == nil {
			t.Errorf("ParseLocalState(%q) accepted", bad)
		}
	}
}

// TestHold: while run mode holds mariadbd back, the node is not ready (even
// with a fresh sample left from before) and alive however long the wait.
func TestHold(t *testing.T) {
	p := judge(Policy{})
	o := Observation{Last: synced(), Hold: "wait: waiting for every expected member: 2 of 3", Started: t0,
		FailingSince: t0.Add(-time.Hour), Err: errors.New("connect: no such file or directory")}
	if v := p.Ready(fix(o), t0); v.OK || !strings.Contains(v.Reason, "not started: wait: waiting for every expected member") {
		t.Fatalf("ready while held: %+v", v)
	}
	if v := p.Live(fix(o), t0); !v.OK || !strings.Contains(v.Reason, "2 of 3") {
		t.Fatalf("not alive while held for an hour: %+v", v)
	}
	o.Hold = ""
	if v := p.Live(fix(o), t0); v.OK {
		t.Fatalf("no hold, an hour without answers, still alive: %+v", v)
	}
}

func writer(j readiness.Judge[Sample], o Observation, now time.Time, lowest int) readiness.WriterVerdict {
	o = fix(o)
	return j.Writer(o, now, j.Ready(o, now), lowest)
}
