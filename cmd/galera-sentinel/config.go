package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/discovery"
	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/httpserver"
	"github.com/galera-sentinel/galera-sentinel/internal/journal"
	"github.com/galera-sentinel/galera-sentinel/internal/kube"
	"github.com/galera-sentinel/galera-sentinel/internal/mariadbd"
	"github.com/galera-sentinel/galera-sentinel/internal/member"
	"github.com/galera-sentinel/galera-sentinel/internal/mysqlstat"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
	"github.com/galera-sentinel/galera-sentinel/internal/readiness"
	"github.com/galera-sentinel/galera-sentinel/internal/replica"
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
}

// The modes.
const (
	modeGalera      = "galera"
	modeReplication = "replication"
)

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

// validateMode checks --mode and the replication flags.
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
	if c.Mode == modeGalera {
		for name, set := range map[string]bool{"heartbeat-table": c.HeartbeatTable != "", "primary": c.Primary != ""} {
			if set {
				errs = append(errs, fmt.Errorf("--%s is for --mode=replication", name))
			}
		}
	}
	return errs
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

// judge is serve's judge with run mode's stall rule: the sentinel runs
// mariadbd and sees its progress.
func (c *RunConfig) judge() readiness.Judge[galera.Sample] {
	j := c.ServeConfig.judge()
	j.Limits.StallTimeout = c.StallTimeout
	return j
}

// poller is serve's poller configuration, tracking progress when the
// stall rule is on.
func (c *RunConfig) poller(logger *slog.Logger, rec health.Recorder) health.PollerConfig {
	p := c.ServeConfig.poller(logger, rec)
	p.TrackProgress = c.StallTimeout > 0 && c.Mode != modeReplication
	return p
}

// dirWalkEvery is how often run mode walks the data directory for the
// stall rule, while the rule watches the member.
const dirWalkEvery = 5 * time.Second

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
	if err := parseFlags(fs, args, getenv); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: serve takes no arguments, got %q", errUsage, fs.Args())
	}
	if err := cfg.readSecrets(getenv); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
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

// newFlagSet is a subcommand's flag set, with its usage text.
func newFlagSet(name, synopsis, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: galera-sentinel %s\n\n%s\nEvery flag can also be set as %s<FLAG> (e.g. %sTIMEOUT for --timeout).\n\n", synopsis, about, envPrefix, envPrefix)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags applies the environment, then argv (which wins). Mistakes
// people make often get a hint.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if err := applyEnv(fs, getenv); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		if hint := flagHint(fs, args); hint != "" {
			return fmt.Errorf("%w: %w (%s)", errUsage, err, hint)
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	return nil
}

// secretFlags are flags people look for that deliberately do not exist:
// a secret on the command line is visible to every user in ps.
var secretFlags = map[string]string{
	"mysql-password": "the password comes from --mysql-password-file or " + passwordEnv + ", never the command line",
	"password":       "the password comes from --mysql-password-file or " + passwordEnv + ", never the command line",
	"token":          "the token comes from --token-file or " + tokenEnv + ", never the command line",
}

// flagHint explains the first argument that the flag set refused, when
// it is a known mistake.
func flagHint(fs *flag.FlagSet, args []string) string {
	for _, a := range args {
		if a == "--" {
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") {
			continue
		}
		if hint, ok := secretFlags[name]; ok && fs.Lookup(name) == nil {
			return hint
		}
		f := fs.Lookup(name)
		if f == nil || !hasValue {
			continue
		}
		if hint := durationHint(f, value); hint != "" {
			return hint
		}
	}
	return ""
}

// durationHint suggests a unit for a bare number given to a duration flag.
func durationHint(f *flag.Flag, value string) string {
	if g, ok := f.Value.(flag.Getter); ok && value != "" && strings.Trim(value, "0123456789.") == "" {
		if _, isDuration := g.Get().(time.Duration); isDuration {
			return fmt.Sprintf("a duration needs a unit: %ss or %sms", value, value)
		}
	}
	return ""
}

// applyEnv sets each flag from GALERA_SENTINEL_<NAME> when that is set;
// flags on the command line, parsed afterwards, win.
func applyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		name := envPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				if hint := durationHint(f, v); hint != "" {
					err = fmt.Errorf("%w (%s)", err, hint)
				}
				errs = append(errs, fmt.Errorf("%s=%q: %w", name, v, err))
			}
		}
	})
	return errors.Join(errs...)
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

