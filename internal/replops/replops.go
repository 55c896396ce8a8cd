// Package replops holds the SQL operations of asynchronous replication
// that change a server: creating the replication account, read_only,
// pointing a replica at a primary, waiting for a GTID, demoting and
// promoting. Each is one short, bounded conversation with the server (the
// caller's context bounds it); none judges anything (that is package
// replica's) or decides anything (run mode's member and the switchover
// do).
//
// Secrets (the replication password) are sent to the server with
// client-side escaping and never appear in an error.
package replops

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/mysqlconn"
)

// Open returns the pool to one server that these operations take
// (mysqlconn.Pool: at most two connections, each dial bounded by timeout,
// every statement by its context, parameters interpolated on the client
// so that CHANGE MASTER and CREATE USER take them). addr is host:port or
// the path of a unix socket. It does not connect.
func Open(addr, user, password string, timeout time.Duration) (*sql.DB, error) {
	db, err := mysqlconn.Pool(addr, user, password, timeout)
	if err != nil {
		return nil, fmt.Errorf("replops: %w", err)
	}
	return db, nil
}

// Positions is what a server says of its replication state.
type Positions struct {
	ServerID uint32
	ReadOnly bool
	// BinlogPos, SlavePos and CurrentPos are gtid_binlog_pos,
	// gtid_slave_pos and gtid_current_pos.
	BinlogPos, SlavePos, CurrentPos string
	// HasReplica is true when the server has a replica configuration (a
	// row in SHOW SLAVE STATUS), running or not.
	HasReplica bool
	MasterHost string
	MasterPort int
	IORunning  string // Slave_IO_Running: Yes, No, Connecting
	SQLRunning bool
	// LastIOErrno/LastSQLErrno and their messages, 0 and empty when none.
	LastIOErrno  int
	LastIOError  string
	LastSQLErrno int
	LastSQLError string
}

// Read reads the server's positions and replica row.
func Read(ctx context.Context, db *sql.DB) (Positions, error) {
	var p Positions
	var ro int
	err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.server_id, @@GLOBAL.read_only, @@GLOBAL.gtid_binlog_pos, @@GLOBAL.gtid_slave_pos, @@GLOBAL.gtid_current_pos").
		Scan(&p.ServerID, &ro, &p.BinlogPos, &p.SlavePos, &p.CurrentPos)
	if err != nil {
		return p, fmt.Errorf("read positions: %w", err)
	}
	p.ReadOnly = ro != 0
	row, err := slaveStatus(ctx, db)
	if err != nil {
		return p, err
	}
	if row != nil {
		p.HasReplica = true
		p.MasterHost = row["Master_Host"]
		fmt.Sscan(row["Master_Port"], &p.MasterPort)
		p.IORunning = row["Slave_IO_Running"]
		p.SQLRunning = row["Slave_SQL_Running"] == "Yes"
		fmt.Sscan(row["Last_IO_Errno"], &p.LastIOErrno)
		fmt.Sscan(row["Last_SQL_Errno"], &p.LastSQLErrno)
		p.LastIOError, p.LastSQLError = row["Last_IO_Error"], row["Last_SQL_Error"]
	}
	return p, nil
}

// slaveStatus is the default connection's SHOW SLAVE STATUS row as column
// name to value, nil when there is none.
func slaveStatus(ctx context.Context, db *sql.DB) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, "SHOW SLAVE STATUS")
	if err != nil {
		return nil, fmt.Errorf("SHOW SLAVE STATUS: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if !rows.Next() {
		return nil, rows.Err()
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, fmt.Errorf("SHOW SLAVE STATUS: %w", err)
	}
	m := make(map[string]string, len(cols))
	for i, c := range cols {
		m[c] = vals[i].String
	}
	return m, rows.Err()
}

