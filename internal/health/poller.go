// Package health turns a stream of samples into probe answers. One poller
// goroutine samples the node every interval, under a hard deadline, and
// publishes an immutable snapshot with its verdicts; HTTP handlers only
// read the latest snapshot, so probe traffic never reaches the database and
// never waits on it.
//
// It is generic over the sample type: the domain (galera, or an
// asynchronous-replication policy) comes in through readiness.Policy. It
// must not know what a sample means, open connections of its own, or
// serve anything but the probe and operator endpoints.
package health

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/readiness"
)

// Sampler reads one sample; mysqlstat.Client is the real one for Galera.
type Sampler[S any] interface {
	Sample(ctx context.Context) (S, error)
}

// PollerConfig configures a Poller.
type PollerConfig struct {
	Interval time.Duration // between polls
	Timeout  time.Duration // bound on one poll
	// MaintenanceFile, when set, drains the node while the file exists.
	MaintenanceFile string
	Logger          *slog.Logger
	// Recorder, when set, is told of every poll and every change of a
	// verdict or of the node's state as it happens (package metrics).
	Recorder Recorder
	// TrackProgress makes the snapshots carry the member's last progress
	// (Observation.ProgressAt), for the stall rule: run mode, where the
	// sentinel runs mariadbd and watches its data directory and output.
	TrackProgress bool
	// Now is the poller's clock (nil: time.Now): when samples are taken,
	// progress is made and verdicts are judged. Tests drive it; the
	// interval ticker and the poll timeout stay on the real clock.
	Now func() time.Time
}

// Recorder hears what the poller sees as it happens, so that a change
// shorter than a metrics scrape still counts. Its methods must not block.
type Recorder interface {
	// Polled: one poll took d and failed with err (nil: a sample).
	Polled(d time.Duration, err error)
	// VerdictChanged: probe ("ready", "live", "started", "writer") now
	// answers v.
	VerdictChanged(probe string, v readiness.Verdict, at time.Time)
	// StateChanged: the node's state (Policy.State) is now state.
	StateChanged(state string, at time.Time)
}

type noRecorder struct{}

func (noRecorder) Polled(time.Duration, error)                         {}
func (noRecorder) VerdictChanged(string, readiness.Verdict, time.Time) {}
func (noRecorder) StateChanged(string, time.Time)                      {}

// Snapshot is what the poller knows after a poll. It is never modified
// once published.
type Snapshot[S any] struct {
	readiness.Observation[S]
	Polls    uint64 // polls attempted
	Failures uint64 // polls that failed
	// PollDuration is how long the latest poll took.
	PollDuration time.Duration
	// LastBegun is when the poll that took Last began: what Last shows
	// was true at some moment between LastBegun and LastAt.
	LastBegun time.Time
	// Prev is the good sample before Last (nil until there were two), for
	// rates over one poll interval.
	Prev *S

	// The Ready verdict as of publishing, and its answer as /readyz
	// sends it: valid until readyUntil, after which the sample is too old
	// and the verdict is computed again per request.
	ready      readiness.Verdict
	readyBody  []byte
	readyUntil time.Time
}

// Poller samples a node and publishes snapshots.
type Poller[S any] struct {
	cfg     PollerConfig
	judge   readiness.Judge[S]
	sampler Sampler[S]
	log     *slog.Logger
	rec     Recorder
	snap    atomic.Pointer[Snapshot[S]]
	// kick asks for a poll now (wsrep_notify_cmd, maintenance API).
	kick chan struct{}
	// changes is signalled when a published snapshot's Ready verdict
	// differs from the one before.
	changes chan struct{}
	// mu serialises publishing; reading stays lock-free.
	mu sync.Mutex
	// apiMaint is the maintenance API's switch when no maintenance file
	// is configured; stopping is set once run mode begins to stop.
	apiMaint, stopping atomic.Bool
	// progressAt (UnixNano) and progressWhat are the member's last
	// progress (TrackProgress), set by Progressed from any goroutine and
	// copied into each snapshot the poller publishes.
	progressAt   atomic.Int64
	progressWhat atomic.Pointer[string]
	// notLive is the Live verdict last logged, inverted (the zero value
	// is alive): a verdict that changes with time alone (the grace runs
	// out, the stall clock) is judged the same for the snapshots before
	// and after a poll at one moment, so the change is found against
	// what was last logged instead.
	notLive atomic.Bool
	// lastBegin is when the last poll began (pollOnce's goroutine only).
	lastBegin time.Time
}

