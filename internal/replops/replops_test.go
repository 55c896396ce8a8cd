package replops

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
)

func open(t *testing.T, n *testcluster.Node) *sql.DB {
	t.Helper()
	db, err := Open(n.Socket, "root", "", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// A switchover by hand with every operation: the account, read positions,
// demote, wait, promote, follow the other way; no row lost.
func TestSwitchoverOperations(t *testing.T) {
	c := testcluster.StartAsync(t, testcluster.Options{Nodes: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, b := c.Nodes[0], c.Nodes[1]
	da, db := open(t, a), open(t, b)

	// The account: created twice (idempotent), with a password that
	// needs escaping; the replica connects with it.
	const pw = `p'w"\x`
	for range 2 {
		if err := EnsureReplicationUser(ctx, da, "repl2", pw); err != nil {
			t.Fatal(err)
		}
	}
	if err := EnsureReplicationUser(ctx, da, "repl2", ""); err == nil {
		t.Fatal("empty password accepted")
	}
	if err := Follow(ctx, db, Primary{Host: a.Host, Port: testcluster.ClientPort, User: "repl2", Password: pw}); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitReplicating(ctx); err != nil {
		t.Fatal(err)
	}
	if err := Follow(ctx, db, Primary{Host: a.Host, User: "repl2"}); err == nil || !strings.Contains(err.Error(), "port") {
		t.Fatalf("follow without a port: %v", err)
	}

	pa, err := Read(ctx, da)
	if err != nil {
		t.Fatal(err)
	}
	if pa.ServerID != 1 || pa.ReadOnly || pa.HasReplica || pa.BinlogPos == "" {
		t.Fatalf("primary: %+v", pa)
	}
	if err := a.Exec(ctx, "CREATE DATABASE t", "CREATE TABLE t.r (id INT PRIMARY KEY)", "INSERT INTO t.r VALUES (1),(2)"); err != nil {
		t.Fatal(err)
	}

	pos, err := Demote(ctx, da)
	if err != nil {
		t.Fatal(err)
	}
	if ro, _ := a.QueryInt(ctx, "SELECT @@GLOBAL.read_only"); ro != 1 {
		t.Fatal("demoted primary still writable")
	}
	// An ordinary account cannot write any more.
	if err := a.Exec(ctx, "CREATE USER app@localhost IDENTIFIED BY 'app'", "GRANT ALL ON t.* TO app@localhost"); err != nil {
		t.Fatal(err)
	}
	app, err := Open(a.Socket, "app", "app", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if _, err := app.ExecContext(ctx, "INSERT INTO t.r VALUES (3)"); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("write on a demoted primary: %v", err)
	}
	pos2, err := Demote(ctx, da) // the account's grants were written by root: a new position
	if err != nil {
		t.Fatal(err)
	}
	if pos2 == pos {
		t.Logf("position unchanged by root's writes: %s", pos)
	}

	// The replica has not got a far-future position: a bounded wait fails.
	start := time.Now()
	if err := WaitGTID(ctx, db, "0-1-100000", 500*time.Millisecond); !errors.Is(err, ErrGTIDWaitTimeout) {
		t.Fatalf("wait for an unreachable position: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("bounded wait took %v", d)
	}
	if err := WaitGTID(ctx, db, pos2, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := Promote(ctx, db); err != nil {
		t.Fatal(err)
	}
	pb, err := Read(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if pb.ReadOnly || pb.HasReplica {
		t.Fatalf("promoted: %+v", pb)
	}

	// The old primary follows the new one from its own last write.
	if err := AdoptBinlogPos(ctx, da); err != nil {
		t.Fatal(err)
	}
	if err := Follow(ctx, da, Primary{Host: b.Host, Port: testcluster.ClientPort, User: "repl2", Password: pw}); err != nil {
		t.Fatal(err)
	}
	if err := b.Exec(ctx, "INSERT INTO t.r VALUES (4)"); err != nil {
		t.Fatal(err)
	}
	if err := a.WaitCaughtUp(ctx, b); err != nil {
		t.Fatal(err)
	}
	if n, err := a.QueryInt(ctx, "SELECT COUNT(*) FROM t.r"); err != nil || n != 3 {
		t.Fatalf("old primary has %d rows (%v), want 3", n, err)
	}
	pa, err = Read(ctx, da)
	if err != nil {
		t.Fatal(err)
	}
	if !pa.HasReplica || pa.MasterHost != b.Host || pa.MasterPort != testcluster.ClientPort || pa.IORunning != "Yes" || !pa.SQLRunning || pa.LastSQLErrno != 0 {
		t.Fatalf("old primary as a replica: %+v", pa)
	}
	if err := SetReadOnly(ctx, da, true); err != nil {
		t.Fatal(err)
	}
}

// A password never shows in an error.
func TestErrorsHoldNoPassword(t *testing.T) {
	c := testcluster.StartAsync(t, testcluster.Options{Nodes: 1})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const secret = "s3cret-never-shown"
	if err := c.Nodes[0].Exec(ctx, "CREATE USER lowly@localhost"); err != nil {
		t.Fatal(err)
	}
	low, err := Open(c.Nodes[0].Socket, "lowly", "", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer low.Close()
	err = EnsureReplicationUser(ctx, low, "x", secret)
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("unprivileged account: %v", err)
	}
	err = Follow(ctx, low, Primary{Host: "h", Port: 1, User: "u", Password: secret})
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("unprivileged follow: %v", err)
	}
}
