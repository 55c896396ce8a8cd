package testcluster

import (
	"context"
	"testing"
	"time"
)

// Eventually calls cond every interval until it returns nil, and fails t
// with what and cond's last error once ctx ends first. It is the one
// polling loop of the tests: a condition, never a fixed sleep.
func Eventually(t testing.TB, ctx context.Context, what string, every time.Duration, cond func() error) {
	t.Helper()
	for {
		err := cond()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not within the deadline: %v", what, err)
		case <-time.After(every):
		}
	}
}

// EventuallyWithin is Eventually with a deadline of within from now.
func EventuallyWithin(t testing.TB, within time.Duration, what string, every time.Duration, cond func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	Eventually(t, ctx, what, every, cond)
}
