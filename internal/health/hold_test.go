package health

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
)

type downSampler struct{}

func (downSampler) Sample(context.Context) (galera.Sample, error) {
	return galera.Sample{}, errors.New("dial unix /run/mysqld/mysqld.sock: connect: no such file or directory")
}

// TestReleasingHoldRestartsLivenessClock: polls that failed while run mode
// held mariadbd back must not count against the mariadbd that starts when
// the hold is released.
func TestReleasingHoldRestartsLivenessClock(t *testing.T) {
	pol := testJudge(time.Second, 50*time.Millisecond)
	p := NewPoller(PollerConfig{Interval: time.Hour, Timeout: time.Second}, pol, downSampler{})
	p.SetHold("waiting for peers")
	p.pollOnce(context.Background())
	time.Sleep(100 * time.Millisecond) // longer than the grace
	s := p.Snapshot()
	if v := pol.Live(s.Observation, time.Now()); !v.OK {
		t.Fatalf("held node not alive: %+v", v)
	}
	if s.Hold != "waiting for peers" || s.FailingSince.IsZero() {
		t.Fatalf("snapshot %+v", s.Observation)
	}
	released := time.Now()
	p.SetHold("")
	if v := pol.Live(p.Snapshot().Observation, time.Now()); !v.OK {
		t.Fatalf("not alive right after the hold was released: %+v", v)
	}
	p.pollOnce(context.Background())
	s = p.Snapshot()
	if s.Hold != "" {
		t.Fatalf("a poll brought the hold back: %q", s.Hold)
	}
	if s.FailingSince.Before(released) {
		t.Fatalf("failing since %v, before the hold was released at %v", s.FailingSince, released)
	}
}
