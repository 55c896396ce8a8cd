package mysqlstat

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/galera-sentinel/galera-sentinel/internal/sessions"
)

// sessionsQuery is the process list with, for each session, whether it is
// this connection and whether InnoDB lists a transaction of it.
const sessionsQuery = `SELECT p.ID, p.USER, IFNULL(p.HOST, ''), p.COMMAND, p.TIME_MS, p.ID = CONNECTION_ID(),
 p.ID IN (SELECT trx_mysql_thread_id FROM information_schema.INNODB_TRX)
 FROM information_schema.PROCESSLIST p`

// Sessions reads mariadbd's process list on the client's one connection
// (sessions.Server): this connection is Own, so the drain never closes
// the probe's own session.
func (c *Client) Sessions(ctx context.Context) ([]sessions.Session, error) {
	var out []sessions.Session
	err := c.Read(ctx, func(q Querier) error {
		return q.each(sessionsQuery, func(_ []string, row []driver.Value) error {
			id, err := strconv.ParseInt(asString(row[0]), 10, 64)
			if err != nil {
				return fmt.Errorf("process list: id %q: %w", asString(row[0]), err)
			}
			ms, err := strconv.ParseFloat(asString(row[4]), 64)
			if err != nil {
				return fmt.Errorf("process list: TIME_MS %q: %w", asString(row[4]), err)
			}
			out = append(out, sessions.Session{ID: id, User: asString(row[1]), Host: asString(row[2]), Command: asString(row[3]),
				Idle: time.Duration(ms * float64(time.Millisecond)), Own: asString(row[5]) == "1", InTrx: asString(row[6]) == "1"})
			return nil
		})
	})
	return out, err
}

// errUnknownThread is ER_NO_SUCH_THREAD: the session ended by itself.
const errUnknownThread = 1094

// Kill ends session id with KILL CONNECTION on the client's connection;
// a session that has already ended is not an error.
func (c *Client) Kill(ctx context.Context, id int64) error {
	err := c.Read(ctx, func(q Querier) error {
		err := q.Exec("KILL CONNECTION " + strconv.FormatInt(id, 10))
		if me, ok := errors.AsType[*mysql.MySQLError](err); ok && me.Number == errUnknownThread {
			return nil
		}
		return err
	})
	return err
}

// killIdleSQL ends a session only if mariadbd, in the same statement,
// still finds it in Sleep for at least the given milliseconds with no
// InnoDB transaction: the check and the KILL are one step on the server,
// so a client that starts a statement after the process list was read
// keeps its session. @galera_sentinel_killed says what it did.
const killIdleSQL = `BEGIN NOT ATOMIC
 IF EXISTS (SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = %[1]d AND COMMAND = 'Sleep' AND TIME_MS >= %[2]d)
  AND NOT EXISTS (SELECT 1 FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = %[1]d) THEN
  KILL CONNECTION %[1]d;
  SET @galera_sentinel_killed = 1;
 ELSE
  SET @galera_sentinel_killed = 0;
 END IF;
END`

// KillIdle ends session id if it still sits between transactions (in
// Sleep for at least minIdle, no InnoDB transaction), checked by mariadbd
// in the same statement as the KILL; it reports whether it ended it.
func (c *Client) KillIdle(ctx context.Context, id int64, minIdle time.Duration) (bool, error) {
	killed := false
	err := c.Read(ctx, func(q Querier) error {
		err := q.Exec(fmt.Sprintf(killIdleSQL, id, minIdle.Milliseconds()))
		if me, ok := errors.AsType[*mysql.MySQLError](err); ok && me.Number == errUnknownThread {
			return nil // it ended between the check and the KILL
		}
		if err != nil {
			return err
		}
		row, err := q.Row("SELECT @galera_sentinel_killed AS killed")
		if err != nil {
			return err
		}
		killed = row["killed"] == "1"
		return nil
	})
	return killed, err
}
