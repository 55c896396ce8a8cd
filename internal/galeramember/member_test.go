package galeramember

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/discovery"
	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/httpserver"
	"github.com/galera-sentinel/galera-sentinel/internal/mariadbd"
	"github.com/galera-sentinel/galera-sentinel/internal/member"
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

// sampler plays the node once "mariadbd" runs: Synced, with conns client
// connections (the sentinel's own included).
type sampler struct {
	conns atomic.Int64
	// down, when set, says when "mariadbd" does not answer yet.
	down atomic.Pointer[func() bool]
}

func (s *sampler) Sample(context.Context) (galera.Sample, error) {
	if f := s.down.Load(); f != nil && (*f)() {
		return galera.Sample{}, errors.New("dial unix: no such file or directory")
	}
	return galera.Sample{WsrepOn: true, Connected: true, Ready: true, ClusterStatus: "Primary", LocalState: galera.StateSynced,
		ClusterSize: 1, RejectQueries: "NONE", ThreadsConnected: int(s.conns.Load())}, nil
}

// fakeDB records what the member asks of mariadbd's roles and runs a
// shell in mariadbd's place.
type fakeDB struct {
	t        *testing.T
	reaper   *supervisor.Reaper
	datadir  string
	script   string // the shell's program
	recovery string // what --wsrep-recover logs
	mu       sync.Mutex
	starts   []mariadbd.Start
	inits    int
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

func (f *fakeDB) Serve(s mariadbd.Start, _ []string) (*supervisor.Process, error) {
	f.mu.Lock()
	f.starts = append(f.starts, s)
	n := len(f.starts)
	f.mu.Unlock()
	// The shell installs its SIGTERM trap first, then says so: a stop
	// that came before the trap would kill it, which no mariadbd does.
	ready := filepath.Join(f.t.TempDir(), fmt.Sprintf("started-%d", n))
	p, err := f.reaper.Start("fake mariadbd", exec.Command("/bin/sh", "-c", `trap "exit 0" TERM; touch `+ready+`; `+f.script))
	if err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		if _, err := os.Stat(ready); err == nil || time.Now().After(deadline) {
			return p, nil
		}
		select {
		case <-p.Done():
			return p, nil
		default:
		}
	}
}

// untilTerm runs until SIGTERM, on which it exits 0 as mariadbd does
// after a clean shutdown (the trap is Serve's).
const untilTerm = `while :; do sleep 0.05; done`

type rig struct {
	m      *Member
	poller *health.Poller[galera.Sample]
	db     *fakeDB
	smp    *sampler
	loop   *recovery.Loop
	hurry  chan os.Signal
}

func newRig(t *testing.T, datadir string, lc member.Config) *rig {
	cfg := Config{Config: lc}
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	smp := &sampler{}
	smp.conns.Store(1)
	judge := readiness.Judge[galera.Sample]{Policy: galera.Policy{}, Limits: readiness.Limits{MaxStaleness: 2 * time.Second, LivenessGrace: time.Minute}}
	poller := health.NewPoller(health.PollerConfig{Interval: 20 * time.Millisecond, Timeout: time.Second}, judge, health.Sampler[galera.Sample](smp))
	reaper := supervisor.NewReaper(false, log)
	t.Cleanup(reaper.Close)
	db := &fakeDB{t: t, reaper: reaper, datadir: datadir, script: untilTerm}
	pc := peer.NewClient(token, nil, time.Second)
	t.Cleanup(pc.Close)
	loop := &recovery.Loop{Expected: 1, Peers: pc, GcommPort: 4567, Interval: 20 * time.Millisecond, Logger: log}
	hurry := make(chan os.Signal, 1)
	cfg.NodeName, cfg.DataDir = "node-0", datadir
	cfg.ShutdownTimeout, cfg.PollInterval = 5*time.Second, 20*time.Millisecond
	ready := func(s *health.Snapshot[galera.Sample], now time.Time) bool { return poller.Ready(s, now).OK }
	m := New(cfg, poller, ready, 2*time.Second, loop, db, func() (<-chan os.Signal, func()) { return hurry, func() {} }, log)
	srv := httptest.NewServer(httpserver.NewMux(m.PeerAPI(httpserver.StaticTokens(token), log)))
	t.Cleanup(srv.Close)
	loop.Source = discovery.Static{strings.TrimPrefix(srv.URL, "http://")}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); poller.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &rig{m: m, poller: poller, db: db, smp: smp, loop: loop, hurry: hurry}
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

