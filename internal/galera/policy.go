package galera

import (
	"fmt"
	"strings"
	"time"
)

// Policy holds the operator's choices that shape the verdicts.
type Policy struct {
	// AvailableWhenDonor keeps a Donor/Desynced node ready (unless it
	// rejects queries during SST or was desynced by hand).
	AvailableWhenDonor bool
	// AvailableWhenReadOnly keeps a read_only node ready.
	AvailableWhenReadOnly bool
	// MaxStaleness is how old the last good sample may be before the
	// node is not ready: the sentinel cannot vouch for what it has not
	// seen.
	MaxStaleness time.Duration
	// LivenessGrace is how long mariadbd may be unresponsive, outside a
	// state transfer, before the node is reported not alive.
	LivenessGrace time.Duration
}

// Observation is what the poller knows at one moment: the last good sample,
// the outcome of the latest attempt, and the operator's drain switch.
type Observation struct {
	Last *Sample // last successful sample; nil if there never was one

	// FailingSince is when the current run of failed polls began; zero
	// when the latest poll succeeded.
	FailingSince time.Time
	// Err is the error of the latest poll, nil when it succeeded.
	Err error

	// Maintenance is the operator's drain switch (the maintenance file or
	// the maintenance API).
	Maintenance bool
	// Stopping is set when run mode has been told to stop: the node drains
	// before mariadbd is shut down.
	Stopping bool
	// EverSynced is set once the node has been seen Synced in a Primary
	// component since the sentinel started.
	EverSynced bool
	// Started is when the sentinel started polling.
	Started time.Time
	// Hold, when set, says why mariadbd is not running yet (run mode:
	// reading the position, waiting for peers). The node is not ready,
	// and it is alive: Kubernetes must not restart a member that waits.
	Hold string
}

// Verdict is an answer to one probe: OK, and a one-line reason.
type Verdict struct {
	OK     bool
	Reason string
}

func ok(reason string) Verdict   { return Verdict{OK: true, Reason: reason} }
func fail(reason string) Verdict { return Verdict{Reason: reason} }

// Age is how old the last good sample is at now; -1 when there is none.
func (o Observation) Age(now time.Time) time.Duration {
	if o.Last == nil {
		return -1
	}
	return now.Sub(o.Last.At)
}

// Ready decides whether the node may take client traffic.
func (p Policy) Ready(o Observation, now time.Time) Verdict {
	if o.Stopping {
		return fail("maintenance: shutting down")
	}
	if o.Maintenance {
		return fail("maintenance")
	}
	if o.Hold != "" {
		return fail("not started: " + o.Hold)
	}
	if o.Last == nil {
		if o.Err != nil {
			return fail("no sample yet: " + oneLine(o.Err))
		}
		return fail("no sample yet")
	}
	if age := o.Age(now); age > p.MaxStaleness {
		r := fmt.Sprintf("stale: last good sample %.1fs ago", age.Seconds())
		if o.Err != nil {
			r += ": " + oneLine(o.Err)
		}
		return fail(r)
	}
	s := o.Last
	switch {
	case !s.WsrepOn:
		return fail("wsrep_on=OFF: not a Galera node")
	case !s.Connected:
		return fail("not connected to the cluster")
	case !s.Primary():
		return fail("not Primary: " + orDash(s.ClusterStatus))
	case !s.Ready:
		return fail("wsrep_ready=OFF")
	case s.Desync:
		return fail("desynced: wsrep_desync=ON")
	}
	switch {
	case s.LocalState == StateSynced:
	case s.LocalState == StateDonor && p.AvailableWhenDonor:
		if s.SSTDonorRejectsQueries {
			return fail("not Synced: Donor/Desynced and wsrep_sst_donor_rejects_queries=ON")
		}
	default:
		return fail("not Synced: " + s.LocalState.String())
	}
	if s.RejectQueries != "" && !strings.EqualFold(s.RejectQueries, "NONE") {
		return fail("rejecting queries: wsrep_reject_queries=" + s.RejectQueries)
	}
	if s.ReadOnly && !p.AvailableWhenReadOnly {
		return fail("read_only=ON")
	}
	return ok(fmt.Sprintf("ready: Primary, %s, size %d", s.LocalState, s.ClusterSize))
}

// Live decides whether the node is alive. It fails only when mariadbd has
// not answered for longer than the grace period and the last thing we saw
// was not a state transfer: restarting a node in the middle of an SST only
// starts the SST again. A node that has never answered is given the same
// benefit: it may be a joiner receiving its first SST.
func (p Policy) Live(o Observation, now time.Time) Verdict {
	if o.Hold != "" {
		return ok("alive: " + o.Hold)
	}
	if o.FailingSince.IsZero() {
		if o.Last == nil {
			return ok("alive: starting")
		}
		return ok("alive: " + o.Last.LocalState.String())
	}
	if o.Last == nil {
		return ok("alive: starting, not answering yet: " + oneLine(o.Err))
	}
	if o.Last.LocalState.Busy() {
		return ok("alive: " + o.Last.LocalState.String() + ", not answering: " + oneLine(o.Err))
	}
	down := now.Sub(o.FailingSince)
	if down <= p.LivenessGrace {
		return ok(fmt.Sprintf("alive: not answering for %.1fs (grace %s): %s", down.Seconds(), p.LivenessGrace, oneLine(o.Err)))
	}
	return fail(fmt.Sprintf("unresponsive for %.1fs: %s", down.Seconds(), oneLine(o.Err)))
}

// Started decides /startupz: the node has been Synced at least once.
func (p Policy) Started(o Observation) Verdict {
	if o.EverSynced {
		return ok("started: has been Synced")
	}
	return fail("not yet Synced since start")
}

// Writer decides whether this node is the single writer: it is ready and
// has the lowest wsrep_local_index among the members known to be ready.
// lowestReadyIndex is that lowest index, or -1 when the caller knows of no
// other member's readiness; then the writer is the node with index 0,
// which every member of a Primary component agrees on.
func (p Policy) Writer(o Observation, now time.Time, lowestReadyIndex int) Verdict {
	r := p.Ready(o, now)
	if !r.OK {
		if o.Maintenance || o.Stopping {
			return r // "maintenance", as /readyz says
		}
		return fail("not ready: " + r.Reason)
	}
	want := lowestReadyIndex
	if want < 0 {
		want = 0
	}
	if o.Last.LocalIndex != want {
		return fail(fmt.Sprintf("not the writer: wsrep_local_index %d, writer is index %d", o.Last.LocalIndex, want))
	}
	return ok(fmt.Sprintf("writer: wsrep_local_index %d", o.Last.LocalIndex))
}

// SyncedPrimary reports whether the node is Synced in a Primary component,
// which is what sets Observation.EverSynced.
func (s Sample) SyncedPrimary() bool {
	return s.Primary() && s.LocalState == StateSynced && s.Ready
}

func oneLine(err error) string {
	if err == nil {
		return "no error"
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
