package recovery

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/discovery"
	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
)

const token = "loop-test-token-0123456789"

// sentinel serves a fixed peer state over real HTTP.
func sentinel(t *testing.T, st peer.State) string {
	mux := http.NewServeMux()
	(&peer.Server{Token: token, State: func() peer.State { return st }}).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func state(name, instance string, seqno int64) peer.State {
	return peer.State{Version: peer.StateVersion, NodeName: name, InstanceID: instance, Phase: peer.PhaseWaiting,
		PositionKnown: true, UUID: uuid, Seqno: seqno}
}

func TestLoopOnce(t *testing.T) {
	self := galera.Member{Name: "galera-0", PositionKnown: true, Position: galera.Position{UUID: uuid, Seqno: 7}}
	me := sentinel(t, state("galera-0", "me", 7))
	loop := func(addrs ...string) *Loop {
		return &Loop{
			Self: func() galera.Member { return self }, Instance: "me", Expected: 3,
			Source: discovery.Static(addrs), Peers: peer.NewClient(token, nil, time.Second),
			GcommPort: 4567, Interval: time.Millisecond, Logger: slog.New(slog.DiscardHandler),
		}
	}
	ctx := context.Background()

	p1, p2 := sentinel(t, state("galera-1", "a", 5)), sentinel(t, state("galera-2", "b", 3))
	plan, err := loop(me, p1, p2).Once(ctx)
	if err != nil || plan.Action != galera.Bootstrap {
		t.Fatalf("%+v %v", plan, err)
	}
	if !strings.HasPrefix(plan.ClusterAddress, "gcomm://127.0.0.1:4567") || strings.Count(plan.ClusterAddress, ",") != 0 {
		// Every httptest server listens on 127.0.0.1: one gcomm host.
		t.Fatalf("cluster address %q", plan.ClusterAddress)
	}

	dup := sentinel(t, state("galera-1", "c", 9))
	if _, err := loop(me, p1, dup).Once(ctx); err == nil || !strings.Contains(err.Error(), "both claim to be galera-1") {
		t.Fatalf("two sentinels with one name: %v", err)
	}
	impostor := sentinel(t, state("galera-0", "someone-else", 99))
	if _, err := loop(me, p1, impostor).Once(ctx); err == nil || !strings.Contains(err.Error(), "claims this node's name") {
		t.Fatalf("a sentinel with our name: %v", err)
	}
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) }))
	defer garbage.Close()
	plan, err = loop(me, p1, strings.TrimPrefix(garbage.URL, "http://")).Once(ctx)
	if err != nil || plan.Action != galera.Wait || !strings.Contains(plan.Reason, "invalid state") {
		t.Fatalf("a peer answering garbage: %+v %v", plan, err)
	}

	// Run stops waiting when its context ends.
	ctx2, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := loop(me, p1).Run(ctx2); err == nil {
		t.Fatal("Run returned a plan with a member missing")
	}
}

func TestGcommAddress(t *testing.T) {
	got := GcommAddress([]string{"10.0.0.1", "fd00::2", "10.0.0.1"}, 4567)
	if got != "gcomm://10.0.0.1:4567,[fd00::2]:4567" {
		t.Fatal(got)
	}
}

// TestLoopRunning: the survivor of two killed members, its mariadbd
// running outside a Primary component, steps down once both killed ones
// answer with their positions; with one silent, it waits.
func TestLoopRunning(t *testing.T) {
	self := galera.Member{Name: "galera-0", PositionKnown: true, Position: galera.Position{UUID: uuid, Seqno: 3}, Running: true, NonPrimary: true}
	me := sentinel(t, state("galera-0", "me", 3))
	loop := func(addrs ...string) *Loop {
		return &Loop{
			Instance: "me", Expected: 3,
			Source: discovery.Static(addrs), Peers: peer.NewClient(token, nil, time.Second),
			GcommPort: 4567, Interval: time.Millisecond, Logger: slog.New(slog.DiscardHandler),
		}
	}
	ctx := context.Background()
	p1, p2 := sentinel(t, state("galera-1", "a", 5)), sentinel(t, state("galera-2", "b", 3))
	v, d, err := loop(me, p1, p2).Running(ctx, self)
	if err != nil || d.Action != galera.StepDown || len(v.Peers) != 2 {
		t.Fatalf("%+v %+v %v", v, d, err)
	}
	_, d, err = loop(me, p1, "127.0.0.1:1").Running(ctx, self)
	if err != nil || d.Action != galera.Wait || !strings.Contains(d.Reason, "no answer from 127.0.0.1:1") {
		t.Fatalf("a member silent: %+v %v", d, err)
	}
	self.Running = false
	if _, _, err := loop(me, p1, p2).Running(ctx, self); err == nil {
		t.Fatal("Running for a member that does not run")
	}
}
