package sentinel

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/httpserver"
	"github.com/galera-sentinel/galera-sentinel/internal/journal"
	"github.com/galera-sentinel/galera-sentinel/internal/metrics"
	"github.com/galera-sentinel/galera-sentinel/internal/readiness"
)

// sampler answers the sample it holds; the stack's tests need a node
// whose state they set, not a database.
type sampler struct {
	mu sync.Mutex
	s  galera.Sample
}

func (f *sampler) Sample(context.Context) (galera.Sample, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.s
	s.At = time.Now()
	return s, nil
}

func synced() galera.Sample {
	return galera.Sample{WsrepOn: true, Connected: true, Ready: true, ClusterStatus: "Primary",
		LocalState: galera.StateSynced, ClusterSize: 3, RejectQueries: "NONE"}
}

// TestStackWire: the wired stack serves the probes, the admin API behind
// the token, /metrics, the journal and the mode's own routes; its first
// task is the poller; a notification is counted in the metrics and the
// journal; IsWriter follows /writerz.
func TestStackWire(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	b := &Base{Instance: "test", Metrics: metrics.New(metrics.Options{Version: "test"}),
		Journal: journal.Open("", 0, "node-a", "test", logger), Tokens: httpserver.StaticTokens("stack-test-token-0123456789"), Logger: logger}
	defer b.Journal.Close(time.Second)
	smp := &sampler{s: synced()}
	judge := readiness.Judge[galera.Sample]{Policy: galera.Policy{}, Limits: readiness.Limits{MaxStaleness: 5 * time.Second, LivenessGrace: 30 * time.Second}}
	n := NewStack(b, health.PollerConfig{Interval: 20 * time.Millisecond, Timeout: time.Second, Logger: logger}, judge, health.Sampler[galera.Sample](smp), metrics.Galera)
	own := httpserver.RoutesFunc(func(mux *http.ServeMux) {
		mux.HandleFunc("GET /own", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "mode's own") })
	})
	var ranBeside bool
	w := n.Wire(&Wired{Tasks: []func(context.Context){func(context.Context) { ranBeside = true }}}, own)
	if len(w.Tasks) != 2 || w.Mux == nil || w.Poked == nil || w.IsWriter == nil {
		t.Fatalf("wired: %d tasks, mux %v, poked %v, writer %v", len(w.Tasks), w.Mux != nil, w.Poked != nil, w.IsWriter != nil)
	}
	w.Tasks[1](context.Background())
	if !ranBeside {
		t.Error("the mode's task is not kept after the poller")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Tasks[0](ctx) }()
	defer func() { cancel(); <-done }()

	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		w.Mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if code, _ := get("/readyz"); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			code, body := get("/readyz")
			t.Fatalf("/readyz %d %s: the first task does not run the poller", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !w.IsWriter() {
		t.Error("IsWriter: false for the only Synced node")
	}
	if code, body := get("/own"); code != http.StatusOK || body != "mode's own" {
		t.Errorf("/own: %d %q", code, body)
	}
	rec := httptest.NewRecorder()
	w.Mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/maintenance?state=on", nil))
	if rec.Code != http.StatusUnauthorized && rec.Code != http.StatusForbidden {
		t.Errorf("maintenance without the token: %d", rec.Code)
	}
	w.Poked.Notify()
	if code, body := get("/metrics"); code != http.StatusOK || !strings.Contains(body, "notifications_total 1") {
		t.Errorf("/metrics %d: the notification is not counted:\n%s", code, body)
	}
	var notified bool
	for _, e := range b.Journal.Recent(time.Time{}) {
		notified = notified || e.Kind == journal.KindNotification
	}
	if !notified {
		t.Error("the notification is not in the journal")
	}
	if code, _ := get("/api/v1/events"); code != http.StatusOK {
		t.Errorf("/api/v1/events: %d", code)
	}
	if w.InMaintenance() {
		t.Error("in maintenance before the operator asked")
	}
	if err := n.Poller.SetMaintenance(true); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); !w.InMaintenance(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("InMaintenance stays false in maintenance")
		}
	}
	n.Poller.SetStopping()
	for deadline := time.Now().Add(5 * time.Second); w.InMaintenance(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("InMaintenance stays true while stopping: the drain before the stop closes the sessions")
		}
	}
	if fresh := n.Fresh(time.Minute)(); fresh == nil || fresh.LocalState != galera.StateSynced {
		t.Errorf("Fresh: %+v", fresh)
	}
	if n.Fresh(-time.Second)() != nil {
		t.Error("Fresh vouches for a sample older than its bound")
	}
}
