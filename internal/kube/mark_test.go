package kube

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is a label setter that records every call and fails the next
// fail calls.
type recorder struct {
	mu    sync.Mutex
	calls []string // value, or "!value" for a failed call
	at    []time.Time
	fail  int
}

func (r *recorder) set(ctx context.Context, v string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.at = append(r.at, time.Now())
	if r.fail > 0 {
		r.fail--
		r.calls = append(r.calls, "!"+v)
		return errors.New("api server unavailable")
	}
	r.calls = append(r.calls, v)
	return nil
}

func (r *recorder) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// waitCalls waits for the calls to end with want.
func (r *recorder) waitCalls(t *testing.T, want ...string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		got := r.snapshot()
		if len(got) >= len(want) && slices.Equal(got[len(got)-len(want):], want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("calls %q, want them to end with %q", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWant(t *testing.T) {
	for _, c := range []struct {
		writer, stopping bool
		want             string
	}{{true, false, "true"}, {false, false, "false"}, {true, true, "false"}, {false, true, "false"}} {
		if got := Want(c.writer, c.stopping); got != c.want {
			t.Errorf("Want(%v, %v) = %q, want %q", c.writer, c.stopping, got, c.want)
		}
	}
}

// TestWriterLabel: a sequence of /writerz verdicts and API failures, and
// the label calls it makes.
func TestWriterLabel(t *testing.T) {
	r := &recorder{}
	var writer atomic.Bool
	writer.Store(true) // already the writer at the first look: still "false" first
	l := &Mark{Set: r.set, On: writer.Load, Every: 10 * time.Millisecond, Reassert: time.Hour,
		RetryMin: 100 * time.Millisecond, RetryMax: 200 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()

	r.waitCalls(t, "false", "true")
	time.Sleep(100 * time.Millisecond)
	if got := r.snapshot(); !slices.Equal(got, []string{"false", "true"}) {
		t.Fatalf("calls %q: an unchanged label is not set again before Reassert", got)
	}

	// Standby: "false" within a look or two.
	begin := time.Now()
	writer.Store(false)
	r.waitCalls(t, "true", "false")
	if took := time.Since(begin); took > 100*time.Millisecond {
		t.Fatalf("role change -> label after %v, want about Every (10ms)", took)
	}

	// Writer again, the API server fails three times: tried again with a
	// doubling pause (100ms, 200ms, 200ms), then set.
	r.mu.Lock()
	r.fail = 3
	n0 := len(r.calls)
	r.mu.Unlock()
	writer.Store(true)
	r.waitCalls(t, "!true", "!true", "!true", "true")
	r.mu.Lock()
	at := slices.Clone(r.at[n0:])
	r.mu.Unlock()
	for i, want := range []time.Duration{100, 200, 200} {
		gap := at[i+1].Sub(at[i])
		if gap < want*time.Millisecond || gap > want*time.Millisecond+100*time.Millisecond {
			t.Errorf("pause %d: %v, want about %dms", i+1, gap, want)
		}
	}

	// A failed "false", then the writer again during the back-off: tried
	// at once (the failed call may have reached the server).
	r.mu.Lock()
	r.fail = 1
	r.mu.Unlock()
	writer.Store(false)
	r.waitCalls(t, "!false")
	begin = time.Now()
	writer.Store(true)
	r.waitCalls(t, "!false", "true")
	if took := time.Since(begin); took > 60*time.Millisecond {
		t.Fatalf("changed value during the back-off tried after %v, want at once", took)
	}

	// Stop while the writer (and /writerz still 200, as in the handover
	// window of a drain): "false" before Run returns, retried.
	r.mu.Lock()
	r.fail = 1
	r.mu.Unlock()
	cancel()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if got := r.snapshot(); !slices.Equal(got[len(got)-2:], []string{"!false", "false"}) {
		t.Fatalf("calls %q, want the last to be a failed then a successful \"false\"", got)
	}
}

// TestWriterLabelReassert: an unchanged label is set again every
// Reassert (someone may have edited it).
func TestWriterLabelReassert(t *testing.T) {
	r := &recorder{}
	l := &Mark{Set: r.set, On: func() bool { return true }, Every: 10 * time.Millisecond, Reassert: 100 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 450*time.Millisecond)
	defer cancel()
	l.Run(ctx)
	got := r.snapshot()
	trues := 0
	for _, v := range got {
		if v == "true" {
			trues++
		}
	}
	if got[0] != "false" || got[len(got)-1] != "false" || trues < 3 || trues > 5 {
		t.Fatalf("calls %q: want false, true about every 100ms, false at the end", got)
	}
}

// TestWriterLabelStopBounded: an API server that never answers does not
// hold the stop longer than StopFor.
func TestWriterLabelStopBounded(t *testing.T) {
	l := &Mark{Set: func(ctx context.Context, v string) error { <-ctx.Done(); return ctx.Err() },
		On: func() bool { return true }, Every: 10 * time.Millisecond, StopFor: 300 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	begin := time.Now()
	l.Run(ctx)
	if took := time.Since(begin); took > time.Second {
		t.Fatalf("Run returned after %v, want about 50ms + StopFor 300ms", took)
	}
}
