// Package health turns a stream of samples into probe answers. One poller
// goroutine samples the node every interval, under a hard deadline, and
// publishes an immutable snapshot; HTTP handlers only read the latest
// snapshot, so probe traffic never reaches the database and never waits on
// it.
package health

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
)

// Sampler reads one sample; mysqlstat.Client is the real one.
type Sampler interface {
	Sample(ctx context.Context) (galera.Sample, error)
}

// PollerConfig configures a Poller.
type PollerConfig struct {
	Interval time.Duration // between polls
	Timeout  time.Duration // bound on one poll
	// MaintenanceFile, when set, drains the node while the file exists.
	MaintenanceFile string
	Policy          galera.Policy
	Logger          *slog.Logger
}

// Snapshot is what the poller knows after a poll. It is never modified
// once published.
type Snapshot struct {
	galera.Observation
	Polls    uint64 // polls attempted
	Failures uint64 // polls that failed
	// PollDuration is how long the latest poll took.
	PollDuration time.Duration
}

// Poller samples a node and publishes snapshots.
type Poller struct {
	cfg     PollerConfig
	sampler Sampler
	log     *slog.Logger
	snap    atomic.Pointer[Snapshot]
	// kick asks for a poll now (wsrep_notify_cmd, maintenance API).
	kick chan struct{}
	// mu serialises publishing; reading stays lock-free.
	mu sync.Mutex
	// apiMaint is the maintenance API's switch when no maintenance file
	// is configured; stopping is set once run mode begins to stop.
	apiMaint, stopping atomic.Bool
}

// NewPoller returns a poller that has not polled yet.
func NewPoller(cfg PollerConfig, s Sampler) *Poller {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Poller{cfg: cfg, sampler: s, log: log.With("component", "poller"), kick: make(chan struct{}, 1)}
	p.snap.Store(&Snapshot{Observation: galera.Observation{Started: time.Now()}})
	return p
}

// SetHold says why mariadbd is not running yet (empty: it runs now). It
// shows in the probes at once. Releasing the hold restarts the liveness
// clock: the polls that failed while mariadbd was deliberately not
// running say nothing about the mariadbd that starts now.
func (p *Poller) SetHold(reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	next := *p.snap.Load()
	if next.Hold != "" && reason == "" && !next.FailingSince.IsZero() {
		next.FailingSince = time.Now()
	}
	next.Hold = reason
	p.snap.Store(&next)
}

// SetMaintenance turns the operator's drain on or off and publishes it at
// once. With a maintenance file configured the switch is that file, which
// the API creates and removes: a drain then survives a restart of the
// sentinel, and the file and the API never disagree. Without one the
// switch lives in memory.
func (p *Poller) SetMaintenance(on bool) error {
	if f := p.cfg.MaintenanceFile; f != "" {
		var err error
		if on {
			err = os.WriteFile(f, []byte("drained through the maintenance API at "+time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644)
		} else if err = os.Remove(f); errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
		if err != nil {
			return fmt.Errorf("maintenance file: %w", err)
		}
	} else {
		p.apiMaint.Store(on)
	}
	p.republish()
	return nil
}

// SetStopping drains the node for good: run mode is about to stop
// mariadbd. It shows in the probes at once.
func (p *Poller) SetStopping() {
	p.stopping.Store(true)
	p.republish()
}

// republish publishes the drain switches without waiting for a poll.
func (p *Poller) republish() {
	p.mu.Lock()
	prev := p.snap.Load()
	next := *prev
	p.setSwitches(&next)
	p.snap.Store(&next)
	p.mu.Unlock()
	p.logChange(prev, &next, time.Now())
}

// setSwitches copies the drain switches into a snapshot; called with mu
// held so that a poll in flight cannot publish an older value.
func (p *Poller) setSwitches(s *Snapshot) {
	s.Maintenance = p.maintenance()
	s.Stopping = p.stopping.Load()
}

// Snapshot returns the latest snapshot; it never blocks.
func (p *Poller) Snapshot() *Snapshot { return p.snap.Load() }

// Policy is the policy the poller's verdicts follow.
func (p *Poller) Policy() galera.Policy { return p.cfg.Policy }

// Kick asks for a poll as soon as possible, without waiting for the next
// tick. Kicks while one is pending coalesce.
func (p *Poller) Kick() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// notifyRepoll is when a notification's second poll runs: mariadbd calls
// wsrep_notify_cmd while it changes state, so the poll at that moment may
// still read the old state.
const notifyRepoll = 150 * time.Millisecond

// Notify is how a wsrep notification reaches the poller: poll now, and
// once more shortly after.
func (p *Poller) Notify() {
	p.Kick()
	time.AfterFunc(notifyRepoll, p.Kick)
}

// Run polls until ctx ends. A poll never outlives Timeout, so Run returns
// promptly.
func (p *Poller) Run(ctx context.Context) {
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	for {
		p.pollOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-p.kick:
		}
	}
}

