package galeramember

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/clusterview"
	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/mariadbd"
	"github.com/galera-sentinel/galera-sentinel/internal/metrics"
	"github.com/galera-sentinel/galera-sentinel/internal/page"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
	"github.com/galera-sentinel/galera-sentinel/internal/progress"
	"github.com/galera-sentinel/galera-sentinel/internal/readiness"
	"github.com/galera-sentinel/galera-sentinel/internal/recovery"
	"github.com/galera-sentinel/galera-sentinel/internal/sentinel"
)

// ModeName is the value of --mode for a Galera member, the default.
const ModeName = "galera"

// Mode is the Galera mode of serve and run (sentinel.Mode): its flags,
// and its node and member wired over the command's kit.
type Mode struct {
	AvailableWhenDonor    bool
	AvailableWhenReadOnly bool
	// Run's flags: recovery and the writer.
	ExpectedSize   int
	GcommPort      int
	ForceBootstrap string
	WriterHandover time.Duration
	// StallTimeout: /livez fails once a member that runs mariadbd but
	// does not answer yet, or joins, has shown no progress for this long.
	StallTimeout time.Duration
	// MariadbUpgrade runs mariadb-upgrade on a member whose system
	// tables are not of the version it runs, once it is Synced and
	// before it reports ready.
	MariadbUpgrade bool
	// UpgradeTimeout bounds one run of mariadb-upgrade.
	UpgradeTimeout time.Duration
	// SystemTablesEvery paces the check of the privilege tables and
	// the upgrade marker that `status` compares (0: never).
	SystemTablesEvery time.Duration

	run bool
}

// NewMode is the Galera mode with its flags' defaults.
func NewMode() sentinel.Mode { return &Mode{} }

// DirWalkEvery is how often run mode walks the data directory for the
// stall rule, while the rule watches the member.
const DirWalkEvery = 5 * time.Second

func (m *Mode) Info() sentinel.Info {
	return sentinel.Info{Name: ModeName, About: "a Galera cluster member"}
}

func (m *Mode) Flags(fs *flag.FlagSet, run bool) {
	m.run = run
	fs.BoolVar(&m.AvailableWhenDonor, "available-when-donor", false, "stay ready while Donor/Desynced")
	fs.BoolVar(&m.AvailableWhenReadOnly, "available-when-readonly", false, "stay ready while read_only=ON")
	if !run {
		return
	}
	fs.IntVar(&m.ExpectedSize, "expected-size", 0, "number of members the cluster has (a StatefulSet's replicas); required")
	fs.IntVar(&m.GcommPort, "gcomm-port", 4567, "Galera replication port of every member")
	fs.StringVar(&m.ForceBootstrap, "force-bootstrap", "", "operator override: when this equals --node-name, bootstrap this member without waiting for missing ones (never while a Primary component exists, never from a less recent position than a reachable member's)")
	fs.DurationVar(&m.WriterHandover, "writer-handover", 5*time.Second, "when this member stops being the writer but still could take writes (it drains, goes into maintenance, a lower-index member became ready), how long /writerz keeps answering 200 while its successor already does: at least the load balancer's check interval times its rise count; 0 hands over with a gap")
	fs.BoolVar(&m.MariadbUpgrade, "mariadb-upgrade", true, "once this member is Synced on a MariaDB version its system tables are not of (a new image or package, a state transfer), run `mariadb-upgrade --skip-write-binlog` on it before it reports ready (Galera does not replicate it: every member must run it); false only warns")
	fs.DurationVar(&m.UpgradeTimeout, "mariadb-upgrade-timeout", 30*time.Minute, "bound on one run of mariadb-upgrade (it checks every table); past it the run is stopped and tried again later")
	fs.DurationVar(&m.SystemTablesEvery, "system-tables-every", 30*time.Second, "how often a Synced member checksums its privilege tables (mysql.global_priv, mysql.db, mysql.tables_priv) and reads its upgrade marker, for `status` to name members that diverged where Galera does not look; 0 never")
	fs.DurationVar(&m.StallTimeout, "stall-timeout", 10*time.Minute, "/livez fails (stuck) once mariadbd runs but has not answered yet, or is joining (Joiner/Joined), and shows no progress for this long: no change under the data directory, no line of output, no move of wsrep_last_committed or wsrep_local_recv_queue; never while waiting for peers; 0 disables")
}