// TestMariadbdExitsOnItsOwn: the member ends with mariadbd's own status.
func TestMariadbdExitsOnItsOwn(t *testing.T) {
	r := newRig(t, filepath.Join(t.TempDir(), "data"), member.Config{})
	r.db.script = "sleep 0.2; exit 3"
	errc, cancel := r.run()
	defer cancel()
	select {
	case err := <-errc:
		if e, ok := errors.AsType[*member.ExitError](err); !ok || e.Code != 3 || !strings.Contains(e.Msg, "exited on its own") {
			t.Fatalf("Run: %v, want an ExitError with code 3", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return when mariadbd exited")
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

// TestDrainWaitsForConnections: after the delay, "mariadbd" keeps running
// while a client is connected, and stops once none is; a second signal
// cuts a drain short.
func TestDrainWaitsForConnections(t *testing.T) {
	for _, hurry := range []bool{false, true} {
		r := newRig(t, filepath.Join(t.TempDir(), "data"), member.Config{DrainDelay: 50 * time.Millisecond, DrainTimeout: time.Minute})
		r.smp.conns.Store(2) // one client besides the sentinel
		errc, cancel := r.run()
		waitFor(t, "running", func() bool { return r.m.State().Phase == peer.PhaseRunning })
		begin := time.Now()
		cancel()
		select {
		case err := <-errc:
			t.Fatalf("stopped with a client connected (after %v): %v", time.Since(begin), err)
		case <-time.After(500 * time.Millisecond):
		}
		if hurry {
			r.hurry <- os.Interrupt
		} else {
			r.smp.conns.Store(1)
		}
		select {
		case err := <-errc:
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("hurry=%v: stopped %v after the cancellation", hurry, time.Since(begin).Round(time.Millisecond))
		case <-time.After(10 * time.Second):
			t.Fatalf("hurry=%v: the drain did not end", hurry)
		}
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
		{"a lower member of another view", []peer.Answer[peer.State]{ans("a", true, 0, 2, nil)}, 1},
		{"a lower member that failed to answer", []peer.Answer[peer.State]{ans("a", true, 0, 3, errors.New("timeout"))}, 1},
		{"ourselves listed", []peer.Answer[peer.State]{ans("b", true, 0, 3, nil)}, 1},
		{"a higher ready member", []peer.Answer[peer.State]{ans("c", true, 2, 3, nil)}, 1},
	} {
		if got := LowestReady(me, tc.a); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestRetriesInProcess: a mariadbd that exits before it is ever Synced
// (a state transfer that broke off) is tried again by the member itself,
// held and alive meanwhile, never by exiting; once it runs, it runs.
func TestRetriesInProcess(t *testing.T) {
	r := newRig(t, filepath.Join(t.TempDir(), "data"), member.Config{RetryMin: 50 * time.Millisecond})
	marker := filepath.Join(t.TempDir(), "tries")
	// The first two tries exit at once, before the poller can see them
	// Synced; the third runs until it is told to stop.
	r.db.script = `echo x >> ` + marker + `; [ $(wc -l < ` + marker + `) -ge 3 ] || exit 1; ` + untilTerm
	down := func() bool {
		b, _ := os.ReadFile(marker)
		return strings.Count(string(b), "\n") < 3
	}
	r.smp.down.Store(&down)
	errc, cancel := r.run()
	defer cancel()
	waitFor(t, "a held retry", func() bool {
		return strings.Contains(r.poller.Snapshot().Hold, "mariadbd exited before it was Synced")
	})
	if v := r.poller.Judge().Live(r.poller.Snapshot().Observation, time.Now()); !v.OK {
		t.Errorf("not alive while retrying: %+v", v)
	}
	waitFor(t, "running on the third try", func() bool {
		return !down() && r.m.State().Ready && r.poller.Snapshot().Hold == ""
	})
	select {
	case err := <-errc:
		t.Fatalf("Run returned while retrying: %v", err)
	default:
	}
	r.db.mu.Lock()
	tries := len(r.db.starts)
	r.db.mu.Unlock()
	if tries < 3 {
		t.Errorf("%d starts, want at least 3", tries)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