func (p *Poller) pollOnce(ctx context.Context) {
	prev := p.Snapshot()
	next := *prev
	next.Polls++

	begin := time.Now()
	pctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	s, err := p.sampler.Sample(pctx)
	cancel()
	now := time.Now()
	next.PollDuration = now.Sub(begin)

	if err != nil {
		next.Failures++
		next.Err = err
		if next.FailingSince.IsZero() {
			next.FailingSince = begin
		}
	} else {
		s.At = now
		next.Last = &s
		next.Err = nil
		next.FailingSince = time.Time{}
		if s.SyncedPrimary() {
			next.EverSynced = true
		}
	}
	p.mu.Lock()
	p.setSwitches(&next)
	if cur := p.snap.Load(); cur.Hold != prev.Hold {
		// SetHold ran during this poll: its hold and its liveness clock
		// win over what this poll started from.
		next.Hold = cur.Hold
		if err != nil && cur.FailingSince.After(next.FailingSince) {
			next.FailingSince = cur.FailingSince
		}
	}
	p.snap.Store(&next)
	p.mu.Unlock()
	p.logChange(prev, &next, now)
}

func (p *Poller) maintenance() bool {
	if p.cfg.MaintenanceFile == "" {
		return p.apiMaint.Load()
	}
	_, err := os.Stat(p.cfg.MaintenanceFile)
	return err == nil
}

// logChange logs one line when a verdict changes, not one per sample.
func (p *Poller) logChange(prev, next *Snapshot, now time.Time) {
	pol := p.cfg.Policy
	was, is := pol.Ready(prev.Observation, now), pol.Ready(next.Observation, now)
	if was.OK != is.OK || category(was.Reason) != category(is.Reason) {
		level := slog.LevelInfo
		if !is.OK {
			level = slog.LevelWarn
		}
		p.log.Log(context.Background(), level, "readiness changed", "ready", is.OK, "reason", is.Reason)
	}
	wasLive, isLive := pol.Live(prev.Observation, now), pol.Live(next.Observation, now)
	if wasLive.OK != isLive.OK {
		p.log.Warn("liveness changed", "live", isLive.OK, "reason", isLive.Reason)
	}
	if a, b := prev.Last, next.Last; a != b && b != nil && (a == nil ||
		a.ClusterStatus != b.ClusterStatus || a.LocalState != b.LocalState || a.ClusterSize != b.ClusterSize) {
		p.log.Info("node state", "cluster_status", b.ClusterStatus, "local_state", b.LocalState.String(),
			"cluster_size", b.ClusterSize, "local_index", b.LocalIndex)
	}
	if !prev.EverSynced && next.EverSynced {
		p.log.Info("node Synced for the first time since start")
	}
}

// category strips the changing parts (ages, counts) from a reason so a
// stale node does not log every poll as its age grows.
func category(reason string) string {
	for i, r := range reason {
		if r == ':' || (r >= '0' && r <= '9') {
			return reason[:i]
		}
	}
	return reason
}
