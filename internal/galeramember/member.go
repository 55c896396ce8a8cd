// Package galeramember is Galera's run mode: what the member lifecycle
// (package member) needs from a Galera node. It reads the node's position,
// lets the recovery loop decide with the peers, prepares the data
// directory and starts mariadbd; while mariadbd runs it steps down when
// the decision says so and restarts a node that is out of the cluster for
// good; it publishes its state to the peers and keeps the view of who is
// the writer.
//
// It must not parse flags or the environment, serve HTTP itself (it hands
// its peer API to whoever serves), make the bootstrap decision (galera's),
// build mariadbd's command line (package mariadbd's), or retry, drain or
// stop mariadbd itself (package member's).
package galeramember

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/httpserver"
	"github.com/galera-sentinel/galera-sentinel/internal/journal"
	"github.com/galera-sentinel/galera-sentinel/internal/mariadbd"
	"github.com/galera-sentinel/galera-sentinel/internal/member"
	"github.com/galera-sentinel/galera-sentinel/internal/oneline"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
	"github.com/galera-sentinel/galera-sentinel/internal/recovery"
	"github.com/galera-sentinel/galera-sentinel/internal/supervisor"
)

// Config is what the Galera member needs besides its collaborators: the
// lifecycle's, and who this sentinel process is.
type Config struct {
	member.Config
	// InstanceID tells this sentinel process from its earlier lives and
	// from another that claims its name (random when empty).
	InstanceID string
	// Upgrade, when set, is this member's MariaDB version and its
	// mariadb-upgrade (nil: versions are neither read nor compared).
	Upgrade *Upgrade
	// ProviderPath is Galera's library (wsrep_provider): a refusal of
	// its protocols holds only while the file is the same.
	ProviderPath string
}

// Poller is what the member needs of the health poller.
type Poller interface {
	member.Poller[galera.Sample]
	// SetUpgrading holds a running member not ready while its system
	// tables are brought to the running version (health.Poller).
	SetUpgrading(reason string)
}

// Mariadbd is what the member needs of mariadbd's roles.
type Mariadbd interface {
	Recover(ctx context.Context) ([]byte, error)
	Initialise(ctx context.Context) error
	Serve(s mariadbd.Start, peerHosts []string) (*supervisor.Process, error)
	// SweepRunningSST clears what an earlier state transfer left while
	// mariadbd runs (mariadbd.Runner.SweepRunningSST); synced: a fresh
	// sample shows the node Synced.
	SweepRunningSST(synced bool)
}

// Member is one Galera run-mode member: the lifecycle over this mode.
type Member struct {
	cfg    Config
	poller Poller
	judge  func(*health.Snapshot[galera.Sample], time.Time) bool // the Ready verdict
	fresh  time.Duration                                         // how old a sample may be to be published
	loop   *recovery.Loop
	db     Mariadbd
	log    *slog.Logger
	life   *member.Member[galera.Sample]

	mu       sync.Mutex
	seen     galera.View // the last view a decision was made from
	self     peer.Self
	started  bool
	instance string
	// startedAt is when mariadbd was last started, and joined whether
	// that start was to join a Primary component (not a bootstrap).
	startedAt time.Time
	joined    bool

	// Watch's debounces, reset by every start.
	down     downStreak
	detached downStreak
	// sweeping says whether a sweep of stale state-transfer helpers
	// runs.
	sweeping atomic.Bool

	// mustRestart is the last line in which Galera said this node must be
	// restarted (RestartRequired), and mustRestartAt when it came.
	mustRestart   string
	mustRestartAt time.Time

	// upgrade is this life's mariadb-upgrade.
	upgrade upgradeState
	// proto is what mariadbd's log said of Galera's library and
	// protocols (LogLine); under mu.
	proto protocolState
}

