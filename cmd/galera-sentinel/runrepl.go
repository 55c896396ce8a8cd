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
	"github.com/galera-sentinel/galera-sentinel/internal/replica"
	"github.com/galera-sentinel/galera-sentinel/internal/replmember"
	"github.com/galera-sentinel/galera-sentinel/internal/replops"
)

// checkReplication refuses what replication run mode cannot run: a
// mariadbd configured for Galera. (The replication password is required
// by RunConfig.Validate.)
func checkReplication(cfg *RunConfig, eff mariadbd.Effective) error {
	if eff.WsrepOn {
		return fmt.Errorf("%w: mariadbd's configuration has wsrep_on=ON: --mode=replication runs plain MariaDB replication; nothing was started", errUsage)
	}
	return nil
}

// wireReplication wires replication's member (internal/replmember): the
// replication poller, the member's peer document and backup stream, and
// the switchover API.
func wireReplication(ctx context.Context, cfg *RunConfig, rs *runShared, logger *slog.Logger) (*wiredMember, error) {
	sampler, err := cfg.replicaSampler(rs.client, "")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	n := newNode(rs.nodeBase, cfg.poller(logger, nil), cfg.replicaJudge(), health.Sampler[replica.Sample](sampler), metrics.Replica)
	dcfg := cfg.mariadbd(rs.exe, rs.eff)
	db := mariadbd.NewRunner(dcfg, rs.reaper, logger.With("component", "mariadbd"), logger.With("component", "mariadbd", "stream", "output"))

	advertise, hosts := advertised(cfg, rs.eff)
	flagged := cfg.Primary != "" && namesMember(ctx, cfg.Primary, cfg.NodeName, advertise)
	defaults, _ := mariadbd.SplitDefaults(cfg.Mariadbd[1:])
	timeout := max(cfg.Timeout, cfg.PeerTimeout, 5*time.Second)
	lc := rs.member(cfg)
	lc.MaxStaleness, lc.Events = cfg.MaxStaleness, rs.Journal.Add
	mcfg := replmember.Config{
		Config: lc, Advertise: advertise, Hosts: hosts, FlaggedPrimary: flagged,
		ReplicationUser: cfg.ReplicationUser, ReplicationPassword: cfg.ReplicationPassword,
		Backup:         replmember.BackupConfig{Defaults: defaults, Socket: rs.eff.Socket, RunAs: dcfg.RunAs, Token: cfg.Token, Tokens: rs.Tokens},
		DecideInterval: cfg.DecideInterval, Timeout: timeout,
	}
	open := func() (replmember.Statements, error) {
		return replops.Dial(cfg.MySQLAddr, cfg.MySQLUser, cfg.MySQLPassword, timeout)
	}
	m := replmember.New(mcfg, n.Poller, db, open, rs.source, rs.peers, rs.reaper, secondSignal, logger.With("component", "member"))
	// The primary is the writer: /writerz is its role.
	return wire(rs, n, n.mux(m.Routes(logger.With("component", "peer-api")), switchoverRoutes(&cfg.ServeConfig, rs.Tokens, logger)), &wiredMember{
		run: m.Run,
		attrs: []any{"advertise", advertise, "primary_flag", cfg.Primary, "flagged_primary", flagged,
			"replication_user", cfg.ReplicationUser},
		close: func() { sampler.Close() },
	}), nil
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
