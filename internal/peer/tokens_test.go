package peer

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/httpserver"
)

const (
	oldToken = "rotation-old-token-0123456789"
	newToken = "rotation-new-token-0123456789"
)

// countingPeer answers /api/v1/state to the tokens it holds and 401 to
// any other, and records which token each request carried.
func countingPeer(t *testing.T, holds ...string) (string, func() []string) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		mu.Lock()
		seen = append(seen, tok)
		mu.Unlock()
		for _, h := range holds {
			if tok == h {
				_ = json.NewEncoder(w).Encode(goodState())
				return
			}
		}
		http.Error(w, "token required", http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	return addr(srv), func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := seen
		seen = nil
		return out
	}
}

// TestClientTokenFallback: a peer that answers 401 to the first token is
// asked again with the second; the one it took is remembered for that
// address (one request from then on), while a peer that takes the first
// still gets only the first.
func TestClientTokenFallback(t *testing.T) {
	oldPeer, oldSeen := countingPeer(t, oldToken)
	newPeer, newSeen := countingPeer(t, newToken)
	c := NewTokensClient(httpserver.StaticTokens(newToken, oldToken), nil, time.Second)
	defer c.Close()
	ctx := context.Background()
	for round := range 3 {
		if _, err := c.State(ctx, oldPeer); err != nil {
			t.Fatalf("round %d: the peer with the old token: %v", round, err)
		}
		if _, err := c.State(ctx, newPeer); err != nil {
			t.Fatalf("round %d: the peer with the new token: %v", round, err)
		}
		got, want := oldSeen(), []string{oldToken}
		if round == 0 {
			want = []string{newToken, oldToken}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("round %d: the old peer was sent %q, want %q", round, got, want)
		}
		if got := newSeen(); len(got) != 1 || got[0] != newToken {
			t.Fatalf("round %d: the new peer was sent %q, want the new token once", round, got)
		}
	}

	// A peer that takes none: every token once, then an error that says
	// the token was refused.
	nonePeer, noneSeen := countingPeer(t, "some-other-token-0123456789")
	_, err := c.State(ctx, nonePeer)
	if !IsTokenRefused(err) {
		t.Fatalf("a peer refusing every token: %v, want a token refusal", err)
	}
	if got := noneSeen(); len(got) != 2 {
		t.Fatalf("a peer refusing every token was sent %d requests, want 2 (each token once)", len(got))
	}
}

// TestServerTokensRotation: the real peer API with a set accepts every
// token in it (403 to the others), and a client holding only the other
// token of a rotation still gets through to it.
func TestServerTokensRotation(t *testing.T) {
	mux := http.NewServeMux()
	(&Server{Tokens: httpserver.StaticTokens(newToken, oldToken), State: goodState}).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, tok := range []string{oldToken, newToken} {
		if _, err := NewClient(tok, nil, time.Second).State(context.Background(), addr(srv)); err != nil {
			t.Fatalf("a client with one token of the set: %v", err)
		}
	}
	_, err := NewClient("unrelated-token-0123456789", nil, time.Second).State(context.Background(), addr(srv))
	if !IsTokenRefused(err) {
		t.Fatalf("an unrelated token: %v", err)
	}
}
