// Package sessions closes mariadbd's client sessions for a drain, at
// transaction boundaries where it can see one: which sessions are
// clients, which of those sit between transactions, and the counting of
// what was closed and what was cut.
//
// What it can see, and what it cannot (MariaDB 10.11, measured): the
// process list shows a session in Sleep identically after BEGIN, inside a
// transaction and after COMMIT; information_schema.INNODB_TRX lists a
// transaction only once it touched an InnoDB table, from a cache renewed
// at most every 100 ms. So a session counts as between transactions when
// it has been in Sleep for at least MinIdle (far longer than the cache's
// age) with no InnoDB transaction. A session idle that long just after a
// bare BEGIN looks the same and would be closed: an application that
// opens a transaction and waits before its first statement.
//
// Pools absorb a session closed while idle: go-sql-driver/mysql checks a
// pooled connection before reusing it, HikariCP validates one idle for
// more than 500 ms (so MinIdle must exceed that), SQLAlchemy's
// pool_pre_ping pings on every checkout. A busy pooled session is never
// idle that long; it is closed by the pool itself once its maximum
// lifetime passes (at a boundary, on the client), or cut at the drain's
// timeout.
//
// It must not decide when the drain ends: the lifecycle (package member)
// does.
package sessions

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"
)

// Session is one row of mariadbd's process list, as the drain reads it.
type Session struct {
	ID      int64
	User    string
	Host    string // "localhost" over the unix socket, else host:port
	Command string
	// Idle is how long the session has been in its current command
	// (TIME_MS): for a Sleep, since its last statement ended.
	Idle time.Duration
	// InTrx: information_schema.INNODB_TRX lists a transaction of it.
	InTrx bool
	// Own: the connection that read the list.
	Own bool
}

// notClients are the process list's users that are the server's own
// threads.
var notClients = map[string]bool{"system user": true, "event_scheduler": true, "unauthenticated user": true}

// serverCommands are the commands of threads that are not a client's
// statements: replication in both directions, the server's daemons.
var serverCommands = map[string]bool{
	"Binlog Dump": true, "Binlog Dump GTID": true, "Slave_IO": true, "Slave_SQL": true, "Slave_worker": true,
	"Daemon": true, "Register Slave": true, "Table Dump": true,
}

// Client reports whether s is a client session the drain closes: a
// session that came over TCP, not the server's own thread, not
// replication, not the sentinel's own connection. Sessions over the unix
// socket are local (the sentinel, a state transfer's mariabackup, an
// operator's shell): no load balancer sends them, and mariadbd's shutdown
// ends them.
func Client(s Session) bool {
	if s.Own || notClients[s.User] || serverCommands[s.Command] || s.Host == "" || s.Host == "localhost" {
		return false
	}
	return true
}

// BetweenTransactions reports whether client session s may be closed at
// a boundary: in Sleep for at least minIdle, with no InnoDB transaction.
func BetweenTransactions(s Session, minIdle time.Duration) bool {
	return s.Command == "Sleep" && s.Idle >= minIdle && !s.InTrx
}

// Server is what the closer needs of mariadbd: its process list, and
// KILL CONNECTION. Kill of a session that has already ended is not an
// error. KillIdle ends a session only if mariadbd, in the same step,
// still finds it between transactions (BetweenTransactions with
// minIdle), and says whether it did: the process list is a moment ago,
// and a client may have started its next transaction since.
type Server interface {
	Sessions(ctx context.Context) ([]Session, error)
	Kill(ctx context.Context, id int64) error
	KillIdle(ctx context.Context, id int64, minIdle time.Duration) (bool, error)
}

// DefaultMinIdle is how long a session must have sat in Sleep before the
// drain closes it: above HikariCP's 500 ms validation window, and ten
// times the InnoDB transaction cache's age.
const DefaultMinIdle = time.Second

// Closer closes a server's client sessions for a drain. It keeps no
// state of its own: the drain before a stop and the one in maintenance
// may share it.
type Closer struct {
	Server Server
	// MinIdle is how long a session must have sat in Sleep to be closed
	// by CloseIdle: DefaultMinIdle when 0; negative: never (CloseIdle
	// only counts).
	MinIdle time.Duration
}

// Count is what a drain did to the client sessions.
type Count struct {
	// Closed were between transactions; Cut were not (the timeout, a
	// second signal).
	Closed, Cut int
}

// CloseIdle closes the client sessions that sit between transactions and
// returns how many it closed and how many client sessions are left.
func (c *Closer) CloseIdle(ctx context.Context) (closed, left int, err error) {
	min := c.MinIdle
	if min <= 0 {
		min = DefaultMinIdle
	}
	all, err := c.Server.Sessions(ctx)
	if err != nil {
		return 0, 0, err
	}
	for _, s := range all {
		if !Client(s) {
			continue
		}
		if c.MinIdle < 0 || !BetweenTransactions(s, min) {
			left++
			continue
		}
		killed, err := c.Server.KillIdle(ctx, s.ID, min)
		if err != nil {
			return closed, left + 1, fmt.Errorf("close session %d (%s from %s): %w", s.ID, s.User, hostOnly(s.Host), err)
		}
		if !killed {
			left++ // it started a statement since the list was read
			continue
		}
		closed++
	}
	return closed, left, nil
}

// CutAll ends every client session, in a transaction or not, and returns
// how many.
func (c *Closer) CutAll(ctx context.Context) (int, error) {
	all, err := c.Server.Sessions(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range all {
		if !Client(s) {
			continue
		}
		if err := c.Server.Kill(ctx, s.ID); err != nil {
			return n, fmt.Errorf("cut session %d (%s from %s): %w", s.ID, s.User, hostOnly(s.Host), err)
		}
		n++
	}
	return n, nil
}

// hostOnly is a process list host without its port.
func hostOnly(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		return host
	}
	return strings.TrimSpace(h)
}