// exec runs statements in order; an error names the step, never the
// statement's text (it may hold a password).
func exec(ctx context.Context, db *sql.DB, steps ...step) error {
	for _, s := range steps {
		if _, err := db.ExecContext(ctx, s.query, s.args...); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}

type step struct {
	name  string
	query string
	args  []any
}

// EnsureReplicationUser creates the account replicas connect with, or
// resets its password when it exists, and grants it REPLICATION SLAVE
// (all a replica's IO thread needs on MariaDB 10.5 and later, where
// SHOW SLAVE STATUS and SHOW BINLOG STATUS have privileges of their own
// that the replication account does not use). Idempotent. On a primary
// the statements are binary-logged, so the replicas get the account too
// and it is there after a switchover.
func EnsureReplicationUser(ctx context.Context, db *sql.DB, user, password string) error {
	if user == "" || password == "" {
		return errors.New("replication account: user and password are required")
	}
	return exec(ctx, db,
		step{"create replication user", "CREATE USER IF NOT EXISTS ?@'%' IDENTIFIED BY ?", []any{user, password}},
		step{"set replication user's password", "ALTER USER ?@'%' IDENTIFIED BY ?", []any{user, password}},
		step{"grant REPLICATION SLAVE", "GRANT REPLICATION SLAVE ON *.* TO ?@'%'", []any{user}},
	)
}

// SetReadOnly sets read_only. Turning it on waits for statements that
// hold table locks to finish (the server's own rule); it does not stop
// accounts with SUPER or READ ONLY ADMIN from writing.
func SetReadOnly(ctx context.Context, db *sql.DB, on bool) error {
	v := 0
	if on {
		v = 1
	}
	return exec(ctx, db, step{fmt.Sprintf("set read_only=%d", v), "SET GLOBAL read_only=?", []any{v}})
}

// Primary is where a replica connects.
type Primary struct {
	Host     string
	Port     int
	User     string
	Password string
}

// Follow points the server at p and starts replicating: STOP SLAVE,
// CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos (resume after the last
// transaction this server applied: none is applied twice or skipped),
// MASTER_CONNECT_RETRY=1, START SLAVE. It does not touch read_only or
// gtid_slave_pos.
func Follow(ctx context.Context, db *sql.DB, p Primary) error {
	if p.Host == "" || p.Port < 1 || p.Port > 65535 {
		return fmt.Errorf("follow: primary %q port %d: want a host and a port", p.Host, p.Port)
	}
	if p.User == "" {
		return errors.New("follow: no replication user")
	}
	return exec(ctx, db,
		step{"STOP SLAVE", "STOP SLAVE", nil},
		step{"CHANGE MASTER TO " + p.Host, "CHANGE MASTER TO MASTER_HOST=?, MASTER_PORT=?, MASTER_USER=?, MASTER_PASSWORD=?, MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
			[]any{p.Host, p.Port, p.User, p.Password}},
		step{"START SLAVE", "START SLAVE", nil},
	)
}

// SetSlavePos sets gtid_slave_pos, where a replica with MASTER_USE_GTID=
// slave_pos resumes (a clone's position, from its backup). The replica
// threads must be stopped; this stops them.
func SetSlavePos(ctx context.Context, db *sql.DB, pos string) error {
	return exec(ctx, db,
		step{"STOP SLAVE", "STOP SLAVE", nil},
		step{"set gtid_slave_pos", "SET GLOBAL gtid_slave_pos=?", []any{pos}},
	)
}

// AdoptBinlogPos sets gtid_slave_pos to the server's own gtid_binlog_pos:
// a demoted primary about to follow its successor resumes after the last
// transaction it wrote itself, instead of from its old replica position.
func AdoptBinlogPos(ctx context.Context, db *sql.DB) error {
	return exec(ctx, db,
		step{"STOP SLAVE", "STOP SLAVE", nil},
		step{"set gtid_slave_pos to gtid_binlog_pos", "SET GLOBAL gtid_slave_pos=@@GLOBAL.gtid_binlog_pos", nil},
	)
}

// ErrGTIDWaitTimeout is returned (wrapped) by WaitGTID when the position
// was not reached in time.
var ErrGTIDWaitTimeout = errors.New("GTID position not reached in time")

// WaitGTID waits until the server has applied pos (MASTER_GTID_WAIT),
// for at most timeout (rounded up to a millisecond) and within ctx.
func WaitGTID(ctx context.Context, db *sql.DB, pos string, timeout time.Duration) error {
	if timeout <= 0 {
		return fmt.Errorf("wait for GTID %s: timeout %v: want more than 0", pos, timeout)
	}
	secs := float64(timeout.Milliseconds()) / 1000
	if secs < 0.001 {
		secs = 0.001
	}
	var r sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT MASTER_GTID_WAIT(?, ?)", pos, secs).Scan(&r); err != nil {
		return fmt.Errorf("wait for GTID %s: %w", pos, err)
	}
	switch {
	case !r.Valid:
		return fmt.Errorf("wait for GTID %s: MASTER_GTID_WAIT returned NULL (bad position?)", pos)
	case r.Int64 == -1:
		return fmt.Errorf("wait for GTID %s: %w (%v)", pos, ErrGTIDWaitTimeout, timeout)
	}
	return nil
}

// Demote makes a primary read-only and returns its gtid_binlog_pos once
// the writes that were running have finished: SET GLOBAL read_only=ON
// waits for those holding table locks, and every later write by an
// ordinary account fails. Accounts with SUPER or READ ONLY ADMIN (root,
// typically) can still write on a read-only server: keep applications off
// them, or the position returned is not the last.
func Demote(ctx context.Context, db *sql.DB) (pos string, err error) {
	if err := SetReadOnly(ctx, db, true); err != nil {
		return "", fmt.Errorf("demote: %w", err)
	}
	if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_binlog_pos").Scan(&pos); err != nil {
		return "", fmt.Errorf("demote: read gtid_binlog_pos: %w", err)
	}
	return pos, nil
}

// Promote makes a replica a primary: STOP SLAVE, RESET SLAVE ALL (it
// forgets its primary, so that it does not follow it again after a
// restart), read_only=OFF. The caller has made sure it caught up.
func Promote(ctx context.Context, db *sql.DB) error {
	return exec(ctx, db,
		step{"STOP SLAVE", "STOP SLAVE", nil},
		step{"RESET SLAVE ALL", "RESET SLAVE ALL", nil},
		step{"set read_only=0", "SET GLOBAL read_only=0", nil},
	)
}
