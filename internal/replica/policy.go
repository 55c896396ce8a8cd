package replica

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/oneline"
	"github.com/galera-sentinel/galera-sentinel/internal/readiness"
)

// Policy is asynchronous replication's half of the probe verdicts
// (readiness.Policy over Sample). The generic half (maintenance,
// staleness, liveness grace) is readiness.Judge's.
type Policy struct {
	// MaxLag is how far behind its primary a replica may be and still take
	// reads.
	MaxLag time.Duration
	// ConnectGrace is how long the IO thread may be Connecting (after a
	// network blip, a primary restart) before the replica is not ready.
	ConnectGrace time.Duration
}

var _ readiness.Policy[Sample] = Policy{}

// The classes of replication's verdicts (readiness.Class): metric label
// values, fixed once released.
const (
	ClassNoRole          readiness.Class = "read_only=ON and no replica configured"
	ClassReplicaWritable readiness.Class = "replica is writable"
	ClassLagging         readiness.Class = "lagging"
	ClassLagUnknown      readiness.Class = "lag unknown"
	ClassSQLError        readiness.Class = "replication SQL error"
	ClassSQLStopped      readiness.Class = "replication SQL thread not running"
	// ClassIOConnecting: before classes were typed, this label was cut
	// from the reason at the first digit or colon, so it held the
	// primary's host name when that had no digit ("... Connecting to
	// db-a"); the value is now the one a numeric address gave.
	ClassIOConnecting readiness.Class = "replication IO thread Connecting to"
	ClassIOError      readiness.Class = "replication IO error"
	ClassIOStopped    readiness.Class = "replication IO thread not running"
	// Writable's own: never a probe's answer.
	ClassAReplica readiness.Class = "a replica"
)

// Ready decides whether a fresh sample may take client traffic. A primary
// must be writable. A replica must have both threads running (the IO
// thread may be Connecting for ConnectGrace), no replication error, be
// read-only, and be at most MaxLag behind by a lag some source measured:
// a lag nobody could measure is its own reason, never "0".
func (p Policy) Ready(s *Sample) readiness.Verdict {
	fail := readiness.Fail
	switch s.Role() {
	case RolePrimary:
		return readiness.Pass(readiness.ClassReady, "ready: primary, writable")
	case RoleUnknown:
		return fail(ClassNoRole, "read_only=ON and no replica configured: neither a writable primary nor a replica")
	}
	r := s.Replica
	if v, bad := p.replicating(r); bad {
		return v
	}
	if !s.ReadOnly {
		return fail(ClassReplicaWritable, "replica is writable (read_only=OFF): a write here would diverge it from its primary")
	}
	if !s.Lag.Known && s.Lag.AtLeast > p.MaxLag.Seconds() {
		return fail(ClassLagging, fmt.Sprintf("lagging: at least %s behind its primary (%s), more than --max-replica-lag %s", fmtSeconds(s.Lag.AtLeast), LagGTID, p.MaxLag))
	}
	if !s.Lag.Known {
		return fail(ClassLagUnknown, "lag unknown: "+s.Lag.Why)
	}
	if lag := time.Duration(s.Lag.Seconds * float64(time.Second)); lag > p.MaxLag {
		return fail(ClassLagging, fmt.Sprintf("lagging: %s behind its primary (%s), more than --max-replica-lag %s", fmtSeconds(s.Lag.Seconds), s.Lag.Source, p.MaxLag))
	}
	return readiness.Pass(readiness.ClassReady, fmt.Sprintf("ready: replica of %s, lag %s (%s)", r.Primary(), fmtSeconds(s.Lag.Seconds), s.Lag.Source))
}

