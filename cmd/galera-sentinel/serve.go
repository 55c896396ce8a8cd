package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/mysqlstat"
	"github.com/galera-sentinel/galera-sentinel/internal/notify"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
)

// envPrefix: every flag --foo-bar can also be set as GALERA_SENTINEL_FOO_BAR.
const envPrefix = "GALERA_SENTINEL_"

// passwordEnv is the one way besides --mysql-password-file to pass the
// password. There is deliberately no --mysql-password flag: argv is
// visible to every user of the machine in ps.
const passwordEnv = envPrefix + "MYSQL_PASSWORD"

// ServeConfig is everything `serve` needs. Tests build it directly.
type ServeConfig struct {
	MySQLAddr             string
	MySQLUser             string
	MySQLPasswordFile     string
	MySQLPassword         string // from the file or the environment; never logged
	Listen                string
	PollInterval          time.Duration
	Timeout               time.Duration
	ConnectLimit          time.Duration
	MaxStaleness          time.Duration
	LivenessGrace         time.Duration
	AvailableWhenDonor    bool
	AvailableWhenReadOnly bool
	MaintenanceFile       string
	TokenFile             string
	Token                 string // from the file or the environment; never logged
	AgentCheckListen      string
	NotifySocket          string
	LogFormat             string
	LogLevel              string
}

func (c *ServeConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.MySQLAddr, "mysql-addr", "127.0.0.1:3306", "mariadbd address: host:port, or the path of a unix socket")
	fs.StringVar(&c.MySQLUser, "mysql-user", "sentinel", "monitoring user (needs no privilege beyond USAGE)")
	fs.StringVar(&c.MySQLPasswordFile, "mysql-password-file", "", "file holding the monitoring user's password (or set "+passwordEnv+")")
	fs.StringVar(&c.Listen, "listen", ":9200", "HTTP listen address for the probe endpoints")
	fs.DurationVar(&c.PollInterval, "poll-interval", time.Second, "how often to sample the node")
	fs.DurationVar(&c.Timeout, "timeout", 2*time.Second, "bound on one poll: connect, handshake, authentication and queries")
	fs.DurationVar(&c.ConnectLimit, "connect-limit", time.Minute, "bound on one connection attempt left running in the background; longer than --timeout so a stalled server is not sent a stream of aborted handshakes")
	fs.DurationVar(&c.MaxStaleness, "max-staleness", 3*time.Second, "not ready when the last good sample is older than this")
	fs.DurationVar(&c.LivenessGrace, "liveness-grace", 30*time.Second, "/livez fails once mariadbd has not answered for this long outside a state transfer")
	fs.BoolVar(&c.AvailableWhenDonor, "available-when-donor", false, "stay ready while Donor/Desynced")
	fs.BoolVar(&c.AvailableWhenReadOnly, "available-when-readonly", false, "stay ready while read_only=ON")
	fs.StringVar(&c.MaintenanceFile, "maintenance-file", "", "while this file exists the node is drained (/readyz answers 503 maintenance)")
	fs.StringVar(&c.TokenFile, "token-file", "", "file holding the API token (or set "+tokenEnv+"): required by POST /api/v1/maintenance and, in run mode, shared by the cluster's sentinels")
	fs.StringVar(&c.AgentCheckListen, "agent-check-listen", "", "TCP address for HAProxy's agent-check (answers up, drain, maint or down); off when empty")
	fs.StringVar(&c.NotifySocket, "notify-socket", "", "unix socket where `galera-sentinel notify` (mariadbd's wsrep_notify_cmd) reports state changes, which trigger a poll at once; off when empty")
	fs.StringVar(&c.LogFormat, "log-format", "auto", "text, json, or auto (text on a terminal, json otherwise)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
}

// Validate returns every problem at once.
func (c *ServeConfig) Validate() error {
	var errs []error
	if c.MySQLAddr == "" {
		errs = append(errs, errors.New("--mysql-addr is empty"))
	}
	if c.MySQLUser == "" {
		errs = append(errs, errors.New("--mysql-user is empty"))
	}
	if c.Listen == "" {
		errs = append(errs, errors.New("--listen is empty"))
	}
	if c.AgentCheckListen != "" {
		if _, _, err := net.SplitHostPort(c.AgentCheckListen); err != nil {
			errs = append(errs, fmt.Errorf("--agent-check-listen=%q: %w", c.AgentCheckListen, err))
		}
	}
	if c.NotifySocket != "" && !filepath.IsAbs(c.NotifySocket) {
		errs = append(errs, fmt.Errorf("--notify-socket=%q: want an absolute path (mariadbd runs the notifier from its own directory)", c.NotifySocket))
	}
	pos := func(name string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("--%s=%s: must be positive", name, d))
		}
	}
	pos("poll-interval", c.PollInterval)
	pos("timeout", c.Timeout)
	pos("connect-limit", c.ConnectLimit)
	pos("max-staleness", c.MaxStaleness)
	pos("liveness-grace", c.LivenessGrace)
	if c.Timeout > 0 && c.ConnectLimit > 0 && c.ConnectLimit < c.Timeout {
		errs = append(errs, fmt.Errorf("--connect-limit=%s is shorter than --timeout=%s", c.ConnectLimit, c.Timeout))
	}
	if c.MaxStaleness > 0 && c.PollInterval > 0 && c.MaxStaleness < c.PollInterval {
		errs = append(errs, fmt.Errorf("--max-staleness=%s is shorter than --poll-interval=%s: the node would flap", c.MaxStaleness, c.PollInterval))
	}
	switch c.LogFormat {
	case "auto", "text", "json":
	default:
		errs = append(errs, fmt.Errorf("--log-format=%q: want text, json or auto", c.LogFormat))
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (c *ServeConfig) policy() galera.Policy {
	return galera.Policy{
		AvailableWhenDonor:    c.AvailableWhenDonor,
		AvailableWhenReadOnly: c.AvailableWhenReadOnly,
		MaxStaleness:          c.MaxStaleness,
		LivenessGrace:         c.LivenessGrace,
	}
}

// parseServe turns argv and the environment into a validated config.
func parseServe(args []string, getenv func(string) string, stderr io.Writer) (*ServeConfig, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := &ServeConfig{}
	cfg.flags(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: galera-sentinel serve [flags]\n\nWatch a MariaDB Galera node and serve probe endpoints.\nEvery flag can also be set as %s<FLAG> (e.g. %sMYSQL_ADDR).\n\n", envPrefix, envPrefix)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, getenv); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: serve takes no arguments, got %q", errUsage, fs.Args())
	}
	pw, err := readPassword(cfg.MySQLPasswordFile, getenv)
	if err != nil {
		return nil, err
	}
	cfg.MySQLPassword = pw
	if err := cfg.readToken(getenv); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	return cfg, nil
}

