package main

import (
	"context"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
	"github.com/galera-sentinel/galera-sentinel/internal/testsentinel"
)

// The integration tests that run the built binary live in e2e/*, where go
// test runs them side by side; this package keeps the tests of its own
// functions, the deploy and build checks, and the step-down tests of
// recovery_deadlock_test.go. These names keep those tests as they were.

const runToken = testsentinel.Token

func TestMain(m *testing.M) { testsentinel.Main(m) }

// sentinelBinary is the built galera-sentinel.
var sentinelBinary = testsentinel.Build

// runCluster is testsentinel.RunCluster under the names this package's
// tests use.
type runCluster struct {
	*testsentinel.RunCluster
	c *testcluster.Cluster
}

func newRunCluster(t *testing.T, opts testcluster.Options) *runCluster {
	t.Helper()
	rc := testsentinel.NewRunCluster(t, opts)
	return &runCluster{RunCluster: rc, c: rc.C}
}

func (rc *runCluster) startAll(nodes ...*testcluster.Node) { rc.T.Helper(); rc.StartAll(nodes...) }

func (rc *runCluster) killAll() { rc.T.Helper(); rc.KillAll() }

func (rc *runCluster) stopAll(ctx context.Context, nodes ...*testcluster.Node) {
	rc.T.Helper()
	rc.StopAll(ctx, nodes...)
}

func (rc *runCluster) waitSynced(ctx context.Context, size int, nodes ...*testcluster.Node) time.Duration {
	rc.T.Helper()
	return rc.WaitSynced(ctx, size, nodes...)
}

var (
	writeRows = testsentinel.WriteRows
	countRows = testsentinel.CountRows
	checkRows = testsentinel.CheckRows
	stateUUID = testsentinel.StateUUID
	countLogs = testsentinel.CountLogs
	tailFile  = testsentinel.TailFile
	tryProbe  = testsentinel.TryProbe
)