// New returns a member that has not read its position yet. ready is the
// poller's Ready verdict over a snapshot; maxStaleness is how old a sample
// may be for its live state to be published to the peers.
func New(cfg Config, p Poller, ready func(*health.Snapshot[galera.Sample], time.Time) bool, maxStaleness time.Duration,
	loop *recovery.Loop, db Mariadbd, hurry member.Hurry, log *slog.Logger) *Member {
	if cfg.Events == nil {
		cfg.Events = func(journal.Event) {}
	}
	m := &Member{cfg: cfg, poller: p, judge: ready, fresh: maxStaleness, loop: loop, db: db, log: log}
	m.instance = cfg.InstanceID
	if m.instance == "" {
		var idb [8]byte
		_, _ = rand.Read(idb[:])
		m.instance = hex.EncodeToString(idb[:])
	}
	m.self = peer.Self{Member: galera.Member{Name: cfg.NodeName}, InstanceID: m.instance, Phase: peer.PhasePosition}
	loop.Self, loop.Instance = m.position, m.instance
	loop.OnDecision = m.decided
	loop.OnView = func(v galera.View) {
		m.mu.Lock()
		m.seen = v
		m.mu.Unlock()
	}
	lc := cfg.Config
	lc.MaxStaleness, lc.Settled = maxStaleness, "Synced"
	if lc.WatchEvery <= 0 {
		lc.WatchEvery = loop.Interval
	}
	m.life = member.New(lc, member.Mode(m), p, Clients, hurry, log)
	return m
}

// Clients is the number of client connections a sample shows, the
// sentinel's own not counted.
func Clients(s galera.Sample) int { return s.ThreadsConnected - 1 }

// Run is the member's life (member.Member.Run).
func (m *Member) Run(ctx context.Context) error { return m.life.Run(ctx) }

// Decision is a galera decision as the member publishes it.
func Decision(d galera.Decision) member.Decision {
	return member.Decision{Action: member.Action(d.Action.String()), Class: member.Class(d.Class), Reason: d.Reason}
}

func (m *Member) position() galera.Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.self.Member
}

// decided publishes the recovery loop's decision, told every round; the
// journal records it when it changed (a member waiting for its peers
// decides the same every --decide-interval).
func (m *Member) decided(gd galera.Decision) {
	d := Decision(gd)
	m.mu.Lock()
	changed := m.self.Decision != d
	m.self.Decision = d
	m.mu.Unlock()
	if changed {
		m.cfg.Events(journal.Event{Kind: journal.KindDecision, Reason: d.String()})
	}
	if !gd.Action.Starts() {
		m.poller.SetHold(d.String())
	}
}

// Seen is the last view of the peers a decision was made from: who
// answered with which position, who did not answer.
func (m *Member) Seen() galera.View {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seen
}

// SetLastView publishes the view the member saved while it runs
// (ViewKeeper.Saved), so that peers deciding now see it.
func (m *Member) SetLastView(v galera.LastView) {
	m.mu.Lock()
	m.self.Member.LastView = &v
	m.mu.Unlock()
}

// State is the document this sentinel publishes to its peers, from what it
// knows and the poller's last sample.
func (m *Member) State() peer.State {
	m.mu.Lock()
	self := m.self
	joined, startedAt := m.joined, m.startedAt
	m.mu.Unlock()
	snap, now := m.poller.Snapshot(), time.Now()
	self.Joining = joined && snap.SettledAt.Before(startedAt)
	var last *galera.Sample
	if snap.Last != nil && now.Sub(snap.LastAt) <= m.fresh {
		last = snap.Last
	}
	return peer.NewState(self, last, last != nil && m.judge(snap, now))
}

// PeerAPI is the peer API over this member: its state, and the operator's
// bootstrap override.
func (m *Member) PeerAPI(tokens *httpserver.Tokens, log *slog.Logger) *peer.Server {
	return &peer.Server{Tokens: tokens, State: m.State, Bootstrap: m.override, Logger: log}
}

