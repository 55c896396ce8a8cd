// Package member is run mode's lifecycle, the same for every database
// mode: the life of one member from the sentinel's start to mariadbd's
// clean stop. It tries again with a doubling pause when a try may mend a
// failure, supervises mariadbd (an exit before the node settled is tried
// again, an exit after it ends Run with mariadbd's status), lets the mode
// watch the running node and restart it, and on ctx's end drains (with
// the writer handover) and stops mariadbd within a bound.
//
// A mode (galeramember, replmember) supplies only what differs, through
// Mode: reading the position, deciding with its peers, preparing and
// starting mariadbd; and watching it while it runs.
//
// It must not know a database mode: no Galera or replication type, no
// peer API, no SQL. It must not parse flags or serve HTTP.
package member

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/journal"
	"github.com/galera-sentinel/galera-sentinel/internal/supervisor"
)

// Config is what the lifecycle needs besides its collaborators.
type Config struct {
	NodeName string
	DataDir  string
	// DrainDelay is how long readiness is 503 before client connections
	// are waited for; DrainTimeout bounds that wait.
	DrainDelay   time.Duration
	DrainTimeout time.Duration
	// ShutdownTimeout bounds mariadbd's shutdown.
	ShutdownTimeout time.Duration
	// UnsettledStopTimeout bounds the stop when the mode's Watch restarts
	// a mariadbd that has not settled since it started: a joiner waiting
	// for its state transfer does not act on SIGTERM until the transfer
	// ends (on Kubernetes a step-down waited out a 5 min ShutdownTimeout
	// that way), and it holds nothing a clean shutdown would keep: the
	// transfer starts again, InnoDB recovers from a kill. Killed, it is
	// tried again like any other unsettled exit. Default 30 s, never
	// above ShutdownTimeout.
	UnsettledStopTimeout time.Duration
	// ShutdownStuck, when set, is asked every second during a stop
	// whether mariadbd's shutdown will never end (and why): it is then
	// killed at once rather than at the stop's timeout.
	ShutdownStuck func(now time.Time) (string, bool)
	// PollInterval paces the drain's checks of the connection count.
	PollInterval time.Duration
	// MaxStaleness is how old a sample may be for its connection count
	// to be believed.
	MaxStaleness time.Duration
	// RetryMin and RetryMax bound the pause before another try after a
	// failure a try may mend; it doubles from one to the other. RetryMin
	// defaults to 1 s. RetryMax defaults to 30 s and is never below
	// RetryMin: one rule for every mode, because a try costs the same
	// everywhere (a --wsrep-recover, an initialisation or a clone, and a
	// round of questions to every peer), and 30 s stays below the
	// minutes an orchestrator's own back-off reaches.
	RetryMin, RetryMax time.Duration
	// WatchEvery paces Mode.Watch while mariadbd runs (0: never).
	WatchEvery time.Duration
	// Settled is how the mode names a node that settled ("Synced"), for
	// the message of an exit before it did.
	Settled string
	// WriterUntil, when set, is when this member's writer handover window
	// ends (health.Handlers.WriterUntil): a writer that starts to drain
	// keeps answering 200 on /writerz until then, so its drain delay
	// counts from that moment.
	WriterUntil func() time.Time
	// Events, when set, receives the lifecycle's journal events: exits
	// of mariadbd, retries, restarts, the drain.
	Events func(journal.Event)
	// Sessions, when set, ends client sessions during the drain: past
	// the drain delay, at every check, those that sit between
	// transactions; at the drain's end, before mariadbd is told to stop,
	// whatever is left. mariadbd's own shutdown leaves the cluster first
	// and answers the sessions still attached with error 1047 until it
	// ends them; ended by the drain they see their connection close.
	Sessions Sessions
	// Drained, when set, is told what each drain did (for the metrics).
	Drained func(closed, cut int, took time.Duration)
}

// Sessions ends a node's client sessions for the drain (package
// sessions).
type Sessions interface {
	// CloseIdle ends the client sessions between transactions and says
	// how many it ended and how many are left.
	CloseIdle(ctx context.Context) (closed, left int, err error)
	// CutAll ends every client session and says how many.
	CutAll(ctx context.Context) (int, error)
}

