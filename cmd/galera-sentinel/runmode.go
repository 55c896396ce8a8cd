package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/discovery"
	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/galeramember"
	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/kube"
	"github.com/galera-sentinel/galera-sentinel/internal/mariadbd"
	"github.com/galera-sentinel/galera-sentinel/internal/member"
	"github.com/galera-sentinel/galera-sentinel/internal/metrics"
	"github.com/galera-sentinel/galera-sentinel/internal/mysqlstat"
	"github.com/galera-sentinel/galera-sentinel/internal/page"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
	"github.com/galera-sentinel/galera-sentinel/internal/progress"
	"github.com/galera-sentinel/galera-sentinel/internal/readiness"
	"github.com/galera-sentinel/galera-sentinel/internal/recovery"
	"github.com/galera-sentinel/galera-sentinel/internal/supervisor"
)

func runRun(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseRun(args, getenv, stderr)
	if err != nil {
		return err
	}
	return runMode(ctx, cfg, newLogger(cfg.LogFormat, cfg.LogLevel, stderr), nil)
}

// memberModes wires each database mode's member: a mode is its package
// (a member.Mode) plus one line here and its wire function.
var memberModes = map[string]memberWiring{
	modeGalera:      {build: wireGalera},
	modeReplication: {check: checkReplication, build: wireReplication},
}

// memberWiring is how one mode is wired: check may refuse mariadbd's
// configuration before anything opens; build makes the node stack and
// the member over what runMode opened.
type memberWiring struct {
	check func(cfg *RunConfig, eff mariadbd.Effective) error
	build func(ctx context.Context, cfg *RunConfig, rs *runShared, logger *slog.Logger) (*wiredMember, error)
}

// runShared is what runMode opens for every mode before its member.
type runShared struct {
	*runBase
	*nodeBase
	peers  *peer.Client
	reaper *supervisor.Reaper
	exe    string
}

// member is the lifecycle's configuration for either mode: the flags,
// and the drain's closer of client sessions over the probe's connection,
// its figures in the metrics.
func (rs *runShared) member(cfg *RunConfig) member.Config {
	c := cfg.member()
	c.Sessions = cfg.drainSessions(rs.client)
	c.Drained = metrics.NewDrain(rs.Metrics).Drained
	return c
}

// wiredMember is one mode's member, ready to run: its life, what runs
// beside it until it ends (poller, watchers, the endpoints), whether this
// member is the writer now, and what the start log says of it.
type wiredMember struct {
	run      func(ctx context.Context) error
	tasks    []func(ctx context.Context)
	isWriter func() bool
	attrs    []any
	close    func()
}

// wire finishes a mode's wiring over its node stack: the poller runs
// beside the member, and the endpoints serve mux.
func wire[S any](rs *runShared, n *node[S], mux http.Handler, w *wiredMember) *wiredMember {
	w.tasks = append(w.tasks, func(ctx context.Context) { n.Poller.Run(ctx) }, func(ctx context.Context) {
		if err := n.serve(ctx, rs.eps, mux); err != nil {
			n.logger.Error("serving endpoints", "err", err)
		}
	})
	w.isWriter = func() bool { return n.Handlers.Writer(time.Now()).Role == readiness.Writer }
	return w
}

