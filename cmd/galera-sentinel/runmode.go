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
	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/httpserver"
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

// runMode wires `run`: the endpoints, the poller, the member and its
// collaborators. The server and the poller live until runMode returns,
// after mariadbd has stopped: probes answer truthfully the whole time.
// When ready is non-nil it receives the listen address.
func runMode(ctx context.Context, cfg *RunConfig, logger *slog.Logger, ready chan<- string) error {
	if cfg.Mode == modeReplication {
		return runReplication(ctx, cfg, logger, ready)
	}
	kc, err := openKube(cfg)
	if err != nil {
		return err
	}
	if kc != nil {
		defer kc.Close()
	}
	rb, err := openRun(ctx, cfg, nil)
	if err != nil {
		return err
	}
	defer rb.client.Close()
	eff, eps, source, client, clientTLS, serverTLS := rb.eff, rb.eps, rb.source, rb.client, rb.clientTLS, rb.serverTLS
	tokens := cfg.tokens(logger.With("component", "tokens"))
	n := newNode(nodeConfig{Name: cfg.NodeName, Command: "run", EventsFile: cfg.eventsFile(), Poller: cfg.poller(logger, nil), Tokens: tokens},
		cfg.judge(), health.Sampler[galera.Sample](client), metrics.Galera, logger)
	poller, jr := n.Poller, n.Journal
	peers := peer.NewTokensClient(tokens, clientTLS, cfg.PeerTimeout)
	defer peers.Close()
	reaper := supervisor.NewReaper(os.Getpid() == 1, logger)
	defer reaper.Close()
	exe, _ := os.Executable()
	// Every line mariadbd (or its SST script) prints is progress.
	output := slog.New(progress.Lines(logger.With("component", "mariadbd", "stream", "output").Handler(), func() { poller.Progressed("mariadbd output") }))
	db := mariadbd.NewRunner(cfg.mariadbd(exe, eff), reaper, logger.With("component", "mariadbd"), output)
	dirs := &progress.DirWatcher{Dir: cfg.DataDir, Every: dirWalkEvery, Active: poller.Watching, Progressed: poller.Progressed,
		Logger: logger.With("component", "progress")}

	loop := &recovery.Loop{Expected: cfg.ExpectedSize, Source: source, Peers: peers, GcommPort: cfg.GcommPort,
		Interval: cfg.DecideInterval, Logger: logger.With("component", "recovery")}
	m, writers, isWriter, mux := wireMember(cfg, n, tokens, loop, db, peers, source, logger)
	logger.Info("run mode", "node", cfg.NodeName, "listen", eps.http.Addr().String(), "tls", serverTLS != nil,
		"agent_check", eps.agentAddr(), "notify_socket", cfg.NotifySocket,
		"peers", source.String(), "expected_size", cfg.ExpectedSize, "datadir", cfg.DataDir, "mysql_addr", cfg.MySQLAddr,
		"cluster_address_from", map[bool]string{true: "mariadbd's configuration", false: "the peers"}[eff.HasClusterAddress()],
		"events_file", jr.Path(), "pid", os.Getpid())
	if ready != nil {
		ready <- eps.http.Addr().String()
	}
	views := &member.ViewKeeper{Self: cfg.NodeName, DataDir: cfg.DataDir, Source: source, Peers: peers,
		Sample: freshSample(poller, cfg.MaxStaleness), Saved: m.SetLastView, Every: cfg.DecideInterval,
		Logger: logger.With("component", "view")}
	stop := background(logger, func(ctx context.Context) { poller.Run(ctx) }, dirs.Run, writers.Run, views.Run, func(ctx context.Context) {
		if err := n.serve(ctx, eps, mux); err != nil {
			logger.Error("serving endpoints", "err", err)
		}
	})
	defer stop()
	if kc != nil {
		// Deferred after stop, so it runs before: "false" on the pod
		// before the endpoints go.
		defer writerLabel(ctx, cfg, kc, isWriter, logger)()
	}
	err = m.Run(ctx)
	n.stopped(err)
	return err
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

// wireMember builds the member, its writer view (with the handover
// between the probe handlers, the drain and the peer API), whether
// /writerz answers 200 now, and the mux of every endpoint.
func wireMember(cfg *RunConfig, n *node[galera.Sample], tokens *httpserver.Tokens,
	loop *recovery.Loop, db *mariadbd.Runner, peers *peer.Client, source discovery.Source, logger *slog.Logger) (*member.Member, *member.WriterView, func() bool, *http.ServeMux) {
	poller, h := n.Poller, n.Handlers
	mcfg := cfg.member()
	mcfg.WriterUntil, mcfg.Events, mcfg.InstanceID = h.WriterUntil, n.Journal.Add, n.Instance
	m := member.New(mcfg, poller, readyAt(poller), cfg.MaxStaleness, loop, db, secondSignal, logger)
	if cfg.ForceBootstrap != "" && cfg.ForceBootstrap == cfg.NodeName {
		logger.Warn("bootstrap override set by flag: this member may bootstrap without the others; remove the flag once the cluster is back", "node", cfg.NodeName)
		loop.Force()
	}
	writers := &member.WriterView{Self: cfg.NodeName, Source: source, Peers: peers, State: m.State,
		Every: min(cfg.PollInterval, time.Second), Changes: poller.Changes()}
	h.SetWriterView(writers.Lowest, cfg.WriterHandover)
	api := m.PeerAPI(tokens, logger.With("component", "peer-api"))
	api.Changed = writers.Kick
	api.Forward = m.ForwardOverride(peers)
	metrics.Member(n.Metrics, m.State, m.Seen)
	pg := &page.Page{Peers: source.Peers, Client: peers, Timeout: cfg.PeerTimeout}
	h.SetPage(pg, page.Wants)
	isWriter := func() bool { return h.Writer(time.Now()).Role == readiness.Writer }
	return m, writers, isWriter, n.mux(api, pg.Routes())
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
