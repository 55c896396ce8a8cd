package mysqlstat

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/galera-sentinel/galera-sentinel/internal/oneline"
	"github.com/galera-sentinel/galera-sentinel/internal/replica"
)

// ReplicaConfig configures a ReplicaSampler.
type ReplicaConfig struct {
	// Primary, when set (host:port), is the primary whose gtid_binlog_pos
	// measures the lag (--primary). Empty: the replica row's own
	// Master_Host and Master_Port, once the replica has one.
	Primary string
	// PrimaryClient configures the connection to the primary at addr: the
	// monitoring account of the local one, which replication copied there.
	PrimaryClient func(addr string) Config
	// HeartbeatTable, "db.table", turns the heartbeat on: the primary's
	// sentinel writes the row every poll, replicas read its age.
	HeartbeatTable string
}

// ReplicaSampler reads an asynchronous primary's or replica's state as
// replica.Sample, through the one connection of a Client, and measures a
// replica's lag. It keeps what a lag needs from poll to poll (the
// primary's positions, how long the IO thread has been connecting), so
// it is for one goroutine: the poller.
type ReplicaSampler struct {
	local *Client
	cfg   ReplicaConfig

	primary     *Client // nil until a primary address is known
	primaryAddr string
	// primarySeen: the primary has answered at least once. Before that an
	// unreachable primary (no account there, say) leaves the lag to
	// Seconds_Behind_Master; after it, a primary that stops answering
	// makes the lag unknown, since the replica may be cut off from it too.
	primarySeen     bool
	gtid            replica.GTIDLag
	connectingSince time.Time
	heartbeatReady  bool // the table exists (the primary created it)
}

// NewReplicaSampler samples through local. It validates the heartbeat
// table's name.
func NewReplicaSampler(local *Client, cfg ReplicaConfig) (*ReplicaSampler, error) {
	if cfg.HeartbeatTable != "" && !tableName.MatchString(cfg.HeartbeatTable) {
		return nil, fmt.Errorf("heartbeat table %q: want database.table, letters, digits and _ only", cfg.HeartbeatTable)
	}
	if cfg.PrimaryClient == nil {
		cfg.PrimaryClient = func(addr string) Config { c := local.cfg; c.Addr = addr; return c }
	}
	return &ReplicaSampler{local: local, cfg: cfg}, nil
}

var tableName = regexp.MustCompile(`^[A-Za-z0-9_]+\.[A-Za-z0-9_]+$`)

// Close closes the connection to the primary (the local client is the
// caller's).
func (r *ReplicaSampler) Close() {
	if r.primary != nil {
		r.primary.Close()
	}
}

var (
	replVariableQuery = "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('server_id','read_only','gtid_binlog_pos','gtid_slave_pos','gtid_current_pos','version')"
	replStatusQuery   = "SHOW GLOBAL STATUS WHERE Variable_name = 'Threads_connected'"
)

// Sample reads the server, then (on a replica) the primary's position
// within half of what is left of ctx: a primary that does not answer
// makes the lag unknown and never the local sample late, so the
// replica's liveness does not depend on its primary.
func (r *ReplicaSampler) Sample(ctx context.Context) (replica.Sample, error) {
	var s replica.Sample
	var hbErr error
	err := r.local.Read(ctx, func(q Querier) error {
		var err error
		if s, err = readReplica(q); err != nil {
			return err
		}
		if r.cfg.HeartbeatTable != "" {
			hbErr = r.heartbeat(q, &s)
		}
		return nil
	})
	if err != nil {
		return replica.Sample{}, err
	}
	r.trackConnecting(&s)
	if s.Role() != replica.RoleReplica {
		r.gtid.Reset()
		if hbErr != nil {
			s.HeartbeatErr = oneline.Error(hbErr)
		}
		return s, nil
	}
	if hbErr != nil {
		s.HeartbeatErr = oneline.Error(hbErr)
	}
	s.Lag = r.lag(ctx, &s, hbErr)
	return s, nil
}

