package kube

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Ping asks the API server for its version: nil when it answers at all
// (whatever the status: the server is there), an error when it cannot be
// reached within the client's timeout.
func (c *Client) Ping(ctx context.Context) error {
	tok, err := c.token()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/version", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("User-Agent", "galera-sentinel")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("the API server: %w", scrub(err, tok))
	}
	resp.Body.Close()
	return nil
}

// Reach follows whether this sentinel reaches the API server. A member
// whose node is cut off from the API server (but not from its peers) is
// in the Primary component and ready, yet nothing it says reaches
// Kubernetes: its writer label cannot move, and after
// node-monitor-grace-period Kubernetes marks its pod not Ready, which
// empties the writer Service while it stays the writer. Its sentinel says
// so to its peers (peer.State.KubeAPIUnreachable), and the writer moves
// to a member that reaches the API server (galeramember.LowestReady).
type Reach struct {
	// Ping is one try (Client.Ping).
	Ping func(ctx context.Context) error
	// Every is how often it tries (2s); After is how long the tries must
	// have failed for Unreachable (10s).
	Every, After time.Duration
	Logger       *slog.Logger

	mu           sync.Mutex
	failingSince time.Time
}

func (r *Reach) every() time.Duration {
	if r.Every <= 0 {
		return 2 * time.Second
	}
	return r.Every
}

func (r *Reach) after() time.Duration {
	if r.After <= 0 {
		return 10 * time.Second
	}
	return r.After
}

func (r *Reach) log() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

// Run tries until ctx ends.
func (r *Reach) Run(ctx context.Context) {
	t := time.NewTicker(r.every())
	defer t.Stop()
	for {
		r.Once(ctx, time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Once makes one try at now.
func (r *Reach) Once(ctx context.Context, now time.Time) {
	err := r.Ping(ctx)
	if ctx.Err() != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err == nil && !r.failingSince.IsZero():
		r.log().Info("the API server answers again", "after", now.Sub(r.failingSince).Round(time.Second))
		r.failingSince = time.Time{}
	case err != nil && r.failingSince.IsZero():
		r.log().Warn("the API server does not answer", "err", err)
		r.failingSince = now
	}
}

// Unreachable reports whether every try for After has failed.
func (r *Reach) Unreachable() bool { return r.UnreachableAt(time.Now()) }

// Failing reports whether the last try failed.
func (r *Reach) Failing() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.failingSince.IsZero()
}

// State is both at once, for the peer state: failing, unreachable.
func (r *Reach) State() (failing, unreachable bool) {
	return r.Failing(), r.Unreachable()
}

// UnreachableAt is Unreachable at now.
func (r *Reach) UnreachableAt(now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.failingSince.IsZero() && now.Sub(r.failingSince) >= r.after()
}
