package replica

import (
	"fmt"
	"net"
	"slices"
	"strings"
)

// StartAction is what run mode does with a member of a replication set
// when it starts.
type StartAction string

// The actions.
const (
	// StartPrimary: this server is (or becomes) the writable primary. An
	// empty data directory is initialised first.
	StartPrimary StartAction = "primary"
	// StartReplica: this server follows Decision.Primary from its own
	// position (MASTER_USE_GTID=slave_pos).
	StartReplica StartAction = "replica"
	// StartClone: the empty data directory is filled from a backup of
	// Decision.From (the primary's sentinel), then follows Decision.Primary.
	StartClone StartAction = "clone"
	// StartWait: nothing can be decided safely yet; decide again later.
	StartWait StartAction = "wait"
	// StartRefuse: going on would lose or overwrite data; a person must
	// act (Decision.Fix says how). Nothing is changed.
	StartRefuse StartAction = "refuse"
)

// Starts reports whether the action brings the server into service.
func (a StartAction) Starts() bool {
	return a == StartPrimary || a == StartReplica || a == StartClone
}

// SelfState is what a member knows of itself when run mode starts it.
type SelfState struct {
	Name string
	// Hosts are the names and addresses this member's MariaDB is known
	// by (its node name, advertised host, bind address, local addresses):
	// a peer's Master_Host, or --primary, that is one of them means this
	// member.
	Hosts []string
	// Empty: the data directory holds nothing (nothing to lose).
	Empty bool
	// Positions of the server (read with it started read-only, replica
	// threads not started); unused when Empty.
	BinlogPos, SlavePos string
	HasReplica          bool // it has a replica configuration
	MasterHost          string
	MasterPort          int
	// FlaggedPrimary: --primary names this member.
	FlaggedPrimary bool
}

// PeerState is what a peer's sentinel said of its member.
type PeerState struct {
	Name string // the peer's sentinel address
	// Reachable: its sentinel answered. The other fields are only
	// meaningful when it did.
	Reachable bool
	// Addr is the peer's MariaDB address, host:port, as it advertises it.
	Addr string
	// Empty: the peer's data directory is empty and it has not been
	// initialised or cloned yet.
	Empty bool
	// Sample is the peer's last fresh sample; nil when its server is not
	// up (or its sentinel has no fresh sample).
	Sample *SampleDoc
}

func (p PeerState) writablePrimary() bool {
	return p.Reachable && p.Sample != nil && p.Sample.Role == RolePrimary && !p.Sample.ReadOnly
}

// StartDecision is DecideStart's answer.
type StartDecision struct {
	Action StartAction
	// Class names the rule that decided (a metric label).
	Class DecisionClass
	// Primary is the MariaDB address (host:port) to follow, for
	// StartReplica and StartClone.
	Primary string
	// From is the peer (sentinel address) to clone from, for StartClone.
	From string
	// Reason says why, in a sentence.
	Reason string
	// Fix, for StartRefuse, is what the operator can do.
	Fix string
	// PrimaryPos is the primary's gtid_binlog_pos the decision was made
	// against, when known.
	PrimaryPos string
}

// DecisionClass names the rule of DecideStart that decided, without the
// reason's changing parts (names, addresses, positions): the label of the
// decision metric (galera_sentinel_member_decision_info{reason}). A value
// once published is never changed.
//
// Before decisions carried a class, that label was cut from the reason's
// wording (up to its first ':', '(' or digit, spaces and commas trimmed),
// and users' dashboards match what that gave: each value below is that
// cut of its rule's reason. Where a peer's name or an address came before
// the cut, the old label held it (or the part of it before its first
// digit), which no constant can keep; the value is then the wording with
// "a peer" (or nothing) in its place.
type DecisionClass string

// The classes of DecideStart's rules.
const (
	DecidedManyPrimaries DecisionClass = "more than one writable primary"
	// DecidedEmpty: an empty member waits for a primary, or clones the one
	// it found.
	DecidedEmpty           DecisionClass = "the data directory is empty"
	DecidedNewSetHistory   DecisionClass = "this member is the primary --primary names, but its data directory is empty while a peer has replication history"
	DecidedEmptyPeerDown   DecisionClass = "the data directory is empty; a peer has data but its server is not up yet"
	DecidedNewSet          DecisionClass = "a new set"
	DecidedOwnConfig       DecisionClass = "no writable primary reachable"
	DecidedStrays          DecisionClass = "no writable primary reachable, and a peer follows another server"
	DecidedFollowed        DecisionClass = "the replicas follow this server, and no other primary is reachable"
	DecidedFlagged         DecisionClass = "this member is the primary --primary names, it has no replica configuration of its own, and no other primary is reachable"
	DecidedNoPrimary       DecisionClass = "no writable primary reachable to follow"
	DecidedSelfPrimary     DecisionClass = "a peer reports this member's own address as a writable primary"
	DecidedPrimaryPosition DecisionClass = "the primary reports a position that cannot be read"
	DecidedOwnPosition     DecisionClass = "this server's GTID position cannot be read"
	DecidedDiverged        DecisionClass = "this server's history diverged from the primary's"
	DecidedFollow          DecisionClass = "following the writable primary"
	// DecidedOwnWrites: the old label named the primary when one was
	// reachable ("... from the primary <name>").
	DecidedOwnWrites DecisionClass = "this server has transactions of its own that it did not receive from a primary"
	// DecidedPositionsUnknown: run mode has not read the server's
	// positions yet (package replmember's wait).
	DecidedPositionsUnknown DecisionClass = "this server's positions are not known yet"
)

