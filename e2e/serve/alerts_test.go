package serve

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/metrics/scrape"
	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
	"github.com/galera-sentinel/galera-sentinel/internal/testsentinel"
)

// recording is what the sentinels' /metrics said, once a second, as
// promtool input series: series name with labels → one value per second
// ("_" where the series was absent).
type recording struct {
	mu     sync.Mutex
	n      int // seconds recorded
	series map[string][]string
}

// recorded are the series the shipped rules under test read.
var recorded = []string{"galera_sentinel_verdict", "galera_sentinel_maintenance", "galera_sentinel_stopping",
	"galera_sentinel_cluster_info", "galera_sentinel_cluster_status", "galera_sentinel_cluster_size"}

func (r *recording) add(instance string, p *scrape.Page) {
	for _, name := range recorded {
		for _, m := range p.Families[name].GetMetric() {
			labels := []string{`job="galera"`, fmt.Sprintf("instance=%q", instance)}
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			key := name + "{" + strings.Join(labels, ",") + "}"
			vals := r.series[key]
			for len(vals) < r.n {
				vals = append(vals, "_")
			}
			r.series[key] = append(vals, fmt.Sprint(m.GetGauge().GetValue()))
		}
	}
}

// value is instance's value of name{labels...} at second i, or "_".
func (r *recording) value(i int, name, instance string, labels ...string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for key, vals := range r.series {
		if !strings.HasPrefix(key, name+"{") || !strings.Contains(key, fmt.Sprintf("instance=%q", instance)) {
			continue
		}
		ok := true
		for j := 0; j+1 < len(labels); j += 2 {
			ok = ok && strings.Contains(key, fmt.Sprintf("%s=%q", labels[j], labels[j+1]))
		}
		if ok && i < len(vals) {
			return vals[i]
		}
	}
	return "_"
}

// first is the first second from `from` on at which cond holds, or -1.
func (r *recording) first(from int, cond func(i int) bool) int {
	for i := from; i < r.len(); i++ {
		if cond(i) {
			return i
		}
	}
	return -1
}