// readTokens reads the API tokens: --token-file (one per line, followed
// when the file changes) or the environment (separated by commas or line
// breaks). Neither: nil.
func readTokens(file string, getenv func(string) string) (*httpserver.Tokens, error) {
	v := getenv(tokenEnv)
	if file != "" && v != "" {
		return nil, fmt.Errorf("%w: both --token-file and %s are set; use one", errUsage, tokenEnv)
	}
	if file != "" {
		t, err := httpserver.LoadTokens(file, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: --token-file: %w", errUsage, err)
		}
		return t, nil
	}
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	toks, err := httpserver.ParseTokens(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errUsage, tokenEnv, err)
	}
	return httpserver.StaticTokens(toks...), nil
}

// tokens is the set to check and present: Tokens, else Token alone.
func (c *ServeConfig) tokens(logger *slog.Logger) *httpserver.Tokens {
	if c.Tokens != nil {
		c.Tokens.SetLogger(logger)
		return c.Tokens
	}
	return httpserver.StaticTokens(c.Token)
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

// positive is nil for a positive duration, else the flag's problem.
func positive(name string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("--%s=%s: must be positive", name, d)
	}
	return nil
}

// notNegative is nil for a duration >= 0, else the flag's problem.
func notNegative(name string, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("--%s=%s: must not be negative", name, d)
	}
	return nil
}

// replicationPasswordEnv is the other way, besides
// --replication-password-file, to pass the replication account's password.
const replicationPasswordEnv = envPrefix + "REPLICATION_PASSWORD"

// tokenEnv is the other way, besides --token-file, to pass the peer token.
const tokenEnv = envPrefix + "TOKEN"

// RunConfig is everything `run` needs: serve's flags and its own.
type RunConfig struct {
	ServeConfig

	NodeName        string
	DataDir         string
	ExpectedSize    int
	Discovery       discovery.Config
	TLSCertFile     string
	TLSKeyFile      string
	TLSCAFile       string
	TLSServerName   string
	GcommPort       int
	DecideInterval  time.Duration
	PeerTimeout     time.Duration
	ShutdownTimeout time.Duration
	DrainDelay      time.Duration
	DrainTimeout    time.Duration
	WriterHandover  time.Duration
	ForceBootstrap  string
	InitCommand     string
	InitDBDir       string

	// The writer label on this member's pod (--kube-writer-label).
	KubeWriterLabel       bool
	KubePodName           string
	KubeServiceAccountDir string
	// KubeHost and KubePort are the API server's, from
	// KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT.
	KubeHost, KubePort string
	// StallTimeout: /livez fails once a member that runs mariadbd but
	// does not answer yet, or joins, has shown no progress for this long.
	StallTimeout time.Duration

	// Mariadbd is the command after "--": mariadbd and its arguments.
	Mariadbd []string

	// explicit are the flags the operator set (argv or environment), as
	// opposed to defaults that mariadbd's configuration may replace.
	explicit map[string]bool
	// passDataDir: DataDir came from --datadir alone and mariadbd must be
	// told it (set by followConfig).
	passDataDir bool
}

// followConfig makes mariadbd's own configuration the truth: the data
// directory (a contradicting --datadir is refused) and, unless
// --mysql-addr was given, the socket or port to watch.
func (c *RunConfig) followConfig(e mariadbd.Effective) error {
	dir, pass, err := e.ResolveDataDir(c.DataDir)
	if err != nil {
		return err
	}
	c.DataDir, c.passDataDir = dir, pass
	if !c.explicit["mysql-addr"] {
		if e.Socket != "" {
			c.MySQLAddr = e.Socket
		} else if e.Port > 0 {
			c.MySQLAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(e.Port))
		}
	}
	return nil
}

