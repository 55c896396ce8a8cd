package testsentinel

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
)

// Writers returns the members whose /writerz answers 200.
func Writers(nodes []*testcluster.Node) []string {
	var w []string
	for _, n := range nodes {
		if code, _, err := TryProbe("http://" + n.SentinelAddr() + "/writerz"); err == nil && code == 200 {
			w = append(w, n.Name)
		}
	}
	return w
}

// WaitOneWriter waits until exactly one member other than not answers 200
// on /writerz and returns it and how long that took.
func WaitOneWriter(t testing.TB, nodes []*testcluster.Node, not string, within time.Duration) (string, time.Duration) {
	t.Helper()
	begin := time.Now()
	var w []string
	for time.Since(begin) < within {
		if w = Writers(nodes); len(w) == 1 && w[0] != not {
			return w[0], time.Since(begin)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("writers after %v: %v, want exactly one other than %q", within, w, not)
	return "", 0
}

// CurrentWriter is the member whose /writerz answers 200, waiting for
// exactly one.
func CurrentWriter(t testing.TB, nodes []*testcluster.Node) *testcluster.Node {
	t.Helper()
	name, _ := WaitOneWriter(t, nodes, "", 20*time.Second)
	for _, n := range nodes {
		if n.Name == name {
			return n
		}
	}
	t.Fatalf("writer %q is not a member", name)
	return nil
}

// WaitWritable waits until n's /writerz says it could take writes (200
// or 404): back in the cluster, Synced.
func WaitWritable(t testing.TB, n *testcluster.Node, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	testcluster.Eventually(t, ctx, n.Name+": /writerz 200 or 404", 50*time.Millisecond, func() error {
		code, body, err := TryProbe("http://" + n.SentinelAddr() + "/writerz")
		if err == nil && (code == 200 || code == 404) {
			return nil
		}
		return fmt.Errorf("%d %q %v", code, body, err)
	})
}
