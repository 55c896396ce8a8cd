// Package readiness is the half of every probe verdict that does not depend
// on what kind of node is watched: the sentinel is stopping, the operator
// drained the node, run mode holds mariadbd back, there is no sample yet,
// the last sample is too old to vouch for, and how long an unresponsive
// node stays alive. The other half, what a fresh sample means, comes from a
// domain policy through the Policy interface: galera.Policy for Galera
// members, and a sibling package for asynchronous replicas.
//
// It is pure: no I/O, no clock (callers pass now), and nothing about Galera
// or any other replication scheme.
package readiness

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/oneline"
)

// Verdict is an answer to one probe: OK, the class of the rule that
// decided it, and a one-line reason for people.
type Verdict struct {
	OK bool
	// Class names the rule that decided, without the reason's changing
	// parts: what logs detect changes on and what metric labels carry.
	Class  Class
	Reason string
}

// Pass and Fail build verdicts: every verdict names its class.
func Pass(class Class, reason string) Verdict { return Verdict{OK: true, Class: class, Reason: reason} }

// Fail builds a failing verdict.
func Fail(class Class, reason string) Verdict { return Verdict{Class: class, Reason: reason} }

// Class is the kind of a verdict, set by the rule that made it. Its
// value is the label value of the sentinel_verdict_info and
// verdict_changes_total metrics, which users' alerts match: a class's
// value never changes once released (the reason's wording may).
// Domain policies define their own classes beside these.
type Class string

// The classes of the generic rules.
const (
	ClassMaintenance  Class = "maintenance"      // the operator's drain, or the sentinel stops
	ClassNotStarted   Class = "not started"      // run mode holds mariadbd back
	ClassUpgrading    Class = "upgrading"        // run mode brings the system tables to the running version
	ClassNoSample     Class = "no sample yet"    // nothing answered yet
	ClassStale        Class = "stale"            // the last good sample is too old
	ClassPaused       Class = "paused"           // the node's processes did not run for a while; its state settles
	ClassAlive        Class = "alive"            // Live passes
	ClassStuck        Class = "stuck"            // the stall rule
	ClassUnresponsive Class = "unresponsive for" // not answering past the grace
	ClassStarted      Class = "started"          // Started passes: settled once
	ClassStarting     Class = "starting, alive"  // Started passes on Live while the first transfer runs
	ClassNotReady     Class = "not ready"        // Writer on a node that is not ready
	ClassReady        Class = "ready"            // a domain's Ready passes
	ClassWriter       Class = "writer"           // a domain's Writer passes
	ClassNotWriter    Class = "not the writer"   // a domain's Writer fails
	ClassWritable     Class = "writable"         // a domain's Writable passes
	// A standby that was the writer a moment ago answers as the writer
	// while the handover window runs (package health).
	ClassHandingOver Class = "writer, handing over"
)

// ClassNotSettled is the class of Started failing: "not yet Synced since
// start" for Galera, named after the policy's settled state.
func ClassNotSettled(settledName string) Class {
	return Class("not yet " + settledName + " since start")
}

// Policy is a domain's half of the verdicts over its own sample type S.
// Every method is pure and is called only with a sample the generic checks
// found fresh enough to judge.
type Policy[S any] interface {
	// Ready judges whether the node may take client traffic.
	Ready(s *S) Verdict
	// Writer judges whether a ready node is the one writer, given the
	// lowest writer rank among the ready members (-1 when unknown).
	Writer(s *S, lowestReady int) Verdict
	// Writable judges whether the node could take writes right now, ready
	// or not: a member that drains, is in maintenance or is desynced still
	// can, one split from its cluster cannot. It decides whether a member
	// that is not the writer stands by (it may finish the transactions
	// already sent to it) or is unfit.
	Writable(s *S) Verdict
	// Busy reports a node legitimately occupied (a state transfer): it is
	// alive even while it does not answer.
	Busy(s *S) bool
	// Settled reports whether s is the node's working state; /startupz
	// passes once one such sample was seen.
	Settled(s *S) bool
	// SettledName names that state in reasons ("Synced").
	SettledName() string
	// State names the node's state in a word or two ("Joining").
	State(s *S) string
	// Weight is the share of traffic, in percent of a full share, that a
	// ready node should get from a load balancer.
	Weight(s *S) int
	// LogAttrs describe the node's state in the log; a change of them is
	// logged once.
	LogAttrs(s *S) []slog.Attr
	// Doc is the sample as /status shows it (JSON).
	Doc(s *S) any
}

