package replmember

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/discovery"
	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/member"
	"github.com/galera-sentinel/galera-sentinel/internal/member/membertest"
	"github.com/galera-sentinel/galera-sentinel/internal/readiness"
	"github.com/galera-sentinel/galera-sentinel/internal/replica"
	"github.com/galera-sentinel/galera-sentinel/internal/replops"
	"github.com/galera-sentinel/galera-sentinel/internal/supervisor"
)

// These tests run the replication member's whole life without mariadbd:
// the real poller over a sampler of the test's, fake statements, and a
// real child process (a shell) in mariadbd's place. What mariadbd itself
// does is tested against real mariadbd in e2e/repl.

// replSampler plays a writable primary with the node's connections.
type replSampler struct{ node *membertest.Node }

func (s *replSampler) Sample(context.Context) (replica.Sample, error) {
	if s.node.Down() {
		return replica.Sample{}, errors.New("dial unix: no such file or directory")
	}
	return replica.Sample{ServerID: 1, ThreadsConnected: s.node.Conns(), BinlogPos: "0-1-5"}, nil
}

// fakeServer is the local server's statements: it answers when the node
// does, and records what the member set.
type fakeServer struct {
	node     *membertest.Node
	mu       sync.Mutex
	readOnly bool
	user     string
	closed   int
}

func (f *fakeServer) Ping(context.Context) error {
	if f.node.Down() {
		return errors.New("connection refused")
	}
	return nil
}

func (f *fakeServer) Read(context.Context) (replops.Positions, error) {
	return replops.Positions{BinlogPos: "0-1-5", ReadOnly: true}, nil
}

func (f *fakeServer) SetReadOnly(_ context.Context, on bool) error {
	f.mu.Lock()
	f.readOnly = on
	f.mu.Unlock()
	return nil
}

func (f *fakeServer) EnsureReplicationUser(_ context.Context, user, _ string) error {
	f.mu.Lock()
	f.user = user
	f.mu.Unlock()
	return nil
}

func (f *fakeServer) Follow(context.Context, replops.Primary) error {
	return errors.New("must not follow")
}
func (f *fakeServer) SetSlavePos(context.Context, string) error { return errors.New("must not clone") }

func (f *fakeServer) Close() error {
	f.mu.Lock()
	f.closed++
	f.mu.Unlock()
	return nil
}

// fakeMariadbd initialises by writing a file and serves with the shell.
type fakeMariadbd struct {
	shell   *membertest.Shell
	datadir string
}

func (f *fakeMariadbd) Initialise(context.Context) error {
	if err := os.MkdirAll(f.datadir, 0o750); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(f.datadir, "ibdata1"), nil, 0o640)
}

func (f *fakeMariadbd) ServeReplication() (*supervisor.Process, error) { return f.shell.Start() }

// TestLifecycle: the lifecycle tests every mode passes, for a member that
// --primary names, alone, with an empty data directory: it initialises,
// becomes the writable primary and runs.
func TestLifecycle(t *testing.T) {
	membertest.Lifecycle(t, func(t *testing.T, cfg member.Config) *membertest.Rig {
		log := slog.New(slog.DiscardHandler)
		node := membertest.NewNode()
		judge := readiness.Judge[replica.Sample]{Policy: replica.Policy{}, Limits: readiness.Limits{MaxStaleness: 2 * time.Second, LivenessGrace: time.Minute}}
		poller := health.NewPoller(health.PollerConfig{Interval: 20 * time.Millisecond, Timeout: time.Second}, judge, health.Sampler[replica.Sample](&replSampler{node}))
		shell := membertest.NewShell(t)
		datadir := filepath.Join(t.TempDir(), "data")
		server := &fakeServer{node: node}
		hurry := make(chan os.Signal, 1)
		cfg.NodeName, cfg.DataDir, cfg.PollInterval = "node-0", datadir, 20*time.Millisecond
		if cfg.ShutdownTimeout == 0 {
			cfg.ShutdownTimeout = 5 * time.Second
		}
		m := New(Config{Config: cfg, Advertise: "127.0.0.1:3306", FlaggedPrimary: true, ReplicationUser: "repl", DecideInterval: 20 * time.Millisecond, Timeout: time.Second},
			poller, &fakeMariadbd{shell: shell, datadir: datadir}, func() (Statements, error) { return server, nil },
			discovery.Static{}, nil, shell.Reaper(), func() (<-chan os.Signal, func()) { return hurry, func() {} }, log)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); poller.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		return &membertest.Rig{Run: m.Run, Shell: shell, Node: node, Hurry: hurry,
			Running: func() bool {
				d := m.State()
				server.mu.Lock()
				writable := !server.readOnly && server.user == "repl"
				server.mu.Unlock()
				return d.Phase == PhaseRunning && d.Action == member.Primary && writable && poller.Ready(poller.Snapshot(), time.Now()).OK
			},
			Stopping: func() bool { return poller.Snapshot().Stopping }}
	})
}
