package ops

import (
	"context"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
	"github.com/galera-sentinel/galera-sentinel/internal/testsentinel"
)

// TestDrainDelayOutlastsTheProbe is the timing contract with load
// balancers that have no agent, only an HTTP probe (Azure, AWS NLB, GCP):
// the balancer stops sending new connections only after `threshold`
// failed probes, `interval` apart, so --drain-delay must outlast
// interval × threshold plus the probe already in flight. HAProxy plays a
// cloud probe at a fifth of Azure's pace (interval 1.5s, threshold 2).
// With --drain-delay = 3 intervals the member is out of the balancer
// before mariadbd stops taking connections; with 1s (the control, shorter
// than 2 intervals) mariadbd stops while the balancer still sends it
// clients, so the test can fail.
func TestDrainDelayOutlastsTheProbe(t *testing.T) {
	rc := testsentinel.NewRunCluster(t, testcluster.Options{Nodes: 1})
	n := rc.C.Nodes[0]
	h := rc.C.StartHAProxyWith(t, "    option httpchk GET /readyz\n    default-server inter 1500ms fall 2 rise 2 port 19200\n")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	for _, tc := range []struct {
		delay        string
		outOfLBFirst bool
	}{{"4500ms", true}, {"1s", false}} {
		rc.Start(n, "--drain-delay="+tc.delay, "--drain-timeout=10s")
		rc.WaitSynced(ctx, 1)
		if err := h.WaitStatus(ctx, n.Name, "UP"); err != nil {
			t.Fatal(err)
		}
		begin := time.Now()
		if err := n.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		var down, closed time.Duration
		for (down == 0 || closed == 0) && ctx.Err() == nil {
			if st, err := h.Stat(); err == nil && down == 0 && strings.HasPrefix(st[n.Name], "DOWN") {
				down = time.Since(begin)
			}
			if closed == 0 && !accepts(n.Addr()) {
				closed = time.Since(begin)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if code, err := n.ExitCode(ctx); err != nil || code != 0 {
			t.Fatalf("sentinel exit %d, %v", code, err)
		}
		t.Logf("--drain-delay=%s: out of the balancer after %v, mariadbd closed after %v", tc.delay, down.Round(time.Millisecond), closed.Round(time.Millisecond))
		if (down < closed) != tc.outOfLBFirst {
			t.Errorf("--drain-delay=%s: out of the balancer after %v, mariadbd closed after %v; want out first = %v", tc.delay, down, closed, tc.outOfLBFirst)
		}
	}
}

// accepts reports whether something accepts TCP connections at addr.
func accepts(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
