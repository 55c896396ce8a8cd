package member

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/journal"
)

// MaintenanceDrain closes, while the node is in maintenance, the client
// sessions that sit between transactions, once the load balancer has had
// the drain delay to stop sending new ones: pooled connections move to
// the other members without an error, as in the drain before a stop. It
// never cuts a session: maintenance is work beside running clients, and
// closing even idle ones is the operator's choice
// (--maintenance-close-idle).
type MaintenanceDrain struct {
	// InMaintenance tells whether the node is in maintenance now.
	InMaintenance func() bool
	Sessions      Sessions
	// Delay is the drain delay: how long the load balancer may take to
	// see the node leave.
	Delay time.Duration
	// Every is how often to look; Tick, when set, replaces the ticker
	// (tests), Now the clock.
	Every time.Duration
	Tick  <-chan time.Time
	Now   func() time.Time
	// Closed, when set, counts the sessions closed (metrics).
	Closed func(n int)
	Events func(journal.Event)
	Logger *slog.Logger
}

// Run looks every Every until ctx ends.
func (d *MaintenanceDrain) Run(ctx context.Context) {
	tick, now := d.Tick, d.Now
	if tick == nil {
		t := time.NewTicker(d.Every)
		defer t.Stop()
		tick = t.C
	}
	if now == nil {
		now = time.Now
	}
	var since time.Time // when maintenance began; zero: not in it
	closed := 0
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
		if !d.InMaintenance() {
			if !since.IsZero() {
				d.event(fmt.Sprintf("maintenance ended: %d client sessions closed between transactions", closed))
			}
			since, closed, failing = time.Time{}, 0, false
			continue
		}
		t := now()
		if since.IsZero() {
			since = t
			d.Logger.Info("maintenance: client sessions between transactions will be closed once the load balancer had the drain delay", "drain_delay", d.Delay)
		}
		if t.Sub(since) < d.Delay {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, sessionsBound)
		n, left, err := d.Sessions.CloseIdle(cctx)
		cancel()
		if err != nil && !failing {
			d.Logger.Warn("maintenance: cannot close client sessions between transactions", "err", err)
		}
		failing = err != nil
		if n == 0 {
			continue
		}
		closed += n
		if d.Closed != nil {
			d.Closed(n)
		}
		d.Logger.Info("maintenance: closed client sessions between transactions", "sessions", n, "left", left)
		d.event(fmt.Sprintf("maintenance: %d client sessions closed between transactions, %d left", n, left))
	}
}

func (d *MaintenanceDrain) event(reason string) {
	if d.Events != nil {
		d.Events(journal.Event{Kind: journal.KindDrain, Reason: reason})
	}
}
