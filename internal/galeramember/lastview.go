package galeramember

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/discovery"
	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
	"github.com/galera-sentinel/galera-sentinel/internal/recovery"
)

// StateGetter fetches one peer's state; peer.Client is the real one.
type StateGetter interface {
	State(ctx context.Context, addr string) (peer.State, error)
}

// ViewKeeper saves, while mariadbd runs, the Primary component this
// member is part of (galera.LastView) in the data directory, and tells the
// member so that its peers see it: after a crash of every member, the
// newest saved view says who must answer before anyone bootstraps (see
// galera.Decide). The view is saved at once when it changes, and again
// every Resave while commits advance, so a newer view orders after an
// older one.
type ViewKeeper struct {
	Self    string
	DataDir string
	Source  discovery.Source
	Peers   StateGetter
	// Sample is the node's last fresh sample, nil when there is none.
	Sample func() *galera.Sample
	// Saved is told every view saved (the member publishes it).
	Saved  func(galera.LastView)
	Every  time.Duration
	Resave time.Duration
	Logger *slog.Logger

	last    *galera.LastView
	savedAt time.Time
	failing bool

	// named is the last view that named every member; current its
	// members while the node's fresh sample is of that view (nil
	// otherwise).
	named     *galera.LastView
	mu        sync.Mutex
	current   []string
	departOne sync.Once
	departed  chan []string
}

// Departed tells the members that left the Primary component while this
// member stayed in it: in the last view that named every member, not in
// the next one that does. Nobody need listen: what is not received is
// dropped, and a listener checks Gone before acting anyway.
func (k *ViewKeeper) Departed() <-chan []string {
	k.departOne.Do(func() { k.departed = make(chan []string, 8) })
	return k.departed
}

// Gone reports whether the member is known to be outside this member's
// Primary component now: this node's fresh sample is Primary, its view
// names every member, and not that one. False whenever that cannot be
// told (this node outside a Primary component, a view change under way).
func (k *ViewKeeper) Gone(name string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.current != nil && !slices.Contains(k.current, name)
}

// track follows the named views: it publishes the current members and
// tells who left since the last named view.
func (k *ViewKeeper) track(s *galera.Sample, next galera.LastView) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.current = nil
	if s == nil || !s.Primary() || len(next.Members) != next.Size || next.Size < 1 {
		return
	}
	k.current = next.Members
	prev := k.named
	k.named = &next
	if prev == nil || prev.ConfID == next.ConfID {
		return
	}
	var gone []string
	for _, m := range prev.Members {
		if !slices.Contains(next.Members, m) {
			gone = append(gone, m)
		}
	}
	if len(gone) == 0 {
		return
	}
	k.Logger.Warn("members left the Primary component", "gone", gone, "members", next.Members, "conf_id", next.ConfID)
	k.Departed()
	select {
	case k.departed <- gone:
	default:
	}
}

// Run keeps the view until ctx ends.
func (k *ViewKeeper) Run(ctx context.Context) {
	if k.Resave <= 0 {
		k.Resave = time.Minute
	}
	t := time.NewTicker(k.Every)
	defer t.Stop()
	for {
		k.Once(ctx, time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Once looks at the node and saves its view when that is due.
func (k *ViewKeeper) Once(ctx context.Context, now time.Time) {
	s := k.Sample()
	if s == nil || !s.Primary() || s.ClusterSize < 1 {
		k.track(nil, galera.LastView{})
		return
	}
	var peers []peer.State
	if k.last == nil || k.last.Size != s.ClusterSize || k.last.ConfID != s.Stats.ConfID || len(k.last.Members) != s.ClusterSize {
		// Who the members are is asked only when the view is new or not
		// every member could be named yet.
		// Enough once every other member of the component answered: a
		// member that left (its node powered off) is not waited for.
		enough := func(got []peer.Answer[peer.State]) bool {
			names := map[string]bool{}
			for _, a := range got {
				if a.Err == nil && a.Value.Primary && a.Value.ClusterSize == s.ClusterSize && a.Value.NodeName != k.Self {
					names[a.Value.NodeName] = true
				}
			}
			return len(names) >= s.ClusterSize-1
		}
		if addrs, err := k.Source.Peers(ctx); err == nil {
			for _, a := range peer.FanOutUntil(ctx, addrs, k.Peers.State, enough) {
				if a.Err == nil {
					peers = append(peers, a.Value)
				}
			}
		}
	}
	next := NextView(k.last, s, k.Self, peers)
	k.track(s, next)
	if k.last != nil && k.last.Same(next) && (next.Seqno == k.last.Seqno || now.Sub(k.savedAt) < k.Resave) {
		return
	}
	if err := recovery.SaveLastView(k.DataDir, next); err != nil {
		if !k.failing {
			k.Logger.Error("cannot save the Primary component's view; after a crash of every member this member counts as having none", "err", err)
		}
		k.failing = true
		return
	}
	if k.failing || k.last == nil || !k.last.Same(next) {
		k.Logger.Info("saved the Primary component's view", "size", next.Size, "members", next.Members, "conf_id", next.ConfID, "seqno", next.Seqno)
	}
	k.failing = false
	k.last, k.savedAt = &next, now
	if k.Saved != nil {
		k.Saved(next)
	}
}

// NextView is the view to save from the node's sample s (which is in a
// Primary component) and the peers' states: the members are named when
// every one can be (this member and each peer that says it is Primary in
// a component of the same size); otherwise the names of prev are kept if
// prev is the same component, and the view is saved by its size alone.
func NextView(prev *galera.LastView, s *galera.Sample, self string, peers []peer.State) galera.LastView {
	v := galera.LastView{Size: s.ClusterSize, ConfID: s.Stats.ConfID, Seqno: max(s.LastCommitted, -1)}
	names := []string{self}
	for _, p := range peers {
		if p.Primary && p.ClusterSize == s.ClusterSize && !slices.Contains(names, p.NodeName) {
			names = append(names, p.NodeName)
		}
	}
	switch {
	case len(names) == s.ClusterSize:
		slices.Sort(names)
		v.Members = names
	case prev != nil && prev.Size == v.Size && prev.ConfID == v.ConfID && len(prev.Members) == v.Size:
		v.Members = prev.Members
	}
	return v
}
