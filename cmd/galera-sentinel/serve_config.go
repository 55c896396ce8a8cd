package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/httpserver"
	"github.com/galera-sentinel/galera-sentinel/internal/journal"
	"github.com/galera-sentinel/galera-sentinel/internal/mysqlstat"
	"github.com/galera-sentinel/galera-sentinel/internal/sentinel"
)

// ServeConfig is everything `serve` needs. Tests build it directly.
type ServeConfig struct {
	MySQLAddr         string
	MySQLUser         string
	MySQLPasswordFile string
	MySQLPassword     string // from the file or the environment; never logged
	Listen            string
	PollInterval      time.Duration
	Timeout           time.Duration
	ConnectLimit      time.Duration
	MaxStaleness      time.Duration
	LivenessGrace     time.Duration
	MaintenanceFile   string
	TokenFile         string
	Token             string // the first of Tokens, or set by tests; never logged
	// Tokens are the tokens from the file (followed when it changes) or
	// the environment; nil: only Token.
	Tokens           *httpserver.Tokens
	AgentCheckListen string
	NotifySocket     string
	EventsFile       string
	LogFormat        string
	LogLevel         string

	// Mode names the database mode (modeList) whose policy judges the
	// node and, in run mode, whose member runs it.
	Mode string
	// modes are the modes with their own flags (declareModes); nil for a
	// config built in code: every mode with its defaults.
	modes *modeSet
	// getenv is the environment the modes read their secrets from; nil:
	// none.
	getenv func(string) string

	// explicit are the flags the operator set (argv or environment), as
	// opposed to defaults, each with its environment variable when that
	// set it (explicitFlags). Nil for a config built in code.
	explicit map[string]string
}

func (c *ServeConfig) flags(fs *flag.FlagSet) {
	c.commonFlags(fs)
	c.modes = declareModes(fs, false, &c.Mode)
}

// commonFlags are the flags of serve that every mode shares (run has
// them too).
func (c *ServeConfig) commonFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.MySQLAddr, "mysql-addr", "127.0.0.1:3306", "mariadbd address: host:port, or the path of a unix socket")
	fs.StringVar(&c.MySQLUser, "mysql-user", "sentinel", "monitoring user (needs no privilege beyond USAGE)")
	fs.StringVar(&c.MySQLPasswordFile, "mysql-password-file", "", "file holding the monitoring user's password (or set "+passwordEnv+")")
	fs.StringVar(&c.Listen, "listen", ":9200", "HTTP listen address for the probe endpoints")
	fs.DurationVar(&c.PollInterval, "poll-interval", time.Second, "how often to sample the node")
	fs.DurationVar(&c.Timeout, "timeout", 2*time.Second, "bound on one poll: connect, handshake, authentication and queries")
	fs.DurationVar(&c.ConnectLimit, "connect-limit", time.Minute, "bound on one connection attempt left running in the background; longer than --timeout so a stalled server is not sent a stream of aborted handshakes")
	fs.DurationVar(&c.MaxStaleness, "max-staleness", 3*time.Second, "not ready when the last good sample is older than this")
	fs.DurationVar(&c.LivenessGrace, "liveness-grace", 30*time.Second, "/livez fails once mariadbd has not answered for this long outside a state transfer")
	fs.StringVar(&c.MaintenanceFile, "maintenance-file", "", "while this file exists the node is drained (/readyz answers 503 maintenance)")
	fs.StringVar(&c.TokenFile, "token-file", "", "file holding the API token (or set "+tokenEnv+"): required by POST /api/v1/maintenance and, in run mode, shared by the cluster's sentinels")
	fs.StringVar(&c.AgentCheckListen, "agent-check-listen", "", "TCP address for HAProxy's agent-check (answers up, drain, maint or down); off when empty")
	fs.StringVar(&c.NotifySocket, "notify-socket", "", "unix socket where 'galera-sentinel notify' (mariadbd's wsrep_notify_cmd) reports state changes, which trigger a poll at once; off when empty")
	fs.StringVar(&c.EventsFile, "events-file", "", "append the event journal (verdict changes, decisions, drains, mariadbd exits) to this file, rotated at 1 MiB; run mode's default is "+journal.FileName+" in the data directory, so it outlives the pod; off: memory only (GET /api/v1/events)")
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
	errs = append(errs, positive("poll-interval", c.PollInterval), positive("timeout", c.Timeout),
		positive("connect-limit", c.ConnectLimit), positive("max-staleness", c.MaxStaleness),
		positive("liveness-grace", c.LivenessGrace))
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
	errs = append(errs, c.validateMode()...)
	return errors.Join(errs...)
}