// readToken reads the API token, if one is given, and checks it.
func (c *ServeConfig) readToken(getenv func(string) string) error {
	tok, err := readSecret("--token-file", c.TokenFile, tokenEnv, getenv)
	if err != nil {
		return err
	}
	if tok != "" {
		if err := peer.CheckToken(tok); err != nil {
			return fmt.Errorf("%w: %w", errUsage, err)
		}
	}
	c.Token = tok
	return nil
}

// parseFlags applies the environment, then argv (which wins).
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if err := applyEnv(fs, getenv); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	return nil
}

// applyEnv sets each flag from GALERA_SENTINEL_<NAME> when that is set;
// flags on the command line, parsed afterwards, win.
func applyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		name := envPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", name, v, err))
			}
		}
	})
	return errors.Join(errs...)
}

// readPassword reads the password from --mysql-password-file or the
// environment.
func readPassword(file string, getenv func(string) string) (string, error) {
	return readSecret("--mysql-password-file", file, passwordEnv, getenv)
}

// readSecret reads a secret from a file (trailing newline trimmed, as
// `echo secret > file` leaves one) or from the environment, never both.
func readSecret(flagName, file, env string, getenv func(string) string) (string, error) {
	v := getenv(env)
	if file != "" && v != "" {
		return "", fmt.Errorf("%w: both %s and %s are set; use one", errUsage, flagName, env)
	}
	if file == "" {
		return v, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", flagName, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level=%q: want debug, info, warn or error", s)
	}
	return l, nil
}

func newLogger(format, level string, w io.Writer) *slog.Logger {
	l, _ := parseLevel(level)
	opts := &slog.HandlerOptions{Level: l}
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok && isTerminal(f) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseServe(args, getenv, stderr)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, newLogger(cfg.LogFormat, cfg.LogLevel, stderr), nil)
}

// serve runs the poller and the HTTP server until ctx ends. When ready is
// non-nil it receives the listen address once the server is listening.
func serve(ctx context.Context, cfg *ServeConfig, logger *slog.Logger, ready chan<- string) error {
	client, err := mysqlstat.New(mysqlstat.Config{
		Addr: cfg.MySQLAddr, User: cfg.MySQLUser, Password: cfg.MySQLPassword,
		ConnectLimit: cfg.ConnectLimit, StatementTimeout: cfg.Timeout,
	})
	if err != nil {
		return err
	}
	defer client.Close()
	eps, err := openEndpoints(cfg, nil)
	if err != nil {
		return err
	}
	poller := health.NewPoller(health.PollerConfig{
		Interval: cfg.PollInterval, Timeout: cfg.Timeout,
		MaintenanceFile: cfg.MaintenanceFile, Policy: cfg.policy(), Logger: logger,
	}, client)
	mux := http.NewServeMux()
	h := health.NewHandlers(poller)
	h.Register(mux)
	h.RegisterAdmin(mux, peer.RequireToken(cfg.Token, logger), logger)

	logger.Info("serving", "listen", eps.http.Addr().String(), "agent_check", eps.agentAddr(), "notify_socket", cfg.NotifySocket,
		"mysql_addr", cfg.MySQLAddr, "mysql_user", cfg.MySQLUser,
		"poll_interval", cfg.PollInterval, "timeout", cfg.Timeout, "max_staleness", cfg.MaxStaleness)
	if ready != nil {
		ready <- eps.http.Addr().String()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); poller.Run(ctx) }()
	err = eps.serve(ctx, mux, poller, logger)
	cancel()
	<-done
	logger.Info("stopped")
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
	if e.http, err = health.Listen(cfg.Listen); err != nil {
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

// serve runs every server until ctx ends and returns once all stopped.
// The first to fail stops the others.
func (e *endpoints) serve(ctx context.Context, mux http.Handler, poller *health.Poller, logger *slog.Logger) error {
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
	run(0, func() error { return health.Serve(ctx, e.http, mux, logger) })
	if e.agent != nil {
		run(1, func() error { return health.ServeAgent(ctx, e.agent, poller) })
	}
	if e.notify != nil {
		run(2, func() error {
			return notify.Serve(ctx, e.notify, func(string) { poller.Notify() }, logger.With("component", "notify"))
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
