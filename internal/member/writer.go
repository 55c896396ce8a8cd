package member

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/discovery"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
)

// StateGetter fetches one peer's state; peer.Client is the real one.
type StateGetter interface {
	State(ctx context.Context, addr string) (peer.State, error)
}

// WriterView keeps the lowest wsrep_local_index among the ready members,
// from this member's own state and its peers', refreshed every interval.
// Peers that do not answer count as not ready. Members agree within one
// refresh: when the writer drains, the next one takes over within about a
// second; for that long two members, or none, may answer 200 on /writerz.
type WriterView struct {
	Self   string
	Source discovery.Source
	Peers  StateGetter
	State  func() peer.State // this member's own state
	Every  time.Duration

	low atomic.Int64 // -1: unknown; set by Run
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
		}
	}
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