// DecideStart decides what a starting member does, from its own state
// and what its reachable peers say. Its promises:
//   - never two writable primaries: a member becomes primary only when no
//     reachable peer is a writable primary and no reachable peer follows
//     a server other than this one;
//   - the server's own replica configuration wins over --primary (after a
//     switchover the flag names the old primary);
//   - a server whose history does not descend from the primary's, or that
//     has transactions of its own, is refused: nothing is overwritten;
//   - an empty member clones from the writable primary, and only the
//     member --primary names initialises a new set, and only when no
//     reachable peer has any history.
func DecideStart(self SelfState, peers []PeerState) StartDecision {
	var writable, reachable []PeerState
	for _, p := range peers {
		if p.Reachable {
			reachable = append(reachable, p)
		}
		if p.writablePrimary() {
			writable = append(writable, p)
		}
	}
	if len(writable) > 1 {
		names := make([]string, len(writable))
		for i, p := range writable {
			names[i] = p.Name
		}
		return StartDecision{Action: StartWait, Class: DecidedManyPrimaries, Reason: "more than one writable primary: " + strings.Join(names, ", ") +
			"; not following either until one is read-only (SET GLOBAL read_only=ON on the one that must not take writes)"}
	}
	if len(writable) == 1 {
		return followPrimary(self, writable[0])
	}
	if self.Empty {
		if !self.FlaggedPrimary {
			return StartDecision{Action: StartWait, Class: DecidedEmpty, Reason: "the data directory is empty: waiting for a writable primary to clone from"}
		}
		for _, p := range reachable {
			switch {
			case p.Sample != nil && (p.Sample.GTIDBinlogPos != "" || p.Sample.GTIDSlavePos != ""):
				return StartDecision{Action: StartRefuse, Class: DecidedNewSetHistory,
					Reason: fmt.Sprintf("this member is the primary --primary names, but its data directory is empty while %s has replication history (%s): a new primary here would begin another history", p.Name, firstNonEmpty(p.Sample.GTIDBinlogPos, p.Sample.GTIDSlavePos)),
					Fix:    fmt.Sprintf("make the most advanced replica the primary (POST /api/v1/replication/promote on its sentinel, e.g. %s); this member then clones from it on its next start", p.Name)}
			case p.Sample == nil && !p.Empty:
				return StartDecision{Action: StartWait, Class: DecidedEmptyPeerDown, Reason: fmt.Sprintf("the data directory is empty; %s has data but its server is not up yet: waiting to see its history before starting a new set", p.Name)}
			}
		}
		return StartDecision{Action: StartPrimary, Class: DecidedNewSet, Reason: "a new set: this member is the primary --primary names, and no reachable peer has any history"}
	}
	if local := ownWrites(self); len(local) > 0 && self.HasReplica {
		return refuseLocal(self, local, "")
	}
	if self.HasReplica && self.MasterHost != "" && !self.knows(self.MasterHost) {
		primary := net.JoinHostPort(self.MasterHost, fmt.Sprint(self.MasterPort))
		return StartDecision{Action: StartReplica, Class: DecidedOwnConfig, Primary: primary,
			Reason: "no writable primary reachable: following " + primary + " as this server's own replica configuration says (the primary may be restarting)"}
	}
	var followers, strays []string
	for _, p := range reachable {
		if p.Sample == nil || p.Sample.MasterHost == "" {
			continue
		}
		if self.knows(p.Sample.MasterHost) {
			followers = append(followers, p.Name)
		} else {
			strays = append(strays, fmt.Sprintf("%s follows %s", p.Name, p.Sample.MasterHost))
		}
	}
	switch {
	case len(strays) > 0:
		return StartDecision{Action: StartWait, Class: DecidedStrays, Reason: "no writable primary reachable, and " + strings.Join(strays, ", ") +
			": another server may be the primary; not becoming a second one"}
	case len(followers) > 0:
		return StartDecision{Action: StartPrimary, Class: DecidedFollowed, Reason: "the replicas " + strings.Join(followers, ", ") + " follow this server, and no other primary is reachable"}
	case self.FlaggedPrimary:
		return StartDecision{Action: StartPrimary, Class: DecidedFlagged, Reason: "this member is the primary --primary names, it has no replica configuration of its own, and no other primary is reachable"}
	}
	return StartDecision{Action: StartWait, Class: DecidedNoPrimary, Reason: "no writable primary reachable to follow (this server has no replica configuration and is not the primary --primary names)"}
}

