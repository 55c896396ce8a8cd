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

	"github.com/galera-sentinel/galera-sentinel/internal/haproxy"
	"github.com/galera-sentinel/galera-sentinel/internal/httpserver"
	"github.com/galera-sentinel/galera-sentinel/internal/journal"
	"github.com/galera-sentinel/galera-sentinel/internal/metrics"
	"github.com/galera-sentinel/galera-sentinel/internal/mysqlstat"
	"github.com/galera-sentinel/galera-sentinel/internal/notify"
	"github.com/galera-sentinel/galera-sentinel/internal/sentinel"
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseServe(args, getenv, stderr)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, newLogger(cfg.LogFormat, cfg.LogLevel, stderr), nil)
}

// serve wires `serve`: the one connection, the mode's node over it, and
// the endpoints, until ctx ends. When ready is non-nil it receives the
// listen address once the server is listening.
func serve(ctx context.Context, cfg *ServeConfig, logger *slog.Logger, ready chan<- string) error {
	mode := cfg.mode()
	if mode == nil {
		return fmt.Errorf("%w: no mode %q", errUsage, cfg.Mode)
	}
	client, err := mysqlstat.New(cfg.mysql())
	if err != nil {
		return err
	}
	defer client.Close()
	tokens := cfg.tokens(logger.With("component", "tokens"))
	eps, err := openEndpoints(cfg, nil)
	if err != nil {
		return err
	}
	events := cfg.EventsFile
	if events == "off" {
		events = ""
	}
	b := openBase(nodeConfig{Name: thisMachine.host(), Command: "serve", EventsFile: events, Tokens: tokens}, logger)
	k := cfg.kit(b, client)
	k.Self = selfAddr(eps.http.Addr())
	w, err := mode.Serve(ctx, &k)
	if err != nil {
		eps.close()
		stopped(b.Journal, err)
		return err
	}
	if w.Close != nil {
		defer w.Close()
	}
	logger.Info("serving", "mode", cfg.Mode, "listen", eps.http.Addr().String(), "agent_check", eps.agentAddr(), "notify_socket", cfg.NotifySocket,
		"mysql_addr", cfg.MySQLAddr, "mysql_user", cfg.MySQLUser,
		"poll_interval", cfg.PollInterval, "timeout", cfg.Timeout, "max_staleness", cfg.MaxStaleness)
	if ready != nil {
		ready <- eps.http.Addr().String()
	}
	stop := background(logger, w.Tasks...)
	err = eps.serve(ctx, w.Mux, w.Poked, logger)
	stop()
	stopped(b.Journal, err)
	return err
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

// newMetrics is the registry of serve and run.
func newMetrics() *metrics.Metrics {
	ver, _ := buildVersion()
	return metrics.New(metrics.Options{Version: ver, ErrorKind: mysqlstat.ErrorKind})
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
func (e *endpoints) serve(ctx context.Context, mux http.Handler, p sentinel.Poked, logger *slog.Logger) error {
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
