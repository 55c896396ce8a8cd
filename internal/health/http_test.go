package health

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
)

// fixedSampler is a hand-written Sampler for tests of the HTTP layer,
// which never looks at how samples are made. Database behaviour is tested
// against real mariadbd in cmd/galera-sentinel.
type fixedSampler struct {
	mu  sync.Mutex
	s   galera.Sample
	err error
}

func (f *fixedSampler) Sample(ctx context.Context) (galera.Sample, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.s, f.err
}

func healthy() galera.Sample {
	return galera.Sample{WsrepOn: true, Connected: true, Ready: true, ClusterStatus: "Primary",
		LocalState: galera.StateSynced, ClusterSize: 3, RejectQueries: "NONE"}
}

func startServer(t *testing.T, s Sampler) string {
	t.Helper()
	p := NewPoller(PollerConfig{Interval: 50 * time.Millisecond, Timeout: time.Second,
		Policy: galera.Policy{MaxStaleness: time.Second, LivenessGrace: time.Second}}, s)
	mux := http.NewServeMux()
	NewHandlers(p).Register(mux)
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { p.Run(ctx); done <- nil }()
	go func() { done <- Serve(ctx, ln, mux, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	})
	return ln.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestEndpoints(t *testing.T) {
	f := &fixedSampler{s: healthy()}
	addr := startServer(t, f)
	base := "http://" + addr
	deadline := time.Now().Add(2 * time.Second)
	for {
		if code, _ := get(t, base+"/readyz"); code == 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for path, want := range map[string]int{"/readyz": 200, "/": 200, "/livez": 200, "/startupz": 200, "/writerz": 200, "/status": 200, "/nope": 404} {
		if code, body := get(t, base+path); code != want {
			t.Errorf("GET %s = %d %q, want %d", path, code, body, want)
		}
	}
	resp, err := http.Post(base+"/readyz", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /readyz = %d, want 405", resp.StatusCode)
	}
	if code, body := get(t, base+"/readyz"); code != 200 || body != "ready: Primary, Synced, size 3\n" {
		t.Errorf("/readyz body %q", body)
	}

	f.mu.Lock()
	f.err = errors.New("dial tcp 127.0.0.1:3306: connect: connection refused")
	f.mu.Unlock()
	deadline = time.Now().Add(3 * time.Second)
	var code int
	var body string
	for time.Now().Before(deadline) {
		if code, body = get(t, base+"/readyz"); code == 503 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code != 503 || !strings.HasPrefix(body, "stale: last good sample") || !strings.Contains(body, "connection refused") || strings.Count(body, "\n") != 1 {
		t.Errorf("after the node went away: %d %q", code, body)
	}
	if code, _ := get(t, base+"/startupz"); code != 200 {
		t.Errorf("startupz forgot the node was Synced once")
	}
}

// TestAbusiveClients: thousands of idle connections, slowloris headers,
// oversized headers and garbage do not stop a well-behaved probe from
// being answered promptly.
func TestAbusiveClients(t *testing.T) {
	addr := startServer(t, &fixedSampler{s: healthy()})
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		conns = append(conns, c)
		return c
	}
	// 2000 connections that never send a byte.
	for range 2000 {
		dial()
	}
	// 200 slowloris clients: a header line, never finished.
	for range 200 {
		c := dial()
		fmt.Fprintf(c, "GET /readyz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
	}
	// Garbage and an oversized header get a 4xx, not a hang or a crash.
	c := dial()
	fmt.Fprintf(c, "\x16\x03\x01\x02\x00garbage\r\n\r\n")
	if line := readStatusLine(t, c); !strings.Contains(line, " 400 ") {
		t.Errorf("garbage request: %q, want 400", line)
	}
	c = dial()
	fmt.Fprintf(c, "GET /readyz HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", 64<<10))
	if line := readStatusLine(t, c); !strings.Contains(line, " 431 ") {
		t.Errorf("64 KiB header: %q, want 431", line)
	}

	client := &http.Client{Timeout: 2 * time.Second}
	var worst time.Duration
	for range 200 {
		begin := time.Now()
		resp, err := client.Get("http://" + addr + "/readyz")
		if err != nil {
			t.Fatalf("well-behaved probe under abuse: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if d := time.Since(begin); d > worst {
			worst = d
		}
	}
	t.Logf("slowest of 200 probes with 2200 abusive connections open: %v", worst)
	if worst > 50*time.Millisecond {
		t.Errorf("slowest probe took %v under abuse, want under 50ms", worst)
	}
	// The slowloris connections are cut after the header timeout.
	slow := conns[2000]
	slow.SetReadDeadline(time.Now().Add(readHeaderTimeout + 3*time.Second))
	if _, err := io.ReadAll(slow); err != nil {
		t.Errorf("slowloris connection not closed by the server: %v", err)
	}
}

func readStatusLine(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("read status line: %v", err)
	}
	return line
}
