package galeramember

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/discovery"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
)

// testPeer is a real peer API server whose state the test sets.
type testPeer struct {
	mu      sync.Mutex
	st      peer.State
	changed int
	addr    string
	view    *WriterView // the view this peer's API kicks, if any
}

func (p *testPeer) state() peer.State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st
}

func (p *testPeer) set(f func(*peer.State)) {
	p.mu.Lock()
	f(&p.st)
	p.mu.Unlock()
}

func startPeer(t *testing.T, name string, index int) *testPeer {
	p := &testPeer{st: peer.State{Version: peer.StateVersion, NodeName: name, InstanceID: strings.Repeat("ab", 8), Phase: peer.PhaseRunning,
		Running: true, Primary: true, Synced: true, ClusterSize: 3, LocalState: "Synced", Ready: true, LocalIndex: index}}
	srv := &peer.Server{Token: "writer-view-test-token", State: p.state, Changed: func() {
		p.mu.Lock()
		p.changed++
		v := p.view
		p.mu.Unlock()
		if v != nil {
			v.Kick()
		}
	}}
	mux := http.NewServeMux()
	srv.Register(mux)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	p.addr = strings.TrimPrefix(ts.URL, "http://")
	return p
}

// TestWriterViewPush: when a member's readiness changes, its view tells
// every peer at once (no waiting for their next tick), and a peer told so
// refreshes at once: the successor of a draining writer sees it leave
// within a round trip.
func TestWriterViewPush(t *testing.T) {
	a, b, c := startPeer(t, "a", 0), startPeer(t, "b", 1), startPeer(t, "c", 2)
	client := peer.NewClient("writer-view-test-token", nil, time.Second)
	defer client.Close()
	hour := time.Hour // no tick: only pushes move the views
	changesA := make(chan struct{}, 1)
	viewA := &WriterView{Self: "a", Source: discovery.Static{a.addr, b.addr, c.addr}, Peers: client, State: a.state, Every: hour, Changes: changesA}
	viewB := &WriterView{Self: "b", Source: discovery.Static{a.addr, b.addr, c.addr}, Peers: client, State: b.state, Every: hour}
	b.mu.Lock()
	b.view = viewB
	b.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go viewA.Run(ctx)
	go viewB.Run(ctx)
	waitLowest := func(v *WriterView, want int) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Second)
		for v.Lowest() != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: lowest %d, want %d", v.Self, v.Lowest(), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitLowest(viewA, 0)
	waitLowest(viewB, 0)

	// a starts to drain: its poller signals the change.
	begin := time.Now()
	a.set(func(s *peer.State) { s.Ready = false; s.Phase = peer.PhaseStopping })
	changesA <- struct{}{}
	waitLowest(viewB, 1)
	t.Logf("b took over in its view %v after a's change", time.Since(begin).Round(time.Millisecond))
	waitLowest(viewA, -1)
	for _, p := range []*testPeer{b, c} {
		p.mu.Lock()
		n := p.changed
		p.mu.Unlock()
		if n != 1 {
			t.Errorf("%s was told %d times, want once", p.st.NodeName, n)
		}
	}
}
