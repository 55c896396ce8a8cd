package mysqlstat

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
)

// TestReadOnOneConnection: the Galera sample, a one-row wide result and a
// name/value query all go through one connection of a real node (its
// connection id does not change), and bad results are errors, not guesses.
func TestReadOnOneConnection(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Nodes: 1})
	n := c.Nodes[0]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Exec(ctx, "CREATE USER 'sentinel'@'%' IDENTIFIED BY 'mysqlstat-test'", "GRANT SLAVE MONITOR ON *.* TO 'sentinel'@'%'"); err != nil {
		t.Fatal(err)
	}
	cl, err := New(Config{Addr: n.Addr(), User: "sentinel", Password: "mysqlstat-test", ConnectLimit: 10 * time.Second, StatementTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	s, err := cl.Sample(ctx)
	if err != nil || !s.SyncedPrimary() || s.ClusterSize != 1 {
		t.Fatalf("sample %+v, %v", s, err)
	}
	var ids []string
	connID := func(q Querier) error {
		row, err := q.Row("SELECT CONNECTION_ID() AS id, 'x' AS tag")
		if err != nil {
			return err
		}
		if row["tag"] != "x" {
			t.Errorf("row %v", row)
		}
		ids = append(ids, row["id"])
		return nil
	}
	for range 3 {
		if err := cl.Read(ctx, connID); err != nil {
			t.Fatal(err)
		}
		if _, err := cl.Sample(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if ids[0] == "" || ids[0] != ids[1] || ids[1] != ids[2] {
		t.Errorf("connection ids %q: more than one connection", ids)
	}
	// A server that replicates from nobody has no replica row: nil, no
	// error.
	err = cl.Read(ctx, func(q Querier) error {
		row, err := q.Row("SHOW REPLICA STATUS")
		if err == nil && row != nil {
			t.Errorf("SHOW REPLICA STATUS on a plain node: %v", row)
		}
		return err
	})
	if err != nil {
		t.Fatalf("SHOW REPLICA STATUS: %v", err)
	}
	err = cl.Read(ctx, func(q Querier) error {
		_, err := q.Row("SELECT 1 UNION SELECT 2")
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "more than one row") {
		t.Errorf("two rows: %v", err)
	}
	// The failed read dropped the connection; the next one reconnects.
	if _, err := cl.Sample(ctx); err != nil {
		t.Fatalf("after a failed read: %v", err)
	}
	err = cl.Read(ctx, func(q Querier) error {
		_, err := q.Pairs("SELECT 1, 2, 3")
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "3 columns") {
		t.Errorf("three columns as pairs: %v", err)
	}
}