// mariadbd is how the member runs mariadbd, after followConfig.
func (c *RunConfig) mariadbd(exe string, e mariadbd.Effective) mariadbd.Config {
	m := mariadbd.Config{Command: c.Mariadbd, DataDir: c.DataDir, PassDataDir: c.passDataDir, ConfigNamesCluster: e.HasClusterAddress(),
		BindAddress: e.BindAddress, NodeAddress: e.NodeAddress,
		InitCommand: c.InitCommand, ShutdownTimeout: c.ShutdownTimeout}
	if c.InitCommand == "" {
		m.InitDB = &mariadbd.InitDB{Dir: c.InitDBDir, Env: os.LookupEnv}
	}
	if c.NotifySocket != "" {
		m.NotifyCommand = mariadbd.NotifyCommand(exe, c.NotifySocket)
	}
	if u, err := user.Current(); err == nil {
		m.OSUser = u.Username
		if u.Uid == "0" && e.User != "" && e.User != "root" {
			m.RunAs = e.User
		}
	}
	return m
}

// eventsFile is where run mode keeps its journal: --events-file, "off"
// for none, by default in the data directory (the member's volume).
func (c *RunConfig) eventsFile() string {
	switch c.EventsFile {
	case "off":
		return ""
	case "":
		return filepath.Join(c.DataDir, journal.FileName)
	}
	return c.EventsFile
}

func (c *RunConfig) member() member.Config {
	return member.Config{NodeName: c.NodeName, DataDir: c.DataDir, DrainDelay: c.DrainDelay, DrainTimeout: c.DrainTimeout,
		ShutdownTimeout: c.ShutdownTimeout, PollInterval: c.PollInterval, RetryMin: time.Second, RetryMax: 30 * time.Second}
}

// tls reads the certificates: the server's, and the CA for calls to peers.
func (c *RunConfig) tls() (server, client *tls.Config, err error) {
	if c.TLSCertFile != "" {
		if server, err = httpserver.ServerTLS(c.TLSCertFile, c.TLSKeyFile); err != nil {
			return nil, nil, err
		}
	}
	if c.TLSCAFile != "" {
		if client, err = httpserver.ClientTLS(c.TLSCAFile, c.TLSServerName); err != nil {
			return nil, nil, err
		}
	}
	return server, client, nil
}

