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

// startSentinel runs `galera-sentinel serve` as a process over a real
// one-node cluster and returns the node and the sentinel's /readyz URL
// once it answers 200.
func startSentinel(b *testing.B) (*testcluster.Node, string) {
	if _, err := exec.LookPath("wrk"); err != nil {
		b.Fatal("wrk is not installed (scripts/install-deps.sh)")
	}
	c := testcluster.Start(b, testcluster.Options{Nodes: 1})
	n := c.Nodes[0]
	if err := n.Exec(context.Background(), "CREATE USER 'sentinel'@'%' IDENTIFIED BY 'bench'"); err != nil {
		b.Fatal(err)
	}
	bin := build(b, "../cmd/galera-sentinel")
	const listen = "127.0.0.1:19200"
	cmd := exec.Command(bin, "serve", "--mysql-addr", n.Addr(), "--mysql-user", "sentinel", "--listen", listen, "--log-format", "json")
	cmd.Env = append(os.Environ(), "GALERA_SENTINEL_MYSQL_PASSWORD=bench")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := "http://" + listen + "/readyz"
	waitOK(b, url)
	return n, url
}

// build compiles a package into the benchmark's temporary directory.
func build(b *testing.B, pkg string) string {
	bin := filepath.Join(b.TempDir(), filepath.Base(pkg))
	if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		b.Fatalf("build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

func waitOK(b *testing.B, url string) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s not answering 200: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// wrk runs wrk against url and returns its output.
func wrk(b *testing.B, url string, args ...string) []byte {
	out, err := exec.Command("wrk", append(args, "--latency", url)...).CombinedOutput()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	if m := regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`).FindSubmatch(out); m != nil {
		b.Errorf("%s answers were not 200 under load", m[1])
	}
	return out
}

// BenchmarkReadyzCeiling measures /readyz of a real sentinel process (a
// real node behind it) against a bare net/http server answering a 7-byte
// body, in the same run, alternately (four rounds of 3 s each), with the
// same wrk load (one thread, 64 connections, keep-alive). The figure that matters is the ratio: the
// machine is shared and noisy, so absolute rates move between runs.
func BenchmarkReadyzCeiling(b *testing.B) {
	_, readyz := startSentinel(b)
	bare := exec.Command(build(b, "./bare"), "127.0.0.1:19299")
	if err := bare.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bare.Process.Kill(); bare.Wait() })
	bareURL := "http://127.0.0.1:19299/readyz"
	waitOK(b, bareURL)

	// Four short alternating rounds rather than two long ones: the
	// machine's other load drifts, and alternating often lets both sides
	// see the same drift.
	const rounds = 4
	var sumReady, sumBare float64
	b.ResetTimer()
	for i := range rounds {
		r := wrkFloat(b, wrk(b, readyz, "-t1", "-c64", "-d3s"), `Requests/sec:\s+([\d.]+)`)
		w := wrkFloat(b, wrk(b, bareURL, "-t1", "-c64", "-d3s"), `Requests/sec:\s+([\d.]+)`)
		fmt.Printf("round %d: /readyz %.0f req/s, bare net/http %.0f req/s, ratio %.2f\n", i+1, r, w, r/w)
		sumReady, sumBare = sumReady+r, sumBare+w
	}
	b.StopTimer()
	ratio := sumReady / sumBare
	b.ReportMetric(sumReady/rounds, "readyz-req/s")
	b.ReportMetric(sumBare/rounds, "bare-req/s")
	b.ReportMetric(ratio, "ratio")
	fmt.Printf("/readyz: %.0f req/s; bare net/http: %.0f req/s; /readyz at %.0f%% of the bare handler (goal: 90%%)\n",
		sumReady/rounds, sumBare/rounds, 100*ratio)
}

// BenchmarkReadyzWrk loads /readyz of a sentinel process watching a real
// node with wrk (keep-alive), and reports requests per second, p50/p99
// latency, and the database's Questions per second with and without the
// load: probes are answered from memory, so the second must not grow.
func BenchmarkReadyzWrk(b *testing.B) {
	n, url := startSentinel(b)
	ctx := context.Background()
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
	out := wrk(b, url, "-t1", "-c16", fmt.Sprintf("-d%ds", int(window.Seconds())))
	loaded := float64(questions()-q1-1) / window.Seconds()
	b.StopTimer()

	rps := wrkFloat(b, out, `Requests/sec:\s+([\d.]+)`)
	p50 := wrkLatency(b, out, "50%")
	p99 := wrkLatency(b, out, "99%")
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

// BenchmarkReadyzWithScrapes measures /readyz of a real sentinel process
// with and without a Prometheus scrape of /metrics every second, in the
// same run, alternately (wrk -t1 -c64, 5 s each), and the scrape's own
// latency. The goal: within 5% of the throughput without scrapes.
func BenchmarkReadyzWithScrapes(b *testing.B) {
	_, readyz := startSentinel(b)
	metricsURL := readyz[:len(readyz)-len("/readyz")] + "/metrics"
	scrapes := func(stop <-chan struct{}, took chan<- []time.Duration) {
		var d []time.Duration
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				took <- d
				return
			case <-t.C:
			}
			t0 := time.Now()
			resp, err := http.Get(metricsURL)
			if err != nil {
				b.Error(err)
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			d = append(d, time.Since(t0))
		}
	}
	const rounds = 2
	var sumWith, sumWithout float64
	var all []time.Duration
	b.ResetTimer()
	for i := range rounds {
		without := wrkFloat(b, wrk(b, readyz, "-t1", "-c64", "-d5s"), `Requests/sec:\s+([\d.]+)`)
		stop, took := make(chan struct{}), make(chan []time.Duration, 1)
		go scrapes(stop, took)
		with := wrkFloat(b, wrk(b, readyz, "-t1", "-c64", "-d5s"), `Requests/sec:\s+([\d.]+)`)
		close(stop)
		d := <-took
		all = append(all, d...)
		fmt.Printf("round %d: /readyz %.0f req/s without scrapes, %.0f req/s with one scrape a second (%d scrapes), ratio %.3f\n",
			i+1, without, with, len(d), with/without)
		sumWith, sumWithout = sumWith+with, sumWithout+without
	}
	b.StopTimer()
	var worst, total time.Duration
	for _, d := range all {
		total += d
		worst = max(worst, d)
	}
	ratio := sumWith / sumWithout
	b.ReportMetric(ratio, "ratio")
	if len(all) > 0 {
		b.ReportMetric(total.Seconds()*1e3/float64(len(all)), "scrape-ms-mean")
		b.ReportMetric(worst.Seconds()*1e3, "scrape-ms-max")
	}
	fmt.Printf("/readyz with a scrape every second at %.1f%% of without (goal: at least 95%%); scrape under that load: mean %.1f ms, max %.1f ms\n",
		100*ratio, total.Seconds()*1e3/float64(max(len(all), 1)), worst.Seconds()*1e3)
}
