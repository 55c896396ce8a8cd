// Package replica is the asynchronous-replication domain of
// galera-sentinel, the sibling of package galera: what a primary's or a
// replica's status means, its half of the probe verdicts, how far behind a
// replica is and how that is known, GTID positions, and the role a member
// takes when run mode starts it.
//
// It must not do I/O or read a clock (callers pass the time in), and it
// holds no generic probe rule (maintenance, staleness, liveness grace:
// those are package readiness's).
package replica

import (
	"fmt"
	"time"
)

// IOState is Slave_IO_Running: Yes, No or Connecting.
type IOState string

// The values SHOW SLAVE STATUS reports in Slave_IO_Running.
const (
	IOYes        IOState = "Yes"
	IONo         IOState = "No"
	IOConnecting IOState = "Connecting"
)

// Sample is one successful reading of a server's replication state.
type Sample struct {
	At time.Time // when the sample was taken

	ServerID uint32 // server_id
	ReadOnly bool   // read_only
	// BinlogPos, SlavePos and CurrentPos are gtid_binlog_pos,
	// gtid_slave_pos and gtid_current_pos.
	BinlogPos, SlavePos, CurrentPos string
	// ThreadsConnected is Threads_connected, the sentinel's own included.
	ThreadsConnected int
	Version          string // version

	// Replica is the server's replica row (SHOW SLAVE STATUS); nil when
	// it has none: a primary, or a server nobody set up.
	Replica *Status

	// Lag is how far behind the primary the replica is, and how that is
	// known; zero (unknown, no source) on a primary.
	Lag Lag
	// PrimaryBinlogPos is the primary's gtid_binlog_pos when the sentinel
	// read it in this poll (the GTID lag source), empty otherwise.
	PrimaryBinlogPos string
	// Heartbeat is the heartbeat row this server holds (written by the
	// primary's sentinel); zero when the heartbeat is off or the row is
	// missing.
	Heartbeat time.Time
	// HeartbeatNow is the server's clock when Heartbeat was read.
	HeartbeatNow time.Time
	// HeartbeatErr says why the heartbeat could not be written (on a
	// primary) or read (on a replica); empty when it worked or is off.
	HeartbeatErr string
}

// Status is one replica row of SHOW SLAVE STATUS.
type Status struct {
	MasterHost string
	MasterPort int
	IO         IOState // Slave_IO_Running
	SQLRunning bool    // Slave_SQL_Running
	// IOConnectingFor is how long the IO thread has been seen Connecting
	// without a break (the sampler carries it from poll to poll); zero
	// when it is not Connecting.
	IOConnectingFor time.Duration

	LastIOErrno  int
	LastIOError  string
	LastSQLErrno int
	LastSQLError string

	// SecondsBehind is Seconds_Behind_Master; SecondsBehindKnown is false
	// when the server reports NULL (a thread is stopped, or the IO thread
	// has not received anything yet).
	SecondsBehind      int64
	SecondsBehindKnown bool
	SQLDelay           int64 // SQL_Delay, MASTER_DELAY in seconds

	GTIDIOPos string // Gtid_IO_Pos: the last GTID received
	UsingGTID string // Using_Gtid: No, Slave_Pos, Current_Pos
	// SQLState is Slave_SQL_Running_State, what the SQL thread is doing.
	SQLState string
}

// Role is the part a server plays, as its own status says.
type Role string

// The roles.
const (
	RolePrimary Role = "primary"
	RoleReplica Role = "replica"
	RoleUnknown Role = "unknown"
)

// Role says what the sample shows the server to be. A server that
// replicates (either thread running, or trying to) is a replica, whatever
// its read_only; a writable server with no running replica threads is a
// primary; a read-only server that does not replicate is a replica whose
// replication is stopped if it has a replica row, and unknown without one.
func (s *Sample) Role() Role {
	r := s.Replica
	switch {
	case r != nil && (r.IO != IONo || r.SQLRunning):
		return RoleReplica
	case !s.ReadOnly:
		return RolePrimary
	case r != nil:
		return RoleReplica
	}
	return RoleUnknown
}

// AppliedPos is what the server has applied of its primary's history:
// gtid_slave_pos, or gtid_current_pos when that is empty.
func (s *Sample) AppliedPos() string {
	if s.SlavePos != "" {
		return s.SlavePos
	}
	return s.CurrentPos
}

// LagSource says how a lag was measured.
type LagSource string

// The sources, best first.
const (
	// LagHeartbeat: the age of the heartbeat row the primary's sentinel
	// writes every poll (pt-heartbeat style): right on an idle primary and
	// during an IO stall.
	LagHeartbeat LagSource = "heartbeat"
	// LagGTID: how long ago the primary was first seen at a position the
	// replica has not applied yet, from the sentinel's own reads of the
	// primary's gtid_binlog_pos.
	LagGTID LagSource = "gtid"
	// LagSecondsBehind: Seconds_Behind_Master minus SQL_Delay, as the
	// server reports it. It reads 0 while the IO thread is silently
	// stalled (until slave_net_timeout), so it is the last resort.
	LagSecondsBehind LagSource = "seconds_behind_master"
	// LagNone: no source could say.
	LagNone LagSource = "unknown"
)

// Lag is how far behind a replica is.
type Lag struct {
	Known   bool
	Seconds float64
	Source  LagSource
	// Why says why the lag is unknown (Known false).
	Why string
	// AtLeast is a lower bound of an unknown lag, in seconds (0: none).
	AtLeast float64
	// Behind is the number of transactions the replica is behind the
	// primary, when the GTID source could count them; -1 when not.
	Behind int64
}

// KnownLag is a measured lag.
func KnownLag(d time.Duration, src LagSource) Lag {
	return Lag{Known: true, Seconds: d.Seconds(), Source: src, Behind: -1}
}

// UnknownLag is a lag no source could measure, and why.
func UnknownLag(why string) Lag { return Lag{Source: LagNone, Why: why, Behind: -1} }

func (l Lag) String() string {
	if !l.Known {
		return "lag unknown: " + l.Why
	}
	return fmt.Sprintf("%.1fs (%s)", l.Seconds, l.Source)
}

// SecondsBehindLag is the lag the server itself reports: NULL is unknown.
func SecondsBehindLag(r *Status) Lag {
	if r == nil {
		return UnknownLag("no replica row")
	}
	if !r.SecondsBehindKnown {
		return UnknownLag("Seconds_Behind_Master is NULL")
	}
	d := max(r.SecondsBehind-r.SQLDelay, 0)
	return KnownLag(time.Duration(d)*time.Second, LagSecondsBehind)
}

// HeartbeatLag is the age at now (the replica server's clock) of the
// heartbeat written at ts (the primary server's clock): it includes any
// difference between the two clocks, as pt-heartbeat's does.
func HeartbeatLag(ts, now time.Time) Lag {
	if ts.IsZero() {
		return UnknownLag("no heartbeat row")
	}
	return KnownLag(max(now.Sub(ts), 0), LagHeartbeat)
}
