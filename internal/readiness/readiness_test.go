package readiness

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// sample and policy are a domain of the tests' own: the generic checks
// must work for any domain, not only Galera's.
type sample struct {
	up, busy, settled bool
	// split: cut off from its cluster, it cannot take writes at all.
	split bool
	rank  int
}

type policy struct{}

func (policy) Ready(s *sample) Verdict {
	if !s.up {
		return Fail("down", "down")
	}
	return Pass(ClassReady, "up")
}

func (policy) Writer(s *sample, lowest int) Verdict {
	if s.rank != max(lowest, 0) {
		return Fail(ClassNotWriter, "not the writer")
	}
	return Pass(ClassWriter, "writer")
}
func (policy) Writable(s *sample) Verdict {
	if s.split {
		return Fail("split", "split")
	}
	return Pass(ClassWritable, "writable")
}
func (policy) Busy(s *sample) bool          { return s.busy }
func (policy) Settled(s *sample) bool       { return s.settled }
func (policy) SettledName() string          { return "settled" }
func (policy) State(s *sample) string       { return map[bool]string{true: "busy", false: "idle"}[s.busy] }
func (policy) Weight(*sample) int           { return 100 }
func (policy) LogAttrs(*sample) []slog.Attr { return nil }
func (policy) Doc(s *sample) any            { return s }

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func TestGenericChecks(t *testing.T) {
	j := Judge[sample]{Policy: policy{}, Limits: Limits{MaxStaleness: 3 * time.Second, LivenessGrace: 30 * time.Second}}
	up := &sample{up: true}
	down := errors.New("dial: connection\nrefused")
	type obs = Observation[sample]
	for _, tc := range []struct {
		name  string
		o     obs
		now   time.Time
		ok    bool
		want  string
		until time.Time
	}{
		{"fresh and up", obs{Last: up, LastAt: t0}, t0.Add(time.Second), true, "up", t0.Add(3 * time.Second)},
		{"fresh and down (the domain decides)", obs{Last: &sample{}, LastAt: t0}, t0, false, "down", t0.Add(3 * time.Second)},
		{"stale", obs{Last: up, LastAt: t0, Err: down}, t0.Add(3100 * time.Millisecond), false, "stale: last good sample 3.1s ago: dial: connection refused", t0.Add(3 * time.Second)},
		{"no sample", obs{}, t0, false, "no sample yet", Forever},
		{"no sample, error on one line", obs{Err: down}, t0, false, "no sample yet: dial: connection refused", Forever},
		{"maintenance beats a fresh sample", obs{Last: up, LastAt: t0, Maintenance: true}, t0, false, "maintenance", Forever},
		{"stopping beats maintenance", obs{Maintenance: true, Stopping: true}, t0, false, "maintenance: shutting down", Forever},
		{"hold", obs{Last: up, LastAt: t0, Hold: "waiting"}, t0, false, "not started: waiting", Forever},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := j.Ready(tc.o, tc.now)
			if v.OK != tc.ok || v.Reason != tc.want {
				t.Errorf("Ready = %v %q, want %v %q", v.OK, v.Reason, tc.ok, tc.want)
			}
			if u := j.ReadyUntil(tc.o); !u.Equal(tc.until) {
				t.Errorf("ReadyUntil = %v, want %v", u, tc.until)
			}
			// The promise ReadyUntil makes: the verdict does not change
			// before then.
			if u := j.ReadyUntil(tc.o); u != Forever && !tc.now.After(u) {
				if later := j.Ready(tc.o, u); later != v {
					t.Errorf("verdict changed before ReadyUntil: %+v then %+v", v, later)
				}
			}
		})
	}
}

func TestGenericLiveStartedWriter(t *testing.T) {
	j := Judge[sample]{Policy: policy{}, Limits: Limits{MaxStaleness: 3 * time.Second, LivenessGrace: 30 * time.Second}}
	err := errors.New("refused")
	type obs = Observation[sample]
	for _, tc := range []struct {
		name string
		o    obs
		now  time.Time
		ok   bool
		want string
	}{
		{"answering", obs{Last: &sample{}, LastAt: t0}, t0, true, "alive: idle"},
		{"within grace", obs{Last: &sample{}, LastAt: t0, FailingSince: t0, Err: err}, t0.Add(29 * time.Second), true, "alive: not answering for 29.0s"},
		{"past grace", obs{Last: &sample{}, LastAt: t0, FailingSince: t0, Err: err}, t0.Add(31 * time.Second), false, "unresponsive for 31.0s: refused"},
		{"busy past grace", obs{Last: &sample{busy: true}, LastAt: t0, FailingSince: t0, Err: err}, t0.Add(time.Hour), true, "alive: busy, not answering: refused"},
		{"never answered", obs{FailingSince: t0, Err: err}, t0.Add(time.Hour), true, "alive: starting, not answering yet"},
		{"held", obs{FailingSince: t0, Err: err, Hold: "waiting for peers"}, t0.Add(time.Hour), true, "alive: waiting for peers"},
	} {
		if v := j.Live(tc.o, tc.now); v.OK != tc.ok || !strings.HasPrefix(v.Reason, tc.want) {
			t.Errorf("%s: Live = %v %q, want %v %q", tc.name, v.OK, v.Reason, tc.ok, tc.want)
		}
	}
	if v := j.Started(obs{}, time.Now()); v.OK || v.Reason != "not yet settled since start" {
		t.Errorf("Started before settling: %+v", v)
	}
	if v := j.Started(obs{EverSettled: true}, time.Now()); !v.OK || v.Reason != "started: has been settled" {
		t.Errorf("Started after settling: %+v", v)
	}
	for _, tc := range []struct {
		name   string
		o      obs
		now    time.Time
		lowest int
		role   Role
		want   string
	}{
		{"lowest ready rank", obs{Last: &sample{up: true, rank: 1}, LastAt: t0}, t0, 1, Writer, "writer"},
		{"rank 1 while rank 0 is assumed", obs{Last: &sample{up: true, rank: 1}, LastAt: t0}, t0, -1, Standby, "not the writer"},
		{"maintenance: stands by, the readiness reason", obs{Last: &sample{up: true, rank: 1}, LastAt: t0, Maintenance: true}, t0, 1, Standby, "maintenance"},
		{"stopping: stands by", obs{Last: &sample{up: true}, LastAt: t0, Stopping: true}, t0, 0, Standby, "maintenance: shutting down"},
		{"not ready but writable: stands by", obs{Last: &sample{rank: 0}, LastAt: t0}, t0, 0, Standby, "not ready: down"},
		{"split: unfit", obs{Last: &sample{split: true}, LastAt: t0}, t0, 0, Unfit, "not ready: down"},
		{"stopping and split: unfit", obs{Last: &sample{up: true, split: true}, LastAt: t0, Stopping: true}, t0, 0, Unfit, "maintenance: shutting down"},
		{"stale: unfit", obs{Last: &sample{up: true}, LastAt: t0, Maintenance: true}, t0.Add(4 * time.Second), 0, Unfit, "maintenance"},
		{"held: unfit", obs{Last: &sample{up: true}, LastAt: t0, Hold: "waiting"}, t0, 0, Unfit, "not ready: not started: waiting"},
		{"no sample: unfit", obs{}, t0, 0, Unfit, "not ready: no sample yet"},
	} {
		v := j.Writer(tc.o, tc.now, j.Ready(tc.o, tc.now), tc.lowest)
		if v.Role != tc.role || v.Reason != tc.want {
			t.Errorf("%s: Writer = %v %q, want %v %q", tc.name, v.Role, v.Reason, tc.role, tc.want)
		}
	}
}
