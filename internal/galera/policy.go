package galera

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/galera-sentinel/galera-sentinel/internal/readiness"
)

// Policy is Galera's half of the probe verdicts (readiness.Policy over
// Sample): the operator's choices that shape them, and what a fresh
// sample of a Galera member means. The generic half (maintenance,
// staleness, liveness grace) is readiness.Judge's.
type Policy struct {
	// AvailableWhenDonor keeps a Donor/Desynced node ready (unless it
	// rejects queries during SST or was desynced by hand).
	AvailableWhenDonor bool
	// AvailableWhenReadOnly keeps a read_only node ready.
	AvailableWhenReadOnly bool
}

var (
	_ readiness.Policy[Sample]         = Policy{}
	_ readiness.ProgressPolicy[Sample] = Policy{}
)

// The classes of Galera's verdicts (readiness.Class): metric label
// values, fixed once released.
const (
	ClassWsrepOff         readiness.Class = "wsrep_on=OFF"
	ClassNotConnected     readiness.Class = "not connected to the cluster"
	ClassNotPrimary       readiness.Class = "not Primary"
	ClassNotWsrepReady    readiness.Class = "wsrep_ready=OFF"
	ClassDesynced         readiness.Class = "desynced"
	ClassNotSynced        readiness.Class = "not Synced"
	ClassRejectingQueries readiness.Class = "rejecting queries"
	ClassReadOnly         readiness.Class = "read_only=ON"
	// Writable's own (never a probe's answer: Writable only tells a
	// standby from an unfit member).
	ClassNotInPrimary readiness.Class = "not in a Primary component"
	ClassDonorRejects readiness.Class = "Donor and wsrep_sst_donor_rejects_queries=ON"
)

// DonorWeight is the load-balancer share, in percent, of a Donor/Desynced
// node that stays ready (AvailableWhenDonor): it is busy sending a state
// transfer, so it gets a quarter of its share.
const DonorWeight = 25

// Ready decides whether a fresh sample may take client traffic: Primary,
// Synced (or an allowed Donor), not desynced, not rejecting queries, not
// read-only unless allowed.
func (p Policy) Ready(s *Sample) readiness.Verdict {
	fail := readiness.Fail
	switch {
	case !s.WsrepOn:
		return fail(ClassWsrepOff, "wsrep_on=OFF: not a Galera node")
	case !s.Connected:
		return fail(ClassNotConnected, "not connected to the cluster")
	case !s.Primary():
		return fail(ClassNotPrimary, "not Primary: "+orDash(s.ClusterStatus))
	case !s.Ready:
		return fail(ClassNotWsrepReady, "wsrep_ready=OFF")
	case s.Desync:
		return fail(ClassDesynced, "desynced: wsrep_desync=ON")
	}
	switch {
	case s.LocalState == StateSynced:
	case s.LocalState == StateDonor && p.AvailableWhenDonor:
		if s.SSTDonorRejectsQueries {
			return fail(ClassNotSynced, "not Synced: Donor/Desynced and wsrep_sst_donor_rejects_queries=ON")
		}
	default:
		return fail(ClassNotSynced, "not Synced: "+s.LocalState.String())
	}
	if s.RejectQueries != "" && !strings.EqualFold(s.RejectQueries, "NONE") {
		return fail(ClassRejectingQueries, "rejecting queries: wsrep_reject_queries="+s.RejectQueries)
	}
	if s.ReadOnly && !p.AvailableWhenReadOnly {
		return fail(ClassReadOnly, "read_only=ON")
	}
	return readiness.Pass(readiness.ClassReady, fmt.Sprintf("ready: Primary, %s, size %d", s.LocalState, s.ClusterSize))
}

