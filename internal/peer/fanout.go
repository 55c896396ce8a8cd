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
