package health

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/httpserver"
	"github.com/galera-sentinel/galera-sentinel/internal/readiness"
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

// testJudge is Galera's default policy behind the generic checks.
func testJudge(maxStale, grace time.Duration) readiness.Judge[galera.Sample] {
	return readiness.Judge[galera.Sample]{Policy: galera.Policy{}, Limits: readiness.Limits{MaxStaleness: maxStale, LivenessGrace: grace}}
}

func startServer(t *testing.T, s Sampler[galera.Sample]) string {
	t.Helper()
	p := NewPoller(PollerConfig{Interval: 50 * time.Millisecond, Timeout: time.Second}, testJudge(time.Second, time.Second), s)
	mux := http.NewServeMux()
	NewHandlers(p).Register(mux)
	ln, err := httpserver.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { p.Run(ctx); done <- nil }()
	go func() { done <- httpserver.Serve(ctx, ln, mux, slog.New(slog.DiscardHandler)) }()
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
	// What HAProxy's httpchk variants and clustercheck clients send: the
	// probes answer OPTIONS and HEAD like GET, and nothing else.
	for _, method := range []string{"OPTIONS", "HEAD", "GET"} {
		for _, path := range []string{"/", "/readyz", "/writerz", "/livez", "/startupz"} {
			req, _ := http.NewRequest(method, base+path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || (method != "HEAD" && len(b) == 0) {
				t.Errorf("%s %s = %d %q, want 200 with the verdict", method, path, resp.StatusCode, b)
			}
		}
	}
	for _, method := range []string{"PUT", "DELETE", "PATCH"} {
		req, _ := http.NewRequest(method, base+"/readyz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s /readyz = %d, want 405", method, resp.StatusCode)
		}
	}
	if code, _ := get(t, base+"/readyz/extra"); code != 404 {
		t.Errorf("GET /readyz/extra = %d, want 404", code)
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
