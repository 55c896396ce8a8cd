package kube

import (
	"context"
	"log/slog"
	"time"
)

// WriterLabelKey is the pod label that says whether the pod is the one
// writer: a Service selecting it with "true" routes to the writer only.
const WriterLabelKey = "galera-sentinel.io/writer"

// The label's values.
const (
	LabelTrue  = "true"
	LabelFalse = "false"
)

// Want is the label's value for a /writerz verdict: "true" for the
// writer (handover window included), "false" otherwise, and "false" once
// the member stops, whatever /writerz still says during its drain.
func Want(writer, stopping bool) string {
	if writer && !stopping {
		return LabelTrue
	}
	return LabelFalse
}

// Mark keeps one mark of this pod (its writer label, its Primary
// condition) in step with the member: "false" first thing at start, then
// On, looked at every Every and set when it changes, set again every
// Reassert (another member may have set it "false" meanwhile: see
// Departures), retried with a doubling pause after a failure, and "false"
// first thing when Run's context ends (SIGTERM: the drain begins),
// before the member goes.
type Mark struct {
	// Name is the mark, for the log: the label's key, the condition's
	// type.
	Name string
	// Set sets the mark on this pod to "true" or "false"
	// (Client.SetPodLabel, Client.SetPodCondition).
	Set func(ctx context.Context, value string) error
	// On is whether the mark should say "true" now (/writerz answers
	// 200; the node is in a Primary component).
	On func() bool
	// Every is how often On is looked at (200ms when zero); Reassert how
	// often an unchanged mark is set again (10s).
	Every, Reassert time.Duration
	// RetryMin and RetryMax bound the pause after a failed call (500ms,
	// 30s); a change of the wanted value is tried at once.
	RetryMin, RetryMax time.Duration
	// StopFor bounds the tries of the last "false" (10s).
	StopFor time.Duration
	Logger  *slog.Logger
	// OnSet, when set, is told each value the API server accepted.
	OnSet func(value string)
}

func (l *Mark) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&l.Every, 200*time.Millisecond)
	def(&l.Reassert, 10*time.Second)
	def(&l.RetryMin, 500*time.Millisecond)
	def(&l.RetryMax, 30*time.Second)
	def(&l.StopFor, 10*time.Second)
	l.RetryMax = max(l.RetryMax, l.RetryMin)
	if l.Logger == nil {
		l.Logger = slog.New(slog.DiscardHandler)
	}
	if l.Name == "" {
		l.Name = WriterLabelKey
	}
}

// Run keeps the label until ctx ends, then sets "false" (within StopFor)
// and returns.
func (l *Mark) Run(ctx context.Context) {
	l.defaults()
	t := time.NewTicker(l.Every)
	defer t.Stop()
	var (
		applied, tried string // the value last accepted; last tried
		appliedAt      time.Time
		next           time.Time // no try before this after a failure
		pause          = l.RetryMin
		failures       int
		started        bool
	)
	for {
		want := LabelFalse // "false" first thing at start
		if started {
			want = Want(l.On(), false)
		}
		now := time.Now()
		due := want != applied || now.Sub(appliedAt) >= l.Reassert
		if due && (!now.Before(next) || want != tried) {
			started = true
			tried = want
			err := l.Set(ctx, want)
			switch {
			case err == nil:
				if want != applied || failures > 0 {
					l.Logger.Info("pod mark set", "mark", l.Name, "value", want, "after_failures", failures)
				}
				applied, appliedAt, next, pause, failures = want, time.Now(), time.Time{}, l.RetryMin, 0
				if l.OnSet != nil {
					l.OnSet(want)
				}
			case ctx.Err() != nil:
			default:
				// A call that failed may still have reached the API
				// server: what the label says is unknown.
				applied = ""
				failures++
				l.Logger.Warn("setting a pod mark", "mark", l.Name, "value", want, "err", err, "retry_in", pause, "failures", failures)
				next, pause = time.Now().Add(pause), min(2*pause, l.RetryMax)
			}
		}
		select {
		case <-ctx.Done():
			l.stop(applied)
			return
		case <-t.C:
		}
	}
}

// stop sets "false", trying again within StopFor; it runs after Run's
// context ended, so with a context of its own.
func (l *Mark) stop(applied string) {
	ctx, cancel := context.WithTimeout(context.Background(), l.StopFor)
	defer cancel()
	pause := min(l.RetryMin, time.Second)
	for try := 1; ; try++ {
		err := l.Set(ctx, LabelFalse)
		if err == nil {
			l.Logger.Info("pod mark set: stopping", "mark", l.Name, "value", LabelFalse, "was", applied)
			if l.OnSet != nil {
				l.OnSet(LabelFalse)
			}
			return
		}
		l.Logger.Warn("setting a pod mark on stop", "mark", l.Name, "value", LabelFalse, "err", err, "try", try)
		select {
		case <-ctx.Done():
			l.Logger.Error("the pod mark may still say true: a Service may route to this stopping pod until Kubernetes removes it from the endpoints", "mark", l.Name, "stop_for", l.StopFor)
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 2*time.Second)
	}
}
