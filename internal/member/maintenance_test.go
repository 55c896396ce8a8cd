package member

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/journal"
)

// idleSessions is a server whose client sessions the test sets: CloseIdle
// ends the idle ones; CutAll must never be called by maintenance.
type idleSessions struct {
	mu         sync.Mutex
	idle, busy int
	err        error
	calls, cut int
}

func (s *idleSessions) CloseIdle(context.Context) (int, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.err != nil {
		return 0, 0, s.err
	}
	n := s.idle
	s.idle = 0
	return n, s.busy, nil
}

func (s *idleSessions) CutAll(context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cut++
	return 0, nil
}

func (s *idleSessions) set(idle int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.idle = idle
}

func (s *idleSessions) counts() (calls, cut int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls, s.cut
}

// TestMaintenanceDrain: nothing is closed outside maintenance nor before
// the drain delay; past it the idle sessions are closed on every look,
// counted and journaled; busy ones are never cut; the end of maintenance
// is journaled with the total; a failing process list is logged once.
func TestMaintenanceDrain(t *testing.T) {
	var mu sync.Mutex
	inMaint := false
	clock := time.Unix(1000, 0)
	var events []string
	closedTotal := 0
	s := &idleSessions{busy: 2}
	tick := make(chan time.Time)
	var logs strings.Builder
	d := &MaintenanceDrain{
		InMaintenance: func() bool { mu.Lock(); defer mu.Unlock(); return inMaint },
		Sessions:      s, Delay: 3 * time.Second, Tick: tick,
		Now:    func() time.Time { mu.Lock(); defer mu.Unlock(); return clock },
		Closed: func(n int) { mu.Lock(); defer mu.Unlock(); closedTotal += n },
		Events: func(e journal.Event) { mu.Lock(); defer mu.Unlock(); events = append(events, e.Reason) },
		Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil)),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	// step sends one tick at the clock advanced by by; the send returns
	// once Run took it, and the next send once Run handled it.
	step := func(by time.Duration) {
		mu.Lock()
		clock = clock.Add(by)
		mu.Unlock()
		tick <- clock
	}
	settle := func() { tick <- clock } // Run finished the previous tick

	s.set(4)
	step(time.Second)
	settle()
	if calls, _ := s.counts(); calls != 0 {
		t.Fatalf("outside maintenance: %d process list rounds", calls)
	}
	mu.Lock()
	inMaint = true
	mu.Unlock()
	step(time.Second) // maintenance begins
	step(2 * time.Second)
	settle()
	if calls, _ := s.counts(); calls != 0 {
		t.Fatalf("within the drain delay: %d rounds", calls)
	}
	step(time.Second) // 3 s in: past the delay
	settle()
	if calls, _ := s.counts(); calls == 0 {
		t.Fatal("past the drain delay: no round")
	}
	s.set(3)
	step(time.Second)
	settle()
	s.mu.Lock()
	s.err = errors.New("Error 1227: Access denied; you need the CONNECTION ADMIN privilege")
	s.mu.Unlock()
	step(time.Second)
	step(time.Second)
	settle()
	mu.Lock()
	inMaint = false
	mu.Unlock()
	step(time.Second)
	settle()
	mu.Lock()
	defer mu.Unlock()
	if closedTotal != 7 {
		t.Errorf("closed %d sessions, want 7 (4 then 3)", closedTotal)
	}
	if _, cut := s.counts(); cut != 0 {
		t.Errorf("maintenance cut sessions %d times", cut)
	}
	want := []string{"maintenance: 4 client sessions closed between transactions, 2 left",
		"maintenance: 3 client sessions closed between transactions, 2 left",
		"maintenance ended: 7 client sessions closed between transactions"}
	if strings.Join(events, "\n") != strings.Join(want, "\n") {
		t.Errorf("journal:\n%s\nwant:\n%s", strings.Join(events, "\n"), strings.Join(want, "\n"))
	}
	if n := strings.Count(logs.String(), "cannot close client sessions"); n != 1 {
		t.Errorf("the failing process list is logged %d times, want once:\n%s", n, logs.String())
	}
}

// lockedWriter is w under mu (the test reads the log while Run writes).
type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
