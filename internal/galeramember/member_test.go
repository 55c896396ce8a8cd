package galeramember

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/discovery"
	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/httpserver"
	"github.com/galera-sentinel/galera-sentinel/internal/journal"
	"github.com/galera-sentinel/galera-sentinel/internal/mariadbd"
	"github.com/galera-sentinel/galera-sentinel/internal/member"
	"github.com/galera-sentinel/galera-sentinel/internal/member/membertest"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
	"github.com/galera-sentinel/galera-sentinel/internal/readiness"
	"github.com/galera-sentinel/galera-sentinel/internal/recovery"
	"github.com/galera-sentinel/galera-sentinel/internal/supervisor"
)

// These tests run the member's whole life without mariadbd: its own peer
// API over HTTP, the real poller over a sampler of the test's, and a real
// child process (a shell) in mariadbd's place. What mariadbd itself does
// is tested against real mariadbd in cmd/galera-sentinel.

const token = "member-test-token-0123456789"

// sampler plays the node once "mariadbd" runs: Synced, with the node's
// client connections (the sentinel's own included).
type sampler struct {
	node *membertest.Node
	// detached, when set, says when the node is out of its cluster for
	// good (after a failed IST).
	detached atomic.Pointer[func() bool]
}

func (s *sampler) Sample(context.Context) (galera.Sample, error) {
	if s.node.Down() {
		return galera.Sample{}, errors.New("dial unix: no such file or directory")
	}
	if f := s.detached.Load(); f != nil && (*f)() {
		return galera.Sample{WsrepOn: true, ClusterStatus: "Disconnected", LocalState: galera.StateUnknown,
			ClusterSize: 0, LocalIndex: -1, RejectQueries: "NONE", ThreadsConnected: s.node.Conns()}, nil
	}
	return galera.Sample{WsrepOn: true, Connected: true, Ready: true, ClusterStatus: "Primary", LocalState: galera.StateSynced,
		ClusterSize: 1, RejectQueries: "NONE", ThreadsConnected: s.node.Conns()}, nil
}

// fakeDB records what the member asks of mariadbd's roles and runs a
// shell in mariadbd's place.
type fakeDB struct {
	shell    *membertest.Shell
	datadir  string
	recovery string // what --wsrep-recover logs
	mu       sync.Mutex
	starts   []mariadbd.Start
	inits    int
	// sweeps of stale state-transfer helpers while mariadbd ran, and how
	// many of them saw it Synced.
	sweeps, syncedSweeps int
}

func (f *fakeDB) Recover(context.Context) ([]byte, error) {
	if f.recovery == "" {
		return nil, errors.New("must not run --wsrep-recover here")
	}
	return []byte(f.recovery), nil
}

func (f *fakeDB) Initialise(context.Context) error {
	f.mu.Lock()
	f.inits++
	f.mu.Unlock()
	return os.MkdirAll(f.datadir, 0o750)
}

func (f *fakeDB) SweepRunningSST(synced bool) {
	f.mu.Lock()
	f.sweeps++
	f.syncedSweeps += map[bool]int{true: 1}[synced]
	f.mu.Unlock()
}

func (f *fakeDB) Serve(s mariadbd.Start, _ []string) (*supervisor.Process, error) {
	f.mu.Lock()
	f.starts = append(f.starts, s)
	f.mu.Unlock()
	return f.shell.Start()
}

type rig struct {
	m      *Member
	poller *health.Poller[galera.Sample]
	db     *fakeDB
	node   *membertest.Node
	smp    *sampler
	loop   *recovery.Loop
	hurry  chan os.Signal
}