func (m *Member) override(name string) error {
	if name != m.cfg.NodeName {
		return fmt.Errorf("%w: %w: this is %s, not %s", peer.ErrOverrideRejected, peer.ErrOtherNode, m.cfg.NodeName, name)
	}
	m.mu.Lock()
	started := m.started
	m.mu.Unlock()
	if started {
		return fmt.Errorf("%w: mariadbd already runs on %s", peer.ErrOverrideRejected, name)
	}
	m.loop.Force()
	return nil
}

// Enter publishes where the lifecycle is (member.Mode).
func (m *Member) Enter(p member.Phase, d member.Decision) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch p {
	case member.Running:
		m.self.Phase = peer.PhaseRunning
	case member.Stopping:
		m.self.Phase = peer.PhaseStopping
	case member.Exited:
		m.started = false
	case member.Retrying:
		// The next try reads the position again.
		m.self.Member, m.self.Phase = galera.Member{Name: m.cfg.NodeName}, peer.PhasePosition
	}
	if d.Action != "" {
		m.self.Decision = d
	}
}

// Start reads the position, decides with the peers and starts mariadbd
// (member.Mode). A failure of --wsrep-recover or of the initialisation
// may be mended by a later try; a grastate.dat that cannot be believed,
// or a start that cannot even exec, needs a person.
func (m *Member) Start(ctx context.Context) (*supervisor.Process, error) {
	m.down, m.detached = downStreak{}, downStreak{}
	m.mu.Lock()
	m.mustRestart, m.mustRestartAt = "", time.Time{}
	m.mu.Unlock()
	m.poller.SetHold("reading this node's position")
	local, err := recovery.ReadLocal(ctx, m.cfg.NodeName, m.cfg.DataDir, m.db.Recover)
	if err != nil {
		m.poller.SetHold("cannot read this node's position: " + err.Error())
		if ctx.Err() != nil {
			return nil, nil
		}
		if errors.Is(err, recovery.ErrRecover) {
			return nil, member.Again("reading the position failed: %s", oneline.Error(err))
		}
		return nil, fmt.Errorf("%w; nothing was started", err)
	}
	m.readVersions(&local)
	m.readProtocols(&local)
	m.cfg.Events(journal.Event{Kind: journal.KindPosition, Reason: local.How})
	m.log.Info("local position", "how", local.How, "mariadb_version", local.Version.String(), "data_version", local.DataVersion.String(), "empty", local.Empty, "fresh", local.Fresh, "needs_sst", local.NeedsSST,
		"uuid", local.Position.UUID, "seqno", local.Position.Seqno, "safe_to_bootstrap", local.SafeToBootstrap, "saved_view", local.SavedView, "last_view", lastViewAttr(local.LastView))
	m.mu.Lock()
	m.self.Member, m.self.Phase = local.Member, peer.PhaseWaiting
	m.mu.Unlock()
	m.poller.SetHold("waiting for peers")

	plan, err := m.loop.Run(ctx)
	if err != nil {
		m.log.Info("stopped while waiting; mariadbd was not started")
		return nil, nil
	}
	return m.start(ctx, plan, local)
}

// Watch looks at the running node (member.Mode): it restarts a node that
// mariadbd said must be restarted (RestartRequired) or that is out of the
// cluster for good (galera.Detached), and steps down when the decision
// with the peers has said StepDown long enough.
func (m *Member) Watch(ctx context.Context, _ *supervisor.Process, started time.Time) (bool, member.Decision) {
	m.sweepSST(time.Now())
	m.watchUpgrade(ctx, m.syncedNow(time.Now()), time.Now())
	if d, ok := m.restartRequiredDue(started); ok {
		return true, d
	}
	if d, ok := m.detachedDue(started, time.Now()); ok {
		return true, d
	}
	if d, ok := m.stepDownDue(ctx, started, &m.down); ok {
		return true, Decision(d)
	}
	return false, member.Decision{}
}

