package kube

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestDepartures: a departed member's pod is taken out, tried again after
// a failure; a member back in the component before its turn is left
// alone; each is told once.
func TestDepartures(t *testing.T) {
	var (
		mu    sync.Mutex
		gone  = map[string]bool{"galera-1": true, "galera-2": true}
		calls []string
		fails = map[string]int{"galera-2": 2}
		done  []string
	)
	d := &Departures{
		Out: func(_ context.Context, pod string) error {
			mu.Lock()
			defer mu.Unlock()
			calls = append(calls, pod)
			if fails[pod] > 0 {
				fails[pod]--
				return errors.New("503 Service Unavailable")
			}
			return nil
		},
		Gone: func(name string) bool { mu.Lock(); defer mu.Unlock(); return gone[name] },
		Done: func(pod string, err error) {
			mu.Lock()
			defer mu.Unlock()
			done = append(done, pod+map[bool]string{true: " out", false: " failed"}[err == nil])
		},
		Every: 5 * time.Millisecond, RetryMin: 20 * time.Millisecond, RetryMax: 40 * time.Millisecond,
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := make(chan []string, 2)
	finished := make(chan struct{})
	go func() { defer close(finished); d.Run(ctx, in) }()
	in <- []string{"galera-2", "galera-1", "galera-0"} // galera-0 is not gone
	wait := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			mu.Lock()
			done := ok()
			mu.Unlock()
			if done {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: calls %v, told %v", what, calls, done)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	wait("both taken out", func() bool { return slices.Contains(done, "galera-1 out") && slices.Contains(done, "galera-2 out") })
	mu.Lock()
	if n := len(slices.DeleteFunc(slices.Clone(calls), func(s string) bool { return s != "galera-2" })); n != 3 {
		t.Errorf("galera-2 tried %d times, want 3 (two failures): %v", n, calls)
	}
	if slices.Contains(calls, "galera-0") {
		t.Errorf("a member that is not gone was taken out: %v", calls)
	}
	if !slices.Equal(done, []string{"galera-1 out", "galera-2 failed", "galera-2 out"}) && !slices.Equal(done, []string{"galera-2 failed", "galera-1 out", "galera-2 out"}) {
		t.Errorf("told %v", done)
	}
	// A member back before its turn: failing calls, then back.
	fails["galera-1"] = 1000
	calls = nil
	mu.Unlock()
	in <- []string{"galera-1"}
	wait("tried while gone", func() bool { return len(calls) >= 2 })
	mu.Lock()
	gone["galera-1"] = false
	mu.Unlock()
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	n := len(calls)
	mu.Unlock()
	time.Sleep(150 * time.Millisecond)
	mu.Lock()
	if len(calls) != n {
		t.Errorf("still tried after the member came back: %v", calls)
	}
	mu.Unlock()
	cancel()
	<-finished
}