func newRig(t *testing.T, datadir string, lc member.Config) *rig {
	cfg := Config{Config: lc}
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	node := membertest.NewNode()
	smp := &sampler{node: node}
	judge := readiness.Judge[galera.Sample]{Policy: galera.Policy{}, Limits: readiness.Limits{MaxStaleness: 2 * time.Second, LivenessGrace: time.Minute}}
	poller := health.NewPoller(health.PollerConfig{Interval: 20 * time.Millisecond, Timeout: time.Second}, judge, health.Sampler[galera.Sample](smp))
	db := &fakeDB{shell: membertest.NewShell(t), datadir: datadir}
	pc := peer.NewClient(token, nil, time.Second)
	t.Cleanup(pc.Close)
	loop := &recovery.Loop{Expected: 1, Peers: pc, GcommPort: 4567, Interval: 20 * time.Millisecond, Logger: log}
	hurry := make(chan os.Signal, 1)
	cfg.NodeName, cfg.DataDir = "node-0", datadir
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 5 * time.Second
	}
	cfg.PollInterval = 20 * time.Millisecond
	ready := func(s *health.Snapshot[galera.Sample], now time.Time) bool { return poller.Ready(s, now).OK }
	m := New(cfg, poller, ready, 2*time.Second, loop, db, func() (<-chan os.Signal, func()) { return hurry, func() {} }, log)
	srv := httptest.NewServer(httpserver.NewMux(m.PeerAPI(httpserver.StaticTokens(token), log)))
	t.Cleanup(srv.Close)
	loop.Source = discovery.Static{strings.TrimPrefix(srv.URL, "http://")}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); poller.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &rig{m: m, poller: poller, db: db, node: node, smp: smp, loop: loop, hurry: hurry}
}

// run starts Run and returns its result channel and the context's cancel.
func (r *rig) run() (<-chan error, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- r.m.Run(ctx) }()
	return errc, cancel
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestNewClusterLifecycle: an empty member of a 1-member cluster reads its
// position, decides with its own peer API, initialises, bootstraps, is
// published as running and ready, and on cancellation drains and stops
// "mariadbd" cleanly.
func TestNewClusterLifecycle(t *testing.T) {
	datadir := filepath.Join(t.TempDir(), "data")
	r := newRig(t, datadir, member.Config{})
	if st := r.m.State(); st.Phase != peer.PhasePosition || st.Running {
		t.Fatalf("before Run: %+v", st)
	}
	errc, cancel := r.run()
	waitFor(t, "running", func() bool { return r.m.State().Phase == peer.PhaseRunning })
	if err := r.m.override("node-0"); err == nil || !errors.Is(err, peer.ErrOverrideRejected) {
		t.Errorf("override after the start: %v, want rejected", err)
	}
	r.db.mu.Lock()
	starts, inits := r.db.starts, r.db.inits
	r.db.mu.Unlock()
	if inits != 1 || len(starts) != 1 || !starts[0].NewCluster || starts[0].Position != "" || !strings.HasPrefix(starts[0].ClusterAddress, "gcomm://127.0.0.1:") {
		t.Fatalf("inits %d, starts %+v: want one initialisation and one new-cluster start", inits, starts)
	}
	waitFor(t, "published ready", func() bool { st := r.m.State(); return st.Ready && st.Primary && st.LocalIndex == 0 })
	if err := r.m.State().Validate(); err != nil {
		t.Fatalf("own state does not validate: %v", err)
	}
	// While mariadbd runs, the watch sweeps stale state-transfer helpers,
	// telling it the node is Synced.
	waitFor(t, "a sweep of stale state-transfer helpers on the Synced node", func() bool {
		r.db.mu.Lock()
		defer r.db.mu.Unlock()
		return r.db.syncedSweeps > 0
	})
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Run after a clean stop: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
	if s := r.poller.Snapshot(); !s.Stopping {
		t.Error("not marked stopping during the stop")
	}
}

