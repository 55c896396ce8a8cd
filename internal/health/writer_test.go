package health

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestWriterHandover: a writer that stops being the writer while it still
// could take writes answers 200 for the handover window, then 404; one
// that cannot take writes answers 503 at once, window or not.
func TestWriterHandover(t *testing.T) {
	f := &fixedSampler{s: healthy()} // index 0
	p := NewPoller(PollerConfig{Interval: time.Hour, Timeout: time.Second}, testJudge(time.Hour, time.Second), f)
	h := NewHandlers(p)
	lowest := 0
	h.SetWriterView(func() int { return lowest }, 5*time.Second)
	t0 := time.Now()
	now := t0
	h.now = func() time.Time { return now }
	p.pollOnce(context.Background())

	writerz := func() (int, string) {
		rec := httptest.NewRecorder()
		h.writer(rec, httptest.NewRequest("GET", "/writerz", nil))
		return rec.Code, strings.TrimSpace(rec.Body.String())
	}
	expect := func(step string, code int, body string) {
		t.Helper()
		if c, b := writerz(); c != code || !strings.HasPrefix(b, body) {
			t.Errorf("%s: %d %q, want %d %q", step, c, b, code, body)
		}
	}
	expect("the writer", 200, "writer: wsrep_local_index 0")

	p.SetStopping()
	now = t0.Add(2 * time.Second)
	expect("draining, within the window", 200, "writer, handing over (3.0s left): maintenance: shutting down")
	now = t0.Add(5100 * time.Millisecond)
	expect("draining, after the window", 404, "maintenance: shutting down")
	if d := p.Status(p.Snapshot(), now, h.writerVerdict(p.Snapshot(), now)); d.Writer.Role != "standby" || d.Writer.OK {
		t.Errorf("/status writer after the window: %+v", d.Writer)
	}

	// A fresh writer that the view replaces (a lower index became ready).
	f2 := &fixedSampler{s: healthy()}
	p = NewPoller(PollerConfig{Interval: time.Hour, Timeout: time.Second}, testJudge(time.Hour, time.Second), f2)
	h = NewHandlers(p)
	h.SetWriterView(func() int { return lowest }, 5*time.Second)
	h.now = func() time.Time { return now }
	now = t0
	p.pollOnce(context.Background())
	expect("the writer again", 200, "writer")
	lowest = -1 // no view: index 0 is assumed, and so this member is
	f2.mu.Lock()
	f2.s.LocalIndex = 1
	f2.mu.Unlock()
	p.pollOnce(context.Background())
	now = t0.Add(time.Second)
	expect("replaced, within the window", 200, "writer, handing over (4.0s left): not the writer: wsrep_local_index 1, writer is index 0")

	// Split from the cluster inside the window: 503 at once.
	f2.mu.Lock()
	f2.s.ClusterStatus = "non-Primary"
	f2.mu.Unlock()
	p.pollOnce(context.Background())
	expect("split, within the window", 503, "not ready: not Primary: non-Primary")

	// Without a window (serve mode), the writer hands over at once.
	f3 := &fixedSampler{s: healthy()}
	p = NewPoller(PollerConfig{Interval: time.Hour, Timeout: time.Second}, testJudge(time.Hour, time.Second), f3)
	h = NewHandlers(p)
	h.now = func() time.Time { return now }
	p.pollOnce(context.Background())
	expect("writer, no window", 200, "writer")
	p.SetStopping()
	expect("draining, no window", 404, "maintenance: shutting down")
}

// TestChangesSignalled: the poller signals a change of readiness (the
// writer view's cue to tell its peers), and only a change.
func TestChangesSignalled(t *testing.T) {
	f := &fixedSampler{s: healthy()}
	p := NewPoller(PollerConfig{Interval: time.Hour, Timeout: time.Second}, testJudge(time.Hour, time.Second), f)
	p.pollOnce(context.Background())
	drain := func() bool {
		select {
		case <-p.Changes():
			return true
		default:
			return false
		}
	}
	if !drain() {
		t.Fatal("becoming ready was not signalled")
	}
	p.pollOnce(context.Background())
	if drain() {
		t.Error("a poll that changed nothing was signalled")
	}
	p.SetStopping()
	if !drain() {
		t.Error("starting to drain was not signalled")
	}
}
