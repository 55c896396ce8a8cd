package testsentinel

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/recovery"
	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
)

// WriteRows inserts count rows tagged tag into app.rows on n, one
// statement each, and returns count.
func WriteRows(ctx context.Context, t testing.TB, n *testcluster.Node, tag string, count int) int {
	t.Helper()
	if err := n.Exec(ctx, "CREATE DATABASE IF NOT EXISTS app", "CREATE TABLE IF NOT EXISTS app.rows (id INT AUTO_INCREMENT PRIMARY KEY, tag VARCHAR(32))"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < count; i++ {
		if err := n.Exec(ctx, fmt.Sprintf("INSERT INTO app.rows (tag) VALUES ('%s')", tag)); err != nil {
			t.Fatalf("insert %d of %s: %v", i, tag, err)
		}
	}
	return count
}

// CountRows is the number of rows in app.rows on n.
func CountRows(ctx context.Context, t testing.TB, n *testcluster.Node) int64 {
	t.Helper()
	v, err := n.QueryInt(ctx, "SELECT COUNT(*) FROM app.rows")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// CheckRows checks that every node holds exactly want rows.
func CheckRows(ctx context.Context, t testing.TB, want int, nodes ...*testcluster.Node) {
	t.Helper()
	for _, n := range nodes {
		// A node just Synced may apply the last writesets a moment later.
		var got int64
		for i := 0; i < 50; i++ {
			if got = CountRows(ctx, t, n); got == int64(want) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if got != int64(want) {
			t.Errorf("%s holds %d rows, want %d: committed data lost", n.Name, got, want)
		}
	}
}

// StateUUID is n's wsrep cluster state UUID.
func StateUUID(ctx context.Context, t testing.TB, n *testcluster.Node) string {
	t.Helper()
	u, err := n.QueryString(ctx, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='WSREP_CLUSTER_STATE_UUID'")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// WaitSavedView waits until each node's sentinel has saved a Primary
// component of size members, every one named.
func WaitSavedView(t testing.TB, size int, nodes ...*testcluster.Node) {
	t.Helper()
	for _, n := range nodes {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		testcluster.Eventually(t, ctx, fmt.Sprintf("%s: a saved view of %d members", n.Name, size), 100*time.Millisecond, func() error {
			v, err := recovery.ReadLastView(n.DataDir)
			if err == nil && v != nil && v.Size == size && len(v.Members) == size {
				return nil
			}
			return fmt.Errorf("%+v, %v", v, err)
		})
		cancel()
	}
}