// Limits are the operator's bounds on what the sentinel vouches for.
type Limits struct {
	// MaxStaleness is how old the last good sample may be before the node
	// is not ready: the sentinel cannot vouch for what it has not seen.
	MaxStaleness time.Duration
	// LivenessGrace is how long the node may be unresponsive, outside a
	// busy state, before it is reported not alive.
	LivenessGrace time.Duration
	// StallTimeout is how long a member that runs mariadbd but is not
	// answering yet, or answers while it joins (see ProgressPolicy), may
	// go without any sign of progress before it is reported stuck; 0
	// turns the rule off. It applies only to an observation that tracks
	// progress (ProgressAt set).
	StallTimeout time.Duration
	// ResumeSettle is how long a node is not ready after its processes
	// were found not to have run for a while (Observation.ResumedAt):
	// long enough for its cluster to tell it what happened meanwhile.
	ResumeSettle time.Duration
}

// DefaultResumeSettle is ResumeSettle as the sentinel sets it: Galera's
// evs.suspect_timeout (5 s) and its view change, with room.
const DefaultResumeSettle = 10 * time.Second

// ProgressPolicy is the optional half of a Policy that the stall rule
// needs: which answering states are a member receiving its state, and
// which of a sample's counters move while it does.
type ProgressPolicy[S any] interface {
	// Joining reports a node that answers while it receives its state or
	// catches up (not one that donates: a donor serves, and its data
	// does not move while it sends).
	Joining(s *S) bool
	// Progress is a fingerprint of the counters that move while a joiner
	// works (applied position, receive queue); any change is progress.
	Progress(s *S) string
}

// Observation is what the poller knows at one moment: the last good sample,
// the outcome of the latest attempt, and the switches that drain the node.
type Observation[S any] struct {
	Last *S // last successful sample; nil if there never was one
	// LastAt is when Last was taken.
	LastAt time.Time
	// FailingSince is when the current run of failed polls began; zero
	// when the latest poll succeeded.
	FailingSince time.Time
	// Err is the error of the latest poll, nil when it succeeded.
	Err error
	// Maintenance is the operator's drain switch (file or API).
	Maintenance bool
	// Stopping is set when run mode has been told to stop: the node drains
	// before mariadbd is shut down.
	Stopping bool
	// EverSettled is set once the node has been seen in its working state
	// (Policy.Settled) since the sentinel started.
	EverSettled bool
	// SettledAt is when the node was last seen in its working state; zero
	// when never.
	SettledAt time.Time
	// Started is when the sentinel started polling.
	Started time.Time
	// Hold, when set, says why mariadbd is not running yet (run mode:
	// reading the position, waiting for peers). The node is not ready,
	// and it is alive: Kubernetes must not restart a member that waits.
	Hold string
	// Upgrading, when set, says why a node that runs and could take
	// clients must not yet (run mode: mariadb-upgrade brings its system
	// tables to the running version, or failed to). It is alive.
	Upgrading string
	// ProgressAt is when the member last showed progress (mariadbd
	// started, its data directory changed, it printed a line, a joiner's
	// counters moved); zero when progress is not tracked (serve mode).
	ProgressAt time.Time
	// Progress says what that last progress was, for reasons.
	Progress string
	// ResumedAt is when the poller found that this node's processes,
	// the sentinel's own included, had not run for Paused (a frozen
	// cgroup, a VM paused, a stopped machine that went on) and ran
	// again; zero when never. What the node says right after is what it
	// knew before the pause: a member its cluster dropped meanwhile
	// still says it is Primary and Synced for a moment.
	ResumedAt time.Time
	Paused    time.Duration
}

// Settling reports whether the node ran again after a pause less than
// ResumeSettle before now.
func (j Judge[S]) Settling(o Observation[S], now time.Time) bool {
	return !o.ResumedAt.IsZero() && now.Before(o.ResumedAt.Add(j.Limits.ResumeSettle))
}

// Age is how old the last good sample is at now; -1 when there is none.
func (o Observation[S]) Age(now time.Time) time.Duration {
	if o.Last == nil {
		return -1
	}
	return now.Sub(o.LastAt)
}

// Judge combines the generic checks with a domain policy.
type Judge[S any] struct {
	Policy Policy[S]
	Limits Limits
}

// Ready decides whether the node may take client traffic.
func (j Judge[S]) Ready(o Observation[S], now time.Time) Verdict {
	if v, done := j.gate(o, now); done {
		return v
	}
	v := j.Policy.Ready(o.Last)
	if v.OK && o.Upgrading != "" {
		return Fail(ClassUpgrading, "upgrading: "+o.Upgrading)
	}
	return v
}

