package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/mariadbd"
	"github.com/galera-sentinel/galera-sentinel/internal/metrics"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
	"github.com/galera-sentinel/galera-sentinel/internal/readiness"
	"github.com/galera-sentinel/galera-sentinel/internal/replica"
	"github.com/galera-sentinel/galera-sentinel/internal/replmember"
	"github.com/galera-sentinel/galera-sentinel/internal/supervisor"
)

// runReplication wires `run --mode=replication`: the endpoints, the
// replication poller, the member (internal/replmember) and the switchover
// API. As in Galera run mode, the server and the poller live until it
// returns, after mariadbd has stopped. When ready is non-nil it receives
// the listen address.
func runReplication(ctx context.Context, cfg *RunConfig, logger *slog.Logger, ready chan<- string) error {
	kc, err := openKube(cfg)
	if err != nil {
		return err
	}
	if kc != nil {
		defer kc.Close()
	}
	rb, err := openRun(ctx, cfg, func(eff mariadbd.Effective) error {
		if eff.WsrepOn {
			return fmt.Errorf("%w: mariadbd's configuration has wsrep_on=ON: --mode=replication runs plain MariaDB replication; nothing was started", errUsage)
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer rb.client.Close()
	eff, eps, source, client, clientTLS, serverTLS := rb.eff, rb.eps, rb.source, rb.client, rb.clientTLS, rb.serverTLS
	sampler, err := cfg.replicaSampler(client, "")
	if err != nil {
		eps.close()
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	defer sampler.Close()
	tokens := cfg.tokens(logger.With("component", "tokens"))
	n := newNode(nodeConfig{Name: cfg.NodeName, Command: "run", EventsFile: cfg.eventsFile(), Poller: cfg.poller(logger, nil), Tokens: tokens},
		cfg.replicaJudge(), health.Sampler[replica.Sample](sampler), metrics.Replica, logger)
	poller, h, jr := n.Poller, n.Handlers, n.Journal
	peers := peer.NewTokensClient(tokens, clientTLS, cfg.PeerTimeout)
	defer peers.Close()
	reaper := supervisor.NewReaper(os.Getpid() == 1, logger)
	defer reaper.Close()
	exe, _ := os.Executable()
	dcfg := cfg.mariadbd(exe, eff)
	db := mariadbd.NewRunner(dcfg, reaper, logger.With("component", "mariadbd"), logger.With("component", "mariadbd", "stream", "output"))

	advertise, hosts := advertised(cfg, eff)
	flagged := cfg.Primary != "" && namesMember(ctx, cfg.Primary, cfg.NodeName, advertise)
	defaults, _ := mariadbd.SplitDefaults(cfg.Mariadbd[1:])
	mcfg := replmember.Config{
		NodeName: cfg.NodeName, DataDir: cfg.DataDir, Advertise: advertise, Hosts: hosts, FlaggedPrimary: flagged,
		LocalAddr: cfg.MySQLAddr, LocalUser: cfg.MySQLUser, LocalPassword: cfg.MySQLPassword,
		ReplicationUser: cfg.ReplicationUser, ReplicationPassword: cfg.ReplicationPassword,
		Backup:     replmember.BackupConfig{Defaults: defaults, Socket: eff.Socket, RunAs: dcfg.RunAs, Token: cfg.Token, Tokens: tokens, TLS: clientTLS},
		DrainDelay: cfg.DrainDelay, DrainTimeout: cfg.DrainTimeout, ShutdownTimeout: cfg.ShutdownTimeout,
		PollInterval: cfg.PollInterval, DecideInterval: cfg.DecideInterval, Timeout: max(cfg.Timeout, cfg.PeerTimeout, 5*time.Second),
		MaxStaleness: cfg.MaxStaleness, RetryMin: time.Second, RetryMax: 30 * time.Second, Events: jr.Add,
	}
	m := replmember.New(mcfg, poller, db, source, peers, reaper, secondSignal, logger.With("component", "member"))
	mux := n.mux(m.Routes(logger.With("component", "peer-api")), switchoverRoutes(&cfg.ServeConfig, tokens, logger))
	logger.Info("run mode (replication)", "node", cfg.NodeName, "listen", eps.http.Addr().String(), "tls", serverTLS != nil,
		"agent_check", eps.agentAddr(), "peers", source.String(), "datadir", cfg.DataDir, "mysql_addr", cfg.MySQLAddr,
		"advertise", advertise, "primary_flag", cfg.Primary, "flagged_primary", flagged, "replication_user", cfg.ReplicationUser,
		"events_file", jr.Path(), "pid", os.Getpid())
	if ready != nil {
		ready <- eps.http.Addr().String()
	}
	stop := background(logger, func(ctx context.Context) { poller.Run(ctx) }, func(ctx context.Context) {
		if err := n.serve(ctx, eps, mux); err != nil {
			logger.Error("serving endpoints", "err", err)
		}
	})
	defer stop()
	if kc != nil {
		// The primary is the writer; before stop (deferred after it).
		isWriter := func() bool { return h.Writer(time.Now()).Role == readiness.Writer }
		defer writerLabel(ctx, cfg, kc, isWriter, logger)()
	}
	err = m.Run(ctx)
	n.stopped(err)
	return err
}

// advertised is this member's MariaDB address as its peers connect to it
// (what their CHANGE MASTER names), and the hosts it is known by: the
// bind address when it is a specific one, else the host of --listen when
// that is specific, else the host name; the port mariadbd listens on.
func advertised(cfg *RunConfig, eff mariadbd.Effective) (string, []string) {
	host := eff.BindAddress
	if wildcard(host) {
		host = ""
		if h, _, err := net.SplitHostPort(cfg.Listen); err == nil && !wildcard(h) {
			host = h
		}
	}
	if host == "" {
		host, _ = os.Hostname()
	}
	port := eff.Port
	if port == 0 {
		port = 3306
	}
	hosts := []string{host, cfg.NodeName}
	if ips, err := net.LookupHost(host); err == nil {
		hosts = append(hosts, ips...)
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), hosts
}

func wildcard(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" || h == "*" }

// namesMember reports whether --primary (host:port) is this member: its
// host is the node name or the advertised host, or resolves to one of the
// advertised host's addresses.
func namesMember(ctx context.Context, primary, node, advertise string) bool {
	ph, _, err := net.SplitHostPort(primary)
	if err != nil {
		ph = primary
	}
	ah, _, _ := net.SplitHostPort(advertise)
	if ph == node || ph == ah {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	want, err1 := net.DefaultResolver.LookupHost(ctx, ah)
	got, err2 := net.DefaultResolver.LookupHost(ctx, ph)
	if err1 != nil || err2 != nil {
		return false
	}
	for _, g := range got {
		if slices.Contains(want, g) {
			return true
		}
	}
	return false
}