func (r *recording) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// TestAlertsOnRecordedPartition records the sentinels' /metrics once a
// second while a real cluster goes through a partition (node3 cut off:
// not Primary, not ready, for over a minute) and then a split brain
// (node3 forced Primary with pc.bootstrap while node1 and node2 run as
// the other Primary component), and runs promtool's rule tests of the
// shipped alert rules over those series: GaleraNodeNotReady fires for
// node3 only, GaleraSplitBrain fires once there are two components and
// not before.
func TestAlertsOnRecordedPartition(t *testing.T) {
	promtool := testcluster.RequireBinary(t, "promtool")
	c := testcluster.Start(t, testcluster.Options{Nodes: 3, Netns: true})
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	bases := serveEach(t, c, 250*time.Millisecond)

	rec := &recording{series: map[string][]string{}}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			pages := make([]*scrape.Page, len(bases))
			var wg sync.WaitGroup
			for i, b := range bases {
				wg.Add(1)
				go func() {
					defer wg.Done()
					p, err := scrape.Get(b+"/metrics", "")
					if err != nil {
						t.Errorf("scrape %s: %v", c.Nodes[i].Name, err)
						p = &scrape.Page{}
					}
					pages[i] = p
				}()
			}
			wg.Wait()
			rec.mu.Lock()
			for i, p := range pages {
				rec.add(c.Nodes[i].Name, p)
			}
			rec.n++
			rec.mu.Unlock()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	n3 := c.Nodes[2]
	notReady := func(i int) bool { return rec.value(i, "galera_sentinel_verdict", n3.Name, "probe", "ready") == "0" }
	primary := func(i int) bool {
		return rec.value(i, "galera_sentinel_cluster_status", n3.Name, "status", "Primary") == "1"
	}
	waitFor := func(what string, within time.Duration, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(within); !cond(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %v", what, within)
			}
		}
	}

	// galera-sentinel status over the same sentinels: exit 0 and no
	// problem while healthy; exit 1 naming why once partitioned, and
	// once split.
	statusOf := func() (string, error) {
		var hosts []string
		for _, b := range bases {
			hosts = append(hosts, strings.TrimPrefix(b, "http://"))
		}
		out, stderr, err := testsentinel.Command(ctx, t, []string{"status", "--peers=" + strings.Join(hosts, ","), "--format=json"})
		if err != nil {
			// What the command says is wrong is on its standard error.
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr))
		}
		return out, err
	}
	if out, err := statusOf(); err != nil || !strings.Contains(out, `"healthy": true`) {
		t.Errorf("status of a healthy cluster: %v\n%s", err, out)
	}
	time.Sleep(8 * time.Second)
	if err := n3.Partition(); err != nil {
		t.Fatal(err)
	}
	var cut int
	waitFor("node3 not ready in the recording", 30*time.Second, func() bool { cut = rec.first(0, notReady); return cut >= 0 })
	// Not ready for longer than the rule's `for: 1m`.
	waitFor("66 s of node3 not ready", 2*time.Minute, func() bool { return rec.len() > cut+66 })
	if out, err := statusOf(); err == nil || !strings.Contains(err.Error(), "node3: not in a Primary component") ||
		!strings.Contains(err.Error(), "the Primary component has 2 of the 3 members asked") || !strings.Contains(out, `"healthy": false`) {
		t.Errorf("status of a partitioned cluster: %v\n%s", err, out)
	}
	if err := n3.Exec(ctx, "SET GLOBAL wsrep_provider_options='pc.bootstrap=YES'"); err != nil {
		t.Fatal(err)
	}
	var split int
	waitFor("node3 Primary on its own in the recording", 30*time.Second, func() bool { split = rec.first(cut, primary); return split >= 0 })
	waitFor("35 s of two Primary components", time.Minute, func() bool { return rec.len() > split+35 })
	close(stop)
	<-done
	if _, err := statusOf(); err == nil || !strings.Contains(err.Error(), "two Primary components: 3 members are Primary") {
		t.Errorf("status of a split cluster: %v", err)
	} else {
		t.Logf("status, split: %v", err)
	}
	t.Logf("recorded %d s: node3 not ready from %d s, Primary on its own from %d s", rec.len(), cut, split)
	for i := cut; i < cut+62; i++ {
		if !notReady(i) {
			t.Fatalf("node3 was ready again at %d s, during the partition", i)
		}
	}

	const notReadyDesc = `The load balancer sends it no traffic. The reason is in galera_sentinel_verdict_info{probe="ready"} and on /readyz.`
	const splitDesc = "Writes to either side are lost to the other. Stop the side that should not be Primary before anything else."
	var b strings.Builder
	rules, err := filepath.Abs("../../deploy/prometheus/galera-sentinel-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "rule_files: [%q]\nevaluation_interval: 1s\ntests:\n  - interval: 1s\n    input_series:\n", rules)
	for key, vals := range rec.series {
		for len(vals) < rec.n {
			vals = append(vals, "_")
		}
		fmt.Fprintf(&b, "      - series: %q\n        values: %q\n", key, strings.Join(vals, " "))
	}
	fmt.Fprintf(&b, `    alert_rule_test:
      - {eval_time: %[1]ds, alertname: GaleraNodeNotReady, exp_alerts: []}
      - {eval_time: %[1]ds, alertname: GaleraSplitBrain, exp_alerts: []}
      - eval_time: %[2]ds
        alertname: GaleraNodeNotReady
        exp_alerts:
          - exp_labels: {severity: warning, job: galera, instance: node3, probe: ready}
            exp_annotations: {summary: "Galera member node3 is not ready", description: %[4]q}
      - {eval_time: %[2]ds, alertname: GaleraSplitBrain, exp_alerts: []}
      - eval_time: %[3]ds
        alertname: GaleraSplitBrain
        exp_alerts:
          - exp_labels: {severity: critical, job: galera}
            exp_annotations: {summary: "Two Primary components in galera", description: %[5]q}
`, max(cut-1, 0), cut+62, split+34, notReadyDesc, splitDesc)
	file := filepath.Join(t.TempDir(), "recorded.test.yml")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "test", "rules", file).CombinedOutput()
	if err != nil {
		keep := filepath.Join(os.TempDir(), "galera-sentinel-recorded-partition.test.yml")
		os.WriteFile(keep, []byte(b.String()), 0o644)
		t.Fatalf("promtool test rules on the recorded partition (kept in %s): %v\n%s", keep, err, out)
	}
	t.Logf("promtool test rules on %d recorded series: %s", len(rec.series), strings.TrimSpace(string(out)))
}