// sweepSST clears, beside the watch, what an earlier state transfer left
// in the data directory's pid files (a donor whose previous script still
// runs, or whose pid file names a recycled process id, fails every new
// transfer after waiting 30 s for it). It never blocks the watch.
func (m *Member) sweepSST(now time.Time) {
	snap := m.poller.Snapshot()
	synced := snap.Last != nil && now.Sub(snap.LastAt) <= m.fresh && snap.Last.LocalState == galera.StateSynced
	if !m.sweeping.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer m.sweeping.Store(false)
		m.db.SweepRunningSST(synced)
	}()
}

// RestartRequired tells the member that mariadbd printed line, in which
// Galera says this node must be restarted (mariadbd.RestartRequired):
// the next Watch restarts it. Safe from any goroutine.
func (m *Member) RestartRequired(line string) {
	m.mu.Lock()
	m.mustRestart, m.mustRestartAt = line, time.Now()
	m.mu.Unlock()
}

// maxLineInReason bounds how much of mariadbd's line a reason quotes.
const maxLineInReason = 300

// restartRequiredDue reports whether mariadbd said, since it was started,
// that it must be restarted. Galera's word is final, so one line is
// enough; a line from an earlier life of mariadbd (its output read after
// it ended) is not.
func (m *Member) restartRequiredDue(started time.Time) (member.Decision, bool) {
	m.mu.Lock()
	line, at := m.mustRestart, m.mustRestartAt
	m.mu.Unlock()
	if line == "" || at.Before(started) {
		return member.Decision{}, false
	}
	if len(line) > maxLineInReason {
		line = line[:maxLineInReason] + "..."
	}
	return member.Decision{Action: member.Restart, Class: member.ClassRestartRequired, Reason: fmt.Sprintf("mariadbd says this node must be restarted (%s)", line)}, true
}

// detachedDue reports whether fresh samples taken since started have
// shown the node Detached long enough to restart it.
func (m *Member) detachedDue(started, now time.Time) (member.Decision, bool) {
	snap := m.poller.Snapshot()
	if snap.Last == nil || now.Sub(snap.LastAt) > m.fresh || snap.LastAt.Before(started) || !galera.Detached(*snap.Last) {
		m.detached = downStreak{}
		return member.Decision{}, false
	}
	if m.detached.n == 0 {
		m.detached.since = now
	}
	m.detached.n++
	if !galera.RestartDetached(m.detached.since, now, m.detached.n) {
		return member.Decision{}, false
	}
	return member.Decision{Action: member.Restart, Class: member.ClassRestart, Reason: fmt.Sprintf("mariadbd is out of the cluster for good (wsrep %s, state %s, cluster status %q for %s): it must be restarted",
		map[bool]string{true: "connected", false: "disconnected"}[snap.Last.Connected], snap.Last.LocalState, snap.Last.ClusterStatus, now.Sub(m.detached.since).Round(time.Second))}, true
}

// stepDownChecks is how many checks in a row, at least stepDownSettle
// apart from the first to the last, must say StepDown before the member
// acts: a view seen once may be a moment of a restart.
const (
	stepDownChecks = 3
	stepDownSettle = 3 * time.Second
)

// downStreak counts the checks in a row that said StepDown.
type downStreak struct {
	n     int
	since time.Time
}

