package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/discovery"
	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/mysqlstat"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
	"github.com/galera-sentinel/galera-sentinel/internal/recovery"
	"github.com/galera-sentinel/galera-sentinel/internal/supervisor"
)

// tokenEnv is the other way, besides --token-file, to pass the peer token.
const tokenEnv = envPrefix + "TOKEN"

// RunConfig is everything `run` needs: serve's flags and its own.
type RunConfig struct {
	ServeConfig

	NodeName        string
	DataDir         string
	ExpectedSize    int
	Peers           string
	PeersDNS        string
	PeerPort        int
	DNSServer       string
	TLSCertFile     string
	TLSKeyFile      string
	TLSCAFile       string
	GcommPort       int
	DecideInterval  time.Duration
	PeerTimeout     time.Duration
	ShutdownTimeout time.Duration
	DrainDelay      time.Duration
	DrainTimeout    time.Duration
	ForceBootstrap  string
	InitCommand     string

	// Mariadbd is the command after "--": mariadbd and its arguments.
	Mariadbd []string
}

func (c *RunConfig) flags(fs *flag.FlagSet) {
	c.ServeConfig.flags(fs)
	host, _ := os.Hostname()
	fs.StringVar(&c.NodeName, "node-name", host, "this member's name, unique in the cluster (a StatefulSet pod name: its ordinal breaks ties)")
	fs.StringVar(&c.DataDir, "datadir", "/var/lib/mysql", "mariadbd's data directory (passed to mariadbd as --datadir)")
	fs.IntVar(&c.ExpectedSize, "expected-size", 0, "number of members the cluster has (a StatefulSet's replicas); required")
	fs.StringVar(&c.Peers, "peers", "", "the members' sentinel addresses, host:port,...; the hosts are also their Galera addresses")
	fs.StringVar(&c.PeersDNS, "peers-dns", "", "DNS name whose A/AAAA records are the members (a headless Service with publishNotReadyAddresses); resolved on every attempt")
	fs.IntVar(&c.PeerPort, "peer-port", 0, "sentinel port of the members found by --peers-dns (default: the port of --listen)")
	fs.StringVar(&c.DNSServer, "dns-server", "", "host:port of the DNS server for --peers-dns (default: /etc/resolv.conf)")
	fs.StringVar(&c.TLSCertFile, "tls-cert-file", "", "serve HTTPS with this certificate (PEM); reloaded when the file changes")
	fs.StringVar(&c.TLSKeyFile, "tls-key-file", "", "private key for --tls-cert-file")
	fs.StringVar(&c.TLSCAFile, "tls-ca-file", "", "call peers over HTTPS, trusting this CA (PEM)")
	fs.IntVar(&c.GcommPort, "gcomm-port", 4567, "Galera replication port of every member")
	fs.DurationVar(&c.DecideInterval, "decide-interval", 2*time.Second, "how often to look at the peers again while waiting")
	fs.DurationVar(&c.PeerTimeout, "peer-timeout", 2*time.Second, "bound on one call to a peer")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 5*time.Minute, "how long mariadbd may take to shut down after SIGTERM before it is killed; keep it below the orchestrator's own limit (terminationGracePeriodSeconds, TimeoutStopSec)")
	fs.DurationVar(&c.DrainDelay, "drain-delay", 5*time.Second, "on SIGTERM, how long /readyz answers 503 before the client connections are waited for: at least the load balancer's check interval times its fall count")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", 30*time.Second, "on SIGTERM, after --drain-delay, how long to wait for client connections to close before mariadbd is stopped anyway")
	fs.StringVar(&c.ForceBootstrap, "force-bootstrap", "", "operator override: when this equals --node-name, bootstrap this member without waiting for missing ones (never while a Primary component exists, never from a less recent position than a reachable member's)")
	fs.StringVar(&c.InitCommand, "init-command", "", "shell command that initialises an empty data directory before a brand-new cluster is bootstrapped, with $DATADIR set (default: mariadb-install-db)")
}