// runMode wires `run` for either mode: the endpoints, the poller, the
// member and its collaborators. The server and the poller live until
// runMode returns, after mariadbd has stopped: probes answer truthfully
// the whole time. When ready is non-nil it receives the listen address.
func runMode(ctx context.Context, cfg *RunConfig, logger *slog.Logger, ready chan<- string) error {
	wiring, ok := memberModes[cfg.Mode]
	if !ok {
		return fmt.Errorf("%w: run mode %q has no member", errUsage, cfg.Mode)
	}
	kc, err := openKube(cfg)
	if err != nil {
		return err
	}
	if kc != nil {
		defer kc.Close()
	}
	var check func(mariadbd.Effective) error
	if wiring.check != nil {
		check = func(eff mariadbd.Effective) error { return wiring.check(cfg, eff) }
	}
	rb, err := openRun(ctx, cfg, check)
	if err != nil {
		return err
	}
	defer rb.client.Close()
	tokens := cfg.tokens(logger.With("component", "tokens"))
	rs := &runShared{runBase: rb, nodeBase: openNode(nodeConfig{Name: cfg.NodeName, Command: "run", EventsFile: cfg.eventsFile(), Tokens: tokens}, logger)}
	rs.peers = peer.NewTokensClient(tokens, rb.clientTLS, cfg.PeerTimeout)
	defer rs.peers.Close()
	rs.reaper = supervisor.NewReaper(os.Getpid() == 1, logger)
	defer rs.reaper.Close()
	rs.exe, _ = os.Executable()
	w, err := wiring.build(ctx, cfg, rs, logger)
	if err != nil {
		rb.eps.close()
		return err
	}
	if w.close != nil {
		defer w.close()
	}
	logger.Info("run mode", append([]any{"mode", cfg.Mode, "node", cfg.NodeName, "listen", rb.eps.http.Addr().String(), "tls", rb.serverTLS != nil,
		"agent_check", rb.eps.agentAddr(), "notify_socket", cfg.NotifySocket, "peers", rb.source.String(), "datadir", cfg.DataDir,
		"mysql_addr", cfg.MySQLAddr, "events_file", rs.Journal.Path(), "pid", os.Getpid()}, w.attrs...)...)
	if ready != nil {
		ready <- rb.eps.http.Addr().String()
	}
	stop := background(logger, w.tasks...)
	defer stop()
	if kc != nil {
		// Deferred after stop, so it runs before: "false" on the pod
		// before the endpoints go.
		defer writerLabel(ctx, cfg, kc, w.isWriter, logger)()
	}
	err = w.run(ctx)
	rs.stopped(err)
	return err
}

// wireGalera wires Galera's member (internal/galeramember): the recovery
// loop, the writer view with its handover, the saved view, the peer API
// and the override.
func wireGalera(_ context.Context, cfg *RunConfig, rs *runShared, logger *slog.Logger) (*wiredMember, error) {
	n := newNode(rs.nodeBase, cfg.poller(logger, nil), cfg.judge(), health.Sampler[galera.Sample](rs.client), metrics.Galera)
	poller, h := n.Poller, n.Handlers
	// Every line mariadbd (or its SST script) prints is progress.
	output := slog.New(progress.Lines(logger.With("component", "mariadbd", "stream", "output").Handler(), func() { poller.Progressed("mariadbd output") }))
	db := mariadbd.NewRunner(cfg.mariadbd(rs.exe, rs.eff), rs.reaper, logger.With("component", "mariadbd"), output)
	dirs := &progress.DirWatcher{Dir: cfg.DataDir, Every: dirWalkEvery, Active: poller.Watching, Progressed: poller.Progressed,
		Logger: logger.With("component", "progress")}
	loop := &recovery.Loop{Expected: cfg.ExpectedSize, Source: rs.source, Peers: rs.peers, GcommPort: cfg.GcommPort,
		Interval: cfg.DecideInterval, Logger: logger.With("component", "recovery")}

	mcfg := galeramember.Config{Config: rs.member(cfg), InstanceID: rs.Instance}
	mcfg.WriterUntil, mcfg.Events = h.WriterUntil, rs.Journal.Add
	m := galeramember.New(mcfg, poller, readyAt(poller), cfg.MaxStaleness, loop, db, secondSignal, logger)
	db.OnRestartRequired(m.RestartRequired) // Galera's "node restart required": restart at once
	if cfg.ForceBootstrap != "" && cfg.ForceBootstrap == cfg.NodeName {
		logger.Warn("bootstrap override set by flag: this member may bootstrap without the others; remove the flag once the cluster is back", "node", cfg.NodeName)
		loop.Force()
	}
	writers := &galeramember.WriterView{Self: cfg.NodeName, Source: rs.source, Peers: rs.peers, State: m.State,
		Every: min(cfg.PollInterval, time.Second), Changes: poller.Changes()}
	h.SetWriterView(writers.Lowest, cfg.WriterHandover)
	api := m.PeerAPI(rs.Tokens, logger.With("component", "peer-api"))
	api.Changed = writers.Kick
	api.Forward = m.ForwardOverride(rs.peers)
	metrics.Member(rs.Metrics, m.State, m.Seen)
	pg := &page.Page{Peers: rs.source.Peers, Client: rs.peers, Timeout: cfg.PeerTimeout}
	h.SetPage(pg, page.Wants)
	views := &galeramember.ViewKeeper{Self: cfg.NodeName, DataDir: cfg.DataDir, Source: rs.source, Peers: rs.peers,
		Sample: freshSample(poller, cfg.MaxStaleness), Saved: m.SetLastView, Every: cfg.DecideInterval,
		Logger: logger.With("component", "view")}
	return wire(rs, n, n.mux(api, pg.Routes()), &wiredMember{
		run:   m.Run,
		tasks: []func(ctx context.Context){dirs.Run, writers.Run, views.Run},
		attrs: []any{"expected_size", cfg.ExpectedSize,
			"cluster_address_from", map[bool]string{true: "mariadbd's configuration", false: "the peers"}[rs.eff.HasClusterAddress()]},
	}), nil
}

