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

// A browser at "/" gets the page; load balancers, curl and HEAD keep the
// clustercheck answer there.
func TestRootPageNegotiation(t *testing.T) {
	p := NewPoller(PollerConfig{Interval: time.Hour, Timeout: time.Second}, testJudge(time.Hour, time.Hour), &fixedSampler{s: healthy()})
	h := NewHandlers(p)
	h.SetPage(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>page</html>") }),
		func(r *http.Request) bool { return strings.Contains(r.Header.Get("Accept"), "text/html") })
	mux := http.NewServeMux()
	h.Register(mux)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	for p.Snapshot().Polls == 0 {
		time.Sleep(time.Millisecond)
	}
	for _, tc := range []struct {
		method, accept, want string
	}{
		{"GET", "text/html,application/xhtml+xml,*/*;q=0.8", "<html>page</html>"},
		{"GET", "", "ready: Primary, Synced, size 3\n"},
		{"GET", "*/*", "ready: Primary, Synced, size 3\n"},
		{"OPTIONS", "text/html", "ready: Primary, Synced, size 3\n"},
		{"HEAD", "text/html", ""},
	} {
		r, _ := http.NewRequest(tc.method, "/", nil)
		if tc.accept != "" {
			r.Header.Set("Accept", tc.accept)
		}
		w := &recorder{header: http.Header{}}
		mux.ServeHTTP(w, r)
		if tc.method == "HEAD" {
			if w.code != 200 || strings.Contains(w.body.String(), "page") {
				t.Errorf("HEAD /: %d %q", w.code, w.body.String())
			}
			continue
		}
		if got := w.body.String(); got != tc.want {
			t.Errorf("%s / Accept %q: %q, want %q", tc.method, tc.accept, got, tc.want)
		}
	}
}

type recorder struct {
	header http.Header
	code   int
	body   strings.Builder
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(c int)   { r.code = c }
func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = 200
	}
	return r.body.Write(b)
}
