package testcluster

import (
	"testing"
	"time"
)

func TestAsyncReplicaReceivesPrimaryRows(t *testing.T) {
	c := StartAsync(t, Options{Nodes: 2})
	ctx := ctxFor(t, time.Minute)
	primary, replica := c.Nodes[0], c.Nodes[1]
	if ro, err := replica.QueryInt(ctx, "SELECT @@GLOBAL.read_only"); err != nil || ro != 1 {
		t.Fatalf("replica read_only = %d, %v; want 1", ro, err)
	}
	if ro, err := primary.QueryInt(ctx, "SELECT @@GLOBAL.read_only"); err != nil || ro != 0 {
		t.Fatalf("primary read_only = %d, %v; want 0", ro, err)
	}
	if err := primary.Exec(ctx, "CREATE DATABASE t", "CREATE TABLE t.r (id INT PRIMARY KEY)", "INSERT INTO t.r VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	if err := replica.WaitCaughtUp(ctx, primary); err != nil {
		t.Fatal(err)
	}
	if got, err := replica.QueryInt(ctx, "SELECT COUNT(*) FROM t.r WHERE id=42"); err != nil || got != 1 {
		t.Fatalf("row written on node1: %d on node2 (%v), want 1", got, err)
	}
	pb, _, _, err := primary.GTIDPos(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, rs, _, err := replica.GTIDPos(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if pb == "" || pb != rs {
		t.Fatalf("primary gtid_binlog_pos %q, replica gtid_slave_pos %q: want equal, not empty", pb, rs)
	}
	st, err := replica.SlaveStatus(ctx)
	if err != nil || st == nil || st["Using_Gtid"] != "Slave_Pos" {
		t.Fatalf("replica status %v, %v: want Using_Gtid Slave_Pos", st["Using_Gtid"], err)
	}
	if none, err := primary.SlaveStatus(ctx); err != nil || none != nil {
		t.Fatalf("primary has a replica configuration: %v, %v", none, err)
	}
}

func TestAsyncDropFromStallsIOThread(t *testing.T) {
	c := StartAsync(t, Options{Nodes: 2, Netns: true})
	ctx := ctxFor(t, time.Minute)
	primary, replica := c.Nodes[0], c.Nodes[1]
	if err := replica.DropFrom(primary); err != nil {
		t.Fatal(err)
	}
	if err := primary.Exec(ctx, "CREATE DATABASE d"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if n, err := replica.QueryInt(ctx, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME='d'"); err != nil || n != 0 {
		t.Fatalf("database created behind a DROP arrived: %d, %v", n, err)
	}
	if err := replica.Heal(); err != nil {
		t.Fatal(err)
	}
	// The stalled IO thread notices on its own only after
	// slave_net_timeout; restart it so the test stays short.
	if err := replica.Exec(ctx, "STOP SLAVE IO_THREAD", "START SLAVE IO_THREAD"); err != nil {
		t.Fatal(err)
	}
	if err := replica.WaitCaughtUp(ctx, primary); err != nil {
		t.Fatal(err)
	}
}
