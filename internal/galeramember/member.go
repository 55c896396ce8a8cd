// Package member is run mode's member: the life of one cluster member from
// the sentinel's start to mariadbd's clean stop. It reads the node's
// position, lets the recovery loop decide with the peers, prepares the
// data directory, starts mariadbd, publishes its state to the peers, keeps
// the view of who is the writer, and on SIGTERM drains before it stops
// mariadbd.
//
// It must not parse flags or the environment, serve HTTP itself (it hands
// its peer API to whoever serves), make the bootstrap decision (galera's),
// or build mariadbd's command line (package mariadbd's).
package galeramember

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/galera-sentinel/galera-sentinel/internal/httpserver"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/journal"
	"github.com/galera-sentinel/galera-sentinel/internal/mariadbd"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
	"github.com/galera-sentinel/galera-sentinel/internal/recovery"
	"github.com/galera-sentinel/galera-sentinel/internal/supervisor"
)

// Config is what the member needs besides its collaborators.
type Config struct {
	NodeName string
	DataDir  string
	// DrainDelay is how long readiness is 503 before client connections
	// are waited for; DrainTimeout bounds that wait.
	DrainDelay   time.Duration
	DrainTimeout time.Duration
	// ShutdownTimeout bounds mariadbd's shutdown.
	ShutdownTimeout time.Duration
	// PollInterval paces the drain's checks of the connection count.
	PollInterval time.Duration
	// RetryMin and RetryMax bound the pause before another try after a
	// failure a try may mend; it doubles from one to the other.
	RetryMin, RetryMax time.Duration
	// WriterUntil, when set, is when this member's writer handover window
	// ends (health.Handlers.WriterUntil): a writer that starts to drain
	// keeps answering 200 on /writerz until then, so its drain delay
	// counts from that moment.
	WriterUntil func() time.Time
	// InstanceID tells this sentinel process from its earlier lives and
	// from another that claims its name (random when empty).
	InstanceID string
	// Events, when set, receives the member's journal events: its
	// position, decisions, starts and exits of mariadbd, retries, drain.
	Events func(journal.Event)
}

// Poller is what the member needs of the health poller.
type Poller interface {
	SetHold(reason string)
	SetStopping()
	Kick()
	Snapshot() *health.Snapshot[galera.Sample]
}

// Mariadbd is what the member needs of mariadbd's roles.
type Mariadbd interface {
	Recover(ctx context.Context) ([]byte, error)
	Initialise(ctx context.Context) error
	Serve(s mariadbd.Start, peerHosts []string) (*supervisor.Process, error)
}

// Member is one run-mode member.
type Member struct {
	cfg    Config
	poller Poller
	judge  func(*health.Snapshot[galera.Sample], time.Time) bool // the Ready verdict
	fresh  time.Duration                                         // how old a sample may be to be published
	loop   *recovery.Loop
	db     Mariadbd
	log    *slog.Logger
	// hurry subscribes to a second SIGTERM or SIGINT while draining.
	hurry Hurry

	mu       sync.Mutex
	seen     galera.View // the last view a decision was made from
	self     peer.Self
	started  bool
	instance string
	// startedAt is when mariadbd was last started, and joined whether
	// that start was to join a Primary component (not a bootstrap).
	startedAt time.Time
	joined    bool
}

// Hurry subscribes to the signals that cut a drain short (a second
// SIGTERM or SIGINT) from the moment the drain begins; stop ends the
// subscription.
type Hurry func() (signals <-chan os.Signal, stop func())

// New returns a member that has not read its position yet. ready is the
// poller's Ready verdict over a snapshot; maxStaleness is how old a sample
// may be for its live state to be published to the peers.
func New(cfg Config, p Poller, ready func(*health.Snapshot[galera.Sample], time.Time) bool, maxStaleness time.Duration,
	loop *recovery.Loop, db Mariadbd, hurry Hurry, log *slog.Logger) *Member {
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = time.Second
	}
	if cfg.Events == nil {
		cfg.Events = func(journal.Event) {}
	}
	cfg.RetryMax = max(cfg.RetryMax, cfg.RetryMin, 30*time.Second)
	m := &Member{cfg: cfg, poller: p, judge: ready, fresh: maxStaleness, loop: loop, db: db, hurry: hurry, log: log}
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
	return m
}