// openKube is the API client for --kube-writer-label (nil without it).
func openKube(cfg *RunConfig) (*kube.Client, error) {
	if !cfg.KubeWriterLabel {
		return nil, nil
	}
	c, err := kube.InCluster(cfg.kubeConfig())
	if err != nil {
		return nil, fmt.Errorf("--kube-writer-label: %w; nothing was started", err)
	}
	return c, nil
}

// writerLabel starts keeping the pod's writer label in step with
// /writerz until ctx ends (SIGTERM: "false" at once, as the drain
// begins); the returned stop ends it, "false" set, when the member has
// stopped for another reason.
func writerLabel(ctx context.Context, cfg *RunConfig, kc *kube.Client, isWriter func() bool, logger *slog.Logger) (stop func()) {
	log := logger.With("component", "kube", "pod", cfg.KubePodName, "namespace", kc.Namespace())
	l := &kube.WriterLabel{
		Set: func(ctx context.Context, v string) error {
			return kc.SetPodLabel(ctx, cfg.KubePodName, kube.WriterLabelKey, v)
		},
		Writer: isWriter, Every: min(cfg.PollInterval, 100*time.Millisecond), Logger: log,
	}
	log.Info("keeping the writer label", "label", kube.WriterLabelKey)
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); l.Run(lctx) }()
	return func() { cancel(); <-done }
}

// runBase is what both run modes open before their member: mariadbd's
// effective configuration, the endpoints, the peers' source and the one
// connection to mariadbd.
type runBase struct {
	eff                  mariadbd.Effective
	eps                  *endpoints
	source               discovery.Source
	client               *mysqlstat.Client
	serverTLS, clientTLS *tls.Config
}

// openRun reads mariadbd's configuration (check, when set, may refuse
// it), makes it the truth, and opens the endpoints and the connection.
// Nothing is started when it fails; on success the caller closes client.
func openRun(ctx context.Context, cfg *RunConfig, check func(mariadbd.Effective) error) (*runBase, error) {
	eff, err := mariadbd.ReadEffective(ctx, cfg.Mariadbd)
	if err != nil {
		return nil, fmt.Errorf("%w; nothing was started", err)
	}
	if check != nil {
		if err := check(eff); err != nil {
			return nil, err
		}
	}
	if err := cfg.followConfig(eff); err != nil {
		return nil, fmt.Errorf("%w; nothing was started", err)
	}
	serverTLS, clientTLS, err := cfg.tls()
	if err != nil {
		return nil, err
	}
	eps, err := openEndpoints(&cfg.ServeConfig, serverTLS)
	if err != nil {
		return nil, err
	}
	source, err := cfg.Discovery.Source(eps.http.Addr().(*net.TCPAddr).Port)
	if err != nil {
		eps.close()
		return nil, err
	}
	client, err := mysqlstat.New(cfg.mysql())
	if err != nil {
		eps.close()
		return nil, err
	}
	return &runBase{eff: eff, eps: eps, source: source, client: client, serverTLS: serverTLS, clientTLS: clientTLS}, nil
}

// freshSample is the poller's last sample while it is fresh enough to
// vouch for, nil otherwise.
func freshSample(p *health.Poller[galera.Sample], maxAge time.Duration) func() *galera.Sample {
	return func() *galera.Sample {
		s := p.Snapshot()
		if s.Last == nil || time.Since(s.LastAt) > maxAge {
			return nil
		}
		return s.Last
	}
}

// readyAt is the poller's Ready verdict, as the member publishes it.
func readyAt(p *health.Poller[galera.Sample]) func(*health.Snapshot[galera.Sample], time.Time) bool {
	return func(s *health.Snapshot[galera.Sample], now time.Time) bool { return p.Ready(s, now).OK }
}

// secondSignal subscribes to the signals that cut a drain short.
func secondSignal() (<-chan os.Signal, func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, os.Interrupt)
	return ch, func() { signal.Stop(ch) }
}

// background runs each function until the returned stop is called, which
// waits for all of them.
func background(logger *slog.Logger, fs ...func(ctx context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, f := range fs {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	return func() { cancel(); wg.Wait(); logger.Info("stopped") }
}