// Validate returns every problem at once.
func (c *RunConfig) Validate() error {
	errs := []error{c.ServeConfig.Validate()}
	if err := peer.ValidName(c.NodeName); err != nil {
		errs = append(errs, fmt.Errorf("--node-name: %w", err))
	}
	if c.DataDir == "" || !filepath.IsAbs(c.DataDir) {
		errs = append(errs, fmt.Errorf("--datadir=%q: want an absolute path", c.DataDir))
	}
	if c.ExpectedSize < 1 {
		errs = append(errs, errors.New("--expected-size is required: the number of members of the cluster"))
	}
	switch {
	case c.Peers == "" && c.PeersDNS == "":
		errs = append(errs, errors.New("give the members with --peers or --peers-dns"))
	case c.Peers != "" && c.PeersDNS != "":
		errs = append(errs, errors.New("--peers and --peers-dns: use one"))
	case c.Peers != "":
		if _, err := discovery.ParseStatic(c.Peers); err != nil {
			errs = append(errs, fmt.Errorf("--peers: %w", err))
		}
	}
	if c.PeerPort < 0 || c.PeerPort > 65535 {
		errs = append(errs, fmt.Errorf("--peer-port=%d", c.PeerPort))
	}
	if c.GcommPort < 1 || c.GcommPort > 65535 {
		errs = append(errs, fmt.Errorf("--gcomm-port=%d", c.GcommPort))
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("--tls-cert-file and --tls-key-file go together"))
	}
	for name, d := range map[string]time.Duration{"decide-interval": c.DecideInterval, "peer-timeout": c.PeerTimeout, "shutdown-timeout": c.ShutdownTimeout} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("--%s=%s: must be positive", name, d))
		}
	}
	for name, d := range map[string]time.Duration{"drain-delay": c.DrainDelay, "drain-timeout": c.DrainTimeout} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("--%s=%s: must not be negative", name, d))
		}
	}
	// --force-bootstrap naming another member is not an error: one
	// environment shared by every pod of a StatefulSet names the one.
	if len(c.Mariadbd) == 0 {
		errs = append(errs, errors.New("no mariadbd command: galera-sentinel run [flags] -- mariadbd [args]"))
	}
	for i, a := range c.Mariadbd {
		v, ok := strings.CutPrefix(a, "--datadir=")
		if a == "--datadir" && i+1 < len(c.Mariadbd) {
			v, ok = c.Mariadbd[i+1], true
		}
		if ok && filepath.Clean(v) != filepath.Clean(c.DataDir) {
			errs = append(errs, fmt.Errorf("mariadbd's --datadir=%s differs from --datadir=%s: the position would be read from another directory than the one mariadbd uses", v, c.DataDir))
		}
		if a == "--wsrep-new-cluster" || strings.HasPrefix(a, "--wsrep-cluster-address") || strings.HasPrefix(a, "--wsrep_cluster_address") {
			errs = append(errs, fmt.Errorf("mariadbd argument %s: the sentinel sets the cluster address and decides when to bootstrap", a))
		}
		if c.NotifySocket != "" && (strings.HasPrefix(a, "--wsrep-notify-cmd") || strings.HasPrefix(a, "--wsrep_notify_cmd")) {
			errs = append(errs, fmt.Errorf("mariadbd argument %s: with --notify-socket the sentinel sets wsrep_notify_cmd itself", a))
		}
	}
	return errors.Join(errs...)
}