func (m *Mode) Configure(s sentinel.Settings) error {
	if !s.Run {
		return nil
	}
	var errs []error
	if m.ExpectedSize < 1 {
		errs = append(errs, errors.New("--expected-size is required: the number of members of the cluster"))
	}
	if m.GcommPort < 1 || m.GcommPort > 65535 {
		errs = append(errs, fmt.Errorf("--gcomm-port=%d", m.GcommPort))
	}
	// --force-bootstrap naming another member is not an error: one
	// environment shared by every pod of a StatefulSet names the one.
	errs = append(errs, sentinel.NotNegative("stall-timeout", m.StallTimeout), sentinel.NotNegative("writer-handover", m.WriterHandover),
		sentinel.NotNegative("system-tables-every", m.SystemTablesEvery))
	if m.UpgradeTimeout < time.Minute {
		errs = append(errs, fmt.Errorf("--mariadb-upgrade-timeout=%s: want at least 1m (mariadb-upgrade checks every table)", m.UpgradeTimeout))
	}
	return errors.Join(errs...)
}

func (m *Mode) Check(mariadbd.Effective) error { return nil }

// Judge is the Galera policy behind the common checks, with run mode's
// stall rule: the sentinel runs mariadbd and sees its progress.
func (m *Mode) Judge(limits readiness.Limits) readiness.Judge[galera.Sample] {
	if m.run {
		limits.StallTimeout = m.StallTimeout
	}
	return readiness.Judge[galera.Sample]{
		Policy: galera.Policy{AvailableWhenDonor: m.AvailableWhenDonor, AvailableWhenReadOnly: m.AvailableWhenReadOnly},
		Limits: limits,
	}
}

// PollerConfig is pc tracking progress when the stall rule is on.
func (m *Mode) PollerConfig(pc health.PollerConfig) health.PollerConfig {
	pc.TrackProgress = m.run && m.StallTimeout > 0
	return pc
}

// Serve wires serve's node. serve knows no peers: its page shows this
// member.
func (m *Mode) Serve(_ context.Context, k *sentinel.Kit) (*sentinel.Wired, error) {
	n := sentinel.NewStack(k.Base, m.PollerConfig(k.Poller), m.Judge(k.Limits), health.Sampler[galera.Sample](k.Client), metrics.Galera)
	pc := peer.NewClient("", nil, k.Poller.Timeout)
	pg := &page.Page{Peers: func(context.Context) ([]string, error) { return []string{k.Self}, nil }, Client: pc, Timeout: k.Poller.Timeout}
	n.Handlers.SetPage(pg, page.Wants)
	return n.Wire(&sentinel.Wired{Close: pc.Close}, pg.Routes()), nil
}

// ProviderStuckAfter is how long a shutdown may stay silent after Galera
// said its provider is closed before mariadbd is killed: a shutdown that
// goes on prints the provider's destructor's figures within milliseconds.
const ProviderStuckAfter = 20 * time.Second

