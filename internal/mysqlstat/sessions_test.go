package mysqlstat

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/galera-sentinel/galera-sentinel/internal/sessions"
	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
)

// TestDrainSessionsOnRealServer: against a real node, the drain's closer
// sees the process list as it is: a pooled TCP session idle between
// transactions is closed, one idle inside a transaction that wrote is
// left (InnoDB lists it), the admin's socket session and the probe's own
// connection are never touched; the pool absorbs the closed session (its
// next transaction runs on a new connection, no error). CutAll then ends
// the open transaction's session, and the server rolls it back.
func TestDrainSessionsOnRealServer(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Nodes: 1})
	n := c.Nodes[0]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := n.Exec(ctx, "CREATE DATABASE d", "CREATE TABLE d.t (id INT PRIMARY KEY AUTO_INCREMENT, v INT)",
		"CREATE USER 'app'@'%' IDENTIFIED BY 'drain-test'", "GRANT ALL ON d.* TO 'app'@'%'"); err != nil {
		t.Fatal(err)
	}
	// The probe's client, as run mode has it: root over the socket.
	cl, err := New(Config{Addr: n.Socket, User: "root", ConnectLimit: 10 * time.Second, StatementTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := cl.Sample(ctx); err != nil {
		t.Fatal(err)
	}
	app := func() *sql.DB {
		mc := mysql.NewConfig()
		mc.User, mc.Passwd, mc.Net, mc.Addr, mc.DBName = "app", "drain-test", "tcp", n.Addr(), "d"
		conn, err := mysql.NewConnector(mc)
		if err != nil {
			t.Fatal(err)
		}
		db := sql.OpenDB(conn)
		t.Cleanup(func() { db.Close() })
		db.SetMaxOpenConns(1)
		return db
	}
	pool := app() // a pool of one: its session sits idle between transactions
	if _, err := pool.ExecContext(ctx, "INSERT INTO d.t (v) VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	busy, err := app().Conn(ctx) // a transaction left open
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"BEGIN", "INSERT INTO d.t (v) VALUES (2)"} {
		if _, err := busy.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	admin, err := n.DB().Conn(ctx) // the socket: local, never closed
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.PingContext(ctx); err != nil {
		t.Fatal(err)
	}

	clients := func() map[string]int {
		list, err := cl.Sessions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		own, byHost := 0, map[string]int{}
		for _, s := range list {
			if s.Own {
				own++
			}
			if sessions.Client(s) {
				byHost[s.User]++
			}
		}
		if own != 1 {
			t.Errorf("%d sessions marked as the probe's own, want 1: %+v", own, list)
		}
		return byHost
	}
	if got := clients(); got["app"] != 2 || len(got) != 1 {
		t.Fatalf("client sessions %v, want app's two alone", got)
	}
	time.Sleep(1200 * time.Millisecond) // both idle past MinIdle
	closer := &sessions.Closer{Server: cl, MinIdle: time.Second}
	closed, left, err := closer.CloseIdle(ctx)
	if err != nil || closed != 1 || left != 1 {
		t.Fatalf("CloseIdle: closed %d, left %d, %v; want 1 and 1 (the open transaction)", closed, left, err)
	}
	// The pool takes a new connection for its next transaction unseen.
	if _, err := pool.ExecContext(ctx, "INSERT INTO d.t (v) VALUES (3)"); err != nil {
		t.Errorf("the pool's next statement after its idle session was closed: %v", err)
	}
	if _, err := busy.ExecContext(ctx, "INSERT INTO d.t (v) VALUES (4)"); err != nil {
		t.Errorf("the open transaction was disturbed: %v", err)
	}
	if err := admin.PingContext(ctx); err != nil {
		t.Errorf("the socket session was closed: %v", err)
	}
	cut, err := closer.CutAll(ctx)
	if err != nil || cut != 2 { // the open transaction and the pool's new session
		t.Fatalf("CutAll: %d, %v; want 2", cut, err)
	}
	if err := busy.PingContext(ctx); err == nil {
		t.Error("the cut session still answers")
	}
	// A session that ended already is not an error.
	if err := cl.Kill(ctx, 999999); err != nil {
		t.Errorf("Kill of an unknown session: %v", err)
	}
	if killed, err := cl.KillIdle(ctx, 999999, time.Second); err != nil || killed {
		t.Errorf("KillIdle of an unknown session: %v, %v", killed, err)
	}
	// KillIdle checks on the server, with the KILL: a session that ran a
	// statement a moment ago, or holds a transaction, is left; one idle
	// for longer than the bound is ended.
	idleConn, err := app().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer idleConn.Close()
	var idleID, trxID int64
	if err := idleConn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&idleID); err != nil {
		t.Fatal(err)
	}
	trxConn, err := app().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer trxConn.Close()
	if err := trxConn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&trxID); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"BEGIN", "INSERT INTO d.t (v) VALUES (5)"} {
		if _, err := trxConn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if killed, err := cl.KillIdle(ctx, idleID, time.Second); err != nil || killed {
		t.Errorf("KillIdle of a session busy a moment ago: %v, %v; want it left", killed, err)
	}
	time.Sleep(1200 * time.Millisecond)
	if killed, err := cl.KillIdle(ctx, trxID, time.Second); err != nil || killed {
		t.Errorf("KillIdle of a session in a transaction: %v, %v; want it left", killed, err)
	}
	if killed, err := cl.KillIdle(ctx, idleID, time.Second); err != nil || !killed {
		t.Errorf("KillIdle of a session idle for 1.2s: %v, %v; want it ended", killed, err)
	}
	if err := idleConn.PingContext(ctx); err == nil {
		t.Error("the session KillIdle ended still answers")
	}
	if err := trxConn.PingContext(ctx); err != nil {
		t.Errorf("the transaction's session was disturbed: %v", err)
	}
	if _, err := trxConn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	var rows int
	if err := n.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM d.t").Scan(&rows); err != nil || rows != 2 {
		t.Errorf("%d rows, %v; want 2 (1 and 3; the cut transaction rolled back)", rows, err)
	}
	if _, err := cl.Sample(ctx); err != nil {
		t.Errorf("the probe's own connection after the drain: %v", err)
	}
	// The poller samples while the drain reads the process list: the
	// one connection takes them in turn.
	errc := make(chan error, 2)
	for _, f := range []func() error{
		func() error { _, err := cl.Sample(ctx); return err },
		func() error { _, err := cl.Sessions(ctx); return err },
	} {
		go func() {
			for range 200 {
				if err := f(); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	for range 2 {
		if err := <-errc; err != nil {
			t.Errorf("sample and process list at once: %v", err)
		}
	}
}
