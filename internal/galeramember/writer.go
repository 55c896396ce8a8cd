package galeramember

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/discovery"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
)

// PeerCaller fetches one peer's state and tells one peer that this
// member's state changed; peer.Client is the real one.
type PeerCaller interface {
	State(ctx context.Context, addr string) (peer.State, error)
	Changed(ctx context.Context, addr string) (struct{}, error)
}

// WriterView keeps the lowest wsrep_local_index among the ready members,
// from this member's own state and its peers', refreshed every interval
// and at once when a state changes: when this member becomes ready or
// stops being ready (Changes) it refreshes and tells its peers, which
// refresh too (Kick, from the peer API). Peers that do not answer count
// as not ready.
//
// So when the writer starts to drain, its successor answers 200 on
// /writerz within one round trip of the peer API, while the old writer
// keeps answering 200 for the handover window (health.Handlers): there
// is no moment without a writer, and for the window two members answer
// 200.
type WriterView struct {
	Self   string
	Source discovery.Source
	Peers  PeerCaller
	State  func() peer.State // this member's own state
	Every  time.Duration
	// Changes signals that this member's readiness changed.
	Changes <-chan struct{}

	low      atomic.Int64 // -1: unknown; set by Run
	kickOnce sync.Once
	kick     chan struct{}
}

// Kick asks for a refresh now: a peer said its state changed.
func (w *WriterView) Kick() {
	select {
	case w.kicks() <- struct{}{}:
	default:
	}
}

func (w *WriterView) kicks() chan struct{} {
	w.kickOnce.Do(func() { w.kick = make(chan struct{}, 1) })
	return w.kick
}

// Lowest is the lowest ready index, or -1 when unknown.
func (w *WriterView) Lowest() int { return int(w.low.Load()) }

// Run refreshes the view until ctx ends.
func (w *WriterView) Run(ctx context.Context) {
	w.low.Store(-1)
	t := time.NewTicker(w.Every)
	defer t.Stop()
	for {
		w.refresh(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.kicks():
		case <-w.Changes:
			go w.tell(ctx)
		}
	}
}

// tell lets every peer know that this member's state changed.
func (w *WriterView) tell(ctx context.Context) {
	addrs, err := w.Source.Peers(ctx)
	if err != nil {
		return // they see it at their next refresh
	}
	peer.FanOut(ctx, addrs, w.Peers.Changed)
}

func (w *WriterView) refresh(ctx context.Context) {
	me := w.State()
	if !me.Ready {
		w.low.Store(-1) // not the writer whatever the others say
		return
	}
	addrs, err := w.Source.Peers(ctx)
	if err != nil {
		return // keep the last view; /writerz still needs us ready
	}
	w.low.Store(int64(LowestReady(me, peer.FanOut(ctx, addrs, w.Peers.State))))
}

// LowestReady is the lowest local index among me (which is ready) and the
// peers that answered ready in the same cluster (same size).
func LowestReady(me peer.State, answers []peer.Answer[peer.State]) int {
	low := me.LocalIndex
	for _, a := range answers {
		st := a.Value
		if a.Err != nil || st.NodeName == me.NodeName || !st.Ready || st.ClusterSize != me.ClusterSize {
			continue
		}
		low = min(low, st.LocalIndex)
	}
	return low
}
