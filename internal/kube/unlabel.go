package kube

import (
	"context"
	"log/slog"
	"time"
)

// Unlabel keeps the writer label "false" on the pods of members that
// cannot reach the API server themselves while this member can (Cut, from
// the writer view): the writer moved away from such a member, and its own
// sentinel cannot take its label off, so until Kubernetes marks its pod
// not Ready (node-monitor-grace-period) the writer Service would send new
// connections to two writers. The label is set again every Again while the
// member stays cut off (a sentinel that comes back sets its own).
type Unlabel struct {
	Cut func() []string
	Set func(ctx context.Context, pod string) error
	// Done, when set, is told each member unlabelled, once per episode.
	Done func(pod string)
	// Every is how often Cut is asked (1s); Again how often a cut-off
	// member's label is set again (10s).
	Every, Again time.Duration
	Logger       *slog.Logger
}

// Run keeps the labels until ctx ends.
func (u *Unlabel) Run(ctx context.Context) {
	every, again := u.Every, u.Again
	if every <= 0 {
		every = time.Second
	}
	if again <= 0 {
		again = 10 * time.Second
	}
	log := u.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	type episode struct {
		set  time.Time // last success; zero: not yet
		told bool
	}
	seen := map[string]*episode{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		cut := map[string]bool{}
		for _, pod := range u.Cut() {
			cut[pod] = true
			e := seen[pod]
			if e == nil {
				e = &episode{}
				seen[pod] = e
			}
			if !e.set.IsZero() && now.Sub(e.set) < again {
				continue
			}
			if err := u.Set(ctx, pod); err != nil {
				if ctx.Err() != nil {
					return
				}
				log.Warn("taking the writer label off a member that cannot reach the API server", "member_pod", pod, "err", err)
				continue
			}
			e.set = now
			if !e.told {
				e.told = true
				log.Warn("a member cannot reach the API server: the writer moved away from it, and its writer label is set false for it", "member_pod", pod)
				if u.Done != nil {
					u.Done(pod)
				}
			}
		}
		for pod := range seen {
			if !cut[pod] {
				log.Info("a member reaches the API server again, or left this member's view: its label is its own again", "member_pod", pod)
				delete(seen, pod)
			}
		}
	}
}
