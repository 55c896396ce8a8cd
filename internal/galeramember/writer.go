package galeramember

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/discovery"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
	"github.com/galera-sentinel/galera-sentinel/internal/upgrade"
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
// refresh too (Kick, from the peer API). A lower slot whose holder cannot
// be seen keeps this member from claiming the writer (see LowestReady).
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
	cut      atomic.Pointer[[]string]
	differ   atomic.Int64 // peers whose system tables differ; -1: unknown
	kickOnce sync.Once
	kick     chan struct{}
}

// APICut are the ready members of this member's view whose sentinel says
// it cannot reach the Kubernetes API server while this one can (see
// LowestReady), by node name, as of the last refresh.
func (w *WriterView) APICut() []string {
	if p := w.cut.Load(); p != nil {
		return *p
	}
	return nil
}

// SystemTablesDiffer is how many members of this member's view, as of the
// last refresh, have settled system tables that differ from this
// member's; known is false while this member's own are not settled, or
// it is not ready.
func (w *WriterView) SystemTablesDiffer() (n int, known bool) {
	v := w.differ.Load()
	return int(v), v >= 0
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
	w.differ.Store(-1)
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
		w.cut.Store(nil)
		w.differ.Store(-1)
		return
	}
	addrs, err := w.Source.Peers(ctx)
	if err != nil {
		return // keep the last view; /writerz still needs us ready
	}
	answers := peer.FanOut(ctx, addrs, w.Peers.State)
	w.low.Store(int64(LowestReady(me, answers)))
	cut := APICut(me, answers)
	w.cut.Store(&cut)
	w.differ.Store(int64(DifferingTables(me, answers)))
}

// DifferingTables counts the members of me's view whose settled system
// tables digest differs from me's (-1 when me's is not settled).
func DifferingTables(me peer.State, answers []peer.Answer[peer.State]) int {
	if me.SystemTables == "" {
		return -1
	}
	n := 0
	for _, a := range answers {
		if st := a.Value; a.Err == nil && st.NodeName != me.NodeName && st.ClusterSize == me.ClusterSize && st.SystemTables != "" && st.SystemTables != me.SystemTables {
			n++
		}
	}
	return n
}

// reachesAPI: some ready member of me's view (me included) reaches the
// Kubernetes API server. When none does (the control plane is down, or
// not Kubernetes at all), nobody steps aside for not reaching it.
// A member reaches it when its last try succeeded (see
// peer.State.KubeAPIFailing).
func reachesAPI(me peer.State, answers []peer.Answer[peer.State]) bool {
	if !me.KubeAPIFailing && !me.KubeAPIUnreachable {
		return true
	}
	for _, a := range answers {
		if st := a.Value; a.Err == nil && st.NodeName != me.NodeName && st.ClusterSize == me.ClusterSize && st.Ready && st.LocalIndex >= 0 &&
			!st.KubeAPIFailing && !st.KubeAPIUnreachable {
			return true
		}
	}
	return false
}

// APICut are the ready members of me's view that cannot reach the API
// server, when me (ready) can.
func APICut(me peer.State, answers []peer.Answer[peer.State]) []string {
	if me.KubeAPIFailing || me.KubeAPIUnreachable {
		return nil
	}
	var cut []string
	for _, a := range answers {
		if st := a.Value; a.Err == nil && st.NodeName != me.NodeName && st.ClusterSize == me.ClusterSize && st.Ready && st.KubeAPIUnreachable {
			cut = append(cut, st.NodeName)
		}
	}
	return cut
}

