package metrics_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/member"
	"github.com/galera-sentinel/galera-sentinel/internal/metrics"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
)

// exported is every family name a sentinel serves: a Synced node's, with
// two samples (for the rates), and run mode's.
func exported(t *testing.T) map[string]bool {
	f := newFixture(t)
	metrics.Member(f.m, func() peer.State {
		return peer.State{Phase: peer.PhaseRunning, PositionKnown: true, Seqno: 1, Action: member.Join, Decision: "join: node1 is in a Primary component"}
	}, func() galera.View { return galera.View{Expected: 2, Peers: []galera.Member{{Name: "node1"}}} })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t0 := time.Now()
	f.src.set(func() (galera.Sample, error) { return synced(t0, 0, 0), nil })
	go f.poller.Run(ctx)
	f.poll(t, ctx, 1)
	f.src.set(func() (galera.Sample, error) { return synced(t0.Add(time.Second), 1e8, 1<<20), nil })
	f.poll(t, ctx, 1)
	mfs, err := f.m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	return names
}

var seriesName = regexp.MustCompile(`galera_sentinel_[a-z_]+`)

// TestDeployQueriesUseServedSeries: every series the shipped alert rules
// and the Grafana dashboard name is one a sentinel serves (a renamed
// metric must not leave a dashboard panel empty or an alert silent), and
// every dashboard query is valid PromQL (promtool checks it as a rule).
func TestDeployQueriesUseServedSeries(t *testing.T) {
	have := exported(t)
	dir := "../../deploy/prometheus"
	rules, err := os.ReadFile(filepath.Join(dir, "galera-sentinel-rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "galera-sentinel-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	var exprs []string
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, src := range []struct {
		what string
		text string
	}{{"the alert rules", string(rules)}, {"the dashboard", strings.Join(exprs, "\n")}} {
		names := seriesName.FindAllString(src.text, -1)
		if len(names) < 8 {
			t.Errorf("%s name only %d series: the check would prove nothing", src.what, len(names))
		}
		for _, name := range names {
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
			if !have[name] && !have[base] {
				t.Errorf("%s name %s, which no sentinel serves", src.what, name)
			}
		}
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool not installed (scripts/install-deps.sh)")
		}
		t.Skip("promtool not installed (scripts/install-deps.sh)")
	}
	// Each query as a recording rule: promtool parses it. Grafana's $job
	// becomes a plain value.
	var rf strings.Builder
	rf.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, e := range exprs {
		fmt.Fprintf(&rf, "      - record: dashboard:q%d\n        expr: %q\n", i, strings.ReplaceAll(e, "$job", "galera"))
	}
	file := filepath.Join(t.TempDir(), "dashboard-queries.yml")
	if err := os.WriteFile(file, []byte(rf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput(); err != nil {
		t.Fatalf("a dashboard query is not valid PromQL: %v\n%s", err, out)
	}
}