func parseRun(args []string, getenv func(string) string, stderr io.Writer) (*RunConfig, error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := &RunConfig{}
	cfg.flags(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: galera-sentinel run [flags] -- mariadbd [args]\n\nDecide whether this member bootstraps, joins or waits; start and supervise mariadbd;\nserve the probe endpoints and the peer API. Every flag can also be set as %s<FLAG>.\n\n", envPrefix)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, getenv); err != nil {
		return nil, err
	}
	cfg.Mariadbd = fs.Args()
	if len(args) > 0 && !slices.Contains(args, "--") && len(cfg.Mariadbd) > 0 {
		return nil, fmt.Errorf("%w: put -- before the mariadbd command: run [flags] -- %s", errUsage, strings.Join(cfg.Mariadbd, " "))
	}
	pw, err := readPassword(cfg.MySQLPasswordFile, getenv)
	if err != nil {
		return nil, err
	}
	cfg.MySQLPassword = pw
	if err := cfg.readToken(getenv); err != nil {
		return nil, err
	}
	if cfg.Token == "" {
		return nil, fmt.Errorf("%w: the peer API needs a token: --token-file or %s", errUsage, tokenEnv)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	return cfg, nil
}

func runRun(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseRun(args, getenv, stderr)
	if err != nil {
		return err
	}
	return runMode(ctx, cfg, newLogger(cfg.LogFormat, cfg.LogLevel, stderr), nil)
}

// exitError carries mariadbd's exit status out of main.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// node is run mode's view of its own member, published to peers.
type node struct {
	mu       sync.Mutex
	instance string
	phase    string
	self     galera.Member
	decision string
}

func (n *node) member() galera.Member {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.self
}

func (n *node) set(f func(n *node)) {
	n.mu.Lock()
	f(n)
	n.mu.Unlock()
}

// state builds the peer document from what run mode knows and the
// poller's last sample.
func (n *node) state(snap *health.Snapshot, pol galera.Policy) peer.State {
	n.mu.Lock()
	m, phase, decision := n.self, n.phase, n.decision
	n.mu.Unlock()
	s := peer.State{
		Version: peer.StateVersion, NodeName: m.Name, InstanceID: n.instance, Phase: phase,
		PositionKnown: m.PositionKnown, DataDirEmpty: m.Empty, SafeToBootstrap: m.SafeToBootstrap,
		SavedView: m.SavedView, Running: phase == peer.PhaseRunning || phase == peer.PhaseStopping,
		Decision: decision, LocalIndex: -1,
	}
	if m.PositionKnown && !m.Empty {
		s.UUID, s.Seqno = m.Position.UUID, m.Position.Seqno
	}
	if l := snap.Last; s.Running && l != nil && time.Since(l.At) <= pol.MaxStaleness {
		s.Primary = l.Primary() && l.ClusterSize > 0
		s.Synced = l.SyncedPrimary()
		s.ClusterSize = l.ClusterSize
		s.LocalState = l.LocalState.String()
		if s.Primary && l.LocalIndex >= 0 && l.LocalIndex < l.ClusterSize {
			s.LocalIndex = l.LocalIndex
			s.Ready = pol.Ready(snap.Observation, time.Now()).OK
		}
	}
	return s
}

// runMode is the entrypoint's life: serve at once, read the position,
// decide, start mariadbd, supervise it, stop it cleanly. When ready is
// non-nil it receives the listen address.
func runMode(ctx context.Context, cfg *RunConfig, logger *slog.Logger, ready chan<- string) error {
	var serverTLS, clientTLS *tls.Config
	var err error
	if cfg.TLSCertFile != "" {
		if serverTLS, err = peer.ServerTLS(cfg.TLSCertFile, cfg.TLSKeyFile); err != nil {
			return err
		}
	}
	if cfg.TLSCAFile != "" {
		if clientTLS, err = peer.ClientTLS(cfg.TLSCAFile); err != nil {
			return err
		}
	}
	eps, err := openEndpoints(&cfg.ServeConfig, serverTLS)
	if err != nil {
		return err
	}
	var source discovery.Source
	if cfg.Peers != "" {
		source, _ = discovery.ParseStatic(cfg.Peers)
	} else {
		port := cfg.PeerPort
		if port == 0 {
			port = eps.http.Addr().(*net.TCPAddr).Port
		}
		source = discovery.DNS{Name: cfg.PeersDNS, Port: port, Server: cfg.DNSServer, Timeout: cfg.PeerTimeout}
	}

	client, err := mysqlstat.New(mysqlstat.Config{
		Addr: cfg.MySQLAddr, User: cfg.MySQLUser, Password: cfg.MySQLPassword,
		ConnectLimit: cfg.ConnectLimit, StatementTimeout: cfg.Timeout,
	})
	if err != nil {
		eps.close()
		return err
	}
	defer client.Close()
	poller := health.NewPoller(health.PollerConfig{
		Interval: cfg.PollInterval, Timeout: cfg.Timeout,
		MaintenanceFile: cfg.MaintenanceFile, Policy: cfg.policy(), Logger: logger,
	}, client)
	poller.SetHold("reading this node's position")

	var idb [8]byte
	_, _ = rand.Read(idb[:])
	me := &node{instance: hex.EncodeToString(idb[:]), phase: peer.PhasePosition, self: galera.Member{Name: cfg.NodeName}}
	peers := peer.NewClient(cfg.Token, clientTLS, cfg.PeerTimeout)
	defer peers.Close()
	loop := &recovery.Loop{
		Self: me.member, Instance: me.instance, Expected: cfg.ExpectedSize, Source: source, Peers: peers,
		GcommPort: cfg.GcommPort, Interval: cfg.DecideInterval, Logger: logger.With("component", "recovery"),
		OnDecision: func(d galera.Decision) {
			me.set(func(n *node) { n.decision = d.Action.String() + ": " + d.Reason })
			if !d.Action.Starts() {
				poller.SetHold(d.Action.String() + ": " + d.Reason)
			}
		},
	}
	if cfg.ForceBootstrap != "" && cfg.ForceBootstrap == cfg.NodeName {
		logger.Warn("bootstrap override set by flag: this member may bootstrap without the others; remove the flag once the cluster is back", "node", cfg.NodeName)
		loop.Force()
	}
	started := make(chan struct{})
	api := &peer.Server{
		Token:  cfg.Token,
		State:  func() peer.State { return me.state(poller.Snapshot(), cfg.policy()) },
		Logger: logger.With("component", "peer-api"),
		Bootstrap: func(name string) error {
			if name != cfg.NodeName {
				return fmt.Errorf("%w: this is %s, not %s", peer.ErrOverrideRejected, cfg.NodeName, name)
			}
			select {
			case <-started:
				return fmt.Errorf("%w: mariadbd already runs on %s", peer.ErrOverrideRejected, name)
			default:
			}
			loop.Force()
			return nil
		},
	}
	mux := http.NewServeMux()
	h := health.NewHandlers(poller)
	writers := &writerView{self: cfg.NodeName, source: source, peers: peers, state: api.State, every: min(cfg.PollInterval, time.Second)}
	h.SetWriterView(writers.lowest)
	h.Register(mux)
	h.RegisterAdmin(mux, peer.RequireToken(cfg.Token, logger), logger)
	api.Register(mux)

	logger.Info("run mode", "node", cfg.NodeName, "listen", eps.http.Addr().String(), "tls", serverTLS != nil,
		"agent_check", eps.agentAddr(), "notify_socket", cfg.NotifySocket,
		"peers", source.String(), "expected_size", cfg.ExpectedSize, "datadir", cfg.DataDir, "pid", os.Getpid())
	if ready != nil {
		ready <- eps.http.Addr().String()
	}

	// The server and the poller live until runMode returns, after
	// mariadbd has stopped: probes answer truthfully the whole time.
	sctx, stopServing := context.WithCancel(context.Background())
	var bg sync.WaitGroup
	bg.Add(3)
	go func() { defer bg.Done(); poller.Run(sctx) }()
	go func() { defer bg.Done(); writers.run(sctx) }()
	go func() {
		defer bg.Done()
		if err := eps.serve(sctx, mux, poller, logger); err != nil {
			logger.Error("serving endpoints", "err", err)
		}
	}()
	defer func() { stopServing(); bg.Wait(); logger.Info("stopped") }()

	reaper := supervisor.NewReaper(os.Getpid() == 1, logger)
	defer reaper.Close()
	sup := &mariadbd{cfg: cfg, reaper: reaper, log: logger}

	self, how, err := recovery.ReadLocal(ctx, cfg.NodeName, cfg.DataDir, sup.recover)
	if err != nil {
		poller.SetHold("cannot read this node's position: " + err.Error())
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("%w; nothing was started", err)
	}
	logger.Info("local position", "how", how, "empty", self.Empty, "uuid", self.Position.UUID, "seqno", self.Position.Seqno,
		"safe_to_bootstrap", self.SafeToBootstrap, "saved_view", self.SavedView)
	me.set(func(n *node) { n.self, n.phase = self, peer.PhaseWaiting })
	poller.SetHold("waiting for peers")

	plan, err := loop.Run(ctx)
	if err != nil {
		logger.Info("stopped while waiting; mariadbd was not started")
		return nil
	}
	switch plan.Action {
	case galera.BootstrapNew:
		if err := sup.initialise(ctx); err != nil {
			poller.SetHold("initialising the data directory failed")
			return err
		}
	case galera.Bootstrap:
		if err := recovery.SetSafeToBootstrap(cfg.DataDir); err != nil {
			return fmt.Errorf("set safe_to_bootstrap: %w; nothing was started", err)
		}
	}
	proc, err := sup.start(plan, self, strings.HasPrefix(how, recovery.HowRecovered))
	if err != nil {
		poller.SetHold("mariadbd did not start")
		return err
	}
	close(started)
	me.set(func(n *node) { n.phase = peer.PhaseRunning })
	poller.SetHold("")
	poller.Kick()

	select {
	case <-proc.Done():
		msg := fmt.Sprintf("mariadbd exited on its own (%s); exiting so the orchestrator restarts this member", proc.Describe())
		logger.Error(msg)
		// mariadbd's own status, 0 included (an operator's SHUTDOWN).
		return &exitError{code: proc.ExitCode(), msg: msg}
	case <-ctx.Done():
	}
	me.set(func(n *node) { n.phase = peer.PhaseStopping })
	drain(cfg, poller, proc, logger)
	logger.Info("stopping mariadbd", "pid", proc.Pid, "timeout", cfg.ShutdownTimeout)
	begin := time.Now()
	if err := proc.Stop(cfg.ShutdownTimeout); err != nil {
		logger.Error("mariadbd shutdown", "err", err)
		return &exitError{code: proc.ExitCode(), msg: err.Error()}
	}
	logger.Info("mariadbd stopped", "status", proc.Describe(), "took", time.Since(begin).Round(time.Millisecond))
	if code := proc.ExitCode(); code != 0 {
		return &exitError{code: code, msg: "mariadbd " + proc.Describe()}
	}
	return nil
}

// writerView keeps the lowest wsrep_local_index among the ready members,
// from this member's own state and its peers', refreshed every poll
// interval. Peers that do not answer count as not ready. Members agree
// within one refresh: when the writer drains, the next one takes over
// within about a second; for that long two members, or none, may answer
// 200 on /writerz.
type writerView struct {
	self   string
	source discovery.Source
	peers  *peer.Client
	state  func() peer.State
	every  time.Duration
	low    atomic.Int64 // -1: unknown
}

func (w *writerView) lowest() int { return int(w.low.Load()) }

func (w *writerView) run(ctx context.Context) {
	w.low.Store(-1)
	t := time.NewTicker(w.every)
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

func (w *writerView) refresh(ctx context.Context) {
	me := w.state()
	if !me.Ready {
		w.low.Store(-1) // not the writer whatever the others say
		return
	}
	addrs, err := w.source.Peers(ctx)
	if err != nil {
		return // keep the last view; /writerz still needs us ready
	}
	low := me.LocalIndex
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, a := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := w.peers.State(ctx, a)
			if err != nil || st.NodeName == w.self || !st.Ready || st.ClusterSize != me.ClusterSize {
				return
			}
			mu.Lock()
			low = min(low, st.LocalIndex)
			mu.Unlock()
		}()
	}
	wg.Wait()
	w.low.Store(int64(low))
}

