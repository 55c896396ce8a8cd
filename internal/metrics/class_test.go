package metrics

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/readiness"
	"github.com/galera-sentinel/galera-sentinel/internal/replica"
)

// reasonClassBefore is how the verdict class labels were derived from a
// reason's wording before verdicts carried a class (health.ReasonClass up
// to e84454a): the reason cut at its first ':', '(' or digit. Users'
// alerts match the values it produced, so every rule's typed class must
// equal what this gave for that rule's reason.
func reasonClassBefore(reason string) string {
	for i, r := range reason {
		if r == ':' || r == '(' || (r >= '0' && r <= '9') {
			return strings.TrimRight(reason[:i], " ,")
		}
	}
	return reason
}

// TestClassLabelValues pins the label value of every rule: each verdict
// any rule gives (generic, Galera, replication) has the class the old
// wording-derived label gave it, and the class constants have the values
// users' alerts know.
func TestClassLabelValues(t *testing.T) {
	for class, want := range map[readiness.Class]string{
		readiness.ClassMaintenance: "maintenance", readiness.ClassNotStarted: "not started",
		readiness.ClassNoSample: "no sample yet", readiness.ClassStale: "stale", readiness.ClassAlive: "alive",
		readiness.ClassStuck: "stuck", readiness.ClassUnresponsive: "unresponsive for", readiness.ClassStarted: "started",
		readiness.ClassStarting: "starting, alive", readiness.ClassNotReady: "not ready", readiness.ClassReady: "ready",
		readiness.ClassWriter: "writer", readiness.ClassNotWriter: "not the writer", readiness.ClassWritable: "writable",
		readiness.ClassHandingOver: "writer, handing over",
		galera.ClassWsrepOff:       "wsrep_on=OFF", galera.ClassNotConnected: "not connected to the cluster",
		galera.ClassNotPrimary: "not Primary", galera.ClassNotWsrepReady: "wsrep_ready=OFF", galera.ClassDesynced: "desynced",
		galera.ClassNotSynced: "not Synced", galera.ClassRejectingQueries: "rejecting queries", galera.ClassReadOnly: "read_only=ON",
		replica.ClassNoRole: "read_only=ON and no replica configured", replica.ClassReplicaWritable: "replica is writable",
		replica.ClassLagging: "lagging", replica.ClassLagUnknown: "lag unknown", replica.ClassSQLError: "replication SQL error",
		replica.ClassSQLStopped: "replication SQL thread not running", replica.ClassIOConnecting: "replication IO thread Connecting to",
		replica.ClassIOError: "replication IO error", replica.ClassIOStopped: "replication IO thread not running",
	} {
		if string(class) != want {
			t.Errorf("class %q, want label value %q", class, want)
		}
	}

	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	down := errors.New("dial tcp 10.0.0.1:3306: connect: connection refused")
	limits := readiness.Limits{MaxStaleness: 3 * time.Second, LivenessGrace: 30 * time.Second, StallTimeout: time.Minute}

	// Galera: every rule of Ready and Writer, and the generic rules
	// around them.
	synced := galera.Sample{WsrepOn: true, Connected: true, Ready: true, ClusterStatus: "Primary", LocalState: galera.StateSynced, ClusterSize: 3}
	with := func(f func(s *galera.Sample)) *galera.Sample { s := synced; f(&s); return &s }
	gp := galera.Policy{AvailableWhenDonor: true}
	var gv []readiness.Verdict
	for _, s := range []*galera.Sample{
		&synced,
		with(func(s *galera.Sample) { s.WsrepOn = false }),
		with(func(s *galera.Sample) { s.Connected = false }),
		with(func(s *galera.Sample) { s.ClusterStatus = "non-Primary" }),
		with(func(s *galera.Sample) { s.ClusterStatus = "" }),
		with(func(s *galera.Sample) { s.Ready = false }),
		with(func(s *galera.Sample) { s.Desync = true }),
		with(func(s *galera.Sample) { s.LocalState = galera.StateDonor; s.SSTDonorRejectsQueries = true }),
		with(func(s *galera.Sample) { s.LocalState = galera.StateJoining }),
		with(func(s *galera.Sample) { s.RejectQueries = "ALL" }),
		with(func(s *galera.Sample) { s.ReadOnly = true }),
		with(func(s *galera.Sample) { s.LocalIndex = 2 }),
	} {
		gv = append(gv, gp.Ready(s), gp.Writer(s, -1), gp.Writer(s, 1))
	}
	gv = append(gv, generic(t, readiness.Judge[galera.Sample]{Policy: gp, Limits: limits}, &synced, with(func(s *galera.Sample) { s.LocalState = galera.StateJoining }), down, t0)...)

	// Replication: every rule of Ready and Writer.
	rp := replica.Policy{MaxLag: 10 * time.Second, ConnectGrace: 5 * time.Second}
	running := func(f func(r *replica.Status, s *replica.Sample)) *replica.Sample {
		s := &replica.Sample{ReadOnly: true, Lag: replica.KnownLag(time.Second, replica.LagGTID),
			Replica: &replica.Status{MasterHost: "10.0.0.1", MasterPort: 3306, IO: replica.IOYes, SQLRunning: true}}
		f(s.Replica, s)
		return s
	}
	primary := &replica.Sample{}
	var rv []readiness.Verdict
	for _, s := range []*replica.Sample{
		primary,
		{ReadOnly: true},
		running(func(*replica.Status, *replica.Sample) {}),
		running(func(r *replica.Status, _ *replica.Sample) { r.LastSQLErrno, r.LastSQLError = 1062, "Duplicate entry" }),
		running(func(r *replica.Status, _ *replica.Sample) { r.SQLRunning = false }),
		running(func(r *replica.Status, _ *replica.Sample) {
			r.IO, r.IOConnectingFor = replica.IOConnecting, time.Minute
		}),
		running(func(r *replica.Status, _ *replica.Sample) {
			r.IO, r.IOConnectingFor, r.LastIOErrno, r.LastIOError = replica.IOConnecting, time.Minute, 2003, "Can't connect"
		}),
		running(func(r *replica.Status, _ *replica.Sample) { r.LastIOErrno, r.LastIOError = 1236, "binlog gone" }),
		running(func(r *replica.Status, _ *replica.Sample) { r.IO = replica.IONo }),
		running(func(_ *replica.Status, s *replica.Sample) { s.ReadOnly = false }),
		running(func(_ *replica.Status, s *replica.Sample) { s.Lag = replica.UnknownLag("heartbeat row missing") }),
		running(func(_ *replica.Status, s *replica.Sample) {
			s.Lag = replica.UnknownLag("primary not answering")
			s.Lag.AtLeast = 60
		}),
		running(func(_ *replica.Status, s *replica.Sample) { s.Lag = replica.KnownLag(time.Minute, replica.LagGTID) }),
	} {
		rv = append(rv, rp.Ready(s), rp.Writer(s, -1))
	}
	rv = append(rv, generic(t, readiness.Judge[replica.Sample]{Policy: rp, Limits: limits}, primary, nil, down, t0)...)

	seen := map[readiness.Class]bool{}
	for _, v := range append(gv, rv...) {
		seen[v.Class] = true
		if v.Class == "" {
			t.Errorf("verdict %q has no class", v.Reason)
		}
		if before := reasonClassBefore(v.Reason); string(v.Class) != before {
			t.Errorf("verdict %q: class %q, the label was %q", v.Reason, v.Class, before)
		}
	}
	for _, c := range []readiness.Class{galera.ClassNotPrimary, replica.ClassIOConnecting, readiness.ClassStuck,
		readiness.ClassUnresponsive, readiness.ClassStarting, readiness.ClassNotReady, readiness.ClassHandingOver} {
		if !seen[c] {
			t.Errorf("no case gave class %q", c)
		}
	}

	// The one class whose old label was not stable: it held the
	// primary's host name when that had no digit. Now it does not.
	v := rp.Ready(&replica.Sample{ReadOnly: true, Replica: &replica.Status{MasterHost: "db-a", MasterPort: 3306, IO: replica.IOConnecting, IOConnectingFor: time.Minute, SQLRunning: true}})
	if v.Class != replica.ClassIOConnecting {
		t.Errorf("IO thread connecting to a named host: class %q", v.Class)
	}
}