func (m *Member) position() galera.Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.self.Member
}

func (m *Member) decided(d galera.Decision) {
	m.mu.Lock()
	m.self.Decision = d.Action.String() + ": " + d.Reason
	m.mu.Unlock()
	m.cfg.Events(journal.Event{Kind: journal.KindDecision, Reason: d.Action.String() + ": " + d.Reason})
	if !d.Action.Starts() {
		m.poller.SetHold(d.Action.String() + ": " + d.Reason)
	}
}

// Seen is the last view of the peers a decision was made from: who
// answered with which position, who did not answer.
func (m *Member) Seen() galera.View {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seen
}

func (m *Member) setPhase(phase string) {
	m.mu.Lock()
	m.self.Phase = phase
	m.mu.Unlock()
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

// ExitError carries mariadbd's exit status out of Run: the sentinel exits
// with it, so the orchestrator sees what mariadbd did.
type ExitError struct {
	Code int
	Msg  string
}

func (e *ExitError) Error() string { return e.Msg }

// Run is the member's life: read the position, decide with the peers,
// start mariadbd, supervise it, and on ctx's end drain and stop it. It
// returns nil after a clean stop, an *ExitError with mariadbd's status
// when mariadbd ended otherwise, and an error when nothing was started.
//
// A failure that a later try can mend is tried again in the process, with
// a growing pause, rather than by exiting: an orchestrator's back-off
// grows to minutes between restarts, each one more downtime. That covers
// mariadbd --wsrep-recover failing, the initialisation failing, and a
// mariadbd that exits before it ever reached Synced (a state transfer
// that broke off, a join that found no Primary component). Meanwhile the
// member is held (not ready, alive) and /status says why. A mariadbd that
// had been Synced and then exits ends Run with its status, so the
// orchestrator sees the crash; a grastate.dat that cannot be believed, or
// a start that cannot even exec, needs a person and ends Run too.
func (m *Member) Run(ctx context.Context) error {
	pause := m.cfg.RetryMin
	for try := 1; ; try++ {
		err := m.attempt(ctx)
		var again *retryError
		if !errors.As(err, &again) {
			return err
		}
		reason := fmt.Sprintf("%s; trying again in %s (try %d)", again.reason, pause, try)
		m.log.Warn("will try again", "reason", again.reason, "pause", pause, "try", try)
		m.cfg.Events(journal.Event{Kind: journal.KindRetry, Reason: reason})
		m.poller.SetHold(reason)
		m.mu.Lock()
		m.self.Member, m.self.Phase, m.self.Decision = galera.Member{Name: m.cfg.NodeName}, peer.PhasePosition, reason
		m.mu.Unlock()
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		pause = min(2*pause, m.cfg.RetryMax)
	}
}

// retryError is a failure that a later try may mend.
type retryError struct{ reason string }

func (e *retryError) Error() string { return e.reason }

// attempt is one try at the member's life.
func (m *Member) attempt(ctx context.Context) error {
	m.poller.SetHold("reading this node's position")
	local, err := recovery.ReadLocal(ctx, m.cfg.NodeName, m.cfg.DataDir, m.db.Recover)
	if err != nil {
		m.poller.SetHold("cannot read this node's position: " + err.Error())
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, recovery.ErrRecover) {
			return &retryError{reason: "reading the position failed: " + oneLine(err)}
		}
		return fmt.Errorf("%w; nothing was started", err)
	}
	m.cfg.Events(journal.Event{Kind: journal.KindPosition, Reason: local.How})
	m.log.Info("local position", "how", local.How, "empty", local.Empty, "fresh", local.Fresh, "needs_sst", local.NeedsSST,
		"uuid", local.Position.UUID, "seqno", local.Position.Seqno, "safe_to_bootstrap", local.SafeToBootstrap, "saved_view", local.SavedView, "last_view", lastViewAttr(local.LastView))
	m.mu.Lock()
	m.self.Member, m.self.Phase = local.Member, peer.PhaseWaiting
	m.mu.Unlock()
	m.poller.SetHold("waiting for peers")

	plan, err := m.loop.Run(ctx)
	if err != nil {
		m.log.Info("stopped while waiting; mariadbd was not started")
		return nil
	}
	proc, err := m.start(ctx, plan, local)
	if err != nil || proc == nil {
		return err // proc is nil without an error when ctx ended first
	}
	started := time.Now()
	watch := time.NewTicker(m.loop.Interval)
	defer watch.Stop()
	var streak downStreak
	for {
		select {
		case <-proc.Done():
			m.cfg.Events(journal.Event{Kind: journal.KindMariadbdExit, Reason: proc.Describe()})
			if s := m.poller.Snapshot(); s.SettledAt.Before(started) {
				m.mu.Lock()
				m.started = false
				m.mu.Unlock()
				return &retryError{reason: fmt.Sprintf("mariadbd exited before it was Synced (%s)", proc.Describe())}
			}
			msg := fmt.Sprintf("mariadbd exited on its own (%s); exiting so the orchestrator restarts this member", proc.Describe())
			m.log.Error(msg)
			// mariadbd's own status, 0 included (an operator's SHUTDOWN).
			return &ExitError{Code: proc.ExitCode(), Msg: msg}
		case <-ctx.Done():
			return m.stop(proc)
		case <-watch.C:
			if d, ok := m.stepDownDue(ctx, started, &streak); ok {
				return m.stepDown(proc, d)
			}
		}
	}
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
			changed := m.self.Decision != d.Action.String()+": "+d.Reason
			m.self.Decision = d.Action.String() + ": " + d.Reason
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

// stepDown stops mariadbd cleanly (bounded by ShutdownTimeout) because the
// decision said StepDown: a node outside a Primary component serves and
// commits nothing, and once it is stopped every member's position is read
// again and the most advanced one bootstraps. The member then tries again
// from reading its position, in this process.
func (m *Member) stepDown(proc *supervisor.Process, d galera.Decision) error {
	reason := d.Action.String() + ": " + d.Reason
	m.log.Warn("stepping down: stopping mariadbd", "reason", d.Reason, "pid", proc.Pid, "timeout", m.cfg.ShutdownTimeout)
	m.cfg.Events(journal.Event{Kind: journal.KindDecision, Reason: reason})
	m.mu.Lock()
	m.self.Decision, m.self.Phase = reason, peer.PhaseStopping
	m.mu.Unlock()
	m.poller.SetHold(reason)
	begin := time.Now()
	if err := proc.Stop(m.cfg.ShutdownTimeout); err != nil {
		m.log.Error("mariadbd shutdown while stepping down", "err", err)
		return &ExitError{Code: proc.ExitCode(), Msg: err.Error()}
	}
	m.log.Info("mariadbd stopped (step-down)", "status", proc.Describe(), "took", time.Since(begin).Round(time.Millisecond))
	m.cfg.Events(journal.Event{Kind: journal.KindMariadbdExit, Reason: "stepped down: " + proc.Describe()})
	m.mu.Lock()
	m.started = false
	m.mu.Unlock()
	return &retryError{reason: fmt.Sprintf("stepped down: mariadbd stopped outside a Primary component (%s); deciding again with the peers", proc.Describe())}
}

func lastViewAttr(v *galera.LastView) any {
	if v == nil {
		return "none"
	}
	return v
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

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
			return nil, &retryError{reason: "initialising the data directory failed: " + oneLine(err)}
		}
	case plan.Action == galera.Bootstrap:
		if err := recovery.SetSafeToBootstrap(m.cfg.DataDir); err != nil {
			return nil, fmt.Errorf("set safe_to_bootstrap: %w; nothing was started", err)
		}
	}
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
	m.poller.SetHold("")
	m.poller.Kick()
	return proc, nil
}