// replicating checks a replica's threads and errors; bad is set with the
// failing verdict.
func (p Policy) replicating(r *Status) (readiness.Verdict, bool) {
	fail := readiness.Fail
	switch {
	case r.LastSQLErrno != 0:
		return fail(ClassSQLError, fmt.Sprintf("replication SQL error %d: %s", r.LastSQLErrno, oneline.String(r.LastSQLError))), true
	case !r.SQLRunning:
		return fail(ClassSQLStopped, "replication SQL thread not running"), true
	case r.IO == IOConnecting && r.IOConnectingFor <= p.ConnectGrace:
		// A reconnect in progress: not yet a fault.
		return readiness.Verdict{}, false
	case r.IO == IOConnecting:
		why := fmt.Sprintf("replication IO thread Connecting to %s for %s (more than --replica-connect-grace %s)", r.Primary(), r.IOConnectingFor.Round(100*time.Millisecond), p.ConnectGrace)
		if r.LastIOErrno != 0 {
			why += fmt.Sprintf(": error %d: %s", r.LastIOErrno, oneline.String(r.LastIOError))
		}
		return fail(ClassIOConnecting, why), true
	case r.LastIOErrno != 0:
		return fail(ClassIOError, fmt.Sprintf("replication IO error %d: %s", r.LastIOErrno, oneline.String(r.LastIOError))), true
	case r.IO != IOYes:
		return fail(ClassIOStopped, "replication IO thread not running"), true
	}
	return readiness.Verdict{}, false
}

// Writer decides whether a ready server is the one writer: only the
// primary is. lowestReady is not used: replication has one primary by
// construction, not by a ranking of members.
func (Policy) Writer(s *Sample, _ int) readiness.Verdict {
	if s.Role() == RolePrimary {
		return readiness.Pass(readiness.ClassWriter, "writer: the primary")
	}
	return readiness.Fail(readiness.ClassNotWriter, "not the writer: a replica")
}

// Writable decides whether the server could take a write now: only a
// writable primary can. A replica stands for nothing in single-writer
// routing, so it is unfit rather than standing by.
func (Policy) Writable(s *Sample) readiness.Verdict {
	if s.Role() == RolePrimary {
		return readiness.Pass(readiness.ClassWritable, "writable")
	}
	return readiness.Fail(ClassAReplica, "a replica (read_only="+onOff(s.ReadOnly)+")")
}

// Busy: nothing a replica does keeps it alive while it does not answer;
// a clone in run mode is a hold, which readiness already treats as alive.
// Whatever the primary does never makes a replica unalive: liveness
// depends only on the server's own answers.
func (Policy) Busy(*Sample) bool { return false }

// Settled: a writable primary, or a replica with both threads running.
func (Policy) Settled(s *Sample) bool {
	switch s.Role() {
	case RolePrimary:
		return true
	case RoleReplica:
		return s.Replica.IO == IOYes && s.Replica.SQLRunning
	}
	return false
}

// SettledName names the settled state.
func (Policy) SettledName() string { return "primary or replicating" }

// State names the server's state in a word or two.
func (Policy) State(s *Sample) string {
	switch s.Role() {
	case RolePrimary:
		return "primary"
	case RoleUnknown:
		return "not replicating"
	}
	r := s.Replica
	switch {
	case r.IO == IOYes && r.SQLRunning:
		return "replica"
	case r.IO == IOConnecting:
		return "replica connecting"
	}
	return "replica stopped"
}

// Weight is a full share for every ready server.
func (Policy) Weight(*Sample) int { return 100 }

// LogAttrs are the fields whose change is worth a log line. The lag is
// left out: it changes every poll.
func (Policy) LogAttrs(s *Sample) []slog.Attr {
	attrs := []slog.Attr{slog.String("role", string(s.Role())), slog.Bool("read_only", s.ReadOnly)}
	if r := s.Replica; r != nil {
		attrs = append(attrs, slog.String("primary", r.Primary()), slog.String("io_running", string(r.IO)),
			slog.Bool("sql_running", r.SQLRunning), slog.Int("last_io_errno", r.LastIOErrno), slog.Int("last_sql_errno", r.LastSQLErrno))
	}
	return append(attrs, slog.String("lag_source", string(s.Lag.Source)))
}