// generic is every verdict of the generic rules over ok (a settled
// sample) and joining (a sample the stall rule watches; nil: none).
func generic[S any](t *testing.T, j readiness.Judge[S], ok, joining *S, down error, t0 time.Time) []readiness.Verdict {
	t.Helper()
	type obs = readiness.Observation[S]
	fresh := obs{Last: ok, LastAt: t0, Started: t0, EverSettled: true}
	var vs []readiness.Verdict
	all := func(o obs, now time.Time) {
		r := j.Ready(o, now)
		vs = append(vs, r, j.Live(o, now), j.Started(o, now), j.Writer(o, now, r, -1).Verdict())
	}
	all(fresh, t0)
	for _, f := range []func(o *obs){
		func(o *obs) { o.Stopping = true },
		func(o *obs) { o.Maintenance = true },
		func(o *obs) { o.Hold = "waiting for 2 peers" },
		func(o *obs) { o.Last, o.Err, o.EverSettled = nil, down, false },
		func(o *obs) { o.Last, o.EverSettled = nil, false },
		func(o *obs) { o.Err, o.FailingSince = down, t0 },
		func(o *obs) { o.Last, o.EverSettled, o.ProgressAt, o.Progress = nil, false, t0, "mariadbd started" },
	} {
		o := fresh
		f(&o)
		all(o, t0.Add(time.Second))
		all(o, t0.Add(2*time.Minute))
	}
	if joining != nil {
		o := obs{Last: joining, LastAt: t0, Started: t0, ProgressAt: t0}
		all(o, t0.Add(time.Second))
		o.Err, o.FailingSince = down, t0
		all(o, t0.Add(2*time.Second))
	}
	// The writer that hands over (package health builds it).
	vs = append(vs, readiness.WriterVerdict{Role: readiness.Writer, Class: readiness.ClassHandingOver,
		Reason: "writer, handing over (1.5s left): not the writer: wsrep_local_index 1, writer is index 0"}.Verdict())
	return vs
}