// Run wires Galera's member: the recovery loop, the writer view with its
// handover, the saved view, the peer API and the override.
func (m *Mode) Run(_ context.Context, k *sentinel.RunKit) (*sentinel.Wired, error) {
	logger := k.Logger
	n := sentinel.NewStack(k.Base, m.PollerConfig(k.Poller), m.Judge(k.Limits), health.Sampler[galera.Sample](k.Client), metrics.Galera)
	poller, h := n.Poller, n.Handlers
	// Every line mariadbd (or its SST script) prints is progress.
	output := slog.New(progress.Lines(logger.With("component", "mariadbd", "stream", "output").Handler(), func() { poller.Progressed("mariadbd output") }))
	db := mariadbd.NewRunner(k.Mariadbd, k.Reaper, logger.With("component", "mariadbd"), output)
	dirs := &progress.DirWatcher{Dir: k.DataDir, Every: DirWalkEvery, Active: poller.Watching, Progressed: poller.Progressed,
		Logger: logger.With("component", "progress")}
	loop := &recovery.Loop{Expected: m.ExpectedSize, Source: k.Source, Peers: k.Peers, GcommPort: m.GcommPort,
		Interval: k.DecideInterval, Logger: logger.With("component", "recovery")}

	mcfg := Config{Config: k.Member, InstanceID: k.Instance}
	mcfg.WriterUntil = h.WriterUntil
	// A shutdown stuck after Galera closed (an IST sender waiting on a
	// vanished joiner) is killed after ProviderStuckAfter, not at
	// --shutdown-timeout: Galera has left the cluster and saved its state.
	mcfg.ShutdownStuck = func(now time.Time) (string, bool) { return db.ProviderStuck(now, ProviderStuckAfter) }
	mcfg.Upgrade = m.upgrade(db, k, logger)
	mcfg.ProviderPath = k.Effective.Provider
	mem := New(mcfg, poller, n.ReadyAt, k.Limits.MaxStaleness, loop, db, sentinel.SecondSignal, logger)
	db.OnRestartRequired(mem.RestartRequired) // Galera's "node restart required": restart at once
	db.OnLine(mem.LogLine)                    // Galera's library and protocols
	if m.ForceBootstrap != "" && m.ForceBootstrap == k.NodeName {
		logger.Warn("bootstrap override set by flag: this member may bootstrap without the others; remove the flag once the cluster is back", "node", k.NodeName)
		loop.Force()
	}
	// The state peers see, with whether this sentinel reaches the
	// Kubernetes API server (the writer rule passes over one that does
	// not).
	var tables *SystemTables
	if m.SystemTablesEvery > 0 {
		socket := k.Effective.Socket
		tables = &SystemTables{DataDir: k.DataDir, Every: m.SystemTablesEvery, Logger: logger.With("component", "system-tables"),
			Query: func(ctx context.Context, stmt string) ([]byte, error) {
				return db.Query(ctx, socket, stmt, time.Minute)
			},
			Synced: func() bool {
				s := poller.Snapshot().Last
				return s != nil && s.SyncedPrimary()
			}}
	}
	state := func() peer.State {
		s := mem.State()
		if k.KubeAPI != nil {
			s.KubeAPIFailing, s.KubeAPIUnreachable = k.KubeAPI()
		}
		if d := tables.Doc(); d != nil && d.Settled && d.Error == "" {
			s.SystemTables = d.Checksum
		}
		return s
	}
	writers := &WriterView{Self: k.NodeName, Source: k.Source, Peers: k.Peers, State: state,
		Every: min(k.Poller.Interval, time.Second), Changes: poller.Changes()}
	h.SetWriterView(writers.Lowest, m.WriterHandover)
	api := mem.PeerAPI(k.Tokens, logger.With("component", "peer-api"))
	api.State = state
	api.Changed = writers.Kick
	api.Forward = mem.ForwardOverride(k.Peers)
	metrics.Member(k.Metrics, mem.State, mem.Seen)
	tasks := []func(ctx context.Context){dirs.Run, writers.Run}
	if tables != nil {
		tasks = append(tasks, tables.Run)
		metrics.SystemTables(k.Metrics, writers.SystemTablesDiffer)
	}
	h.SetMember(func() any {
		st := mem.State()
		return &galera.MemberDoc{MariaDBVersion: st.MariaDBVersion, DataVersion: st.DataVersion, SystemTables: tables.Doc()}
	})
	pg := &page.Page{Peers: k.Source.Peers, Client: k.Peers, Timeout: k.PeerTimeout}
	h.SetPage(pg, page.Wants)
	fresh := n.Fresh(k.Limits.MaxStaleness)
	// Every poll at most a second: a member that left the component is
	// known (Departed) as soon as the new view names every member.
	views := &ViewKeeper{Self: k.NodeName, DataDir: k.DataDir, Source: k.Source, Peers: k.Peers,
		Sample: fresh, Saved: mem.SetLastView, Every: min(k.Poller.Interval, time.Second),
		Logger: logger.With("component", "view")}
	return n.Wire(&sentinel.Wired{
		Run: mem.Run,
		InPrimary: func() bool {
			s := fresh()
			return s != nil && s.Primary() && s.ClusterSize > 0 && !poller.Settling(time.Now())
		},
		Departed: views.Departed(),
		Gone:     views.Gone,
		APICut:   writers.APICut,
		Tasks:    append(tasks, views.Run),
		Attrs: []any{"expected_size", m.ExpectedSize,
			"cluster_address_from", map[bool]string{true: "mariadbd's configuration", false: "the peers"}[k.Effective.HasClusterAddress()]},
	}, api, pg.Routes()), nil
}

// upgrade asks mariadbd its version and wires mariadb-upgrade against
// the socket of its configuration. A binary that does not say its
// version leaves versions out of every decision (a warning says so).
func (m *Mode) upgrade(db *mariadbd.Runner, k *sentinel.RunKit, logger *slog.Logger) *Upgrade {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	v, err := db.Version(ctx)
	if err != nil {
		logger.Warn("mariadbd did not say its version: versions are not compared and mariadb-upgrade is never run", "err", err)
		return nil
	}
	u := &Upgrade{Binary: v}
	if m.MariadbUpgrade {
		socket, timeout := k.Effective.Socket, m.UpgradeTimeout
		u.Run = func(ctx context.Context) ([]byte, error) { return db.Upgrade(ctx, socket, timeout) }
	}
	return u
}

// View is Galera's cluster view for `status`.
func (m *Mode) View(ctx context.Context, c clusterview.StatusGetter, addrs []string) sentinel.View {
	members := clusterview.Fetch(ctx, c, addrs)
	return sentinel.View{Members: members, Problems: clusterview.Problems(members),
		Render: func(w io.Writer) { clusterview.Render(w, members, "", nil) }}
}