// pauseGap is how far apart two polls' beginnings may be before the
// poller concludes that its own process did not run meanwhile: an
// interval, a poll bounded by its timeout, and slack for a loaded
// machine.
func (p *Poller[S]) pauseGap() time.Duration {
	return p.cfg.Interval + p.cfg.Timeout + 5*time.Second
}

// Settling reports whether the node is settling after a pause (see
// readiness.Observation.ResumedAt).
func (p *Poller[S]) Settling(now time.Time) bool {
	return p.judge.Settling(p.Snapshot().Observation, now)
}

// NewPoller returns a poller that has not polled yet.
func NewPoller[S any](cfg PollerConfig, judge readiness.Judge[S], s Sampler[S]) *Poller[S] {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var rec Recorder = noRecorder{}
	if cfg.Recorder != nil {
		rec = cfg.Recorder
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Poller[S]{cfg: cfg, judge: judge, sampler: s, log: log.With("component", "poller"), rec: rec,
		kick: make(chan struct{}, 1), changes: make(chan struct{}, 1)}
	first := &Snapshot[S]{Observation: readiness.Observation[S]{Started: cfg.Now()}}
	if cfg.TrackProgress {
		p.Progressed("the sentinel started")
		p.fillProgress(first)
	}
	p.store(first)
	return p
}

// Progressed records that the member made progress now (what moved: "data
// directory 1.2 GB", "mariadbd output"). It is cheap enough to call for
// every line mariadbd prints, from any goroutine; the next snapshot
// carries it. It does nothing unless TrackProgress is set.
func (p *Poller[S]) Progressed(what string) {
	if !p.cfg.TrackProgress {
		return
	}
	if cur := p.progressWhat.Load(); cur == nil || *cur != what {
		p.progressWhat.Store(&what)
	}
	p.progressAt.Store(p.cfg.Now().UnixNano())
}

// fillProgress copies the last progress into s.
func (p *Poller[S]) fillProgress(s *Snapshot[S]) {
	if !p.cfg.TrackProgress {
		return
	}
	s.ProgressAt = time.Unix(0, p.progressAt.Load())
	if w := p.progressWhat.Load(); w != nil {
		s.Progress = *w
	}
}

// Watching reports whether the stall rule watches the member now: only
// then is its progress worth measuring (a walk of the data directory).
func (p *Poller[S]) Watching() bool {
	_, w := p.judge.Watched(p.Snapshot().Observation)
	return w
}

// store publishes next with its Ready verdict computed once: probes then
// answer from it without judging again.
func (p *Poller[S]) store(next *Snapshot[S]) {
	now := p.cfg.Now()
	next.ready = p.judge.Ready(next.Observation, now)
	next.readyBody = []byte(next.ready.Reason + "\n")
	next.readyUntil = p.judge.ReadyUntil(next.Observation)
	prev := p.snap.Swap(next)
	if prev != nil && prev.ready.OK != next.ready.OK {
		select {
		case p.changes <- struct{}{}:
		default:
		}
	}
}

// Changes is signalled (coalesced) whenever the node becomes ready or
// stops being ready: when it starts to drain, goes into maintenance, or a
// sample says so. It has one reader, run mode's writer view.
func (p *Poller[S]) Changes() <-chan struct{} { return p.changes }

// SetHold says why mariadbd is not running yet (empty: it runs now). It
// shows in the probes at once. Releasing the hold restarts the liveness
// clock: the polls that failed while mariadbd was deliberately not
// running say nothing about the mariadbd that starts now.
func (p *Poller[S]) SetHold(reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	next := *p.snap.Load()
	if next.Hold != "" && reason == "" && !next.FailingSince.IsZero() {
		next.FailingSince = p.cfg.Now()
	}
	if next.Hold != "" && reason == "" {
		// mariadbd starts now: the stall clock starts with it.
		p.Progressed("mariadbd started")
	}
	next.Hold = reason
	p.fillProgress(&next)
	p.store(&next)
}

// SetUpgrading says why the running node must not be ready yet (empty:
// it may be). It shows in the probes at once.
func (p *Poller[S]) SetUpgrading(reason string) {
	p.mu.Lock()
	prev := p.snap.Load()
	next := *prev
	next.Upgrading = reason
	p.store(&next)
	p.mu.Unlock()
	p.logChange(prev, &next, p.cfg.Now())
}

// SetMaintenance turns the operator's drain on or off and publishes it at
// once. With a maintenance file configured the switch is that file, which
// the API creates and removes: a drain then survives a restart of the
// sentinel, and the file and the API never disagree. Without one the
// switch lives in memory.
func (p *Poller[S]) SetMaintenance(on bool) error {
	if f := p.cfg.MaintenanceFile; f != "" {
		var err error
		if on {
			err = os.WriteFile(f, []byte("drained through the maintenance API at "+p.cfg.Now().UTC().Format(time.RFC3339)+"\n"), 0o644)
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
func (p *Poller[S]) SetStopping() {
	p.stopping.Store(true)
	p.republish()
}

// republish publishes the drain switches without waiting for a poll.
func (p *Poller[S]) republish() {
	p.mu.Lock()
	prev := p.snap.Load()
	next := *prev
	p.setSwitches(&next)
	p.store(&next)
	p.mu.Unlock()
	p.logChange(prev, &next, p.cfg.Now())
}

// setSwitches copies the drain switches into a snapshot; called with mu
// held so that a poll in flight cannot publish an older value.
func (p *Poller[S]) setSwitches(s *Snapshot[S]) {
	s.Maintenance = p.maintenance()
	s.Stopping = p.stopping.Load()
}

// Snapshot returns the latest snapshot; it never blocks.
func (p *Poller[S]) Snapshot() *Snapshot[S] { return p.snap.Load() }

// Judge is what the poller's verdicts follow.
func (p *Poller[S]) Judge() readiness.Judge[S] { return p.judge }

// Ready is the Ready verdict at now: judged once when the snapshot was
// published, and again per call only once its sample has grown stale.
func (p *Poller[S]) Ready(s *Snapshot[S], now time.Time) readiness.Verdict {
	if !now.After(s.readyUntil) {
		return s.ready
	}
	return p.judge.Ready(s.Observation, now)
}

// readyAnswer is Ready with the body /readyz sends.
func (p *Poller[S]) readyAnswer(s *Snapshot[S], now time.Time) (bool, []byte) {
	if !now.After(s.readyUntil) {
		return s.ready.OK, s.readyBody
	}
	v := p.judge.Ready(s.Observation, now)
	return v.OK, []byte(v.Reason + "\n")
}

// Kick asks for a poll as soon as possible, without waiting for the next
// tick. Kicks while one is pending coalesce.
func (p *Poller[S]) Kick() {
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
func (p *Poller[S]) Notify() {
	p.Kick()
	time.AfterFunc(notifyRepoll, p.Kick)
}

// Run polls until ctx ends. A poll never outlives Timeout, so Run returns
// promptly.
func (p *Poller[S]) Run(ctx context.Context) {
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

func (p *Poller[S]) pollOnce(ctx context.Context) {
	prev := p.Snapshot()
	next := *prev
	next.Polls++

	begin := p.cfg.Now()
	if gap := begin.Sub(p.lastBegin); !p.lastBegin.IsZero() && gap > p.pauseGap() && p.judge.Limits.ResumeSettle > 0 {
		next.ResumedAt, next.Paused = begin, gap
		p.log.Warn("this node's processes did not run for a while (frozen, a VM paused): not ready while its cluster state settles",
			"paused", gap.Round(time.Millisecond), "settle", p.judge.Limits.ResumeSettle)
	}
	p.lastBegin = begin
	pctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	s, err := p.sampler.Sample(pctx)
	cancel()
	now := p.cfg.Now()
	next.PollDuration = now.Sub(begin)

	if err != nil {
		next.Failures++
		next.Err = err
		if next.FailingSince.IsZero() {
			next.FailingSince = begin
		}
	} else {
		next.Prev = prev.Last
		next.Last, next.LastAt, next.LastBegun = &s, now, begin
		next.Err = nil
		next.FailingSince = time.Time{}
		if p.judge.Policy.Settled(&s) {
			next.EverSettled, next.SettledAt = true, now
		}
		if pp, ok := p.judge.Policy.(readiness.ProgressPolicy[S]); ok {
			if fp := pp.Progress(&s); prev.Last == nil || pp.Progress(prev.Last) != fp {
				p.Progressed(fp)
			}
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
	// SetUpgrading may have run during this poll too.
	next.Upgrading = p.snap.Load().Upgrading
	p.fillProgress(&next)
	if _, was := p.judge.Watched(prev.Observation); !was {
		if what, is := p.judge.Watched(next.Observation); is {
			// The member just came under the stall rule (it stopped
			// answering in a state transfer, it began to join): the
			// clock starts now, not at some older progress.
			p.Progressed("began: " + what)
			p.fillProgress(&next)
		}
	}
	p.store(&next)
	p.mu.Unlock()
	p.rec.Polled(next.PollDuration, err)
	p.logChange(prev, &next, now)
}

func (p *Poller[S]) maintenance() bool {
	if p.cfg.MaintenanceFile == "" {
		return p.apiMaint.Load()
	}
	_, err := os.Stat(p.cfg.MaintenanceFile)
	return err == nil
}

// logChange logs one line when a verdict changes, not one per sample, and
// tells the recorder.
func (p *Poller[S]) logChange(prev, next *Snapshot[S], now time.Time) {
	j := p.judge
	was, is := p.Ready(prev, now), next.ready
	if was.OK != is.OK || was.Class != is.Class {
		level := slog.LevelInfo
		if !is.OK {
			level = slog.LevelWarn
		}
		p.log.Log(context.Background(), level, "readiness changed", "ready", is.OK, "reason", is.Reason)
		p.rec.VerdictChanged("ready", is, now)
	}
	isLive := j.Live(next.Observation, now)
	if p.notLive.Swap(!isLive.OK) != !isLive.OK {
		p.log.Warn("liveness changed", "live", isLive.OK, "reason", isLive.Reason)
		p.rec.VerdictChanged("live", isLive, now)
	}
	if a, b := prev.Last, next.Last; a != b && b != nil {
		attrs := j.Policy.LogAttrs(b)
		if a == nil || !slices.EqualFunc(j.Policy.LogAttrs(a), attrs, func(x, y slog.Attr) bool { return x.Equal(y) }) {
			p.log.LogAttrs(context.Background(), slog.LevelInfo, "node state", attrs...)
		}
		if state := j.Policy.State(b); a == nil || j.Policy.State(a) != state {
			p.rec.StateChanged(state, now)
		}
	}
	if !prev.EverSettled && next.EverSettled {
		p.log.Info("node " + j.Policy.SettledName() + " for the first time since start")
		p.rec.VerdictChanged("started", j.Started(next.Observation, now), now)
	}
}

// Tee is a Recorder that tells each of rs.
func Tee(rs ...Recorder) Recorder { return tee(rs) }

type tee []Recorder

func (t tee) Polled(d time.Duration, err error) {
	for _, r := range t {
		r.Polled(d, err)
	}
}

func (t tee) VerdictChanged(probe string, v readiness.Verdict, at time.Time) {
	for _, r := range t {
		r.VerdictChanged(probe, v, at)
	}
}

func (t tee) StateChanged(state string, at time.Time) {
	for _, r := range t {
		r.StateChanged(state, at)
	}
}