// gate applies the generic checks that come before the domain's: it
// returns done when they decide on their own.
func (j Judge[S]) gate(o Observation[S], now time.Time) (Verdict, bool) {
	switch {
	case o.Stopping:
		return Fail(ClassMaintenance, "maintenance: shutting down"), true
	case o.Maintenance:
		return Fail(ClassMaintenance, "maintenance"), true
	case o.Hold != "":
		return Fail(ClassNotStarted, "not started: "+o.Hold), true
	case o.Last == nil && o.Err != nil:
		return Fail(ClassNoSample, "no sample yet: "+oneline.Error(o.Err)), true
	case o.Last == nil:
		return Fail(ClassNoSample, "no sample yet"), true
	}
	if j.Settling(o, now) {
		return Fail(ClassPaused, fmt.Sprintf("paused: this node's processes did not run for %.1fs (frozen, a VM paused); not ready for %s after they ran again, while its cluster tells it what happened meanwhile",
			o.Paused.Seconds(), j.Limits.ResumeSettle)), true
	}
	if age := o.Age(now); age > j.Limits.MaxStaleness {
		r := fmt.Sprintf("stale: last good sample %.1fs ago", age.Seconds())
		if o.Err != nil {
			r += ": " + oneline.Error(o.Err)
		}
		return Fail(ClassStale, r), true
	}
	return Verdict{}, false
}

// ReadyUntil is how long Ready's verdict on o stays what it is now: until
// the last sample grows too old to vouch for (after that the reason says
// its age, which changes every moment). A verdict that does not depend on
// the sample's age (a drain switch, a hold, no sample) holds for ever, or
// until a newer observation replaces o.
func (j Judge[S]) ReadyUntil(o Observation[S]) time.Time {
	if o.Stopping || o.Maintenance || o.Hold != "" || o.Last == nil {
		return Forever
	}
	until := o.LastAt.Add(j.Limits.MaxStaleness)
	// A settle under way when the sample was taken ends the verdict
	// early; one long over (ResumedAt stays in every later observation)
	// does not.
	if end := o.ResumedAt.Add(j.Limits.ResumeSettle); !o.ResumedAt.IsZero() && end.After(o.LastAt) && end.Before(until) {
		until = end
	}
	return until
}

// Forever is a time no clock reaches.
var Forever = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// Live decides whether the node is alive. It fails only when the node has
// not answered for longer than the grace period and the last thing seen
// was not a busy state: restarting a node in the middle of a state
// transfer only starts the transfer again. A node that has never answered
// is given the same benefit: it may be receiving its first transfer.
//
// The stall rule comes first (Limits.StallTimeout): a member that runs
// mariadbd but has never answered, or whose last answer was a busy state
// and that does not answer now, or that answers while it joins, is stuck
// once it has shown no progress for StallTimeout. A restart then starts
// the state transfer again, which is the one way out of a transfer whose
// donor went silent. A member in Hold is never stuck: it waits for its
// peers, and a restart cannot help it.
func (j Judge[S]) Live(o Observation[S], now time.Time) Verdict {
	if o.Hold != "" {
		return Pass(ClassAlive, "alive: "+o.Hold)
	}
	if what, watched := j.Watched(o); watched {
		if idle := now.Sub(o.ProgressAt); idle > j.Limits.StallTimeout {
			return Fail(ClassStuck, fmt.Sprintf("stuck: no progress for %s (state transfer: %s; last progress: %s; --stall-timeout %s)",
				idle.Truncate(time.Second), what, orNone(o.Progress), j.Limits.StallTimeout))
		}
	}
	if o.FailingSince.IsZero() {
		if o.Last == nil {
			return Pass(ClassAlive, "alive: starting")
		}
		return Pass(ClassAlive, "alive: "+j.Policy.State(o.Last))
	}
	if o.Last == nil {
		return Pass(ClassAlive, "alive: starting, not answering yet: "+oneline.Error(o.Err))
	}
	if j.Policy.Busy(o.Last) {
		return Pass(ClassAlive, "alive: "+j.Policy.State(o.Last)+", not answering: "+oneline.Error(o.Err))
	}
	down := now.Sub(o.FailingSince)
	if down <= j.Limits.LivenessGrace {
		return Pass(ClassAlive, fmt.Sprintf("alive: not answering for %.1fs (grace %s): %s", down.Seconds(), j.Limits.LivenessGrace, oneline.Error(o.Err)))
	}
	return Fail(ClassUnresponsive, fmt.Sprintf("unresponsive for %.1fs: %s", down.Seconds(), oneline.Error(o.Err)))
}

