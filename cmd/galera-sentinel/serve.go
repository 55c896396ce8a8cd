package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/haproxy"
	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/httpserver"
	"github.com/galera-sentinel/galera-sentinel/internal/journal"
	"github.com/galera-sentinel/galera-sentinel/internal/metrics"
	"github.com/galera-sentinel/galera-sentinel/internal/mysqlstat"
	"github.com/galera-sentinel/galera-sentinel/internal/notify"
	"github.com/galera-sentinel/galera-sentinel/internal/page"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
	"github.com/galera-sentinel/galera-sentinel/internal/readiness"
	"github.com/galera-sentinel/galera-sentinel/internal/replica"
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseServe(args, getenv, stderr)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, newLogger(cfg.LogFormat, cfg.LogLevel, stderr), nil)
}

// serve wires `serve`: the one connection, the poller over it, and the
// endpoints, until ctx ends. When ready is non-nil it receives the listen
// address once the server is listening.
func serve(ctx context.Context, cfg *ServeConfig, logger *slog.Logger, ready chan<- string) error {
	client, err := mysqlstat.New(cfg.mysql())
	if err != nil {
		return err
	}
	defer client.Close()
	tokens := cfg.tokens(logger.With("component", "tokens"))
	if cfg.Mode == modeReplication {
		sampler, err := cfg.replicaSampler(client, cfg.Primary)
		if err != nil {
			return fmt.Errorf("%w: %w", errUsage, err)
		}
		defer sampler.Close()
		return serveNode(ctx, cfg, tokens, logger, ready, cfg.replicaJudge(), health.Sampler[replica.Sample](sampler), metrics.Replica, replicationRoutes(cfg, tokens, logger)...)
	}
	return serveNode(ctx, cfg, tokens, logger, ready, cfg.judge(), health.Sampler[galera.Sample](client), metrics.Galera)
}

// serveNode serves the endpoints of one node of either domain.
func serveNode[S any](ctx context.Context, cfg *ServeConfig, tokens *httpserver.Tokens, logger *slog.Logger, ready chan<- string,
	judge readiness.Judge[S], sampler health.Sampler[S], domain metrics.Domain[S], extra ...httpserver.Routes) error {
	eps, err := openEndpoints(cfg, nil)
	if err != nil {
		return err
	}
	events := cfg.EventsFile
	if events == "off" {
		events = ""
	}
	n := newNode(openNode(nodeConfig{Name: thisMachine.host(), Command: "serve", EventsFile: events, Tokens: tokens}, logger),
		cfg.poller(logger, nil), judge, sampler, domain)
	if cfg.Mode != modeReplication {
		// serve knows no peers: its page shows this member. The page
		// reads Galera's status only; in replication mode / answers
		// the probe, as clustercheck did.
		self := selfAddr(eps.http.Addr())
		pc := peer.NewClient("", nil, cfg.Timeout)
		defer pc.Close()
		pg := &page.Page{Peers: func(context.Context) ([]string, error) { return []string{self}, nil }, Client: pc, Timeout: cfg.Timeout}
		n.Handlers.SetPage(pg, page.Wants)
		extra = append(extra, pg.Routes())
	}
	mux := n.mux(extra...)

	logger.Info("serving", "mode", cfg.Mode, "listen", eps.http.Addr().String(), "agent_check", eps.agentAddr(), "notify_socket", cfg.NotifySocket,
		"mysql_addr", cfg.MySQLAddr, "mysql_user", cfg.MySQLUser,
		"poll_interval", cfg.PollInterval, "timeout", cfg.Timeout, "max_staleness", cfg.MaxStaleness)
	if ready != nil {
		ready <- eps.http.Addr().String()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); n.Poller.Run(ctx) }()
	err = n.serve(ctx, eps, mux)
	cancel()
	<-done
	n.stopped(err)
	logger.Info("stopped")
	return err
}

// replicationRoutes are the endpoints only replication has: the
// switchover API (switchover.go).
func replicationRoutes(cfg *ServeConfig, tokens *httpserver.Tokens, logger *slog.Logger) []httpserver.Routes {
	return []httpserver.Routes{switchoverRoutes(cfg, tokens, logger)}
}

