package replmember

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/clusterview"
	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/httpserver"
	"github.com/galera-sentinel/galera-sentinel/internal/mariadbd"
	"github.com/galera-sentinel/galera-sentinel/internal/metrics"
	"github.com/galera-sentinel/galera-sentinel/internal/mysqlstat"
	"github.com/galera-sentinel/galera-sentinel/internal/readiness"
	"github.com/galera-sentinel/galera-sentinel/internal/replica"
	"github.com/galera-sentinel/galera-sentinel/internal/replops"
	"github.com/galera-sentinel/galera-sentinel/internal/sentinel"
	"github.com/galera-sentinel/galera-sentinel/internal/switchover"
)

// ModeName is the value of --mode for asynchronous replication.
const ModeName = "replication"

// PasswordEnv is the other way, besides --replication-password-file, to
// pass the replication account's password.
const PasswordEnv = sentinel.EnvPrefix + "REPLICATION_PASSWORD"

// Mode is the replication mode of serve and run (sentinel.Mode): its
// flags, and its node and member wired over the command's kit.
type Mode struct {
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

	run bool
}

// NewMode is the replication mode with its flags' defaults.
func NewMode() sentinel.Mode { return &Mode{} }

func (m *Mode) Info() sentinel.Info {
	return sentinel.Info{Name: ModeName, About: "a primary or replica of asynchronous MariaDB replication (docs/replication.md)",
		// Only Galera's mariadbd runs a wsrep_notify_cmd, and has a
		// Primary component.
		Ignores: []string{"notify-socket", "kube-primary-condition", "kube-rebuild-lost"}}
}

func (m *Mode) Flags(fs *flag.FlagSet, run bool) {
	m.run = run
	fs.DurationVar(&m.MaxReplicaLag, "max-replica-lag", 10*time.Second, "replication: a replica further behind its primary than this is not ready")
	fs.DurationVar(&m.ReplicaConnectGrace, "replica-connect-grace", 10*time.Second, "replication: how long a replica's IO thread may be Connecting (a network blip, a primary restart) before it is not ready")
	fs.StringVar(&m.ReplicationUser, "replication-user", "repl", "replication: the account replicas connect to the primary with; run mode creates it on the primary, a switchover repoints a demoted primary with it")
	fs.StringVar(&m.ReplicationPasswordFile, "replication-password-file", "", "replication: file holding the replication account's password (or set "+PasswordEnv+")")
	fs.StringVar(&m.HeartbeatTable, "heartbeat-table", "", "replication: database.table of a heartbeat row the primary's sentinel writes every poll and replicas' sentinels read, the most truthful lag (needs CREATE and INSERT on it for the monitoring user on the primary, SELECT on replicas); off when empty")
	fs.StringVar(&m.Primary, "primary", "", "replication: the primary's MariaDB address, host[:port] (default port 3306). serve: the primary a replica's lag is measured against (default: the replica's own Master_Host); run: the primary of a new set")
}

func (m *Mode) Configure(s sentinel.Settings) error {
	errs := []error{sentinel.NotNegative("max-replica-lag", m.MaxReplicaLag), sentinel.NotNegative("replica-connect-grace", m.ReplicaConnectGrace)}
	if m.HeartbeatTable != "" {
		if db, t, ok := strings.Cut(m.HeartbeatTable, "."); !ok || !identifier(db) || !identifier(t) {
			errs = append(errs, fmt.Errorf("--heartbeat-table=%q: want database.table, letters, digits and _ only", m.HeartbeatTable))
		}
	}
	if m.Primary != "" {
		p, err := primaryAddr(m.Primary)
		if err != nil {
			errs = append(errs, fmt.Errorf("--primary=%q: %w", m.Primary, err))
		}
		m.Primary = p
	}
	pw, err := sentinel.ReadSecret("--replication-password-file", m.ReplicationPasswordFile, PasswordEnv, s.Getenv)
	if err != nil {
		return err
	}
	m.ReplicationPassword = pw
	if s.Run && pw == "" {
		errs = append(errs, fmt.Errorf("run --mode=replication needs the replication account's password: --replication-password-file or %s", PasswordEnv))
	}
	return errors.Join(errs...)
}

// Check refuses a mariadbd configured for Galera.
func (m *Mode) Check(eff mariadbd.Effective) error {
	if eff.WsrepOn {
		return fmt.Errorf("%w: mariadbd's configuration has wsrep_on=ON: --mode=replication runs plain MariaDB replication; nothing was started", sentinel.ErrUsage)
	}
	return nil
}

// Judge is the replication policy behind the common checks.
func (m *Mode) Judge(limits readiness.Limits) readiness.Judge[replica.Sample] {
	return readiness.Judge[replica.Sample]{
		Policy: replica.Policy{MaxLag: m.MaxReplicaLag, ConnectGrace: m.ReplicaConnectGrace},
		Limits: limits,
	}
}

// sampler reads a primary or replica through client. lagAgainst is the
// primary the GTID lag is measured against; empty: the replica's own
// Master_Host. Run mode passes empty: its --primary names the first
// primary of a new set, which a switchover may have demoted since.
func (m *Mode) sampler(client *mysqlstat.Client, lagAgainst string) (*mysqlstat.ReplicaSampler, error) {
	s, err := mysqlstat.NewReplicaSampler(client, mysqlstat.ReplicaConfig{Primary: lagAgainst, HeartbeatTable: m.HeartbeatTable})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", sentinel.ErrUsage, err)
	}
	return s, nil
}

