package mysqlstat

import (
	"context"
	"errors"
	"net"
	"syscall"

	"github.com/go-sql-driver/mysql"
)

// ErrorKind names what kind of failure a failed read was, for metrics:
// "refused" (nothing listens: the port or socket is closed), "timeout" (a
// connection attempt or query ran out of time: a frozen, blackholed or
// overloaded server), "auth" (the server refused the account, or blocked
// this host), "query" (the server answered with another error, or an
// answer that does not parse), or "other".
func ErrorKind(err error) string {
	var me *mysql.MySQLError
	var ne net.Error
	switch {
	case err == nil:
		return ""
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ECONNRESET):
		return "refused"
	case errors.As(err, &me):
		switch me.Number {
		case 1044, 1045, 1129, 1130, 1698, 1251, 1862, 4151:
			// access denied (db, user, socket plugin), host blocked or
			// not allowed, auth method, expired password, account locked
			return "auth"
		}
		return "query"
	case errors.Is(err, ErrConnecting), errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, errMalformed):
		return "query"
	}
	return "other"
}
