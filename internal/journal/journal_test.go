package journal

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/readiness"
)

func TestAddReadRotate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	j := Open(path, 600, "node1", "abc", nil)
	t0 := time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC)
	for i := range 10 {
		j.VerdictChanged("ready", readiness.Verdict{OK: i%2 == 0, Class: readiness.ClassReady, Reason: "ready: Primary, Synced, size 3"}, t0.Add(time.Duration(i)*time.Second))
		if err := j.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	// Each line is about 150 bytes: the file rotated, and the two files
	// hold at most twice the limit.
	cur, err1 := os.Stat(path)
	old, err2 := os.Stat(filepath.Join(dir, RotatedName))
	if err1 != nil || err2 != nil || cur.Size() > 600 || old.Size() > 600 {
		t.Fatalf("rotation: %v %v %v %v", cur, err1, old, err2)
	}
	evs, skipped, err := Read(path, time.Time{})
	if err != nil || skipped != 0 || len(evs) == 0 {
		t.Fatalf("read: %d events, %d skipped, %v", len(evs), skipped, err)
	}
	last := evs[len(evs)-1]
	if last.Kind != KindVerdict || last.Probe != "ready" || last.OK == nil || *last.OK || last.Node != "node1" || last.Instance != "abc" ||
		!last.Time.Equal(t0.Add(9*time.Second)) {
		t.Errorf("last event %+v", last)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].Time.Before(evs[i-1].Time) {
			t.Errorf("events out of order: %v before %v", evs[i-1].Time, evs[i].Time)
		}
	}
	if got, _, _ := Read(path, t0.Add(8*time.Second)); len(got) != 2 {
		t.Errorf("since: %d events, want 2", len(got))
	}
	if got := j.Recent(t0.Add(5 * time.Second)); len(got) != 5 {
		t.Errorf("recent: %d events, want 5", len(got))
	}
}

// A journal that cannot be written keeps its events and writes them once
// it can: a data directory that does not exist yet (a member before its
// first join) loses nothing, and the member never stops for it.
func TestUnwritableThenWritable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, FileName)
	j := Open(path, 0, "n", "i", nil)
	j.Add(Event{Kind: KindStart, Reason: "first"})
	j.Add(Event{Kind: KindDecision, Reason: "join: ..."})
	if err := j.Flush(); err == nil {
		t.Fatal("written without a directory")
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	j.Add(Event{Kind: KindMariadbd, Reason: "join (pid 1)"})
	j.Close(time.Second)
	j.Add(Event{Kind: KindStop, Reason: "after Close: memory only"})
	evs, _, err := Read(path, time.Time{})
	if err != nil || len(evs) != 3 || evs[0].Reason != "first" || evs[2].Kind != KindMariadbd {
		t.Fatalf("%+v %v", evs, err)
	}
}

// A torn last line (a crash mid-write) and garbage are skipped, counted,
// and lose nothing else.
func TestReadSkipsGarbage(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	content := `{"time":"2026-12-01T18:00:00Z","node":"n","kind":"start"}
not json at all
{"time":"2026-12-01T18:00:01Z","node":"n","kind":"verdict","probe":"ready","ok":true,"reason":"ready"}
{"kind":"no time"}
{"time":"2026-12-01T18:00:02Z","node":"n","ki`
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	evs, skipped, err := Read(path, time.Time{})
	if err != nil || len(evs) != 2 || skipped != 3 {
		t.Fatalf("%d events, %d skipped, %v", len(evs), skipped, err)
	}
}

func TestFollow(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	j := Open(path, 400, "n", "i", nil)
	j.Add(Event{Kind: KindStart, Reason: "before following"})
	j.Flush()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got := make(chan Event, 100)
	go Follow(ctx, path, 5*time.Millisecond, func(e Event) { got <- e })
	time.Sleep(50 * time.Millisecond)
	for i := range 8 { // rotates on the way
		j.Add(Event{Kind: KindVerdict, Reason: strings.Repeat("x", 40) + string(rune('a'+i))})
		j.Flush()
		time.Sleep(30 * time.Millisecond)
	}
	seen := 0
	for seen < 8 {
		select {
		case e := <-got:
			if e.Reason == "before following" {
				t.Fatal("follow repeated an event written before it started")
			}
			seen++
		case <-ctx.Done():
			t.Fatalf("followed %d of 8 events", seen)
		}
	}
}

func TestEventsEndpoint(t *testing.T) {
	j := Open("", 0, "n", "i", nil)
	now := time.Now()
	j.Add(Event{Time: now.Add(-time.Hour), Kind: KindStart})
	j.Add(Event{Time: now, Kind: KindDecision, Reason: "wait: ..."})
	mux := http.NewServeMux()
	j.Routes().Register(mux)
	for q, want := range map[string]int{"": 2, "?since=10m": 1, "?since=" + now.Add(-2*time.Hour).UTC().Format(time.RFC3339): 2, "?limit=1": 1, "?limit=5": 2} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/events"+q, nil))
		var evs []Event
		if err := json.Unmarshal(w.Body.Bytes(), &evs); err != nil || w.Code != 200 || len(evs) != want {
			t.Errorf("%q: %d %v: %d events, want %d", q, w.Code, err, len(evs), want)
		}
	}
	for q, want := range map[string]string{"?since=yesterday": "RFC 3339", "?limit=-3": "positive number", "?limit=x": "positive number"} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/events"+q, nil))
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), want) {
			t.Errorf("%s: %d %q", q, w.Code, w.Body.String())
		}
	}
}

// Adding never waits for the file: a stalled volume (here: a FIFO nobody
// reads, on which open blocks) must not hold up the poller.
func TestAddNeverWaitsForTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skip(err)
	}
	j := Open(path, 0, "n", "i", nil)
	done := make(chan struct{})
	go func() {
		for range 100 {
			j.Add(Event{Kind: KindVerdict, Reason: "x"})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Add blocked on a stalled file")
	}
	if got := len(j.Recent(time.Time{})); got != 100 {
		t.Errorf("%d events in memory, want 100", got)
	}
	// Unblock the writer (open the FIFO for reading) so the test ends clean.
	if f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
		defer f.Close()
	}
	j.Close(100 * time.Millisecond)
}
