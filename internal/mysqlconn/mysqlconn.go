// Package mysqlconn builds the sentinel's connections to mariadbd: the
// driver settings every connection shares, and the one small pool that
// run mode, replication and the switchover change a server through. Each
// timeout is stated here with its reason, so that the callers do not
// each pick their own.
//
// It must not run a statement, hold a connection or know what a caller
// does with one: it only configures the driver. The probe's own single
// connection (package mysqlstat) starts from Config and adds its bounds.
package mysqlconn

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Config is the driver configuration shared by every connection: addr is
// host:port, or the path of a unix socket (anything that contains a
// slash). The driver's own logger is silenced: every error it would print
// is also returned to the caller, which says it with context. No timeout
// is set; the caller adds those that fit its use.
func Config(addr, user, password string) *mysql.Config {
	mc := mysql.NewConfig()
	mc.User, mc.Passwd = user, password
	mc.Net, mc.Addr = "tcp", addr
	if strings.Contains(addr, "/") {
		mc.Net = "unix"
	}
	mc.AllowNativePasswords = true
	mc.Logger = discardLogger{}
	return mc
}

type discardLogger struct{}

func (discardLogger) Print(...any) {}

// DefaultDialTimeout is Pool's dial bound when the caller gives none.
const DefaultDialTimeout = 10 * time.Second

// PoolIdle is how long a pool keeps an idle connection: long enough to
// reuse one across the statements of one step (a switchover's, a run-mode
// attempt's), short enough that the sentinel holds no connection between
// steps. An idle connection shows in Threads_connected, which the drain
// counts as a client (it subtracts the probe's one connection only).
const PoolIdle = 30 * time.Second

// Pool opens a pool of at most two connections to the server at addr,
// for statements that change it (replication, read_only, accounts). It
// does not connect. Its bounds and why:
//
//   - each dial (TCP connect, handshake, authentication) is bounded by
//     dial (DefaultDialTimeout when 0): a server that does not answer
//     fails the step instead of holding it;
//   - no read or write timeout: every statement runs under the caller's
//     context, and the driver closes the connection when that ends, so the
//     context is the bound. A read timeout would cut statements that
//     legitimately wait longer than a dial may take (MASTER_GTID_WAIT
//     while a switchover promotes);
//   - at most two connections, one kept idle for PoolIdle;
//   - parameters are interpolated on the client (with the driver's
//     escaping), so that statements the server cannot prepare (CHANGE
//     MASTER, CREATE USER) take them too.
func Pool(addr, user, password string, dial time.Duration) (*sql.DB, error) {
	if addr == "" {
		return nil, errors.New("no server address")
	}
	if dial <= 0 {
		dial = DefaultDialTimeout
	}
	mc := Config(addr, user, password)
	mc.Timeout = dial
	mc.InterpolateParams = true
	connector, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, fmt.Errorf("mysql config: %w", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(2)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(PoolIdle)
	return db, nil
}
