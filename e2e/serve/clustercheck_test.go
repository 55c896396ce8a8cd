package serve

import (
	"context"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
)

// TestHAProxyHTTPCheckForms: every form of HAProxy's HTTP check that
// clustercheck users have in their configs marks a Synced node UP and a
// desynced node DOWN through `serve` on the sentinel port, as clustercheck
// did. The bare `option httpchk` sends OPTIONS / HTTP/1.0, which a
// GET-only server answers 405: that is what marked every node DOWN.
func TestHAProxyHTTPCheckForms(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Nodes: 1})
	n := c.Nodes[0]
	createMonitorUser(t, n)
	cfg := testServeConfig(n.Addr())
	cfg.Listen = n.SentinelAddr()
	startSentinel(t, cfg)
	ctx := context.Background()

	const inter = "    default-server inter 300ms fall 2 rise 2 port 19200\n"
	for _, form := range []struct{ name, lines string }{
		{"bare option httpchk (OPTIONS /)", "    option httpchk\n"},
		{"option httpchk <uri> (OPTIONS /readyz)", "    option httpchk /readyz\n"},
		{"option httpchk GET /", "    option httpchk GET /\n"},
		{"option httpchk HEAD /readyz HTTP/1.1 with a Host header", "    option httpchk HEAD /readyz HTTP/1.1\\r\\nHost:\\ db\n"},
		{"http-check send meth GET uri /readyz ver HTTP/1.1", "    option httpchk\n    http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host db\n    http-check expect status 200\n"},
	} {
		t.Run(form.name, func(t *testing.T) {
			h := c.StartHAProxyWith(t, form.lines+inter)
			wait := func(want string) time.Duration {
				t.Helper()
				begin := time.Now()
				wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				if err := h.WaitStatus(wctx, n.Name, want); err != nil {
					t.Fatal(err)
				}
				return time.Since(begin)
			}
			wait("UP")
			if err := n.Exec(ctx, "SET GLOBAL wsrep_desync=ON"); err != nil {
				t.Fatal(err)
			}
			d := wait("DOWN")
			if err := n.Exec(ctx, "SET GLOBAL wsrep_desync=OFF"); err != nil {
				t.Fatal(err)
			}
			u := wait("UP")
			t.Logf("desync -> DOWN in %v, back UP in %v", d.Round(time.Millisecond), u.Round(time.Millisecond))
		})
	}
}
