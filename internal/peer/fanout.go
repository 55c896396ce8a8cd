package peer

import (
	"context"
	"sync"
)

// Answer is one address's answer to a fan-out call.
type Answer[T any] struct {
	Addr  string
	Value T
	Err   error
}

// FanOut calls f for every address at once and returns when all have
// answered, in the order of addrs. Each call is bounded by f's own
// deadline (the Client's timeout) and by ctx.
func FanOut[T any](ctx context.Context, addrs []string, f func(ctx context.Context, addr string) (T, error)) []Answer[T] {
	out := make([]Answer[T], len(addrs))
	var wg sync.WaitGroup
	for i, a := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := f(ctx, a)
			out[i] = Answer[T]{Addr: a, Value: v, Err: err}
		}()
	}
	wg.Wait()
	return out
}

// FanOutUntil calls f for every address at once and returns the answers
// in the order they came as soon as enough says they are enough, or all
// have answered; the calls still under way are cancelled. A peer that
// does not answer (a node powered off) then delays nothing once the
// others have said what is needed.
func FanOutUntil[T any](ctx context.Context, addrs []string, f func(ctx context.Context, addr string) (T, error), enough func(got []Answer[T]) bool) []Answer[T] {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan Answer[T], len(addrs)) // never blocks a late call
	for _, a := range addrs {
		go func() {
			v, err := f(ctx, a)
			ch <- Answer[T]{Addr: a, Value: v, Err: err}
		}()
	}
	got := make([]Answer[T], 0, len(addrs))
	for range addrs {
		got = append(got, <-ch)
		if enough(got) {
			break
		}
	}
	return got
}
