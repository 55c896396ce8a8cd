// Package bench holds benchmarks that need real processes: the sentinel
// binary, a real mariadbd node, and wrk. Run them with bench/probe.sh.
package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
)

// BenchmarkReadyzWrk loads /readyz of a sentinel process watching a real
// node with wrk (keep-alive), and reports requests per second, p50/p99
// latency, and the database's Questions per second with and without the
// load: probes are answered from memory, so the second must not grow.
func BenchmarkReadyzWrk(b *testing.B) {
	if _, err := exec.LookPath("wrk"); err != nil {
		b.Fatal("wrk is not installed (scripts/install-deps.sh)")
	}
	c := testcluster.Start(b, testcluster.Options{Nodes: 1})
	n := c.Nodes[0]
	ctx := context.Background()
	if err := n.Exec(ctx, "CREATE USER 'sentinel'@'%' IDENTIFIED BY 'bench'"); err != nil {
		b.Fatal(err)
	}
	bin := filepath.Join(b.TempDir(), "galera-sentinel")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/galera-sentinel").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	const listen = "127.0.0.1:19200"
	cmd := exec.Command(bin, "serve", "--mysql-addr", n.Addr(), "--mysql-user", "sentinel", "--listen", listen, "--log-format", "json")
	cmd.Env = append(os.Environ(), "GALERA_SENTINEL_MYSQL_PASSWORD=bench")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	url := "http://" + listen + "/readyz"
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("sentinel not ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	questions := func() int64 {
		v, err := n.QueryInt(ctx, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='QUESTIONS'")
		if err != nil {
			b.Fatal(err)
		}
		return v
	}
	const window = 10 * time.Second
	q0 := questions()
	time.Sleep(window)
	idle := float64(questions()-q0-1) / window.Seconds() // -1: our own query

	b.ResetTimer()
	q1 := questions()
	out, err := exec.Command("wrk", "-t1", "-c16", fmt.Sprintf("-d%ds", int(window.Seconds())), "--latency", url).CombinedOutput()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	loaded := float64(questions()-q1-1) / window.Seconds()
	b.StopTimer()

	rps := wrkFloat(b, out, `Requests/sec:\s+([\d.]+)`)
	p50 := wrkLatency(b, out, "50%")
	p99 := wrkLatency(b, out, "99%")
	if m := regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`).FindSubmatch(out); m != nil {
		b.Errorf("%s answers were not 200 under load", m[1])
	}
	b.ReportMetric(rps, "req/s")
	b.ReportMetric(p50.Seconds()*1e3, "p50-ms")
	b.ReportMetric(p99.Seconds()*1e3, "p99-ms")
	b.ReportMetric(idle, "db-questions/s-idle")
	b.ReportMetric(loaded, "db-questions/s-loaded")
	fmt.Printf("readyz: %.0f req/s (wrk -t1 -c16, keep-alive), p50 %v, p99 %v\n", rps, p50, p99)
	fmt.Printf("database Questions/s: %.2f with no probe load, %.2f under load (ratio %.2f)\n", idle, loaded, loaded/idle)
}

func wrkFloat(b *testing.B, out []byte, re string) float64 {
	m := regexp.MustCompile(re).FindSubmatch(out)
	if m == nil {
		b.Fatalf("wrk output has no %s:\n%s", re, out)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

func wrkLatency(b *testing.B, out []byte, pct string) time.Duration {
	m := regexp.MustCompile(pct + `\s+([\d.]+)(us|ms|s)`).FindSubmatch(out)
	if m == nil {
		b.Fatalf("wrk output has no %s latency:\n%s", pct, out)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[string(m[2])]
	return time.Duration(v * float64(unit))
}
