package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/httpserver"
	"github.com/galera-sentinel/galera-sentinel/internal/journal"
	"github.com/galera-sentinel/galera-sentinel/internal/mysqlstat"
	"github.com/galera-sentinel/galera-sentinel/internal/readiness"
	"github.com/galera-sentinel/galera-sentinel/internal/replica"
)

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
	Token                 string // the first of Tokens, or set by tests; never logged
	// Tokens are the tokens from the file (followed when it changes) or
	// the environment; nil: only Token.
	Tokens           *httpserver.Tokens
	AgentCheckListen string
	NotifySocket     string
	EventsFile       string
	LogFormat        string
	LogLevel         string

	// Mode is galera (the default) or replication: which domain's policy
	// judges the node.
	Mode string
	// Asynchronous replication (--mode=replication).
	MaxReplicaLag       time.Duration
	ReplicaConnectGrace time.Duration
	HeartbeatTable      string
	Primary             string // host[:port] of the primary's MariaDB
	// The account replicas connect with: run mode creates it on the
	// primary; the switchover's follow step of a server without a replica
	// row (a demoted primary) uses it in serve and run alike.
	ReplicationUser         string
	ReplicationPasswordFile string
	ReplicationPassword     string // from the file or the environment; never logged

	// explicit are the flags the operator set (argv or environment), as
	// opposed to defaults, each with its environment variable when that
	// set it (explicitFlags). Nil for a config built in code.
	explicit map[string]string
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
	fs.StringVar(&c.NotifySocket, "notify-socket", "", "unix socket where 'galera-sentinel notify' (mariadbd's wsrep_notify_cmd) reports state changes, which trigger a poll at once; off when empty")
	fs.StringVar(&c.EventsFile, "events-file", "", "append the event journal (verdict changes, decisions, drains, mariadbd exits) to this file, rotated at 1 MiB; run mode's default is "+journal.FileName+" in the data directory, so it outlives the pod; off: memory only (GET /api/v1/events)")
	fs.StringVar(&c.LogFormat, "log-format", "auto", "text, json, or auto (text on a terminal, json otherwise)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.Mode, "mode", modeGalera, "galera: a Galera cluster member; replication: a primary or replica of asynchronous MariaDB replication (docs/replication.md)")
	fs.DurationVar(&c.MaxReplicaLag, "max-replica-lag", 10*time.Second, "replication: a replica further behind its primary than this is not ready")
	fs.DurationVar(&c.ReplicaConnectGrace, "replica-connect-grace", 10*time.Second, "replication: how long a replica's IO thread may be Connecting (a network blip, a primary restart) before it is not ready")
	fs.StringVar(&c.ReplicationUser, "replication-user", "repl", "replication: the account replicas connect to the primary with; run mode creates it on the primary, a switchover repoints a demoted primary with it")
	fs.StringVar(&c.ReplicationPasswordFile, "replication-password-file", "", "replication: file holding the replication account's password (or set "+replicationPasswordEnv+")")
	fs.StringVar(&c.HeartbeatTable, "heartbeat-table", "", "replication: database.table of a heartbeat row the primary's sentinel writes every poll and replicas' sentinels read, the most truthful lag (needs CREATE and INSERT on it for the monitoring user on the primary, SELECT on replicas); off when empty")
	fs.StringVar(&c.Primary, "primary", "", "replication: the primary's MariaDB address, host[:port] (default port 3306). serve: the primary a replica's lag is measured against (default: the replica's own Master_Host); run: the primary of a new set")
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

// validateMode checks --mode, the replication flags, and refuses every
// flag set for the other mode (flagScopes).
func (c *ServeConfig) validateMode() []error {
	var errs []error
	if c.Mode == "" {
		c.Mode = modeGalera // a config built in code, not by the flags
	}
	switch c.Mode {
	case modeGalera, modeReplication:
	default:
		return []error{fmt.Errorf("--mode=%q: want galera or replication", c.Mode)}
	}
	errs = append(errs, notNegative("max-replica-lag", c.MaxReplicaLag), notNegative("replica-connect-grace", c.ReplicaConnectGrace))
	if c.HeartbeatTable != "" {
		if db, t, ok := strings.Cut(c.HeartbeatTable, "."); !ok || !identifier(db) || !identifier(t) {
			errs = append(errs, fmt.Errorf("--heartbeat-table=%q: want database.table, letters, digits and _ only", c.HeartbeatTable))
		}
	}
	if c.Primary != "" {
		p, err := primaryAddr(c.Primary)
		if err != nil {
			errs = append(errs, fmt.Errorf("--primary=%q: %w", c.Primary, err))
		}
		c.Primary = p
	}
	return append(errs, misusedFlags(c.Mode, c.explicit)...)
}

// primaryAddr is host[:port] as host:port, port 3306 by default.
func primaryAddr(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = s, "3306"
	}
	if host == "" || strings.ContainsAny(host, " /") {
		return "", errors.New("want host[:port]")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("port %q", port)
	}
	return net.JoinHostPort(host, port), nil
}

func identifier(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// replicaJudge is the replication policy behind the generic checks.
func (c *ServeConfig) replicaJudge() readiness.Judge[replica.Sample] {
	return readiness.Judge[replica.Sample]{
		Policy: replica.Policy{MaxLag: c.MaxReplicaLag, ConnectGrace: c.ReplicaConnectGrace},
		Limits: readiness.Limits{MaxStaleness: c.MaxStaleness, LivenessGrace: c.LivenessGrace},
	}
}

// replicaSampler reads a primary or replica through client. lagAgainst
// is the primary the GTID lag is measured against; empty: the replica's
// own Master_Host. Run mode passes empty: its --primary names the first
// primary of a new set, which a switchover may have demoted since.
func (c *ServeConfig) replicaSampler(client *mysqlstat.Client, lagAgainst string) (*mysqlstat.ReplicaSampler, error) {
	return mysqlstat.NewReplicaSampler(client, mysqlstat.ReplicaConfig{Primary: lagAgainst, HeartbeatTable: c.HeartbeatTable})
}

// judge is the Galera policy behind the generic checks.
func (c *ServeConfig) judge() readiness.Judge[galera.Sample] {
	return readiness.Judge[galera.Sample]{
		Policy: galera.Policy{AvailableWhenDonor: c.AvailableWhenDonor, AvailableWhenReadOnly: c.AvailableWhenReadOnly},
		Limits: readiness.Limits{MaxStaleness: c.MaxStaleness, LivenessGrace: c.LivenessGrace},
	}
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
	cfg.explicit = explicitFlags(fs, getenv)
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
	if c.Mode == modeReplication {
		pw, err := readSecret("--replication-password-file", c.ReplicationPasswordFile, replicationPasswordEnv, getenv)
		if err != nil {
			return err
		}
		c.ReplicationPassword = pw
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