// stop drains, then stops mariadbd within the shutdown timeout.
func (m *Member) stop(proc *supervisor.Process) error {
	m.setPhase(peer.PhaseStopping)
	m.drain(proc)
	m.log.Info("stopping mariadbd", "pid", proc.Pid, "timeout", m.cfg.ShutdownTimeout)
	begin := time.Now()
	if err := proc.Stop(m.cfg.ShutdownTimeout); err != nil {
		m.log.Error("mariadbd shutdown", "err", err)
		return &ExitError{Code: proc.ExitCode(), Msg: err.Error()}
	}
	m.log.Info("mariadbd stopped", "status", proc.Describe(), "took", time.Since(begin).Round(time.Millisecond))
	m.cfg.Events(journal.Event{Kind: journal.KindMariadbdExit, Reason: "stopped: " + proc.Describe()})
	if code := proc.ExitCode(); code != 0 {
		return &ExitError{Code: code, Msg: "mariadbd " + proc.Describe()}
	}
	return nil
}

// errCutShort ends a drain wait early.
var errCutShort = errors.New("drain cut short")

// drain takes the node out of the load balancer before mariadbd stops:
// readiness 503 at once, DrainDelay for the load balancer to notice, then
// up to DrainTimeout for the client connections to close. A second signal,
// or mariadbd exiting, cuts it short.
func (m *Member) drain(proc *supervisor.Process) {
	m.poller.SetStopping()
	hurry, stop := m.hurry()
	defer stop()
	begin := time.Now()
	delay := m.cfg.DrainDelay
	if m.cfg.WriterUntil != nil {
		if until := m.cfg.WriterUntil(); until.After(begin) {
			// The writer hands over: /writerz stays 200 until the
			// window ends, and the load balancer sees the change only
			// after that.
			delay += until.Sub(begin)
			m.log.Info("draining the writer: its successor answers /writerz now; this member hands over until the window ends", "handover_left", until.Sub(begin).Round(time.Millisecond))
		}
	}
	m.log.Info("draining: readiness is 503; waiting for the load balancer", "drain_delay", delay, "drain_timeout", m.cfg.DrainTimeout)
	m.cfg.Events(journal.Event{Kind: journal.KindDrain, Reason: fmt.Sprintf("began: drain delay %s, drain timeout %s", delay.Round(time.Millisecond), m.cfg.DrainTimeout)})
	defer func() {
		n, _ := ClientConnections(m.poller.Snapshot(), m.fresh, time.Now())
		m.cfg.Events(journal.Event{Kind: journal.KindDrain, Reason: fmt.Sprintf("ended after %s, %d client connections open", time.Since(begin).Round(time.Millisecond), n)})
	}()
	wait := func(d time.Duration) error {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case sig := <-hurry:
			m.log.Warn("second signal: stopping without finishing the drain", "signal", sig.String())
		case <-proc.Done():
		}
		return errCutShort
	}
	if wait(delay) != nil {
		return
	}
	deadline := begin.Add(delay + m.cfg.DrainTimeout)
	last := -1
	for {
		n, fresh := ClientConnections(m.poller.Snapshot(), m.fresh, time.Now())
		switch {
		case fresh && n == 0:
			m.log.Info("drained: no client connections left", "took", time.Since(begin).Round(time.Millisecond))
			return
		case time.Now().After(deadline):
			m.log.Warn("drain timeout: stopping mariadbd with client connections still open", "connections", n, "drain_timeout", m.cfg.DrainTimeout)
			return
		case fresh && n != last:
			m.log.Info("waiting for client connections to close", "connections", n)
			last = n
		}
		m.poller.Kick()
		if wait(min(m.cfg.PollInterval, 250*time.Millisecond)) != nil {
			return
		}
	}
}

// ClientConnections is the number of client connections in the last
// sample, the sentinel's own not counted, and whether that sample is fresh
// enough (at most maxStale old at now) to trust.
func ClientConnections(s *health.Snapshot[galera.Sample], maxStale time.Duration, now time.Time) (int, bool) {
	if s.Last == nil || now.Sub(s.LastAt) > maxStale {
		return 0, false
	}
	return max(s.Last.ThreadsConnected-1, 0), true
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
