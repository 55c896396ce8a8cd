package galeramember

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/discovery"
	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
	"github.com/galera-sentinel/galera-sentinel/internal/recovery"
)

func primarySample(size int, conf, seqno int64) *galera.Sample {
	s := &galera.Sample{ClusterStatus: "Primary", ClusterSize: size, LastCommitted: seqno}
	s.Stats.ConfID = conf
	return s
}

func TestNextView(t *testing.T) {
	p := func(name string, primary bool, size int) peer.State {
		return peer.State{NodeName: name, Primary: primary, ClusterSize: size}
	}
	v := NextView(nil, primarySample(3, 5, 40), "b", []peer.State{p("c", true, 3), p("a", true, 3)})
	if !slices.Equal(v.Members, []string{"a", "b", "c"}) || v.Size != 3 || v.ConfID != 5 || v.Seqno != 40 {
		t.Fatalf("every member named: %+v", v)
	}
	// One peer's sentinel did not answer: the same component keeps its
	// names; a new one is saved by its size.
	if w := NextView(&v, primarySample(3, 5, 50), "b", []peer.State{p("a", true, 3)}); !slices.Equal(w.Members, v.Members) || w.Seqno != 50 {
		t.Fatalf("same component, a peer silent: %+v", w)
	}
	if w := NextView(&v, primarySample(2, 6, 50), "b", []peer.State{p("a", true, 3), p("c", false, 0)}); w.Members != nil || w.Size != 2 {
		t.Fatalf("a new component with a member that cannot be named: %+v", w)
	}
	// A peer in a component of another size, or not Primary, is not a
	// member of this one.
	if w := NextView(nil, primarySample(2, 6, 50), "b", []peer.State{p("a", true, 2), p("c", true, 3)}); !slices.Equal(w.Members, []string{"a", "b"}) {
		t.Fatalf("two of three: %+v", w)
	}
}

type fixedPeers map[string]peer.State

func (f fixedPeers) State(_ context.Context, addr string) (peer.State, error) { return f[addr], nil }

func TestViewKeeper(t *testing.T) {
	dir := t.TempDir()
	sample := primarySample(2, 3, 10)
	var told []galera.LastView
	k := &ViewKeeper{Self: "a", DataDir: dir, Source: discovery.Static{"p:1"},
		Peers: fixedPeers{"p:1": {NodeName: "b", Primary: true, ClusterSize: 2}}, Sample: func() *galera.Sample { return sample },
		Saved: func(v galera.LastView) { told = append(told, v) }, Resave: time.Minute, Logger: slog.New(slog.DiscardHandler)}
	now := time.Now()
	k.Once(context.Background(), now)
	v, err := recovery.ReadLastView(dir)
	if err != nil || v == nil || !slices.Equal(v.Members, []string{"a", "b"}) || len(told) != 1 {
		t.Fatalf("first save: %+v, %v, told %d", v, err, len(told))
	}
	sample = primarySample(2, 3, 20)
	k.Once(context.Background(), now.Add(time.Second))
	if len(told) != 1 {
		t.Fatal("saved again within Resave for commits alone")
	}
	k.Once(context.Background(), now.Add(2*time.Minute))
	if v, _ := recovery.ReadLastView(dir); v.Seqno != 20 || len(told) != 2 {
		t.Fatalf("after Resave: %+v, told %d", v, len(told))
	}
	sample = primarySample(1, 4, 20) // b left
	k.Once(context.Background(), now.Add(2*time.Minute+time.Second))
	if v, _ := recovery.ReadLastView(dir); v.Size != 1 || len(told) != 3 {
		t.Fatalf("after a view change: %+v, told %d", v, len(told))
	}
	sample = &galera.Sample{ClusterStatus: "non-Primary", ClusterSize: 1}
	k.Once(context.Background(), now.Add(3*time.Minute))
	if v, _ := recovery.ReadLastView(dir); v.Size != 1 || len(told) != 3 {
		t.Fatalf("a non-Primary sample replaced the view: %+v", v)
	}
	// No temporary file is left behind, and the view does not make the
	// data directory count as holding data.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != recovery.ViewFile {
		t.Fatalf("data directory holds %v", ents)
	}
	l, err := recovery.ReadLocal(context.Background(), "a", dir, nil)
	if err != nil || !l.Empty || l.LastView == nil || l.LastView.Size != 1 {
		t.Fatalf("ReadLocal: %+v, %v", l, err)
	}
	// A torn or foreign file stops the decision with the file's name.
	if err := os.WriteFile(filepath.Join(dir, recovery.ViewFile), []byte("{\"size\":"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := recovery.ReadLocal(context.Background(), "a", dir, nil); err == nil {
		t.Fatal("a malformed view was accepted")
	}
}

// TestViewKeeperDeparted: a member missing from the next view that names
// every member has left, and is told once; whether a member is gone is
// answered only from a view that names every member and a fresh Primary
// sample of it.
func TestViewKeeperDeparted(t *testing.T) {
	sample := primarySample(3, 5, 10)
	peers := fixedPeers{"b:1": {NodeName: "b", Primary: true, ClusterSize: 3}, "c:1": {NodeName: "c", Primary: true, ClusterSize: 3}}
	k := &ViewKeeper{Self: "a", DataDir: t.TempDir(), Source: discovery.Static{"b:1", "c:1"}, Peers: peers,
		Sample: func() *galera.Sample { return sample }, Resave: time.Minute, Logger: slog.New(slog.DiscardHandler)}
	departed := k.Departed()
	now := time.Now()
	step := func(what string) {
		now = now.Add(time.Second)
		k.Once(context.Background(), now)
	}
	told := func() []string {
		select {
		case names := <-departed:
			return names
		default:
			return nil
		}
	}
	step("three members")
	if k.Gone("b") || k.Gone("c") || k.Gone("a") || !k.Gone("x") || told() != nil {
		t.Fatalf("three members named: gone b %v c %v a %v x %v", k.Gone("b"), k.Gone("c"), k.Gone("a"), k.Gone("x"))
	}
	// c's node dies: the survivors' view changes, c no longer answers
	// (its address does not answer as a Primary member of size 2).
	sample = primarySample(2, 6, 11)
	peers["b:1"] = peer.State{NodeName: "b", Primary: true, ClusterSize: 3} // b's sample lags
	step("b still of the old view")
	if k.Gone("c") || told() != nil {
		t.Fatal("told of a departure before the new view named every member")
	}
	peers["b:1"] = peer.State{NodeName: "b", Primary: true, ClusterSize: 2}
	peers["c:1"] = peer.State{NodeName: "c"}
	step("new view named")
	if got := told(); !slices.Equal(got, []string{"c"}) || !k.Gone("c") || k.Gone("b") {
		t.Fatalf("departed %v, gone c %v b %v", got, k.Gone("c"), k.Gone("b"))
	}
	step("the same view again")
	if got := told(); got != nil {
		t.Fatalf("told again: %v", got)
	}
	// This node outside a Primary component: nothing can be told.
	sample = &galera.Sample{ClusterStatus: "non-Primary", ClusterSize: 1}
	step("non-Primary")
	if k.Gone("c") || k.Gone("x") {
		t.Fatal("gone answered from a node outside a Primary component")
	}
	// c comes back: no longer gone, and nobody is told anything.
	sample = primarySample(3, 8, 20)
	peers["c:1"] = peer.State{NodeName: "c", Primary: true, ClusterSize: 3}
	peers["b:1"] = peer.State{NodeName: "b", Primary: true, ClusterSize: 3}
	step("c back")
	if k.Gone("c") || told() != nil {
		t.Fatal("c is back but still gone")
	}
}