// Writer decides whether a ready node is the single writer: it has the
// lowest wsrep_local_index among the members known to be ready.
// lowestReadyIndex is that lowest index, or -1 when the caller knows of no
// other member's readiness; then the writer is the node with index 0,
// which every member of a Primary component agrees on.
func (p Policy) Writer(s *Sample, lowestReadyIndex int) readiness.Verdict {
	want := max(lowestReadyIndex, 0)
	if s.LocalIndex != want {
		return readiness.Fail(readiness.ClassNotWriter, fmt.Sprintf("not the writer: wsrep_local_index %d, writer is index %d", s.LocalIndex, want))
	}
	return readiness.Pass(readiness.ClassWriter, fmt.Sprintf("writer: wsrep_local_index %d", s.LocalIndex))
}

// Writable decides whether the member could take a write now, ready or
// not: connected to a Primary component with wsrep_ready=ON, Synced or
// Donor/Desynced (a desynced member still certifies and commits),
// not rejecting queries and not read-only. A member that drains or is in
// maintenance is still writable; one split from its cluster or joining it
// is not.
func (p Policy) Writable(s *Sample) readiness.Verdict {
	fail := readiness.Fail
	switch {
	case !s.WsrepOn:
		return fail(ClassWsrepOff, "wsrep_on=OFF")
	case !s.Connected || !s.Primary():
		return fail(ClassNotInPrimary, "not in a Primary component")
	case !s.Ready:
		return fail(ClassNotWsrepReady, "wsrep_ready=OFF")
	case s.LocalState != StateSynced && s.LocalState != StateDonor:
		return fail(ClassNotSynced, "not Synced: "+s.LocalState.String())
	case s.LocalState == StateDonor && s.SSTDonorRejectsQueries:
		return fail(ClassDonorRejects, "Donor and wsrep_sst_donor_rejects_queries=ON")
	case s.RejectQueries != "" && !strings.EqualFold(s.RejectQueries, "NONE"):
		return fail(ClassRejectingQueries, "wsrep_reject_queries="+s.RejectQueries)
	case s.ReadOnly:
		return fail(ClassReadOnly, "read_only=ON")
	}
	return readiness.Pass(readiness.ClassWritable, "writable")
}

// Busy: a state transfer or catching up keeps a node alive while it does
// not answer.
func (Policy) Busy(s *Sample) bool { return s.LocalState.Busy() }

// Joining: receiving a state transfer (Joining) or catching up after one
// (Joined). A donor is not joining: it serves while it sends.
func (Policy) Joining(s *Sample) bool {
	return s.LocalState == StateJoining || s.LocalState == StateJoined
}

// Progress is the joiner's applied position and receive queue: either
// moving is progress. An unknown queue (Unknown) is just another value.
func (Policy) Progress(s *Sample) string {
	return fmt.Sprintf("wsrep_last_committed %d, wsrep_local_recv_queue %d", s.LastCommitted, s.Stats.RecvQueue)
}

// Settled: Synced in a Primary component.
func (Policy) Settled(s *Sample) bool { return s.SyncedPrimary() }

// SettledName names the settled state.
func (Policy) SettledName() string { return "Synced" }

// State is wsrep_local_state's name.
func (Policy) State(s *Sample) string { return s.LocalState.String() }

// Weight gives a ready donor DonorWeight, everyone else a full share.
func (Policy) Weight(s *Sample) int {
	if s.LocalState == StateDonor {
		return DonorWeight
	}
	return 100
}

// LogAttrs are the fields whose change is worth a log line.
func (Policy) LogAttrs(s *Sample) []slog.Attr {
	return []slog.Attr{
		slog.String("cluster_status", s.ClusterStatus), slog.String("local_state", s.LocalState.String()),
		slog.Int("cluster_size", s.ClusterSize), slog.Int("local_index", s.LocalIndex),
	}
}

// Doc is the sample as /status shows it.
func (Policy) Doc(s *Sample) any { return s.Doc() }

// SyncedPrimary reports whether the node is Synced in a Primary component.
func (s Sample) SyncedPrimary() bool {
	return s.Primary() && s.LocalState == StateSynced && s.Ready
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