// admin is the operator's API behind the token.
func admin[S any](h *health.Handlers[S], tokens *httpserver.Tokens, logger *slog.Logger) httpserver.Routes {
	return httpserver.RoutesFunc(func(mux *http.ServeMux) {
		h.RegisterAdmin(mux, httpserver.RequireTokens(tokens, logger), logger)
	})
}

// endpoints are the sockets serve and run open before anything else, so
// that a bad or busy address fails at start-up.
type endpoints struct {
	http   net.Listener
	agent  net.Listener      // nil when --agent-check-listen is empty
	notify *net.UnixListener // nil when --notify-socket is empty
}

func openEndpoints(cfg *ServeConfig, serverTLS *tls.Config) (*endpoints, error) {
	e := &endpoints{}
	var err error
	if e.http, err = httpserver.Listen(cfg.Listen); err != nil {
		return nil, err
	}
	if cfg.AgentCheckListen != "" {
		if e.agent, err = net.Listen("tcp", cfg.AgentCheckListen); err != nil {
			e.close()
			return nil, fmt.Errorf("agent-check: %w", err)
		}
	}
	if cfg.NotifySocket != "" {
		if e.notify, err = notify.Listen(cfg.NotifySocket); err != nil {
			e.close()
			return nil, err
		}
	}
	if serverTLS != nil {
		e.http = tls.NewListener(e.http, serverTLS)
	}
	return e, nil
}

func (e *endpoints) agentAddr() string {
	if e.agent == nil {
		return "off"
	}
	return e.agent.Addr().String()
}

func (e *endpoints) close() {
	for _, l := range []net.Listener{e.http, e.agent} {
		if l != nil {
			l.Close()
		}
	}
	if e.notify != nil {
		e.notify.Close()
	}
}

// poked is what the agent and notify servers need of the poller.
type poked interface {
	Traffic(now time.Time) health.Traffic
	Notify()
}

// newMetrics is the registry of serve and run.
func newMetrics() *metrics.Metrics {
	ver, _ := buildVersion()
	return metrics.New(metrics.Options{Version: ver, ErrorKind: mysqlstat.ErrorKind})
}

// counted is the poller, with each notification counted in metrics and
// the journal.
type counted[S any] struct {
	*health.Poller[S]
	m  *metrics.Metrics
	jr *journal.Journal
}

func (c counted[S]) Notify() {
	c.m.Notified()
	c.jr.Add(journal.Event{Kind: journal.KindNotification})
	c.Poller.Notify()
}

// openJournal opens the event journal (path "": memory only) and records
// the start.
func openJournal(path, node, instance, mode string, logger *slog.Logger) *journal.Journal {
	jr := journal.Open(path, 0, node, instance, logger)
	ver, _ := buildVersion()
	jr.Add(journal.Event{Kind: journal.KindStart, Reason: fmt.Sprintf("galera-sentinel %s %s, pid %d", ver, mode, os.Getpid())})
	return jr
}

// stopped records the end of the sentinel and writes what the journal
// still holds, waiting a little for a slow volume.
func stopped(jr *journal.Journal, err error) {
	reason := "stopped"
	if err != nil {
		reason = "stopped: " + err.Error()
	}
	jr.Add(journal.Event{Kind: journal.KindStop, Reason: reason})
	jr.Close(2 * time.Second)
}

// selfAddr is how this sentinel reaches itself on addr (a wildcard listen
// address becomes loopback).
func selfAddr(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return addr.String()
	}
	ip := tcp.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(tcp.Port))
}

// newInstanceID is random per sentinel process: it tells one life of a
// member from the next, in the journal and to the peers.
func newInstanceID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// serve runs every server until ctx ends and returns once all stopped.
// The first to fail stops the others.
func (e *endpoints) serve(ctx context.Context, mux http.Handler, p poked, logger *slog.Logger) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	run := func(i int, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = f(); errs[i] != nil {
				cancel()
			}
		}()
	}
	run(0, func() error { return httpserver.Serve(ctx, e.http, mux, logger) })
	if e.agent != nil {
		run(1, func() error { return haproxy.Serve(ctx, e.agent, p.Traffic) })
	}
	if e.notify != nil {
		run(2, func() error {
			return notify.Serve(ctx, e.notify, func(string) { p.Notify() }, logger.With("component", "notify"))
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