// Poller is what the lifecycle needs of the health poller.
type Poller[S any] interface {
	SetHold(reason string)
	SetStopping()
	Kick()
	Snapshot() *health.Snapshot[S]
}

// Mode is what a database mode supplies to the lifecycle.
type Mode interface {
	// Start reads the node's position, decides with the peers until the
	// decision starts mariadbd, prepares the data directory and starts
	// mariadbd, which it returns running. It returns nil, nil when ctx
	// ended first; an error made by Again when a later try may mend it
	// (the mode has then stopped whatever it started); any other error
	// needs a person and ends Run.
	Start(ctx context.Context) (*supervisor.Process, error)
	// Watch looks at the running node every Config.WatchEvery; stop
	// says to stop mariadbd cleanly and try again from Start, why says
	// so to people and peers. started is when Start returned.
	Watch(ctx context.Context, proc *supervisor.Process, started time.Time) (stop bool, why Decision)
	// Enter tells the mode that the lifecycle moved to p, with the
	// decision that moved it there (zero when none), so that it
	// publishes both.
	Enter(p Phase, d Decision)
}

// Phase is where the lifecycle is, as it tells the mode.
type Phase int

const (
	// Running: Start returned a running mariadbd.
	Running Phase = iota + 1
	// Stopping: the drain (ctx ended) or a restart (Watch) began.
	Stopping
	// Exited: mariadbd has ended, stopped or on its own.
	Exited
	// Retrying: another try follows after a pause.
	Retrying
)

// Hurry subscribes to the signals that cut a drain short (a second
// SIGTERM or SIGINT) from the moment the drain begins; stop ends the
// subscription.
type Hurry func() (signals <-chan os.Signal, stop func())

// ExitError carries mariadbd's exit status out of Run: the sentinel exits
// with it, so the orchestrator sees what mariadbd did.
type ExitError struct {
	Code int
	Msg  string
}

func (e *ExitError) Error() string { return e.Msg }

// RetryError is a failure that a later try may mend (see Again).
type RetryError struct{ Reason string }

func (e *RetryError) Error() string { return e.Reason }

// Again is a failure that a later try may mend, for Mode.Start.
func Again(format string, args ...any) error {
	return &RetryError{Reason: fmt.Sprintf(format, args...)}
}

// Member is one run-mode member over samples of type S.
type Member[S any] struct {
	cfg    Config
	mode   Mode
	poller Poller[S]
	// conns is the number of client connections a sample shows, the
	// sentinel's own not counted.
	conns func(S) int
	hurry Hurry
	log   *slog.Logger
}

// New returns the lifecycle of one member. conns is the number of client
// connections a sample of the mode shows, the sentinel's own not
// counted: the drain waits for it to reach 0.
func New[S any](cfg Config, mode Mode, p Poller[S], conns func(S) int, hurry Hurry, log *slog.Logger) *Member[S] {
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = time.Second
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = 30 * time.Second
	}
	cfg.RetryMax = max(cfg.RetryMax, cfg.RetryMin)
	if cfg.Events == nil {
		cfg.Events = func(journal.Event) {}
	}
	if cfg.Settled == "" {
		cfg.Settled = "settled"
	}
	if cfg.MaxStaleness <= 0 {
		cfg.MaxStaleness = 2 * time.Second
	}
	if cfg.UnsettledStopTimeout <= 0 {
		cfg.UnsettledStopTimeout = 30 * time.Second
	}
	if cfg.ShutdownTimeout > 0 {
		cfg.UnsettledStopTimeout = min(cfg.UnsettledStopTimeout, cfg.ShutdownTimeout)
	}
	if hurry == nil {
		hurry = func() (<-chan os.Signal, func()) { return nil, func() {} }
	}
	return &Member[S]{cfg: cfg, mode: mode, poller: p, conns: conns, hurry: hurry, log: log}
}

