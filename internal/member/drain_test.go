package member

import (
	"io"
	"log/slog"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/supervisor"
)

type threads struct{ n int }

// stalePoller publishes samples by hand. Its first sample was taken
// before the drain began; a Kick publishes what next says, as a sample
// begun at the kick.
type stalePoller struct {
	mu   sync.Mutex
	snap *health.Snapshot[threads]
	next func() int // threads a sample begun now would see
}

func (p *stalePoller) SetHold(string) {}
func (p *stalePoller) SetStopping()   {}
func (p *stalePoller) Kick() {
	now := time.Now()
	p.publish(p.next(), now, now)
}

func (p *stalePoller) publish(n int, begun, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := &health.Snapshot[threads]{}
	s.Last, s.LastBegun, s.LastAt = &threads{n}, begun, at
	p.snap = s
}

func (p *stalePoller) Snapshot() *health.Snapshot[threads] {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.snap
}

// A client that connects during the drain delay, after the last sample
// of the poller, is not missed: the drain ends on a sample begun after
// the delay, and so only once that client has gone.
func TestDrainTrustsOnlyASampleAfterTheDelay(t *testing.T) {
	reaper := supervisor.NewReaper(false, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer reaper.Close()
	proc, err := reaper.Start("sleep", exec.Command("sleep", "60"))
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Stop(5 * time.Second)

	var gone atomic.Bool // the client that came during the delay has left
	p := &stalePoller{next: func() int {
		if gone.Load() {
			return 1 // the sentinel's own connection only
		}
		return 2
	}}
	// The last sample before the drain: no client (it came later).
	before := time.Now()
	p.publish(1, before.Add(-10*time.Millisecond), before)
	m := New(Config{DrainDelay: 50 * time.Millisecond, DrainTimeout: time.Minute, PollInterval: 10 * time.Millisecond, MaxStaleness: time.Minute},
		nil, p, func(s threads) int { return s.n - 1 }, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))

	leave := time.AfterFunc(300*time.Millisecond, func() { gone.Store(true) })
	defer leave.Stop()
	m.drain(proc)
	if !gone.Load() {
		t.Fatal("the drain ended while a client that connected during the delay was still there: it trusted the sample taken before the delay")
	}
}