// Watched reports whether the stall rule watches o, and describes the
// member's situation: progress is tracked, mariadbd runs (no hold), and it
// has never answered, or it does not answer and its last answer was a
// busy state other than a donor's, or it answers while it joins. A donor,
// a Synced member, or any other answering member is not watched: today's
// rules (answering is alive; --liveness-grace) apply to it.
func (j Judge[S]) Watched(o Observation[S]) (what string, watched bool) {
	if j.Limits.StallTimeout <= 0 || o.ProgressAt.IsZero() || o.Hold != "" {
		return "", false
	}
	if o.Last == nil {
		return "mariadbd runs and has not answered yet", true
	}
	pp, ok := j.Policy.(ProgressPolicy[S])
	if !ok || !pp.Joining(o.Last) {
		return "", false
	}
	if !o.FailingSince.IsZero() {
		return j.Policy.State(o.Last) + ", not answering: " + oneline.Error(o.Err), true
	}
	return j.Policy.State(o.Last) + ", " + pp.Progress(o.Last), true
}

func orNone(s string) string {
	if s == "" {
		return "none seen"
	}
	return s
}

// Started decides /startupz: the node has reached its working state at
// least once. Where the stall rule is on and tracks progress (run mode
// with --stall-timeout), it also passes while the member is alive by
// Live: liveness itself then tells a state transfer that progresses from
// one that is stuck, so a startup probe must not cap the first transfer
// with a deadline of its own.
func (j Judge[S]) Started(o Observation[S], now time.Time) Verdict {
	if o.EverSettled {
		return Pass(ClassStarted, "started: has been "+j.Policy.SettledName())
	}
	if j.Limits.StallTimeout > 0 && !o.ProgressAt.IsZero() {
		v := j.Live(o, now)
		if v.OK {
			v.Class = ClassStarting
			v.Reason = "starting, alive: not yet " + j.Policy.SettledName() + " since start (" + v.Reason + ")"
		}
		return v
	}
	return Fail(ClassNotSettled(j.Policy.SettledName()), "not yet "+j.Policy.SettledName()+" since start")
}

// Role is a member's part in single-writer routing, as /writerz answers.
type Role int

const (
	// Unfit: the node cannot take writes (split from its cluster, not
	// answering, held back): 503.
	Unfit Role = iota
	// Standby: the node could take writes but is not the writer (another
	// member is, or it drains): 404, which a load balancer can treat as
	// "no new connections, let the open ones finish".
	Standby
	// Writer: the one writer: 200.
	Writer
)

func (r Role) String() string {
	switch r {
	case Writer:
		return "writer"
	case Standby:
		return "standby"
	}
	return "unfit"
}

// WriterVerdict is a Role with the class of the rule that decided it and
// its one-line reason.
type WriterVerdict struct {
	Role   Role
	Class  Class
	Reason string
}

// Verdict is w as a pass/fail verdict: it passes for the writer alone.
func (w WriterVerdict) Verdict() Verdict {
	return Verdict{OK: w.Role == Writer, Class: w.Class, Reason: w.Reason}
}

// Writer decides this node's part in single-writer routing at now, from
// its Ready verdict at the same moment and the lowest writer rank among
// the ready members (-1 when unknown). A node that is not ready but could
// still take writes (it drains, is in maintenance, is desynced) stands by
// rather than being unfit, so that a load balancer lets its open
// transactions finish.
func (j Judge[S]) Writer(o Observation[S], now time.Time, ready Verdict, lowestReady int) WriterVerdict {
	if ready.OK {
		v := j.Policy.Writer(o.Last, lowestReady)
		switch {
		case v.OK:
			return WriterVerdict{Writer, v.Class, v.Reason}
		case !j.Policy.Writable(o.Last).OK:
			// Ready for reads and unable to take a write (an
			// asynchronous replica, a read-only node kept ready).
			return WriterVerdict{Unfit, v.Class, v.Reason}
		}
		return WriterVerdict{Standby, v.Class, v.Reason}
	}
	class, reason := ready.Class, ready.Reason
	if !o.Maintenance && !o.Stopping {
		class, reason = ClassNotReady, "not ready: "+ready.Reason
	}
	if o.Hold != "" || o.Last == nil || o.Age(now) > j.Limits.MaxStaleness || j.Settling(o, now) {
		return WriterVerdict{Unfit, class, reason}
	}
	if w := j.Policy.Writable(o.Last); !w.OK {
		return WriterVerdict{Unfit, class, reason}
	}
	return WriterVerdict{Standby, class, reason}
}