// Serve wires serve's node: the replication poller and the switchover
// API. In replication mode / answers the probe, as clustercheck did.
func (m *Mode) Serve(_ context.Context, k *sentinel.Kit) (*sentinel.Wired, error) {
	sampler, err := m.sampler(k.Client, m.Primary)
	if err != nil {
		return nil, err
	}
	n := sentinel.NewStack(k.Base, k.Poller, m.Judge(k.Limits), health.Sampler[replica.Sample](sampler), metrics.Replica)
	return n.Wire(&sentinel.Wired{Close: sampler.Close}, m.switchoverRoutes(k)), nil
}

// Run wires replication's member: the replication poller, the member's
// peer document and backup stream, and the switchover API. The primary
// is the writer: /writerz is its role.
func (m *Mode) Run(ctx context.Context, k *sentinel.RunKit) (*sentinel.Wired, error) {
	sampler, err := m.sampler(k.Client, "")
	if err != nil {
		return nil, err
	}
	logger := k.Logger
	n := sentinel.NewStack(k.Base, k.Poller, m.Judge(k.Limits), health.Sampler[replica.Sample](sampler), metrics.Replica)
	db := mariadbd.NewRunner(k.Mariadbd, k.Reaper, logger.With("component", "mariadbd"), logger.With("component", "mariadbd", "stream", "output"))

	advertise, hosts := advertised(k.Listen, k.NodeName, k.Effective)
	flagged := m.Primary != "" && namesMember(ctx, m.Primary, k.NodeName, advertise)
	defaults, _ := mariadbd.SplitDefaults(k.Mariadbd.Command[1:])
	timeout := max(k.Poller.Timeout, k.PeerTimeout, 5*time.Second)
	lc := k.Member
	lc.MaxStaleness = k.Limits.MaxStaleness
	mcfg := Config{
		Config: lc, Advertise: advertise, Hosts: hosts, FlaggedPrimary: flagged,
		ReplicationUser: m.ReplicationUser, ReplicationPassword: m.ReplicationPassword,
		Backup:         BackupConfig{Defaults: defaults, Socket: k.Effective.Socket, RunAs: k.Mariadbd.RunAs, Token: k.Token, Tokens: k.Tokens},
		DecideInterval: k.DecideInterval, Timeout: timeout,
	}
	open := func() (Statements, error) {
		return replops.Dial(k.MySQL.Addr, k.MySQL.User, k.MySQL.Password, timeout)
	}
	mem := New(mcfg, n.Poller, db, open, k.Source, k.Peers, k.Reaper, sentinel.SecondSignal, logger.With("component", "member"))
	return n.Wire(&sentinel.Wired{
		Run: mem.Run,
		Attrs: []any{"advertise", advertise, "primary_flag", m.Primary, "flagged_primary", flagged,
			"replication_user", m.ReplicationUser},
		Close: sampler.Close,
	}, mem.Routes(logger.With("component", "peer-api")), m.switchoverRoutes(&k.Kit)), nil
}

// switchoverRoutes is the switchover API of a replication sentinel (serve
// and run): its steps act on the local server through a pool of their own
// with the sentinel's account (--mysql-user), which then needs the
// privileges docs/replication.md lists; the poller's connection is never
// used for them.
func (m *Mode) switchoverRoutes(k *sentinel.Kit) httpserver.Routes {
	logger := k.Logger
	db, err := switchover.Open(k.MySQL.Addr, k.MySQL.User, k.MySQL.Password, k.Poller.Timeout)
	if err != nil {
		// Only a malformed configuration fails here (nothing is dialled);
		// the flags' checks have refused those already. Serve the API as
		// off.
		logger.Error("switchover API off", "error", err)
		return httpserver.RoutesFunc(func(*http.ServeMux) {})
	}
	srv := &switchover.DB{DB: db, ReplicationUser: m.ReplicationUser, ReplicationPassword: m.ReplicationPassword}
	return switchover.New(srv, switchover.Config{Tokens: k.Tokens, Logger: logger, StepTimeout: max(switchover.DefaultStepTimeout, k.Poller.Timeout)})
}

// advertised is this member's MariaDB address as its peers connect to it
// (what their CHANGE MASTER names), and the hosts it is known by: the
// bind address when it is a specific one, else the host of listen when
// that is specific, else the host name; the port mariadbd listens on.
func advertised(listen, node string, eff mariadbd.Effective) (string, []string) {
	host := eff.BindAddress
	if wildcard(host) {
		host = ""
		if h, _, err := net.SplitHostPort(listen); err == nil && !wildcard(h) {
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
	hosts := []string{host, node}
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

// View is replication's cluster view for `status`.
func (m *Mode) View(ctx context.Context, c clusterview.StatusGetter, addrs []string) sentinel.View {
	members := clusterview.FetchReplication(ctx, c, addrs)
	return sentinel.View{Members: members, Problems: clusterview.ReplicationProblems(members),
		Render: func(w io.Writer) { clusterview.RenderReplication(w, members) }}
}
