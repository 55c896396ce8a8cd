package health

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
)

// TestPollerTracksProgress: the poller carries the member's progress into
// its snapshots, so that /livez's stall rule sees it: a call to
// Progressed, a joiner's counters that move, the release of a hold and
// the start of a watch each restart the stall clock; nothing else does.
func TestPollerTracksProgress(t *testing.T) {
	const stall = 80 * time.Millisecond
	j := testJudge(time.Second, time.Second)
	j.Limits.StallTimeout = stall
	f := &fixedSampler{err: downSampler{}.err()}
	clock := newFakeClock()
	p := NewPoller(PollerConfig{Interval: time.Hour, Timeout: time.Second, TrackProgress: true, Now: clock.Now}, j, f)
	live := func() (bool, string) {
		p.pollOnce(context.Background())
		v := j.Live(p.Snapshot().Observation, clock.Now())
		return v.OK, v.Reason
	}
	if ok, r := live(); !ok || !p.Watching() {
		t.Fatalf("just started: live %v %q, watching %v", ok, r, p.Watching())
	}
	clock.Advance(stall + 20*time.Millisecond)
	if ok, r := live(); ok || !strings.HasPrefix(r, "stuck: no progress for") || !strings.Contains(r, "last progress: the sentinel started") {
		t.Fatalf("no progress past the timeout: %v %q", ok, r)
	}
	p.Progressed("data directory 3 files, 1.0 MiB")
	if ok, r := live(); !ok {
		t.Fatalf("progress did not restart the clock: %q", r)
	}

	// A hold is never stuck, and its release starts the clock again.
	p.SetHold("waiting for peers")
	clock.Advance(stall + 20*time.Millisecond)
	if ok, r := live(); !ok || p.Watching() {
		t.Fatalf("held: live %v %q, watching %v", ok, r, p.Watching())
	}
	p.SetHold("")
	if ok, r := live(); !ok || p.Snapshot().Progress != "mariadbd started" {
		t.Fatalf("released: %v %q, progress %q", ok, r, p.Snapshot().Progress)
	}

	// An answering joiner: its counters moving is progress; standing
	// still is not.
	js := healthy()
	js.LocalState, js.LastCommitted = galera.StateJoining, 10
	f.set(js, nil)
	if ok, r := live(); !ok {
		t.Fatalf("joiner: %q", r)
	}
	for range 3 {
		clock.Advance(stall / 2)
		js.LastCommitted += 7
		f.set(js, nil)
		if ok, r := live(); !ok {
			t.Fatalf("joiner applying: %q", r)
		}
	}
	clock.Advance(stall + 20*time.Millisecond)
	if ok, r := live(); ok || !strings.Contains(r, "Joining, wsrep_last_committed 31") {
		t.Fatalf("joiner standing still: %v %q", ok, r)
	}

	// Synced: out of the rule, however long nothing moves; a later
	// fall into Joined starts a fresh clock.
	f.set(healthy(), nil)
	clock.Advance(stall + 20*time.Millisecond)
	if ok, r := live(); !ok || p.Watching() {
		t.Fatalf("synced: %v %q", ok, r)
	}
	clock.Advance(stall + 20*time.Millisecond)
	joined := healthy()
	joined.LocalState = galera.StateJoined
	f.set(joined, nil)
	if ok, r := live(); !ok || !strings.HasPrefix(p.Snapshot().Progress, "began: Joined") {
		t.Fatalf("fell into Joined: %v %q, progress %q", ok, r, p.Snapshot().Progress)
	}
}

// TestPollerWithoutTracking: serve mode tracks no progress, and the stall
// rule never fires there, whatever the limit says.
func TestPollerWithoutTracking(t *testing.T) {
	j := testJudge(time.Second, time.Second)
	j.Limits.StallTimeout = time.Millisecond
	clock := newFakeClock()
	p := NewPoller(PollerConfig{Interval: time.Hour, Timeout: time.Second, Now: clock.Now}, j, downSampler{})
	p.Progressed("mariadbd output")
	clock.Advance(10 * time.Millisecond)
	p.pollOnce(context.Background())
	if v := j.Live(p.Snapshot().Observation, clock.Now()); !v.OK || p.Watching() || !p.Snapshot().ProgressAt.IsZero() {
		t.Fatalf("untracked: %+v, watching %v", v, p.Watching())
	}
}

func (f *fixedSampler) set(s galera.Sample, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.s, f.err = s, err
}

func (downSampler) err() error {
	_, err := downSampler{}.Sample(context.Background())
	return err
}

// fakeClock is a poller's clock that moves only when a test says so: the
// stall rule's timing is then exact however loaded the machine is.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