// TestCrashedPositionIsPassedOn: grastate.dat says seqno -1; the position
// --wsrep-recover finds is what mariadbd is started with (a typed hand-off,
// not a log line), and the bootstrap marks grastate.dat safe.
func TestCrashedPositionIsPassedOn(t *testing.T) {
	datadir := t.TempDir()
	const uuid = "c8bb4bee-e5d7-11f1-a5ed-f285d65e2e99"
	gs := "# GALERA saved state\nversion: 2.1\nuuid:    " + uuid + "\nseqno:   -1\nsafe_to_bootstrap: 0\n"
	if err := os.WriteFile(filepath.Join(datadir, "grastate.dat"), []byte(gs), 0o640); err != nil {
		t.Fatal(err)
	}
	r := newRig(t, datadir, member.Config{})
	r.db.recovery = "[Note] WSREP: Recovered position: " + uuid + ":57\n"
	errc, cancel := r.run()
	waitFor(t, "running", func() bool { return r.m.State().Phase == peer.PhaseRunning })
	r.db.mu.Lock()
	starts := r.db.starts
	r.db.mu.Unlock()
	if len(starts) != 1 || starts[0].Position != uuid+":57" || !starts[0].NewCluster {
		t.Fatalf("starts %+v, want a bootstrap from %s:57", starts, uuid)
	}
	b, _ := os.ReadFile(filepath.Join(datadir, "grastate.dat"))
	if !strings.Contains(string(b), "safe_to_bootstrap: 1") {
		t.Errorf("grastate.dat not marked safe to bootstrap:\n%s", b)
	}
	if st := r.m.State(); st.UUID != uuid || st.Seqno != 57 {
		t.Errorf("published position %s:%d", st.UUID, st.Seqno)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestOverride: the override must name this member, and is taken only
// before mariadbd starts.
func TestOverride(t *testing.T) {
	r := newRig(t, t.TempDir(), member.Config{})
	if err := r.m.override("node-1"); !errors.Is(err, peer.ErrOverrideRejected) {
		t.Errorf("override naming another member: %v", err)
	}
	if err := r.m.override("node-0"); err != nil {
		t.Errorf("override before the start: %v", err)
	}
}

func TestLowestReady(t *testing.T) {
	me := peer.State{NodeName: "b", Ready: true, LocalIndex: 1, ClusterSize: 3}
	timeout := fmt.Errorf("get state: %w", context.DeadlineExceeded)
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	ans := func(name string, ready bool, idx, size int, err error) peer.Answer[peer.State] {
		return peer.Answer[peer.State]{Value: peer.State{NodeName: name, Ready: ready, LocalIndex: idx, ClusterSize: size}, Err: err}
	}
	for _, tc := range []struct {
		name string
		a    []peer.Answer[peer.State]
		want int
	}{
		{"alone", nil, 1},
		{"a lower ready member", []peer.Answer[peer.State]{ans("a", true, 0, 3, nil)}, 0},
		{"a lower member not ready (draining)", []peer.Answer[peer.State]{ans("a", false, 0, 3, nil)}, 1},
		// A view change under way: the peer may be ready at slot 0 of
		// this view too; two writers at once is what this prevents.
		{"a member of another view", []peer.Answer[peer.State]{ans("a", true, 0, 2, nil)}, 0},
		// A joiner (or one whose mariadbd does not answer yet: size 0)
		// says it is not ready: it cannot be the writer, whatever slot
		// it holds (seen: a rolling restart without a writer for the
		// whole of a member's join).
		{"a joiner not sampled yet", []peer.Answer[peer.State]{ans("a", false, -1, 0, nil)}, 1},
		{"a member of another view, not ready", []peer.Answer[peer.State]{ans("a", false, 0, 2, nil)}, 1},
		// A node powered off or cut off: its member may still be ready
		// in this component (Galera has not dropped it yet).
		{"a member that did not answer in time", []peer.Answer[peer.State]{ans("a", true, 0, 3, timeout)}, 0},
		{"a member that did not answer, the lower slot said not ready", []peer.Answer[peer.State]{ans("a", false, 0, 3, nil), ans("c", true, 0, 3, timeout)}, 1},
		// Its sentinel is gone (a crash): it is not ready.
		{"a member whose sentinel refused the connection", []peer.Answer[peer.State]{ans("a", true, 0, 3, refused)}, 1},
		{"a refused one and one from another view", []peer.Answer[peer.State]{ans("a", true, 0, 3, refused), ans("c", true, 1, 2, nil)}, 0},
		{"ourselves listed", []peer.Answer[peer.State]{ans("b", true, 0, 3, nil)}, 1},
		{"a higher ready member", []peer.Answer[peer.State]{ans("c", true, 2, 3, nil)}, 1},
		{"a higher member that did not answer", []peer.Answer[peer.State]{ans("c", true, 2, 3, timeout)}, 0},
	} {
		if got := LowestReady(me, tc.a); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestLowestReadyVersions: while the ready members run different MariaDB
// versions, the writer is the lowest ready member of the oldest one, as
// every member computes it; once one version is left, or when a peer did
// not answer or says no version, the usual rule stands.
func TestLowestReadyVersions(t *testing.T) {
	st := func(name string, idx int, version string, ready bool) peer.State {
		return peer.State{NodeName: name, Ready: ready, LocalIndex: idx, ClusterSize: 3, MariaDBVersion: version}
	}
	ok := func(s peer.State) peer.Answer[peer.State] { return peer.Answer[peer.State]{Value: s} }
	timeout := fmt.Errorf("get state: %w", context.DeadlineExceeded)
	refused := fmt.Errorf("get state: %w", syscall.ECONNREFUSED)
	for _, tc := range []struct {
		name    string
		members []peer.State
		lost    int // this member's answer is an error: 0 and 1 time out, 2 is refused
		want    int
	}{
		// The trial: the first member upgraded held slot 0.
		{"the upgraded member holds slot 0: the writer is the lowest old one", []peer.State{st("g2", 0, "11.4.5", true), st("g0", 1, "10.11.19", true), st("g1", 2, "10.11.19", true)}, -1, 1},
		{"two old, one not ready: the ready old one", []peer.State{st("g2", 0, "11.4.5", true), st("g0", 1, "10.11.19", false), st("g1", 2, "10.11.19", true)}, -1, 2},
		{"the old ones not ready: the usual rule", []peer.State{st("g2", 0, "11.4.5", true), st("g0", 1, "10.11.19", false), st("g1", 2, "11.4.5", true)}, -1, 0},
		{"a minor upgrade too", []peer.State{st("g2", 0, "10.11.19", true), st("g0", 1, "10.11.6", true), st("g1", 2, "10.11.19", true)}, -1, 1},
		{"one version: the usual rule", []peer.State{st("g2", 0, "11.4.5", true), st("g0", 1, "11.4.5", true), st("g1", 2, "11.4.5", true)}, -1, 0},
		{"a peer of an earlier release: the usual rule", []peer.State{st("g2", 0, "11.4.5", true), st("g0", 1, "", true), st("g1", 2, "10.11.19", true)}, -1, 0},
		{"a peer did not answer: the usual rule", []peer.State{st("g2", 0, "11.4.5", true), st("g0", 1, "10.11.19", true), st("g1", 2, "10.11.19", true)}, 0, 0},
		// S7: galera-1 is being replaced; the upgraded galera-2 holds
		// slot 0 of the two left, and must not claim the writer.
		{"a member being replaced, gone: the old one stays the writer", []peer.State{st("g2", 0, "10.11.19", true), st("g0", 1, "10.11.18", true), st("g1", -1, "", false)}, 2, 1},
		{"a member joining, not ready, of another view, no version yet: the old one", []peer.State{st("g2", 0, "10.11.19", true), st("g0", 1, "10.11.18", true), {NodeName: "g1", LocalIndex: -1, ClusterSize: 1}}, -1, 1},
	} {
		for i, me := range tc.members {
			if i == tc.lost {
				continue
			}
			var answers []peer.Answer[peer.State]
			for j, p := range tc.members {
				a := ok(p)
				if j == tc.lost {
					a.Err = timeout
					if j == 2 {
						a.Err = refused
					}
				}
				answers = append(answers, a)
			}
			if got := LowestReady(me, answers); got != tc.want && me.Ready {
				t.Errorf("%s: %s says %d, want %d", tc.name, me.NodeName, got, tc.want)
			}
		}
	}
}

// TestDifferingTables: the members of this member's view whose settled
// system tables differ; unknown while this member's are not settled; a
// member that did not answer, of another view, or unsettled counts not.
func TestDifferingTables(t *testing.T) {
	st := func(name, sum string, size int) peer.Answer[peer.State] {
		return peer.Answer[peer.State]{Value: peer.State{NodeName: name, ClusterSize: size, SystemTables: sum}}
	}
	me := peer.State{NodeName: "a", ClusterSize: 3, SystemTables: "aaa"}
	lost := st("d", "ddd", 3)
	lost.Err = context.DeadlineExceeded
	for _, tc := range []struct {
		name string
		me   peer.State
		a    []peer.Answer[peer.State]
		want int
	}{
		{"all the same", me, []peer.Answer[peer.State]{st("a", "aaa", 3), st("b", "aaa", 3), st("c", "aaa", 3)}, 0},
		{"one differs", me, []peer.Answer[peer.State]{st("a", "aaa", 3), st("b", "bbb", 3), st("c", "aaa", 3)}, 1},
		{"this one is the odd one", me, []peer.Answer[peer.State]{st("b", "bbb", 3), st("c", "bbb", 3)}, 2},
		{"unsettled, another view, silent", me, []peer.Answer[peer.State]{st("b", "", 3), st("c", "ccc", 2), lost}, 0},
		{"mine unsettled", peer.State{NodeName: "a", ClusterSize: 3}, []peer.Answer[peer.State]{st("b", "bbb", 3)}, -1},
	} {
		if got := DifferingTables(tc.me, tc.a); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestLowestReadyKubeAPI: on Kubernetes, a ready member whose sentinel
// cannot reach the API server is passed over for the writer while another
// ready member of the view reaches it (its last try succeeded); when none
// does (the control plane is down, the members' tries failing a moment
// apart), nobody is passed over. Each member computes the same writer.
func TestLowestReadyKubeAPI(t *testing.T) {
	st := func(name string, idx int, failing, unreachable bool) peer.State {
		return peer.State{NodeName: name, Ready: true, LocalIndex: idx, ClusterSize: 3, KubeAPIFailing: failing, KubeAPIUnreachable: unreachable}
	}
	writer := func(members ...peer.State) map[string]int {
		got := map[string]int{}
		for _, me := range members {
			var answers []peer.Answer[peer.State]
			for _, o := range members {
				if o.NodeName != me.NodeName {
					answers = append(answers, peer.Answer[peer.State]{Value: o})
				}
			}
			got[me.NodeName] = LowestReady(me, answers)
		}
		return got
	}
	same := func(m map[string]int, want int) bool {
		for _, v := range m {
			if v != want {
				return false
			}
		}
		return true
	}
	for _, tc := range []struct {
		name    string
		members []peer.State
		want    int
		cut     map[string][]string // APICut as each member sees it
	}{
		{"all reach it", []peer.State{st("a", 0, false, false), st("b", 1, false, false), st("c", 2, false, false)}, 0, nil},
		{"the writer cut off", []peer.State{st("a", 0, true, true), st("b", 1, false, false), st("c", 2, false, false)}, 1,
			map[string][]string{"b": {"a"}, "c": {"a"}}},
		{"the writer failing, not for long yet", []peer.State{st("a", 0, true, false), st("b", 1, false, false), st("c", 2, false, false)}, 0, nil},
		{"the writer and the next cut off", []peer.State{st("a", 0, true, true), st("b", 1, true, true), st("c", 2, false, false)}, 2,
			map[string][]string{"c": {"a", "b"}}},
		{"the control plane down", []peer.State{st("a", 0, true, true), st("b", 1, true, true), st("c", 2, true, true)}, 0, nil},
		{"the control plane going down, a moment apart", []peer.State{st("a", 0, true, true), st("b", 1, true, false), st("c", 2, true, false)}, 0, nil},
		{"a member that is not the writer cut off", []peer.State{st("a", 0, false, false), st("b", 1, true, true), st("c", 2, false, false)}, 0,
			map[string][]string{"a": {"b"}, "c": {"b"}}},
	} {
		got := writer(tc.members...)
		if !same(got, tc.want) {
			t.Errorf("%s: writer index as each member sees it %v, want %d on every one", tc.name, got, tc.want)
		}
		for _, me := range tc.members {
			var answers []peer.Answer[peer.State]
			for _, o := range tc.members {
				if o.NodeName != me.NodeName {
					answers = append(answers, peer.Answer[peer.State]{Value: o})
				}
			}
			if c := APICut(me, answers); !slices.Equal(c, tc.cut[me.NodeName]) {
				t.Errorf("%s: %s sees %v cut off, want %v", tc.name, me.NodeName, c, tc.cut[me.NodeName])
			}
		}
	}
}

// TestLifecycle: the lifecycle tests every mode passes.
func TestLifecycle(t *testing.T) {
	membertest.Lifecycle(t, func(t *testing.T, cfg member.Config) *membertest.Rig {
		r := newRig(t, filepath.Join(t.TempDir(), "data"), cfg)
		return &membertest.Rig{Run: r.m.Run, Shell: r.db.shell, Node: r.node, Hurry: r.hurry,
			Running:  func() bool { st := r.m.State(); return st.Phase == peer.PhaseRunning && st.Ready },
			Stopping: func() bool { return r.poller.Snapshot().Stopping }}
	})
}

// TestDetachedIsRestarted: a mariadbd that stays up but out of its
// cluster for good (disconnected, Initialized: what a failed IST leaves)
// is stopped cleanly and started again after a new decision, without
// Run ending.
func TestDetachedIsRestarted(t *testing.T) {
	var events []journal.Event
	var mu sync.Mutex
	r := newRig(t, filepath.Join(t.TempDir(), "data"), member.Config{Events: func(e journal.Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}})
	detached := func() bool { return r.db.shell.Starts() == 1 }
	errc, cancel := r.run()
	defer cancel()
	waitFor(t, "running", func() bool { return r.m.State().Phase == peer.PhaseRunning })
	r.smp.detached.Store(&detached)
	for deadline := time.Now().Add(galera.DetachedSettle + 15*time.Second); r.db.shell.Starts() < 2; time.Sleep(10 * time.Millisecond) {
		select {
		case err := <-errc:
			t.Fatalf("Run returned: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("a detached mariadbd was not restarted")
		}
	}
	waitFor(t, "running again", func() bool { st := r.m.State(); return st.Phase == peer.PhaseRunning && st.Ready })
	mu.Lock()
	var restarted bool
	for _, e := range events {
		restarted = restarted || (e.Kind == journal.KindDecision && strings.HasPrefix(e.Reason, string(member.Restart)+": "))
	}
	mu.Unlock()
	if !restarted {
		t.Error("no restart decision in the journal")
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestRestartRequiredLineRestarts: a line in which Galera says the node
// must be restarted ("Receiving IST failed, node restart required") makes
// the next check stop mariadbd cleanly and start it again after a new
// decision, without the Detached debounce and without Run ending; the
// new life is not restarted for the old life's line.
func TestRestartRequiredLineRestarts(t *testing.T) {
	const line = "2026-12-05 21:10:03 2 [ERROR] WSREP: Receiving IST failed, node restart required: IST receiver reported failure: 'IST didn't contain all write sets, expected last: 27 last received: 26' (71)"
	var events []journal.Event
	var mu sync.Mutex
	r := newRig(t, filepath.Join(t.TempDir(), "data"), member.Config{Events: func(e journal.Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}})
	// Said before mariadbd ever started: not this life's word.
	r.m.RestartRequired(line)
	errc, cancel := r.run()
	defer cancel()
	waitFor(t, "running", func() bool { st := r.m.State(); return st.Phase == peer.PhaseRunning && st.Ready })
	if n := r.db.shell.Starts(); n != 1 {
		t.Fatalf("%d starts before the line, want 1", n)
	}
	said := time.Now()
	r.m.RestartRequired(line)
	waitFor(t, "a restart", func() bool { return r.db.shell.Starts() >= 2 })
	// One check (20 ms) and a clean stop of a shell: far below the
	// Detached debounce (galera.DetachedSettle).
	if took := time.Since(said); took >= galera.DetachedSettle {
		t.Errorf("restarted %s after the line, want within a check", took)
	}
	waitFor(t, "running again", func() bool { st := r.m.State(); return st.Phase == peer.PhaseRunning && st.Ready })
	mu.Lock()
	var restarted bool
	for _, e := range events {
		restarted = restarted || (e.Kind == journal.KindDecision && strings.HasPrefix(e.Reason, string(member.Restart)+": ") && strings.Contains(e.Reason, "node restart required"))
	}
	mu.Unlock()
	if !restarted {
		t.Error("no restart decision naming mariadbd's line in the journal")
	}
	// Many checks of the new life: the old line must not stop it again.
	for deadline := time.Now().Add(25 * r.loop.Interval); time.Now().Before(deadline); time.Sleep(r.loop.Interval) {
		if n := r.db.shell.Starts(); n != 2 {
			t.Fatalf("%d starts: the new life was restarted for the old life's line", n)
		}
	}
	select {
	case err := <-errc:
		t.Fatalf("Run returned: %v", err)
	default:
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestRestartRequiredSinceStart: only a line that came after the start
// counts, and the decision names it.
func TestRestartRequiredSinceStart(t *testing.T) {
	r := newRig(t, t.TempDir(), member.Config{})
	const line = "[ERROR] WSREP: Receiving IST failed, node restart required: IST receiver reported failure: 'IST didn't contain all write sets, expected last: 27 last received: 26' (71)"
	if _, ok := r.m.restartRequiredDue(time.Now()); ok {
		t.Fatal("restart without a line")
	}
	before := time.Now().Add(-time.Second)
	r.m.RestartRequired(line)
	if _, ok := r.m.restartRequiredDue(time.Now().Add(time.Second)); ok {
		t.Error("restart for a line from before the start")
	}
	d, ok := r.m.restartRequiredDue(before)
	if !ok || d.Action != member.Restart || !strings.Contains(d.Reason, "Receiving IST failed, node restart required") {
		t.Errorf("line after the start: %v %+v, want a restart naming the line", ok, d)
	}
}

// TestRepeatedDecisionJournalledOnce: the recovery loop tells every round's
// decision; a member waiting for its peers decides the same each time,
// and the journal records it once, then each change.
func TestRepeatedDecisionJournalledOnce(t *testing.T) {
	var mu sync.Mutex
	var got []string
	r := newRig(t, t.TempDir(), member.Config{Events: func(e journal.Event) {
		if e.Kind == journal.KindDecision {
			mu.Lock()
			got = append(got, e.Reason)
			mu.Unlock()
		}
	}})
	wait1 := galera.Decision{Action: galera.Wait, Reason: "node-1 has not answered"}
	wait2 := galera.Decision{Action: galera.Wait, Reason: "node-2 has not answered"}
	for _, d := range []galera.Decision{wait1, wait1, wait1, wait2, wait2, wait1} {
		r.m.decided(d)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"wait: node-1 has not answered", "wait: node-2 has not answered", "wait: node-1 has not answered"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("journalled decisions %q, want %q", got, want)
	}
}