// lag picks the best source that can answer: the heartbeat, the GTID
// positions, Seconds_Behind_Master.
func (r *ReplicaSampler) lag(ctx context.Context, s *replica.Sample, hbErr error) replica.Lag {
	if r.cfg.HeartbeatTable != "" && hbErr == nil && !s.Heartbeat.IsZero() {
		return replica.HeartbeatLag(s.Heartbeat, s.HeartbeatNow)
	}
	addr := r.cfg.Primary
	if addr == "" && s.Replica.MasterHost != "" {
		addr = net.JoinHostPort(s.Replica.MasterHost, strconv.Itoa(s.Replica.MasterPort))
	}
	if addr == "" {
		return replica.SecondsBehindLag(s.Replica)
	}
	if addr != r.primaryAddr {
		r.switchPrimary(addr)
	}
	if r.primary == nil {
		return replica.SecondsBehindLag(s.Replica)
	}
	pos, err := r.primaryPos(ctx)
	if err != nil {
		if denied(err) && !r.primarySeen && r.cfg.Primary == "" {
			// The monitoring account cannot log in there (a socket-only
			// account, say): no GTID source for this primary, and no
			// failed login every poll.
			r.primary.Close()
			r.primary = nil
			return replica.SecondsBehindLag(s.Replica)
		}
		if !r.primarySeen && r.cfg.Primary == "" {
			return replica.SecondsBehindLag(s.Replica)
		}
		l := replica.UnknownLag("primary " + addr + " not answering: " + oneline.Error(err))
		if floor, ok := r.gtid.Oldest(s.At); ok {
			l.AtLeast = floor.Seconds()
		}
		return l
	}
	r.primarySeen = true
	s.PrimaryBinlogPos = pos
	return r.gtid.Observe(s.At, pos, s.AppliedPos())
}

func (r *ReplicaSampler) switchPrimary(addr string) {
	if r.primary != nil {
		r.primary.Close()
		r.primary = nil
	}
	r.primaryAddr, r.primarySeen = addr, false
	r.gtid.Reset()
	c, err := New(r.cfg.PrimaryClient(addr))
	if err == nil {
		r.primary = c
	}
}

func (r *ReplicaSampler) primaryPos(ctx context.Context) (string, error) {
	budget := time.Second
	if dl, ok := ctx.Deadline(); ok {
		budget = time.Until(dl) / 2
	}
	pctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	var pos string
	err := r.primary.Read(pctx, func(q Querier) error {
		v, err := q.Pairs("SHOW GLOBAL VARIABLES WHERE Variable_name = 'gtid_binlog_pos'")
		if err != nil {
			return err
		}
		var ok bool
		if pos, ok = v["gtid_binlog_pos"]; !ok {
			return errors.New("no gtid_binlog_pos: not a MariaDB server")
		}
		return nil
	})
	return pos, err
}

// denied reports the server's refusal of the account (wrong password,
// unknown user, socket-only authentication).
func denied(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1045 || me.Number == 1044 || me.Number == 1698)
}

// trackConnecting carries how long the IO thread has been Connecting.
func (r *ReplicaSampler) trackConnecting(s *replica.Sample) {
	if s.Replica == nil || s.Replica.IO != replica.IOConnecting {
		r.connectingSince = time.Time{}
		return
	}
	if r.connectingSince.IsZero() {
		r.connectingSince = s.At
	}
	s.Replica.IOConnectingFor = s.At.Sub(r.connectingSince)
}

// heartbeat writes the heartbeat row on a primary and reads it on a
// replica. Only a writable server that does not replicate writes: a
// monitoring account with SUPER would otherwise write past a replica's
// read_only and diverge it.
func (r *ReplicaSampler) heartbeat(q Querier, s *replica.Sample) error {
	t := r.cfg.HeartbeatTable
	if s.Role() == replica.RolePrimary {
		if !r.heartbeatReady {
			db := t[:strings.IndexByte(t, '.')]
			if err := q.Exec("CREATE DATABASE IF NOT EXISTS " + db); err != nil {
				return fmt.Errorf("create database %s: %w", db, err)
			}
			if err := q.Exec("CREATE TABLE IF NOT EXISTS " + t + " (id TINYINT UNSIGNED NOT NULL PRIMARY KEY, ts DATETIME(6) NOT NULL, server_id INT UNSIGNED NOT NULL) ENGINE=InnoDB"); err != nil {
				return fmt.Errorf("create table %s: %w", t, err)
			}
			r.heartbeatReady = true
		}
		// Guarded by read_only in the statement itself: a switchover's
		// demote may land between the variables read above and this
		// write, and an account with READ_ONLY ADMIN would write past it,
		// a transaction after the demoted position that diverges the old
		// primary from its successor. SET GLOBAL read_only waits for this
		// statement, or this statement sees ON and writes nothing (no
		// GTID; checked on 10.11).
		if err := q.Exec("REPLACE INTO " + t + " (id, ts, server_id) SELECT 1, UTC_TIMESTAMP(6), @@server_id FROM DUAL WHERE @@global.read_only = 0"); err != nil {
			r.heartbeatReady = false
			return fmt.Errorf("write %s: %w", t, err)
		}
		return nil
	}
	row, err := q.Row("SELECT DATE_FORMAT(ts, '%Y-%m-%d %H:%i:%s.%f') AS ts, DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%d %H:%i:%s.%f') AS now FROM " + t + " WHERE id = 1")
	if err != nil {
		return fmt.Errorf("read %s: %w", t, err)
	}
	if row == nil {
		return nil // not written yet: another source measures
	}
	const layout = "2006-01-02 15:04:05.000000"
	ts, err1 := time.Parse(layout, row["ts"])
	now, err2 := time.Parse(layout, row["now"])
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("read %s: %w", t, err)
	}
	s.Heartbeat, s.HeartbeatNow = ts, now
	return nil
}