// validateMode checks --mode, refuses every flag that does nothing under
// it (another mode's, a common flag the mode ignores), and has the mode
// check its own flags.
func (c *ServeConfig) validateMode() []error {
	m := c.mode()
	if m == nil {
		return []error{fmt.Errorf("--mode=%q: want %s", c.Mode, strings.Join(c.modes.names(), " or "))}
	}
	getenv := c.getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	errs := c.modes.misused(c.Mode, c.explicit)
	return append(errs, m.Configure(sentinel.Settings{Run: c.modes.run, Getenv: getenv}))
}

// mode is the chosen mode, nil when --mode names none.
func (c *ServeConfig) mode() sentinel.Mode {
	if c.modes == nil {
		c.modes = defaultModes(false)
	}
	if c.Mode == "" {
		c.Mode = c.modes.names()[0] // a config built in code, not by the flags
	}
	return c.modes.get(c.Mode)
}

func (c *ServeConfig) mysql() mysqlstat.Config {
	return mysqlstat.Config{
		Addr: c.MySQLAddr, User: c.MySQLUser, Password: c.MySQLPassword,
		ConnectLimit: c.ConnectLimit, StatementTimeout: c.Timeout,
	}
}

func (c *ServeConfig) poller(logger *slog.Logger, rec health.Recorder) health.PollerConfig {
	return health.PollerConfig{Interval: c.PollInterval, Timeout: c.Timeout, MaintenanceFile: c.MaintenanceFile, Logger: logger, Recorder: rec}
}

// parseServe turns argv and the environment into a validated config.
func parseServe(args []string, getenv func(string) string, stderr io.Writer) (*ServeConfig, error) {
	fs := newFlagSet("serve", "serve [flags]", "Watch a MariaDB Galera node and serve probe endpoints.", stderr)
	cfg := &ServeConfig{}
	cfg.flags(fs)
	if err := parseNoArgs(fs, args, getenv); err != nil {
		return nil, err
	}
	cfg.explicit, cfg.getenv = explicitFlags(fs, getenv), getenv
	if err := cfg.readSecrets(getenv); err != nil {
		return nil, err
	}
	if err := usageError(cfg.Validate()); err != nil {
		return nil, err
	}
	return cfg, nil
}

// readSecrets reads the password and the API token (if one is given, and
// checks it) from their files or the environment.
func (c *ServeConfig) readSecrets(getenv func(string) string) error {
	pw, err := readSecret("--mysql-password-file", c.MySQLPasswordFile, passwordEnv, getenv)
	if err != nil {
		return err
	}
	c.MySQLPassword = pw
	toks, err := readTokens(c.TokenFile, getenv)
	if err != nil {
		return err
	}
	c.Tokens, c.Token = toks, ""
	if s := toks.Send(); len(s) > 0 {
		c.Token = s[0]
	}
	return nil
}

// tokens is the set to check and present: Tokens, else Token alone.
// Call it once per sentinel and share the result: it gives tokens
// followed in a file their logger.
func (c *ServeConfig) tokens(logger *slog.Logger) *httpserver.Tokens {
	if c.Tokens != nil {
		c.Tokens.SetLogger(logger)
		return c.Tokens
	}
	return httpserver.StaticTokens(c.Token)
}
