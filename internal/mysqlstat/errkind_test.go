package mysqlstat

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/go-sql-driver/mysql"
)

func TestErrorKind(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("connect 127.0.0.1:3306: %w", err) }
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{wrap(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), "refused"},
		{wrap(&net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", syscall.ENOENT)}), "refused"},
		{wrap(&mysql.MySQLError{Number: 1045, Message: "Access denied"}), "auth"},
		{wrap(&mysql.MySQLError{Number: 1129, Message: "Host is blocked"}), "auth"},
		{fmt.Errorf("show status: %w", &mysql.MySQLError{Number: 1927, Message: "Connection was killed"}), "query"},
		{fmt.Errorf("connect x: %w for 2.0s", ErrConnecting), "timeout"},
		{fmt.Errorf("show status: %w", context.DeadlineExceeded), "timeout"},
		{fmt.Errorf("%w: %w", errMalformed, errors.New("wsrep_local_state \"x\"")), "query"},
		{errors.New("client closed"), "other"},
	} {
		if got := ErrorKind(tc.err); got != tc.want {
			t.Errorf("ErrorKind(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
	// A real refused connection, as the poller sees it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = net.Dial("tcp", addr)
	if got := ErrorKind(wrap(err)); got != "refused" {
		t.Errorf("a real refused dial (%v): %q", err, got)
	}
}