// drain takes the node out of the load balancer before mariadbd stops:
// readiness 503 at once, --drain-delay for the load balancer to notice,
// then up to --drain-timeout for the client connections to close. A
// second SIGTERM or SIGINT, or mariadbd exiting, cuts it short.
func drain(cfg *RunConfig, poller *health.Poller, proc *supervisor.Process, logger *slog.Logger) {
	poller.SetStopping()
	hurry := make(chan os.Signal, 1)
	signal.Notify(hurry, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(hurry)
	begin := time.Now()
	logger.Info("draining: readiness is 503; waiting for the load balancer", "drain_delay", cfg.DrainDelay, "drain_timeout", cfg.DrainTimeout)
	wait := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case sig := <-hurry:
			logger.Warn("second signal: stopping without finishing the drain", "signal", sig.String())
		case <-proc.Done():
		}
		return false
	}
	if !wait(cfg.DrainDelay) {
		return
	}
	deadline := begin.Add(cfg.DrainDelay + cfg.DrainTimeout)
	last := -1
	for {
		n, fresh := clientConnections(poller.Snapshot(), cfg.MaxStaleness)
		switch {
		case fresh && n == 0:
			logger.Info("drained: no client connections left", "took", time.Since(begin).Round(time.Millisecond))
			return
		case time.Now().After(deadline):
			logger.Warn("drain timeout: stopping mariadbd with client connections still open", "connections", n, "drain_timeout", cfg.DrainTimeout)
			return
		case fresh && n != last:
			logger.Info("waiting for client connections to close", "connections", n)
			last = n
		}
		poller.Kick()
		if !wait(min(cfg.PollInterval, 250*time.Millisecond)) {
			return
		}
	}
}

