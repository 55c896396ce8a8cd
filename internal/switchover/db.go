package switchover

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Open is the steps' connection pool to the local server at addr
// (host:port, or a unix socket path): at most two connections, opened
// when a step runs (never by the poller), each dial bounded by timeout.
// The account needs the privileges of DB's comment.
func Open(addr, user, password string, timeout time.Duration) (*sql.DB, error) {
	mc := mysql.NewConfig()
	mc.Net, mc.Addr = "tcp", addr
	if strings.Contains(addr, "/") {
		mc.Net = "unix"
	}
	mc.User, mc.Passwd = user, password
	mc.Timeout = timeout
	connector, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, fmt.Errorf("switchover connection: %w", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(2)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(time.Minute)
	return db, nil
}

// DB is the local server's operations over a connection pool whose
// account may change read_only and replication (SUPER, or READ_ONLY
// ADMIN, REPLICATION SLAVE ADMIN and SLAVE MONITOR; docs/replication.md).
// Every statement is bounded by the context it is given.
type DB struct {
	DB *sql.DB
	// ReplicationUser and ReplicationPassword are the account a server
	// that has no replica row yet (a demoted primary) connects to its new
	// primary with. A server that already replicates keeps its own.
	ReplicationUser, ReplicationPassword string
}

var _ Server = (*DB)(nil)

// State reads read_only, the GTID positions and the replica row.
func (d *DB) State(ctx context.Context) (State, error) {
	var st State
	if err := d.DB.QueryRowContext(ctx, "SELECT @@global.read_only, @@global.gtid_binlog_pos, @@global.gtid_slave_pos").
		Scan(&st.ReadOnly, &st.BinlogPos, &st.SlavePos); err != nil {
		return st, fmt.Errorf("read positions: %w", err)
	}
	rows, err := d.DB.QueryContext(ctx, "SHOW SLAVE STATUS")
	if err != nil {
		return st, fmt.Errorf("SHOW SLAVE STATUS: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return st, err
	}
	if rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return st, fmt.Errorf("SHOW SLAVE STATUS: %w", err)
		}
		st.HasReplica = true
		for i, c := range cols {
			switch c {
			case "Master_Host":
				st.MasterHost = vals[i].String
			case "Master_Port":
				st.MasterPort, _ = strconv.Atoi(vals[i].String)
			}
		}
	}
	return st, rows.Err()
}

// Demote sets read_only=ON, which waits for the commits in progress, then
// reads gtid_binlog_pos: every write acknowledged before is within it.
// Accounts with READ_ONLY ADMIN (SUPER before 10.11) can still write
// afterwards; applications must not use one.
func (d *DB) Demote(ctx context.Context) (string, error) {
	if _, err := d.DB.ExecContext(ctx, "SET GLOBAL read_only=ON"); err != nil {
		return "", fmt.Errorf("SET GLOBAL read_only=ON: %w", err)
	}
	var pos string
	if err := d.DB.QueryRowContext(ctx, "SELECT @@global.gtid_binlog_pos").Scan(&pos); err != nil {
		return "", fmt.Errorf("read gtid_binlog_pos: %w", err)
	}
	return pos, nil
}

// WaitGTID is MASTER_GTID_WAIT(pos, timeout): 0 reached, -1 timed out.
func (d *DB) WaitGTID(ctx context.Context, pos string, timeout time.Duration) error {
	var r sql.NullInt64
	if err := d.DB.QueryRowContext(ctx, "SELECT MASTER_GTID_WAIT(?, ?)", pos, timeout.Seconds()).Scan(&r); err != nil {
		return fmt.Errorf("MASTER_GTID_WAIT: %w", err)
	}
	if !r.Valid || r.Int64 != 0 {
		return ErrWaitTimeout
	}
	return nil
}

// Promote: STOP SLAVE, RESET SLAVE ALL, read_only=OFF.
func (d *DB) Promote(ctx context.Context) error {
	return d.exec(ctx, "STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only=OFF")
}

// SetSlavePos sets gtid_slave_pos (pos as formatGTIDs writes it).
func (d *DB) SetSlavePos(ctx context.Context, pos string) error {
	if _, err := parseGTIDs(pos); err != nil {
		return err
	}
	return d.exec(ctx, "SET GLOBAL gtid_slave_pos='"+pos+"'")
}

// Follow makes the server a read-only replica of p with
// MASTER_USE_GTID=slave_pos.
func (d *DB) Follow(ctx context.Context, p Primary) error {
	if strings.ContainsAny(p.Host, "'\"\\` \t\r\n") || p.Host == "" || p.Port < 1 || p.Port > 65535 {
		return fmt.Errorf("primary %q:%d: bad address", p.Host, p.Port)
	}
	st, err := d.State(ctx)
	if err != nil {
		return err
	}
	change := fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%d", p.Host, p.Port)
	if d.ReplicationUser != "" || !st.HasReplica {
		if d.ReplicationUser == "" || d.ReplicationPassword == "" {
			return errors.New("this server has no replica row to keep the replication account from, and the sentinel has none configured (--replication-user, --replication-password-file)")
		}
		change += ", MASTER_USER=" + quote(d.ReplicationUser) + ", MASTER_PASSWORD=" + quote(d.ReplicationPassword)
	}
	change += ", MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1"
	if err := d.exec(ctx, "SET GLOBAL read_only=ON", "STOP SLAVE"); err != nil {
		return err
	}
	if _, err := d.DB.ExecContext(ctx, change); err != nil {
		// The statement holds the password: never in the error.
		return fmt.Errorf("CHANGE MASTER TO %s:%d: %w", p.Host, p.Port, err)
	}
	return d.exec(ctx, "START SLAVE")
}

func (d *DB) exec(ctx context.Context, stmts ...string) error {
	for _, s := range stmts {
		if _, err := d.DB.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// quote is a MariaDB string literal (backslash escapes, the server's
// default sql_mode).
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\x00", `\0`, "\n", `\n`, "\r", `\r`, "\x1a", `\Z`)
	return "'" + r.Replace(s) + "'"
}
