package galera

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/readiness"
)

// stallJudge is the Galera policy with run mode's stall rule at 10m.
func stallJudge() readiness.Judge[Sample] {
	j := judge(Policy{})
	j.Limits.StallTimeout = 10 * time.Minute
	return j
}

// TestStallRule: the stall rule of /livez, with Galera's states. A member
// that shows progress is never stuck however long its transfer takes; one
// that shows none for --stall-timeout while not answering or joining is;
// Hold never is; a Synced or answering member keeps the grace rule; a
// donor is never watched.
func TestStallRule(t *testing.T) {
	down := errors.New("dial unix /run/mysqld/mysqld.sock: connect: no such\nfile or directory")
	joining := with(func(s *Sample) { s.LocalState = StateJoining; s.Ready = false; s.LastCommitted = 5 })
	joined := with(func(s *Sample) { s.LocalState = StateJoined })
	donor := with(func(s *Sample) { s.LocalState = StateDonor })
	type tc struct {
		name   string
		o      Observation
		now    time.Time
		ok     bool
		reason string
	}
	long := t0.Add(2 * time.Hour)
	for _, c := range []tc{
		{"never answered, progress a second ago, two hours in", Observation{Err: down, FailingSince: t0, ProgressAt: long.Add(-time.Second)}, long, true, "alive: starting"},
		{"never answered, no progress for 10m3s", Observation{Err: down, FailingSince: t0, ProgressAt: long.Add(-10*time.Minute - 3*time.Second), Progress: "data directory 12 files, 1.0 GiB"}, long, false,
			"stuck: no progress for 10m3s (state transfer: mariadbd runs and has not answered yet; last progress: data directory 12 files, 1.0 GiB; --stall-timeout 10m0s)"},
		{"never answered, exactly at the timeout", Observation{Err: down, FailingSince: t0, ProgressAt: long.Add(-10 * time.Minute)}, long, true, "alive"},
		{"starting, first poll not done", Observation{ProgressAt: t0}, long, false, "stuck: no progress for 2h0m0s"},
		{"joining, not answering, progressing", Observation{Last: joining, Err: down, FailingSince: t0, ProgressAt: long.Add(-time.Minute)}, long, true, "alive: Joining, not answering"},
		{"joining, not answering, stuck", Observation{Last: joining, Err: down, FailingSince: t0, ProgressAt: long.Add(-11 * time.Minute)}, long, false, "stuck: no progress for 11m0s (state transfer: Joining, not answering: dial unix"},
		{"joining, answering, progressing", Observation{Last: joining, ProgressAt: long.Add(-time.Minute)}, long, true, "alive: Joining"},
		{"joining, answering, stuck", Observation{Last: joining, ProgressAt: long.Add(-20 * time.Minute)}, long, false, "stuck: no progress for 20m0s (state transfer: Joining, wsrep_last_committed 5, wsrep_local_recv_queue 0;"},
		{"joined, answering, stuck", Observation{Last: joined, ProgressAt: long.Add(-20 * time.Minute)}, long, false, "stuck"},
		{"hold, no progress for hours", Observation{Hold: "waiting for peers", Err: down, FailingSince: t0, ProgressAt: t0}, long, true, "alive: waiting for peers"},
		{"hold with an old joining sample", Observation{Hold: "deciding", Last: joining, Err: down, FailingSince: t0, ProgressAt: t0}, long, true, "alive: deciding"},
		{"synced, answering, no progress for hours", Observation{Last: synced(), ProgressAt: t0}, long, true, "alive: Synced"},
		{"synced, silent within grace, no progress for hours", Observation{Last: synced(), Err: down, FailingSince: long.Add(-29 * time.Second), ProgressAt: t0}, long, true, "alive: not answering for 29.0s"},
		{"synced, silent past grace, progressing", Observation{Last: synced(), Err: down, FailingSince: long.Add(-31 * time.Second), ProgressAt: long}, long, false, "unresponsive for 31.0s"},
		{"donor, answering, no progress for hours", Observation{Last: donor, ProgressAt: t0}, long, true, "alive: Donor/Desynced"},
		{"donor, not answering, no progress for hours", Observation{Last: donor, Err: down, FailingSince: t0, ProgressAt: t0}, long, true, "alive: Donor/Desynced, not answering"},
		{"progress not tracked (serve mode)", Observation{Last: joining, Err: down, FailingSince: t0}, long, true, "alive: Joining, not answering"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := stallJudge().Live(fix(c.o), c.now)
			if v.OK != c.ok || !strings.HasPrefix(v.Reason, c.reason) {
				t.Errorf("Live = %v %q, want %v starting %q", v.OK, v.Reason, c.ok, c.reason)
			}
			if strings.ContainsAny(v.Reason, "\r\n") {
				t.Errorf("reason %q spans lines", v.Reason)
			}
		})
	}
}