// Run is the member's life: start mariadbd through the mode, supervise
// it, and on ctx's end drain and stop it. It returns nil after a clean
// stop, an *ExitError with mariadbd's status when mariadbd ended
// otherwise, and the mode's error when nothing could be started.
//
// A failure that a later try can mend is tried again in the process, with
// a growing pause, rather than by exiting: an orchestrator's back-off
// grows to minutes between restarts, each one more downtime. That covers
// what Start says may be mended and a mariadbd that exits before the node
// ever settled (a state transfer that broke off, a join that found no
// Primary component). Meanwhile the member is held (not ready, alive)
// and says why. A mariadbd that had settled and then exits ends Run with
// its status, so the orchestrator sees the crash.
func (m *Member[S]) Run(ctx context.Context) error {
	pause := m.cfg.RetryMin
	for try := 1; ; try++ {
		err := m.attempt(ctx)
		again, ok := errors.AsType[*RetryError](err)
		if !ok {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		reason := fmt.Sprintf("%s; trying again in %s (try %d)", again.Reason, pause, try)
		m.log.Warn("will try again", "reason", again.Reason, "pause", pause, "try", try)
		m.cfg.Events(journal.Event{Kind: journal.KindRetry, Reason: reason})
		m.poller.SetHold(reason)
		m.mode.Enter(Retrying, Decision{Action: Retry, Class: ClassRetry, Reason: reason})
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

// attempt is one try: Start, then supervise until an exit, a restart or
// ctx's end.
func (m *Member[S]) attempt(ctx context.Context) error {
	proc, err := m.mode.Start(ctx)
	if err != nil || proc == nil {
		return err // proc is nil without an error when ctx ended first
	}
	started := time.Now()
	m.mode.Enter(Running, Decision{})
	m.poller.SetHold("")
	m.poller.Kick()
	var tick <-chan time.Time
	if m.cfg.WatchEvery > 0 {
		t := time.NewTicker(m.cfg.WatchEvery)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-proc.Done():
			m.cfg.Events(journal.Event{Kind: journal.KindMariadbdExit, Reason: proc.Describe()})
			m.mode.Enter(Exited, Decision{})
			if s := m.poller.Snapshot(); s.SettledAt.Before(started) {
				return Again("mariadbd exited before it was %s (%s)", m.cfg.Settled, proc.Describe())
			}
			msg := fmt.Sprintf("mariadbd exited on its own (%s); exiting so the orchestrator restarts this member", proc.Describe())
			m.log.Error(msg)
			// mariadbd's own status, 0 included (an operator's SHUTDOWN).
			return &ExitError{Code: proc.ExitCode(), Msg: msg}
		case <-ctx.Done():
			m.mode.Enter(Stopping, Decision{})
			m.drain(proc)
			return m.stop(proc, "stopped")
		case <-tick:
			if stop, why := m.mode.Watch(ctx, proc, started); stop && ctx.Err() == nil {
				return m.restart(proc, why, started)
			}
		}
	}
}

// restart stops mariadbd cleanly because the mode's watch said so, and
// has the member try again from Start: reading the position and deciding
// with the peers. The stop is bounded by ShutdownTimeout, or by
// UnsettledStopTimeout when mariadbd has not settled since started; such
// a mariadbd killed at its bound is tried again too.
func (m *Member[S]) restart(proc *supervisor.Process, why Decision, started time.Time) error {
	timeout := m.cfg.ShutdownTimeout
	settled := !m.poller.Snapshot().SettledAt.Before(started)
	if !settled {
		timeout = m.cfg.UnsettledStopTimeout
	}
	// "step-down: stopping mariadbd ...", "restart: ...": the action leads,
	// for people reading the log.
	m.log.Warn(string(why.Action)+": stopping mariadbd to decide again", "action", string(why.Action), "reason", why.Reason, "pid", proc.Pid, "timeout", timeout)
	m.cfg.Events(journal.Event{Kind: journal.KindDecision, Reason: why.String()})
	m.mode.Enter(Stopping, why)
	m.poller.SetHold(why.String())
	if err := m.stopWithin(proc, string(why.Action), timeout); err != nil {
		if settled {
			return err
		}
		m.log.Warn("mariadbd had not settled and did not stop in time: killed; trying again", "timeout", timeout)
		return Again("%s: mariadbd was not yet %s and was killed after %s (%s); deciding again with the peers", why, m.cfg.Settled, timeout, proc.Describe())
	}
	return Again("%s: mariadbd stopped (%s); deciding again with the peers", why, proc.Describe())
}

// stop stops mariadbd after the drain: nil after a clean stop, an
// *ExitError otherwise.
func (m *Member[S]) stop(proc *supervisor.Process, how string) error {
	if err := m.stopWithin(proc, how, m.cfg.ShutdownTimeout); err != nil {
		return err
	}
	if code := proc.ExitCode(); code != 0 {
		return &ExitError{Code: code, Msg: "mariadbd " + proc.Describe()}
	}
	return nil
}

// stopWithin stops mariadbd within timeout; the error is an *ExitError
// when it did not stop in time. how names the stop in the journal
// ("stopped", "step-down").
func (m *Member[S]) stopWithin(proc *supervisor.Process, how string, timeout time.Duration) error {
	m.log.Info("stopping mariadbd", "pid", proc.Pid, "timeout", timeout)
	begin := time.Now()
	err := proc.StopWatched(timeout, m.cfg.ShutdownStuck)
	m.mode.Enter(Exited, Decision{})
	if err != nil {
		m.log.Error("mariadbd shutdown", "err", err)
		return &ExitError{Code: proc.ExitCode(), Msg: err.Error()}
	}
	m.log.Info("mariadbd stopped", "status", proc.Describe(), "took", time.Since(begin).Round(time.Millisecond))
	m.cfg.Events(journal.Event{Kind: journal.KindMariadbdExit, Reason: how + ": " + proc.Describe()})
	return nil
}

// StopProcess stops mariadbd within timeout (SIGTERM, then SIGKILL after
// it): nil after a clean stop, an *ExitError with its status otherwise.
// Modes use it for a mariadbd they started and must stop before a retry.
func StopProcess(proc *supervisor.Process, timeout time.Duration) error {
	if err := proc.Stop(timeout); err != nil {
		return &ExitError{Code: proc.ExitCode(), Msg: err.Error()}
	}
	if code := proc.ExitCode(); code != 0 {
		return &ExitError{Code: code, Msg: "mariadbd " + proc.Describe()}
	}
	return nil
}

// errCutShort ends a drain wait early.
var errCutShort = errors.New("drain cut short")

// sessionsBound bounds one round of the process list and its KILLs.
const sessionsBound = 5 * time.Second

// drain takes the node out of the load balancer before mariadbd stops:
// readiness 503 at once, DrainDelay for the load balancer to notice
// (longer by what is left of a writer handover window), then up to
// DrainTimeout for the client connections to close, closing those
// between transactions (Config.Sessions); then it cuts what is left. A
// second signal cuts it short; mariadbd exiting ends it.
func (m *Member[S]) drain(proc *supervisor.Process) {
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
	closed, cut := 0, 0
	exited := false
	defer func() {
		if !exited {
			cut = m.cutSessions()
		}
		took := time.Since(begin)
		n, _ := m.Connections(time.Now())
		reason := fmt.Sprintf("ended after %s, %d client connections open", took.Round(time.Millisecond), n)
		if m.cfg.Sessions != nil {
			reason += fmt.Sprintf("; %d client sessions closed between transactions, %d cut", closed, cut)
		}
		m.cfg.Events(journal.Event{Kind: journal.KindDrain, Reason: reason})
		if m.cfg.Drained != nil {
			m.cfg.Drained(closed, cut, took)
		}
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
			exited = true
		}
		return errCutShort
	}
	if wait(delay) != nil {
		return
	}
	// The count that ends the drain must come from a sample begun after
	// the delay: one taken during it misses a client that connected
	// between that sample and now, and mariadbd would stop under it.
	settled := time.Now()
	m.poller.Kick()
	deadline := begin.Add(delay + m.cfg.DrainTimeout)
	last := -1
	sessionsFailed := false
	for {
		if m.cfg.Sessions != nil && !sessionsFailed {
			ctx, cancel := context.WithTimeout(context.Background(), sessionsBound)
			c, _, err := m.cfg.Sessions.CloseIdle(ctx)
			cancel()
			closed += c
			if c > 0 {
				m.log.Info("closed client sessions between transactions", "sessions", c)
				m.poller.Kick()
			}
			if err != nil {
				// The count from the samples still ends the drain.
				m.log.Warn("cannot close client sessions between transactions; waiting for them to close", "err", err)
				sessionsFailed = true
			}
		}
		n, fresh := m.connectionsSince(settled, time.Now())
		switch {
		case fresh && n == 0:
			m.log.Info("drained: no client connections left", "took", time.Since(begin).Round(time.Millisecond), "closed_between_transactions", closed)
			return
		case time.Now().After(deadline):
			m.log.Warn("drain timeout: cutting the client sessions still open, then stopping mariadbd", "connections", n, "drain_timeout", m.cfg.DrainTimeout)
			return
		case fresh && n != last:
			m.log.Info("waiting for client connections to close", "connections", n)
			last = n
		}
		m.poller.Kick()
		if wait(min(max(m.cfg.PollInterval, 10*time.Millisecond), 250*time.Millisecond)) != nil {
			return
		}
	}
}

// cutSessions ends the client sessions still open at the end of a drain,
// before mariadbd is told to stop, and says how many.
func (m *Member[S]) cutSessions() int {
	if m.cfg.Sessions == nil {
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), sessionsBound)
	defer cancel()
	n, err := m.cfg.Sessions.CutAll(ctx)
	if err != nil {
		m.log.Warn("cannot cut the client sessions left; mariadbd's shutdown ends them", "err", err)
		return n
	}
	if n == 0 {
		return 0
	}
	m.log.Warn("cut client sessions still open at the end of the drain", "sessions", n)
	// KILL CONNECTION only marks a session, and a busy one can outlive
	// it for a moment (seen: still listed 57 ms after); a session still
	// attached when mariadbd leaves the cluster is answered 1047 on every
	// statement until the shutdown ends it. Look again until none is
	// left.
	for again := 1; ; again++ {
		t := time.NewTimer(cutRecheck)
		select {
		case <-ctx.Done():
			t.Stop()
			m.log.Warn("client sessions still open after KILL CONNECTION; stopping mariadbd anyway", "checks", again)
			return n
		case <-t.C:
		}
		left, err := m.cfg.Sessions.CutAll(ctx)
		if err != nil || left == 0 {
			return n
		}
		m.log.Warn("client sessions still open after KILL CONNECTION: killed again", "sessions", left, "check", again)
	}
}

// cutRecheck is how soon the drain looks again for sessions it cut.
const cutRecheck = 50 * time.Millisecond

// Connections is the number of client connections in the last sample,
// the sentinel's own not counted, and whether that sample is fresh
// enough (at most MaxStaleness old at now) to trust.
func (m *Member[S]) Connections(now time.Time) (int, bool) {
	return ClientConnections(m.poller.Snapshot(), m.conns, m.cfg.MaxStaleness, now)
}

// connectionsSince is Connections from a sample begun at since or later;
// fresh is false until there is one.
func (m *Member[S]) connectionsSince(since, now time.Time) (int, bool) {
	s := m.poller.Snapshot()
	if s == nil || s.Last == nil || s.LastBegun.Before(since) {
		return 0, false
	}
	return ClientConnections(s, m.conns, m.cfg.MaxStaleness, now)
}

// ClientConnections is the number of client connections conns reads
// from the last sample of s, and whether that sample is at most maxStale
// old at now.
func ClientConnections[S any](s *health.Snapshot[S], conns func(S) int, maxStale time.Duration, now time.Time) (int, bool) {
	if s == nil || s.Last == nil || now.Sub(s.LastAt) > maxStale {
		return 0, false
	}
	return max(conns(*s.Last), 0), true
}
