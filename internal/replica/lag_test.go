package replica

import (
	"strconv"
	"testing"
	"time"
)

func TestGTIDLag(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	var g GTIDLag
	steps := []struct {
		at               float64
		primary, applied string
		known            bool
		lag              float64
		behind           int64
	}{
		// The first look: the replica is behind a position of unknown age.
		{0, "0-1-100", "0-1-90", false, 0, 10},
		// Still behind it 4 s later: at least 4 s, still unknown.
		{4, "0-1-100", "0-1-95", false, 0, 5},
		// Caught up with it: 0.
		{5, "0-1-100", "0-1-100", true, 0, 0},
		// The primary moves on; the replica does not (an IO stall).
		{6, "0-1-101", "0-1-100", true, 0, 1},
		{9, "0-1-105", "0-1-100", true, 3, 5},
		// It applies up to 101 (seen at 6): the oldest unapplied is 105, seen at 9.
		{10, "0-1-105", "0-1-101", true, 1, 4},
		// Idle primary, replica caught up.
		{20, "0-1-105", "0-1-105", true, 0, 0},
		// A second domain appears.
		{21, "0-1-105,1-2-7", "0-1-105", true, 0, 7},
		{23, "0-1-105,1-2-7", "0-1-105,1-2-7", true, 0, 0},
	}
	for i, st := range steps {
		l := g.Observe(at(st.at), st.primary, st.applied)
		if l.Known != st.known || (l.Known && l.Seconds != st.lag) || l.Behind != st.behind {
			t.Fatalf("step %d (t=%vs, primary %s, applied %s): %+v, want known=%v lag=%v behind=%d", i, st.at, st.primary, st.applied, l, st.known, st.lag, st.behind)
		}
		if l.Known && l.Source != LagGTID {
			t.Fatalf("step %d: source %s", i, l.Source)
		}
	}
	if l := g.Observe(at(30), "0-1-x", "0-1-105"); l.Known || l.Why == "" {
		t.Errorf("malformed primary position: %+v", l)
	}
}

func TestGTIDLagFloorBecomesLagging(t *testing.T) {
	var g GTIDLag
	t0 := time.Now()
	g.Observe(t0, "0-1-1000", "0-1-1")
	l := g.Observe(t0.Add(12*time.Second), "0-1-1000", "0-1-500")
	if l.Known || l.AtLeast != 12 {
		t.Fatalf("%+v, want unknown at least 12 s", l)
	}
	if v := (Policy{MaxLag: 10 * time.Second}).Ready(replicaSample(func(s *Sample) { s.Lag = l })); v.OK {
		t.Errorf("a replica at least 12 s behind is ready: %v", v)
	}
}

func TestGTIDLagHistoryIsBounded(t *testing.T) {
	var g GTIDLag
	t0 := time.Now()
	g.Observe(t0, "0-1-1", "0-1-1")
	for i := 2; i < 3*maxObservations; i++ {
		g.Observe(t0.Add(time.Duration(i)*time.Second), "0-1-"+strconv.Itoa(i), "0-1-1")
	}
	if len(g.seen) > maxObservations {
		t.Fatalf("%d observations kept", len(g.seen))
	}
	// The oldest unapplied position (seq 2, seen at 2 s) is kept.
	l := g.Observe(t0.Add(3*maxObservations*time.Second), "0-1-"+strconv.Itoa(3*maxObservations), "0-1-1")
	if want := float64(3*maxObservations - 2); !l.Known || l.Seconds != want {
		t.Errorf("lag %+v, want %v s", l, want)
	}
}