func readReplica(q Querier) (replica.Sample, error) {
	s := replica.Sample{At: time.Now()}
	vars, err := q.Pairs(replVariableQuery)
	if err != nil {
		return s, fmt.Errorf("show variables: %w", err)
	}
	status, err := q.Pairs(replStatusQuery)
	if err != nil {
		return s, fmt.Errorf("show status: %w", err)
	}
	row, err := q.Row("SHOW SLAVE STATUS")
	if err != nil {
		return s, fmt.Errorf("show slave status: %w", err)
	}
	return ParseReplica(vars, status, row, s.At)
}

// ParseReplica builds a replica.Sample from SHOW GLOBAL VARIABLES and
// SHOW GLOBAL STATUS (lower-cased names) and the SHOW SLAVE STATUS row
// (nil: none). A value that is present but malformed is an error.
func ParseReplica(vars, status, row map[string]string, at time.Time) (replica.Sample, error) {
	s := replica.Sample{At: at, BinlogPos: vars["gtid_binlog_pos"], SlavePos: vars["gtid_slave_pos"],
		CurrentPos: vars["gtid_current_pos"], Version: vars["version"]}
	var errs []error
	id, err := strconv.ParseUint(vars["server_id"], 10, 32)
	if err != nil {
		errs = append(errs, fmt.Errorf("server_id=%q: not a number", vars["server_id"]))
	}
	s.ServerID = uint32(id)
	switch strings.ToUpper(vars["read_only"]) {
	case "ON", "1":
		s.ReadOnly = true
	case "OFF", "0":
	default:
		errs = append(errs, fmt.Errorf("read_only=%q: want ON or OFF", vars["read_only"]))
	}
	if v, ok := status["threads_connected"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("status threads_connected=%q: not a number", v))
		}
		s.ThreadsConnected = n
	}
	if row != nil {
		st, err := parseReplicaRow(row)
		if err != nil {
			errs = append(errs, err)
		}
		s.Replica = st
	}
	if err := errors.Join(errs...); err != nil {
		return replica.Sample{}, fmt.Errorf("%w: %w", errMalformed, err)
	}
	return s, nil
}

func parseReplicaRow(row map[string]string) (*replica.Status, error) {
	var errs []error
	num := func(name string) int64 {
		v := row[name]
		if v == "" {
			return 0
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: not a number", name, v))
		}
		return n
	}
	r := &replica.Status{MasterHost: row["Master_Host"], MasterPort: int(num("Master_Port")),
		IO: replica.IOState(row["Slave_IO_Running"]), SQLRunning: row["Slave_SQL_Running"] == "Yes",
		LastIOErrno: int(num("Last_IO_Errno")), LastIOError: row["Last_IO_Error"],
		LastSQLErrno: int(num("Last_SQL_Errno")), LastSQLError: row["Last_SQL_Error"],
		SQLDelay: num("SQL_Delay"), GTIDIOPos: row["Gtid_IO_Pos"], UsingGTID: row["Using_Gtid"],
		SQLState: row["Slave_SQL_Running_State"]}
	switch r.IO {
	case replica.IOYes, replica.IONo, replica.IOConnecting:
	default:
		errs = append(errs, fmt.Errorf("replica row: Slave_IO_Running=%q: want Yes, No or Connecting", row["Slave_IO_Running"]))
	}
	if v := row["Seconds_Behind_Master"]; v != "" {
		r.SecondsBehind, r.SecondsBehindKnown = num("Seconds_Behind_Master"), true
	}
	return r, errors.Join(errs...)
}

// Exec runs a statement that returns no rows.
func (q Querier) Exec(query string) error {
	ec, ok := q.conn.(driver.ExecerContext)
	if !ok {
		return errors.New("driver does not support ExecContext")
	}
	_, err := ec.ExecContext(q.ctx, query, nil)
	return err
}