// followPrimary decides for a member when exactly one writable primary
// is reachable.
func followPrimary(self SelfState, p PeerState) StartDecision {
	if self.Empty {
		return StartDecision{Action: StartClone, Class: DecidedEmpty, Primary: p.Addr, From: p.Name, PrimaryPos: p.Sample.GTIDBinlogPos,
			Reason: "the data directory is empty: cloning the primary " + p.Name}
	}
	if self.knows(hostOf(p.Addr)) {
		return StartDecision{Action: StartWait, Class: DecidedSelfPrimary, Reason: "a peer reports this member's own address as a writable primary: waiting"}
	}
	if local := ownWrites(self); len(local) > 0 {
		return refuseLocal(self, local, p.Name)
	}
	pos, err := ParseGTIDList(p.Sample.GTIDBinlogPos)
	if err != nil {
		return StartDecision{Action: StartWait, Class: DecidedPrimaryPosition, Reason: fmt.Sprintf("the primary %s reports a position that cannot be read: %v", p.Name, err)}
	}
	mine, err := history(self)
	if err != nil {
		return StartDecision{Action: StartRefuse, Class: DecidedOwnPosition, Reason: "this server's GTID position cannot be read: " + err.Error(), Fix: "check gtid_binlog_pos and gtid_slave_pos on this server"}
	}
	if ok, why := Descends(mine, pos); !ok {
		return StartDecision{Action: StartRefuse, Class: DecidedDiverged, PrimaryPos: p.Sample.GTIDBinlogPos,
			Reason: "this server's history diverged from the primary " + p.Name + "'s: " + why + "; nothing was changed",
			Fix:    "keep a copy of this data directory if its extra transactions matter, then empty it: the member clones the primary on its next start"}
	}
	reason := "following the writable primary " + p.Name + " (this server's history descends from its position " + p.Sample.GTIDBinlogPos + ")"
	if self.HasReplica && self.MasterHost != "" && !sameHost(self.MasterHost, hostOf(p.Addr)) {
		reason += "; its own replica configuration named " + self.MasterHost
	}
	return StartDecision{Action: StartReplica, Class: DecidedFollow, Primary: p.Addr, PrimaryPos: p.Sample.GTIDBinlogPos, Reason: reason}
}

func refuseLocal(self SelfState, local []GTID, primary string) StartDecision {
	s := make([]string, len(local))
	for i, g := range local {
		s[i] = g.String()
	}
	where := "a primary"
	if primary != "" {
		where = "the primary " + primary
	}
	return StartDecision{Action: StartRefuse, Class: DecidedOwnWrites,
		Reason: fmt.Sprintf("this server has transactions of its own that it did not receive from %s (gtid_binlog_pos %s, gtid_slave_pos %q: %s): it was written to directly, or it was a primary; following would skip or repeat them; nothing was changed",
			where, self.BinlogPos, self.SlavePos, strings.Join(s, ", ")),
		Fix: "if the primary has these transactions (compare its gtid_binlog_pos), run SET GLOBAL gtid_slave_pos=@@gtid_binlog_pos on this server (the member sees it within a decide interval, no restart needed); otherwise keep a copy of the data directory and empty it, and the member clones the primary"}
}

// ownWrites are the server's transactions that did not come through
// replication.
func ownWrites(self SelfState) []GTID {
	b, err1 := ParseGTIDList(self.BinlogPos)
	s, err2 := ParseGTIDList(self.SlavePos)
	if err1 != nil || err2 != nil {
		return nil // history() reports it
	}
	return LocalWrites(b, s)
}

// history is everything the server has: per domain the later of its
// binary log and its replica position.
func history(self SelfState) (GTIDList, error) {
	b, err := ParseGTIDList(self.BinlogPos)
	if err != nil {
		return nil, err
	}
	s, err := ParseGTIDList(self.SlavePos)
	if err != nil {
		return nil, err
	}
	out := GTIDList{}
	for d, g := range s {
		out[d] = g
	}
	for d, g := range b {
		if o, ok := out[d]; !ok || g.Seq > o.Seq {
			out[d] = g
		}
	}
	return out, nil
}

func (s SelfState) knows(host string) bool {
	return slices.ContainsFunc(s.Hosts, func(h string) bool { return sameHost(h, host) })
}

func sameHost(a, b string) bool {
	return a != "" && strings.EqualFold(strings.TrimSuffix(a, "."), strings.TrimSuffix(b, "."))
}

func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