// TestStallRuleProgressResetsClock walks one member through a long
// transfer: each progress moves the clock, so a transfer three times the
// timeout stays alive; the same member with its last progress left
// behind is stuck once the timeout passes, and alive again at the next
// progress.
func TestStallRuleProgressResetsClock(t *testing.T) {
	j := stallJudge()
	down := errors.New("connection refused")
	o := Observation{Err: down, FailingSince: t0, ProgressAt: t0}
	for now := t0; now.Before(t0.Add(30 * time.Minute)); now = now.Add(10 * time.Second) {
		if now.Sub(t0)%(9*time.Minute) == 0 { // a sign of progress every 9 minutes
			o.ProgressAt = now
		}
		if v := j.Live(o, now); !v.OK {
			t.Fatalf("at +%s with progress %s before: %q", now.Sub(t0), now.Sub(o.ProgressAt), v.Reason)
		}
	}
	o.ProgressAt = t0
	if v := j.Live(o, t0.Add(10*time.Minute+time.Second)); v.OK || !strings.HasPrefix(v.Reason, "stuck: no progress for 10m1s") {
		t.Fatalf("no progress past the timeout: %v %q", v.OK, v.Reason)
	}
	o.ProgressAt = t0.Add(10 * time.Minute)
	if v := j.Live(o, t0.Add(10*time.Minute+time.Second)); !v.OK {
		t.Fatalf("progress came back, still %q", v.Reason)
	}
}

// TestStartedFollowsStallRule: with the stall rule on, /startupz passes
// while the member is alive by it, and fails as /livez does once stuck;
// without it (serve mode, --stall-timeout=0) /startupz still means "has
// been Synced".
func TestStartedFollowsStallRule(t *testing.T) {
	down := errors.New("connection refused")
	o := Observation{Err: down, FailingSince: t0, ProgressAt: t0.Add(time.Hour)}
	now := t0.Add(time.Hour + time.Minute)
	if v := stallJudge().Started(o, now); !v.OK || !strings.HasPrefix(v.Reason, "starting, alive: not yet Synced since start") {
		t.Errorf("progressing transfer: %v %q", v.OK, v.Reason)
	}
	if v := stallJudge().Started(o, now.Add(time.Hour)); v.OK || !strings.HasPrefix(v.Reason, "stuck: no progress for 1h1m0s") {
		t.Errorf("stuck transfer: %v %q", v.OK, v.Reason)
	}
	if v := stallJudge().Started(Observation{Hold: "waiting for peers", ProgressAt: t0}, now); !v.OK {
		t.Errorf("hold: %v %q", v.OK, v.Reason)
	}
	if v := judge(Policy{}).Started(o, now); v.OK || v.Reason != "not yet Synced since start" {
		t.Errorf("without the stall rule: %v %q", v.OK, v.Reason)
	}
	if v := stallJudge().Started(Observation{EverSettled: true, ProgressAt: t0}, now.Add(time.Hour)); !v.OK || v.Reason != "started: has been Synced" {
		t.Errorf("once Synced: %v %q", v.OK, v.Reason)
	}
}
