package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/galera-sentinel/galera-sentinel/internal/replica"
)

// An asynchronous primary's or replica's series (--mode=replication).
var (
	replRoleDesc      = desc("replication_role", "The server's part in asynchronous replication: primary, replica or unknown; 1 for the current one.", "role")
	replLagDesc       = desc("replication_lag_seconds", "How far behind its primary the replica is, by the source in the label; absent while unknown.", "source")
	replLagKnownDesc  = desc("replication_lag_known", "1 when some source measured the replica's lag, 0 when none could (a replica only).")
	replBehindDesc    = desc("replication_behind_transactions", "Transactions the replica has not applied of the primary's gtid_binlog_pos (GTID source only).")
	replIODesc        = desc("replication_io_running", "Slave_IO_Running as a state set: Yes, No, Connecting; 1 for the current one.", "state")
	replSQLDesc       = desc("replication_sql_running", "1 when Slave_SQL_Running is Yes.")
	replErrnoDesc     = desc("replication_last_errno", "Last_IO_Errno and Last_SQL_Errno: 0 when the thread has no error.", "thread")
	replDelayDesc     = desc("replication_sql_delay_seconds", "SQL_Delay: the replica's configured MASTER_DELAY.")
	replSecondsDesc   = desc("replication_seconds_behind_master", "Seconds_Behind_Master as the server reports it; absent when NULL.")
	replServerIDDesc  = desc("replication_server_id", "server_id.")
	replHeartbeatDesc = desc("replication_heartbeat_ok", "1 when the heartbeat row was written (primary) or read (replica) in the last poll; absent when the heartbeat is off.")

	replRoles    = []replica.Role{replica.RolePrimary, replica.RoleReplica, replica.RoleUnknown}
	replIOStates = []replica.IOState{replica.IOYes, replica.IONo, replica.IOConnecting}
)

// Replica is the Domain of an asynchronous primary or replica.
func Replica(_, cur *replica.Sample, emit Emit) {
	g := prometheus.GaugeValue
	role := cur.Role()
	for _, r := range replRoles {
		emit(replRoleDesc, g, b2f(role == r), string(r))
	}
	emit(readOnlyDesc, g, b2f(cur.ReadOnly))
	emit(threadsDesc, g, float64(cur.ThreadsConnected))
	emit(replServerIDDesc, g, float64(cur.ServerID))
	if !cur.Heartbeat.IsZero() || cur.HeartbeatErr != "" {
		emit(replHeartbeatDesc, g, b2f(cur.HeartbeatErr == ""))
	}
	r := cur.Replica
	if r == nil {
		return
	}
	emit(replLagKnownDesc, g, b2f(cur.Lag.Known))
	if cur.Lag.Known {
		emit(replLagDesc, g, cur.Lag.Seconds, string(cur.Lag.Source))
	}
	if cur.Lag.Behind >= 0 {
		emit(replBehindDesc, g, float64(cur.Lag.Behind))
	}
	for _, st := range replIOStates {
		emit(replIODesc, g, b2f(r.IO == st), string(st))
	}
	emit(replSQLDesc, g, b2f(r.SQLRunning))
	emit(replErrnoDesc, g, float64(r.LastIOErrno), "io")
	emit(replErrnoDesc, g, float64(r.LastSQLErrno), "sql")
	emit(replDelayDesc, g, float64(r.SQLDelay))
	if r.SecondsBehindKnown {
		emit(replSecondsDesc, g, float64(r.SecondsBehind))
	}
}
