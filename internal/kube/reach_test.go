package kube

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestReach: unreachable only once every try for After has failed; one
// success ends it; a failing try shows at once in Failing.
func TestReach(t *testing.T) {
	var fail bool
	r := &Reach{Ping: func(context.Context) error {
		if fail {
			return errors.New("i/o timeout")
		}
		return nil
	}, After: 10 * time.Second}
	t0 := time.Now()
	ctx := context.Background()
	r.Once(ctx, t0)
	if f, u := r.State(); f || u {
		t.Fatalf("after a success: failing %v, unreachable %v", f, u)
	}
	fail = true
	r.Once(ctx, t0.Add(2*time.Second))
	r.Once(ctx, t0.Add(4*time.Second))
	if !r.Failing() || r.UnreachableAt(t0.Add(11*time.Second)) {
		t.Fatalf("failing %v, unreachable at 9 s of failures %v", r.Failing(), r.UnreachableAt(t0.Add(11*time.Second)))
	}
	if !r.UnreachableAt(t0.Add(12 * time.Second)) {
		t.Fatal("not unreachable after 10 s of failures")
	}
	fail = false
	r.Once(ctx, t0.Add(13*time.Second))
	if f, u := r.State(); f || u || r.UnreachableAt(t0.Add(time.Hour)) {
		t.Fatalf("after a success again: failing %v, unreachable %v", f, u)
	}
}

// TestUnlabel: a cut-off member's label is set once, told once, set again
// every Again while it stays cut off, and forgotten when it is back.
func TestUnlabel(t *testing.T) {
	var mu sync.Mutex
	cut := []string{"galera-0"}
	var sets, told []string
	u := &Unlabel{Every: 5 * time.Millisecond, Again: 60 * time.Millisecond,
		Cut: func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(cut) },
		Set: func(_ context.Context, pod string) error {
			mu.Lock()
			defer mu.Unlock()
			sets = append(sets, pod)
			if len(sets) == 1 {
				return errors.New("the API server said 500") // tried again
			}
			return nil
		},
		Done: func(pod string) { mu.Lock(); defer mu.Unlock(); told = append(told, pod) }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); u.Run(ctx) }()
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	cut = nil
	n := len(sets)
	mu.Unlock()
	time.Sleep(100 * time.Millisecond)
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(told, []string{"galera-0"}) {
		t.Errorf("told %v, want galera-0 once", told)
	}
	// A failure, a success, then one every 60 ms for about 200 ms.
	if n < 3 || n > 6 {
		t.Errorf("%d sets in 200 ms, want a retry and one every 60 ms", n)
	}
	if len(sets) != n {
		t.Errorf("set %d times after the member was back, want none", len(sets)-n)
	}
}