// Doc is the sample as /status shows it.
func (Policy) Doc(s *Sample) any { return s.Doc() }

// SampleDoc is the JSON of a sample in /status ("sample") and to peers.
type SampleDoc struct {
	At             time.Time `json:"at"`
	Role           Role      `json:"role"`
	ServerID       uint32    `json:"server_id"`
	ReadOnly       bool      `json:"read_only"`
	GTIDBinlogPos  string    `json:"gtid_binlog_pos"`
	GTIDSlavePos   string    `json:"gtid_slave_pos"`
	GTIDCurrentPos string    `json:"gtid_current_pos"`
	Version        string    `json:"version,omitempty"`
	// The replica row; empty on a server that has none.
	MasterHost   string `json:"master_host,omitempty"`
	MasterPort   int    `json:"master_port,omitempty"`
	IORunning    string `json:"io_running,omitempty"`
	SQLRunning   bool   `json:"sql_running"`
	LastIOErrno  int    `json:"last_io_errno"`
	LastSQLErrno int    `json:"last_sql_errno"`
	// LastError is the SQL thread's error, else the IO thread's.
	LastError string `json:"last_error,omitempty"`
	SQLDelay  int64  `json:"sql_delay"`
	// LagSeconds is null when the lag is unknown; LagSource says how it
	// was measured, LagUnknown why it could not be.
	LagSeconds       *float64 `json:"lag_seconds"`
	LagSource        string   `json:"lag_source"`
	LagUnknown       string   `json:"lag_unknown,omitempty"`
	BehindTrx        *int64   `json:"behind_transactions,omitempty"`
	PrimaryBinlogPos string   `json:"primary_gtid_binlog_pos,omitempty"`
	HeartbeatError   string   `json:"heartbeat_error,omitempty"`
	ThreadsConnected int      `json:"threads_connected"`
}

// Doc is the sample's JSON form.
func (s *Sample) Doc() SampleDoc {
	d := SampleDoc{At: s.At, Role: s.Role(), ServerID: s.ServerID, ReadOnly: s.ReadOnly,
		GTIDBinlogPos: s.BinlogPos, GTIDSlavePos: s.SlavePos, GTIDCurrentPos: s.CurrentPos, Version: s.Version,
		LagSource: string(s.Lag.Source), PrimaryBinlogPos: s.PrimaryBinlogPos, HeartbeatError: s.HeartbeatErr, ThreadsConnected: s.ThreadsConnected}
	if s.Lag.Known {
		v := s.Lag.Seconds
		d.LagSeconds = &v
	} else if s.Replica != nil {
		d.LagUnknown = s.Lag.Why
	}
	if s.Lag.Behind >= 0 {
		b := s.Lag.Behind
		d.BehindTrx = &b
	}
	if r := s.Replica; r != nil {
		d.MasterHost, d.MasterPort, d.IORunning, d.SQLRunning = r.MasterHost, r.MasterPort, string(r.IO), r.SQLRunning
		d.LastIOErrno, d.LastSQLErrno, d.SQLDelay = r.LastIOErrno, r.LastSQLErrno, r.SQLDelay
		switch {
		case r.LastSQLErrno != 0:
			d.LastError = oneline.String(r.LastSQLError)
		case r.LastIOErrno != 0:
			d.LastError = oneline.String(r.LastIOError)
		}
	}
	return d
}

// Primary is the replica's source as host:port.
func (r *Status) Primary() string {
	return net.JoinHostPort(r.MasterHost, strconv.Itoa(r.MasterPort))
}

func fmtSeconds(s float64) string { return strconv.FormatFloat(s, 'f', 1, 64) + "s" }

func onOff(b bool) string {
	if b {
		return "ON"
	}
	return "OFF"
}