// oldestReady is the lowest local index of a ready member of the oldest
// MariaDB version, when the ready members run more than one version and
// every peer that may be ready answered from this member's view and says
// its version. A peer that says it is not ready (a member being replaced
// or joining, in whatever view) and a peer whose sentinel is gone (the
// connection was refused) cannot hold the writer and are left out, as in
// LowestReady: were they to end the rule, an upgraded member with a lower
// slot would claim the writer while the old one still holds it, for as
// long as a member of the rolling upgrade is away.
func oldestReady(me peer.State, answers []peer.Answer[peer.State]) (int, bool) {
	type cand struct {
		v     upgrade.Version
		index int
	}
	var ready []cand
	add := func(st peer.State) bool {
		v, err := upgrade.Parse(st.MariaDBVersion)
		if err != nil {
			return false
		}
		if st.Ready && st.LocalIndex >= 0 {
			ready = append(ready, cand{v, st.LocalIndex})
		}
		return true
	}
	if !add(me) {
		return 0, false
	}
	for _, a := range answers {
		st := a.Value
		switch {
		case a.Err != nil:
			if !errors.Is(a.Err, syscall.ECONNREFUSED) {
				return 0, false // silent: it may be ready, of any version
			}
		case st.NodeName == me.NodeName, !st.Ready:
		case st.ClusterSize != me.ClusterSize || !add(st):
			return 0, false
		}
	}
	if len(ready) < 2 {
		return 0, false
	}
	oldest, mixed := ready[0].v, false
	for _, c := range ready[1:] {
		if c.v != oldest {
			mixed = true
		}
		if c.v.Compare(oldest) < 0 {
			oldest = c.v
		}
	}
	if !mixed {
		return 0, false
	}
	best := -1
	for _, c := range ready {
		if c.v == oldest && (best < 0 || c.index < best) {
			best = c.index
		}
	}
	return best, true
}

// LowestReady is the lowest local index that may belong to a ready
// member: this member's own (it is ready), or a lower one. A lower slot of
// the component counts as not ready when a peer of the same view (same
// cluster size) says so, or when none but peers known not to be ready can
// hold it: peers that say they are not ready (a joiner, a member that
// drains or is held back, in whatever view), and peers whose sentinel is
// gone (the connection was refused: the process is not there). A peer
// that does not answer in time (a node powered off, a partition), or says
// it is ready from another view (a view change under way), may be ready at
// any lower slot: while one is about, this member does not claim the
// writer. Then two members never both answer 200 because one of them
// cannot see the other; the cost is that a writer that vanishes without a
// trace (its node gone) is replaced only when Galera drops it from the
// component (evs.suspect_timeout) and the slots are numbered again.
//
// On Kubernetes, a ready member whose sentinel cannot reach the API server
// (KubeAPIUnreachable) is passed over while another ready member of the
// view reaches it: its writer label cannot move, and Kubernetes will mark
// its pod not Ready once its node's kubelet is silent too, which would
// leave the writer Service empty while Galera still has it as the
// writer. Such a member then answers that the writer is the lowest
// member that reaches the API server. When no ready member reaches it
// (the control plane is down), nobody is passed over.
//
// While the ready members run different MariaDB versions (a rolling
// upgrade), the writer is the lowest ready member of the oldest version:
// MariaDB supports replication from an older version to a newer one, not
// the reverse. This applies only when every peer answered from the same
// view; otherwise the rules above stand.
func LowestReady(me peer.State, answers []peer.Answer[peer.State]) int {
	if i, ok := oldestReady(me, answers); ok {
		return i
	}
	reach := reachesAPI(me, answers)
	if me.KubeAPIUnreachable && reach {
		best := -1
		for _, a := range answers {
			st := a.Value
			if a.Err == nil && st.NodeName != me.NodeName && st.ClusterSize == me.ClusterSize && st.Ready && !st.KubeAPIFailing && !st.KubeAPIUnreachable && st.LocalIndex >= 0 &&
				(best < 0 || st.LocalIndex < best) {
				best = st.LocalIndex
			}
		}
		return best // reach says there is one
	}
	slots := map[int]bool{} // slot below me -> ready, from a peer of the same view
	maybe := 0              // peers that may hold an unaccounted slot and be ready
	for _, a := range answers {
		st := a.Value
		switch {
		case a.Err != nil:
			if !errors.Is(a.Err, syscall.ECONNREFUSED) {
				maybe++
			}
		case st.NodeName == me.NodeName:
		case st.ClusterSize != me.ClusterSize:
			if st.Ready {
				maybe++
			}
		case st.LocalIndex >= 0 && st.LocalIndex < me.LocalIndex:
			slots[st.LocalIndex] = slots[st.LocalIndex] || st.Ready && !(st.KubeAPIUnreachable && reach)
		}
	}
	for i := 0; i < me.LocalIndex; i++ {
		ready, known := slots[i]
		if ready || !known && maybe > 0 {
			return i
		}
	}
	return me.LocalIndex
}