func (c *RunConfig) flags(fs *flag.FlagSet) {
	c.ServeConfig.flags(fs)
	host, _ := os.Hostname()
	fs.StringVar(&c.NodeName, "node-name", host, "this member's name, unique in the cluster (a StatefulSet pod name: its ordinal breaks ties)")
	fs.StringVar(&c.DataDir, "datadir", "", "mariadbd's data directory (default: the datadir of mariadbd's own configuration, which a different value contradicts)")
	fs.IntVar(&c.ExpectedSize, "expected-size", 0, "number of members the cluster has (a StatefulSet's replicas); required")
	fs.StringVar(&c.Discovery.Peers, "peers", "", "the members' sentinel addresses, host:port,...; the hosts are also their Galera addresses")
	fs.StringVar(&c.Discovery.PeersDNS, "peers-dns", "", "DNS name whose A/AAAA records are the members (a headless Service with publishNotReadyAddresses); resolved on every attempt")
	fs.IntVar(&c.Discovery.PeerPort, "peer-port", 0, "sentinel port of the members found by --peers-dns (default: the port of --listen)")
	fs.StringVar(&c.Discovery.DNSServer, "dns-server", "", "host:port of the DNS server for --peers-dns (default: /etc/resolv.conf)")
	fs.StringVar(&c.TLSCertFile, "tls-cert-file", "", "serve HTTPS with this certificate (PEM); reloaded when the file changes")
	fs.StringVar(&c.TLSKeyFile, "tls-key-file", "", "private key for --tls-cert-file")
	fs.StringVar(&c.TLSCAFile, "tls-ca-file", "", "call peers over HTTPS, trusting this CA (PEM)")
	fs.StringVar(&c.TLSServerName, "tls-server-name", "", "with --tls-ca-file: the DNS name the peers' certificate must hold (default: the address called); peers found by --peers-dns are IP addresses, so one certificate for the cluster names e.g. galera-peers.<namespace>.svc")
	fs.IntVar(&c.GcommPort, "gcomm-port", 4567, "Galera replication port of every member")
	fs.DurationVar(&c.DecideInterval, "decide-interval", 2*time.Second, "how often to look at the peers again while waiting")
	fs.DurationVar(&c.PeerTimeout, "peer-timeout", 2*time.Second, "bound on one call to a peer")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 5*time.Minute, "how long mariadbd may take to shut down after SIGTERM before it is killed; keep it below the orchestrator's own limit (terminationGracePeriodSeconds, TimeoutStopSec)")
	fs.DurationVar(&c.DrainDelay, "drain-delay", 5*time.Second, "on SIGTERM, how long /readyz answers 503 before the client connections are waited for: at least the load balancer's check interval times its fall count")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", 30*time.Second, "on SIGTERM, after --drain-delay, how long to wait for client connections to close before mariadbd is stopped anyway")
	fs.DurationVar(&c.WriterHandover, "writer-handover", 5*time.Second, "when this member stops being the writer but still could take writes (it drains, goes into maintenance, a lower-index member became ready), how long /writerz keeps answering 200 while its successor already does: at least the load balancer's check interval times its rise count; 0 hands over with a gap")
	fs.StringVar(&c.ForceBootstrap, "force-bootstrap", "", "operator override: when this equals --node-name, bootstrap this member without waiting for missing ones (never while a Primary component exists, never from a less recent position than a reachable member's)")
	fs.BoolVar(&c.KubeWriterLabel, "kube-writer-label", false, "Kubernetes: keep the label "+kube.WriterLabelKey+" on this member's pod \"true\" while /writerz answers 200 and \"false\" otherwise, so a Service selecting it routes to the writer only (needs a Role with pods get and patch for the pod's service account)")
	fs.StringVar(&c.KubePodName, "kube-pod-name", "", "Kubernetes: the name of this member's pod, for --kube-writer-label (default: $POD_NAME, else the host name)")
	fs.StringVar(&c.KubeServiceAccountDir, "kube-service-account-dir", kube.ServiceAccountDir, "Kubernetes: the directory of the service account's token (re-read on every call), ca.crt and namespace, for --kube-writer-label")
	fs.DurationVar(&c.StallTimeout, "stall-timeout", 10*time.Minute, "/livez fails (stuck) once mariadbd runs but has not answered yet, or is joining (Joiner/Joined), and shows no progress for this long: no change under the data directory, no line of output, no move of wsrep_last_committed or wsrep_local_recv_queue; never while waiting for peers; 0 disables")
	fs.StringVar(&c.InitCommand, "init-command", "", "shell command that initialises an empty data directory before a brand-new cluster is bootstrapped, with $DATADIR set (default: mariadb-install-db)")
	fs.StringVar(&c.InitDBDir, "initdb-dir", "/docker-entrypoint-initdb.d", "after the default initialisation, the *.sql, *.sql.gz, *.sql.xz, *.sql.zst and *.sh files applied in lexical order, as the official mariadb image does (missing: none)")
}

// Validate returns every problem at once.
func (c *RunConfig) Validate() error {
	errs := []error{c.ServeConfig.Validate()}
	if err := peer.ValidName(c.NodeName); err != nil {
		errs = append(errs, fmt.Errorf("--node-name: %w", err))
	}
	if c.DataDir != "" && !filepath.IsAbs(c.DataDir) {
		errs = append(errs, fmt.Errorf("--datadir=%q: want an absolute path", c.DataDir))
	}
	if c.ExpectedSize < 1 && c.Mode != modeReplication {
		errs = append(errs, errors.New("--expected-size is required: the number of members of the cluster"))
	}
	errs = append(errs, c.Discovery.Validate())
	if c.GcommPort < 1 || c.GcommPort > 65535 {
		errs = append(errs, fmt.Errorf("--gcomm-port=%d", c.GcommPort))
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("--tls-cert-file and --tls-key-file go together"))
	}
	if c.TLSServerName != "" && c.TLSCAFile == "" {
		errs = append(errs, errors.New("--tls-server-name needs --tls-ca-file: it names the certificate peers are verified against"))
	}
	errs = append(errs, positive("decide-interval", c.DecideInterval), positive("peer-timeout", c.PeerTimeout),
		positive("shutdown-timeout", c.ShutdownTimeout),
		notNegative("stall-timeout", c.StallTimeout), notNegative("drain-delay", c.DrainDelay), notNegative("drain-timeout", c.DrainTimeout), notNegative("writer-handover", c.WriterHandover))
	errs = append(errs, c.validateKube()...)
	// --force-bootstrap naming another member is not an error: one
	// environment shared by every pod of a StatefulSet names the one.
	if len(c.Mariadbd) == 0 {
		errs = append(errs, errors.New("no mariadbd command: galera-sentinel run [flags] -- mariadbd [args]"))
	}
	errs = append(errs, c.checkMariadbdArgs()...)
	return errors.Join(errs...)
}

