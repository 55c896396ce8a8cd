package health

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/readiness"
)

// TestPollerPause: polls further apart than an interval, a poll's timeout
// and slack mean the sentinel's own process did not run (frozen, a VM
// paused): the node is not ready, and cannot be the writer, for
// ResumeSettle after, whatever its first sample says; then it is judged
// as usual. Polls on time never trigger it, and without ResumeSettle
// nothing is held.
func TestPollerPause(t *testing.T) {
	j := testJudge(5*time.Second, time.Minute)
	j.Limits.ResumeSettle = 10 * time.Second
	clock := newFakeClock()
	f := &fixedSampler{s: healthy()}
	p := NewPoller(PollerConfig{Interval: time.Second, Timeout: 2 * time.Second, Now: clock.Now}, j, f)
	ready := func() readiness.Verdict {
		p.pollOnce(context.Background())
		return p.Ready(p.Snapshot(), clock.Now())
	}
	for range 5 {
		if v := ready(); !v.OK {
			t.Fatalf("polls on time: %q", v.Reason)
		}
		clock.Advance(3 * time.Second) // an interval and a slow poll
	}
	clock.Advance(20 * time.Second)
	v := ready()
	if v.OK || v.Class != readiness.ClassPaused || !strings.Contains(v.Reason, "did not run for 23.0s") {
		t.Fatalf("after a 23 s pause: %v %q", v.OK, v.Reason)
	}
	if !p.Settling(clock.Now()) {
		t.Fatal("not settling after a pause")
	}
	if w := j.Writer(p.Snapshot().Observation, clock.Now(), v, 0); w.Role != readiness.Unfit {
		t.Fatalf("writer role %v while settling", w.Role)
	}
	clock.Advance(5 * time.Second)
	if v := ready(); v.OK || v.Class != readiness.ClassPaused {
		t.Fatalf("5 s into the settle: %v %q", v.OK, v.Reason)
	}
	clock.Advance(5 * time.Second)
	if v := ready(); !v.OK || p.Settling(clock.Now()) {
		t.Fatalf("after the settle: %v %q", v.OK, v.Reason)
	}

	j.Limits.ResumeSettle = 0
	p = NewPoller(PollerConfig{Interval: time.Second, Timeout: 2 * time.Second, Now: clock.Now}, j, f)
	ready()
	clock.Advance(time.Minute)
	if v := ready(); !v.OK {
		t.Fatalf("no settle configured, a pause held readiness: %q", v.Reason)
	}
}

// TestReadyUntilAfterSettle: a settle long over does not shorten how
// long a verdict is cached; one under way does.
func TestReadyUntilAfterSettle(t *testing.T) {
	j := testJudge(5*time.Second, time.Minute)
	j.Limits.ResumeSettle = 10 * time.Second
	s := healthy()
	at := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	o := readiness.Observation[galera.Sample]{Last: &s, LastAt: at, ResumedAt: at.Add(-time.Minute)}
	if got := j.ReadyUntil(o); !got.Equal(at.Add(5 * time.Second)) {
		t.Errorf("settle over a minute ago: until %v, want the sample's staleness %v", got, at.Add(5*time.Second))
	}
	o.ResumedAt = at.Add(-8 * time.Second)
	if got := j.ReadyUntil(o); !got.Equal(at.Add(2 * time.Second)) {
		t.Errorf("settle ending 2 s after the sample: until %v", got)
	}
}
