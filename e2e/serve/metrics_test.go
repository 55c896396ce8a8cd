package serve

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/metrics/scrape"
	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
)

// TestMetricsOnRealCluster: a sentinel next to each member of a real
// 3-node cluster; /metrics, parsed with Prometheus's own parser, says
// what the node says; and a desync shorter than the scrape interval still
// moves the verdict-change counter although the gauge reads ready both
// times.
func TestMetricsOnRealCluster(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Nodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bases := serveEach(t, c, 100*time.Millisecond)
	const ns = "galera_sentinel_"
	get := func(base string) *scrape.Page {
		t.Helper()
		p, err := scrape.Get(base+"/metrics", "")
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	check := func(p *scrape.Page, want float64, name string, labels ...string) {
		t.Helper()
		if got, ok := p.Value(name, labels...); !ok || got != want {
			t.Errorf("%s%v = %v (present %v), want %v", name, labels, got, ok, want)
		}
	}
	uuid, err := c.Nodes[0].QueryString(ctx, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='wsrep_cluster_state_uuid'")
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range bases {
		n := c.Nodes[i]
		p := get(b)
		// Rates need two samples: wait for a few polls.
		for polls, _ := p.Value(ns + "polls_total"); polls < 3; polls, _ = p.Value(ns + "polls_total") {
			time.Sleep(50 * time.Millisecond)
			p = get(b)
		}
		check(p, 1, ns+"up")
		check(p, 3, ns+"cluster_size")
		check(p, 1, ns+"local_state", "state", "Synced")
		check(p, 1, ns+"cluster_status", "status", "Primary")
		check(p, 1, ns+"verdict", "probe", "ready")
		check(p, 1, ns+"verdict", "probe", "live")
		check(p, 1, ns+"verdict", "probe", "started")
		check(p, 32<<20, ns+"gcache_size_bytes")
		check(p, 1, ns+"cluster_info", "cluster_uuid", uuid, "node_name", n.Name)
		idx, err := n.QueryInt(ctx, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='wsrep_local_index'")
		if err != nil {
			t.Fatal(err)
		}
		check(p, float64(idx), ns+"local_index")
		check(p, float64(b2i(idx == 0)), ns+"verdict", "probe", "writer") // serve: the writer is index 0
		for _, name := range []string{"recv_queue", "send_queue", "cert_failures_total", "bf_aborts_total", "flow_control_paused_seconds_total",
			"flow_control_paused_ratio", "replicated_bytes_total", "received_bytes_total", "cluster_conf_id", "sample_age_seconds"} {
			if _, ok := p.Value(ns + name); !ok {
				t.Errorf("%s: %s%s missing", n.Name, ns, name)
			}
		}
		if lat, ok := p.Value(ns+"repl_latency_seconds", "stat", "avg"); !ok || lat < 0 || lat > 1 {
			t.Errorf("%s: repl latency %v %v", n.Name, lat, ok)
		}
	}

	// The flap: 300 ms of wsrep_desync=ON on node2, between two scrapes.
	n2, base := c.Nodes[1], bases[1]
	before := get(base)
	check(before, 1, ns+"verdict", "probe", "ready")
	desynced, _ := before.Value(ns+"verdict_changes_total", "probe", "ready", "reason", "desynced")
	readied, _ := before.Value(ns+"verdict_changes_total", "probe", "ready", "reason", "ready")
	if err := n2.Exec(ctx, "SET GLOBAL wsrep_desync=ON"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if err := n2.Exec(ctx, "SET GLOBAL wsrep_desync=OFF"); err != nil {
		t.Fatal(err)
	}
	waitProbe(t, base+"/readyz", 200, "ready", 2*time.Second)
	after := get(base)
	check(after, 1, ns+"verdict", "probe", "ready")
	check(after, desynced+1, ns+"verdict_changes_total", "probe", "ready", "reason", "desynced")
	check(after, readied+1, ns+"verdict_changes_total", "probe", "ready", "reason", "ready")
	if age, ok := after.Value(ns+"seconds_since_verdict_change", "probe", "ready"); !ok || age > 2 {
		t.Errorf("seconds since the ready verdict changed: %v %v, want under 2", age, ok)
	}
	// The desync was seen as a state change too (Synced → Donor/Desynced
	// → Synced).
	if age, ok := after.Value(ns + "seconds_since_state_change"); !ok || age > 2 {
		t.Errorf("seconds since the state changed: %v %v, want under 2", age, ok)
	}
	body := fmt.Sprint(after.Families[ns+"verdict_changes_total"])
	t.Logf("verdict changes on %s after the flap: %s", n2.Name, strings.Join(strings.Fields(body), " ")[:min(len(body), 400)])
}

// serveEach starts a `serve` sentinel next to every node of a Synced
// cluster, polling every poll, and returns their base URLs once each says
// ready.
func serveEach(t *testing.T, c *testcluster.Cluster, poll time.Duration) []string {
	t.Helper()
	createMonitorUser(t, c.Nodes[0])
	var bases []string
	for _, n := range c.Nodes {
		cfg := testServeConfig(n.Addr())
		cfg.PollInterval = poll
		bases = append(bases, startSentinel(t, cfg))
	}
	for _, b := range bases {
		waitProbe(t, b+"/readyz", 200, fmt.Sprintf("ready: Primary, Synced, size %d", len(c.Nodes)), 10*time.Second)
	}
	return bases
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