// kubeFromEnv fills what a pod's environment says: the API server, and
// the pod name when --kube-pod-name is not set.
func (c *RunConfig) kubeFromEnv(getenv func(string) string) {
	c.KubeHost, c.KubePort = getenv("KUBERNETES_SERVICE_HOST"), getenv("KUBERNETES_SERVICE_PORT")
	if c.KubePodName == "" {
		c.KubePodName = getenv("POD_NAME")
	}
	if c.KubePodName == "" {
		c.KubePodName, _ = os.Hostname()
	}
}

// kubeConfig is the API client's configuration.
func (c *RunConfig) kubeConfig() kube.Config {
	return kube.Config{Host: c.KubeHost, Port: c.KubePort, Dir: c.KubeServiceAccountDir}
}

// validateKube checks the writer label's flags.
func (c *RunConfig) validateKube() []error {
	if !c.KubeWriterLabel {
		return nil
	}
	var errs []error
	if !podName(c.KubePodName) {
		errs = append(errs, fmt.Errorf("--kube-pod-name=%q: want a pod name (lower-case letters, digits, '-' and '.'; set it, or $POD_NAME from the downward API)", c.KubePodName))
	}
	if c.KubeServiceAccountDir == "" {
		errs = append(errs, errors.New("--kube-service-account-dir is empty"))
	}
	return errs
}

// podName: a DNS subdomain, as Kubernetes names pods.
func podName(s string) bool {
	if s == "" || len(s) > 253 || s[0] == '-' || s[0] == '.' || s[len(s)-1] == '-' || s[len(s)-1] == '.' {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z') {
			return false
		}
	}
	return true
}

// checkMariadbdArgs refuses what the sentinel must set itself.
func (c *RunConfig) checkMariadbdArgs() []error {
	var errs []error
	for i, a := range c.Mariadbd {
		v, ok := strings.CutPrefix(a, "--datadir=")
		if a == "--datadir" && i+1 < len(c.Mariadbd) {
			v, ok = c.Mariadbd[i+1], true
		}
		if ok && c.DataDir != "" && filepath.Clean(v) != filepath.Clean(c.DataDir) {
			errs = append(errs, fmt.Errorf("mariadbd's --datadir=%s differs from --datadir=%s: the position would be read from another directory than the one mariadbd uses", v, c.DataDir))
		}
		if a == "--wsrep-new-cluster" || a == "--wsrep_new_cluster" {
			errs = append(errs, fmt.Errorf("mariadbd argument %s: the sentinel decides when to bootstrap", a))
		}
		if c.NotifySocket != "" && (strings.HasPrefix(a, "--wsrep-notify-cmd") || strings.HasPrefix(a, "--wsrep_notify_cmd")) {
			errs = append(errs, fmt.Errorf("mariadbd argument %s: with --notify-socket the sentinel sets wsrep_notify_cmd itself", a))
		}
	}
	return errs
}

func parseRun(args []string, getenv func(string) string, stderr io.Writer) (*RunConfig, error) {
	fs := newFlagSet("run", "run [flags] -- mariadbd [args]", "Decide whether this member bootstraps, joins or waits; start and supervise mariadbd;\nserve the probe endpoints and the peer API.", stderr)
	cfg := &RunConfig{}
	cfg.flags(fs)
	if err := parseFlags(fs, args, getenv); err != nil {
		return nil, err
	}
	cfg.Mariadbd = fs.Args()
	cfg.explicit = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { cfg.explicit[f.Name] = true })
	if len(args) > 0 && !slices.Contains(args, "--") && len(cfg.Mariadbd) > 0 {
		return nil, fmt.Errorf("%w: put -- before the mariadbd command: run [flags] -- %s", errUsage, strings.Join(cfg.Mariadbd, " "))
	}
	cfg.kubeFromEnv(getenv)
	if err := cfg.readSecrets(getenv); err != nil {
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