// stepDownDue looks at the peers while mariadbd runs and reports whether
// the decision (galera.Decide, from this member's live state) has said
// StepDown long enough. Only a mariadbd that a fresh sample shows outside
// a Primary component after it was Synced, or a joiner that never was
// Synced, is considered: a member that has just bootstrapped is never
// stopped by this while it starts.
func (m *Member) stepDownDue(ctx context.Context, started time.Time, s *downStreak) (galera.Decision, bool) {
	reset := func() (galera.Decision, bool) { *s = downStreak{}; return galera.Decision{}, false }
	m.mu.Lock()
	joined := m.joined
	m.mu.Unlock()
	if snap := m.poller.Snapshot(); snap.SettledAt.Before(started) && !joined {
		return reset()
	}
	self := m.State().Member()
	if self.Primary || (!self.NonPrimary && !self.Joining) {
		return reset()
	}
	v, d, err := m.loop.Running(ctx, self)
	if err != nil || d.Action != galera.StepDown {
		if err == nil && d.Reason != "" {
			m.mu.Lock()
			changed := m.self.Decision != Decision(d)
			m.self.Decision = Decision(d)
			m.mu.Unlock()
			if changed {
				m.log.Info("outside a Primary component", "decision", d.Action.String(), "reason", d.Reason)
			}
		}
		return reset()
	}
	if s.n == 0 {
		s.since = time.Now()
	}
	s.n++
	settle := stepDownSettle
	if galera.EveryoneOutside(v) {
		settle = galera.EveryoneOutsideSettle
	}
	if s.n < stepDownChecks || time.Since(s.since) < settle {
		return galera.Decision{}, false
	}
	return d, true
}

func lastViewAttr(v *galera.LastView) any {
	if v == nil {
		return "none"
	}
	return v
}

// start prepares the data directory for the plan and starts mariadbd.
func (m *Member) start(ctx context.Context, plan recovery.Plan, local recovery.Local) (*supervisor.Process, error) {
	switch {
	case plan.Action == galera.BootstrapNew && local.Fresh:
		m.log.Info("the data directory is a fresh installation: the new cluster starts from it as it is")
	case plan.Action == galera.BootstrapNew:
		if err := m.db.Initialise(ctx); err != nil {
			if ctx.Err() != nil {
				return nil, nil
			}
			return nil, member.Again("initialising the data directory failed: %s", oneline.Error(err))
		}
	case plan.Action == galera.Bootstrap:
		if err := recovery.SetSafeToBootstrap(m.cfg.DataDir); err != nil {
			return nil, fmt.Errorf("set safe_to_bootstrap: %w; nothing was started", err)
		}
	}
	m.armUpgrade()
	s := mariadbd.Start{ClusterAddress: plan.ClusterAddress, NewCluster: plan.Action == galera.Bootstrap || plan.Action == galera.BootstrapNew}
	if local.Recovered && local.HasPosition() {
		s.Position = local.Position.String()
	}
	proc, err := m.db.Serve(s, plan.Hosts)
	if err != nil {
		m.poller.SetHold("mariadbd did not start")
		return nil, err
	}
	kind := journal.KindMariadbd
	if s.NewCluster {
		kind = journal.KindBootstrap
	}
	m.cfg.Events(journal.Event{Kind: kind, Reason: fmt.Sprintf("%s (pid %d)", plan.Action, proc.Pid)})
	m.mu.Lock()
	m.started, m.self.Phase = true, peer.PhaseRunning
	m.startedAt, m.joined = time.Now(), plan.Action == galera.Join
	m.mu.Unlock()
	return proc, nil
}

// Poster calls a token-protected action of another sentinel; peer.Client
// is the real one.
type Poster interface {
	Post(ctx context.Context, addr, path string, v any) error
}

// ForwardOverride is the peer API's Forward: it finds the sentinel that
// answers with the node's name among the peers and hands it the override.
func (m *Member) ForwardOverride(p Poster) func(ctx context.Context, node string) (string, error) {
	return func(ctx context.Context, node string) (string, error) {
		addrs, err := m.loop.Source.Peers(ctx)
		if err != nil {
			return "", fmt.Errorf("discover peers (%s): %w", m.loop.Source, err)
		}
		var silent int
		for _, a := range peer.FanOut(ctx, addrs, m.loop.Peers.State) {
			if a.Err != nil {
				silent++
				continue
			}
			if a.Value.NodeName == node {
				return a.Addr, p.Post(ctx, a.Addr, "/api/v1/bootstrap?forwarded=1&node="+url.QueryEscape(node), nil)
			}
		}
		return "", fmt.Errorf("no member named %s answers (%d addresses asked, %d did not answer): check the name; `galera-sentinel status` lists the members", node, len(addrs), silent)
	}
}