// clientConnections is the number of client connections in the last
// sample, the sentinel's own not counted, and whether that sample is
// fresh enough to trust.
func clientConnections(s *health.Snapshot, maxStale time.Duration) (int, bool) {
	if s.Last == nil || time.Since(s.Last.At) > maxStale {
		return 0, false
	}
	return max(s.Last.ThreadsConnected-1, 0), true
}

// mariadbd runs the server binary in its three roles: --wsrep-recover,
// the initialisation of an empty data directory, and the server itself.
type mariadbd struct {
	cfg    *RunConfig
	reaper *supervisor.Reaper
	log    *slog.Logger
}

func (m *mariadbd) command(args ...string) *exec.Cmd {
	argv := append(slices.Clone(m.cfg.Mariadbd[1:]), "--datadir="+m.cfg.DataDir)
	cmd := exec.Command(m.cfg.Mariadbd[0], append(argv, args...)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	// If the sentinel dies without stopping mariadbd (OOM kill), mariadbd
	// shuts down cleanly rather than running on unsupervised: the next
	// sentinel could not see it and would find its data directory locked.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	return cmd
}

// recover runs mariadbd --wsrep-recover and returns its log.
func (m *mariadbd) recover(ctx context.Context) ([]byte, error) {
	f, err := os.CreateTemp("", "galera-sentinel-recover-*.log")
	if err != nil {
		return nil, err
	}
	path := f.Name()
	f.Close()
	defer os.Remove(path)
	cmd := m.command("--wsrep-recover", "--log-error="+path)
	m.log.Info("seqno unknown: running mariadbd --wsrep-recover", "args", cmd.Args)
	p, err := m.reaper.Start("mariadbd --wsrep-recover", cmd)
	if err != nil {
		return nil, err
	}
	if err := p.Wait(ctx); err != nil {
		// Stopping: let it finish what it does to InnoDB, briefly.
		_ = p.Stop(m.cfg.ShutdownTimeout)
		return nil, err
	}
	log, rerr := os.ReadFile(path)
	if p.ExitCode() != 0 {
		return nil, fmt.Errorf("mariadbd --wsrep-recover: %s\n%s", p.Describe(), tailLines(string(log), 10))
	}
	return log, rerr
}

// initialise fills an empty data directory before a brand-new cluster is
// bootstrapped on it.
func (m *mariadbd) initialise(ctx context.Context) error {
	if err := os.MkdirAll(m.cfg.DataDir, 0o750); err != nil {
		return err
	}
	var cmd *exec.Cmd
	if m.cfg.InitCommand != "" {
		cmd = exec.Command("/bin/sh", "-c", m.cfg.InitCommand)
		cmd.Env = append(os.Environ(), "DATADIR="+m.cfg.DataDir)
	} else {
		args := []string{}
		if d := m.cfg.Mariadbd[1:]; len(d) > 0 && strings.HasPrefix(d[0], "--defaults-file=") {
			args = append(args, d[0]) // must come first
		}
		// --wsrep-on=OFF: with the node's Galera settings (rsync SST,
		// say) and no cluster address, mariadbd --bootstrap would abort.
		args = append(args, "--datadir="+m.cfg.DataDir, "--auth-root-authentication-method=socket", "--skip-test-db", "--wsrep-on=OFF")
		// Like Debian's own packages: the OS user that runs mariadbd
		// (and this sentinel) gets a unix_socket account, so that the
		// sentinel can watch the node over the socket with no password.
		if u, err := user.Current(); err == nil && u.Username != "root" {
			args = append(args, "--auth-root-socket-user="+u.Username)
		}
		cmd = exec.Command("mariadb-install-db", args...)
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	m.log.Info("initialising the empty data directory of a new cluster", "command", cmd.Args)
	p, err := m.reaper.Start("init command", cmd)
	if err != nil {
		return err
	}
	if err := p.Wait(ctx); err != nil {
		<-p.Done()
		return err
	}
	if p.ExitCode() != 0 {
		return fmt.Errorf("initialising %s: %s %s", m.cfg.DataDir, cmd.Args[0], p.Describe())
	}
	return nil
}

func (m *mariadbd) start(plan recovery.Plan, self galera.Member, recovered bool) (*supervisor.Process, error) {
	args := []string{"--wsrep-cluster-address=" + plan.ClusterAddress}
	if recovered && self.HasPosition() {
		// grastate.dat still says seqno -1: without the position that
		// --wsrep-recover found, Galera starts this member from an
		// undefined state (a bootstrap would begin a new history, a
		// joiner would need a full SST). mysqld_safe does the same.
		args = append(args, "--wsrep-start-position="+self.Position.String())
	}
	if plan.Action == galera.Bootstrap || plan.Action == galera.BootstrapNew {
		args = append(args, "--wsrep-new-cluster")
	}
	if m.cfg.NotifySocket != "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("wsrep_notify_cmd: %w", err)
		}
		// mariadbd runs the command through /bin/sh.
		args = append(args, "--wsrep-notify-cmd="+shellQuote(exe)+" notify --socket="+shellQuote(m.cfg.NotifySocket))
	}
	cmd := m.command(args...)
	m.log.Info("starting mariadbd", "action", plan.Action.String(), "args", cmd.Args)
	return m.reaper.Start("mariadbd", cmd)
}

// shellQuote quotes s for /bin/sh when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
