package galera

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Member is what one member of the cluster told us about itself (or what
// we know of ourselves) when deciding how to start.
type Member struct {
	Name string
	// Empty: the data directory holds nothing. Only such a member, or a
	// Fresh one, may be part of a brand-new cluster.
	Empty bool
	// Fresh: the data directory holds only what an installation creates
	// (the system schemas of mariadb-install-db, a package or an image
	// entrypoint) and no Galera position. It is as good as empty: a state
	// transfer replaces it, and a new cluster may start from it.
	Fresh bool
	// NeedsSST: the member's last state transfer was interrupted
	// (sst_in_progress, an empty grastate.dat): its data directory holds
	// nothing trustworthy. It joins by a full state transfer and is never
	// a bootstrap candidate, whatever it holds.
	NeedsSST bool
	// PositionKnown: the member has finished reading its position
	// (grastate.dat, and mariadbd --wsrep-recover when needed).
	PositionKnown bool
	// Position is valid when PositionKnown and the UUID is not ZeroUUID.
	Position        Position
	SafeToBootstrap bool
	// SavedView: gvwstate.dat exists, so the member was in a Primary
	// component when it went down without a clean shutdown. Reported for
	// operators; the decision does not rest on it (see Decide).
	SavedView bool
	// Running: its mariadbd has been started.
	Running bool
	// Primary: its mariadbd is in a Primary component now.
	Primary bool
}

// HasPosition reports whether the member has a real cluster position.
func (m Member) HasPosition() bool {
	return m.PositionKnown && !m.Empty && !m.NeedsSST && m.Position.UUID != "" && m.Position.UUID != ZeroUUID
}

// asGoodAsEmpty: nothing of the member's may be kept.
func (m Member) asGoodAsEmpty() bool { return m.Empty || m.Fresh }

// userData: the member holds data of its own but no Galera position (a
// standalone server that becomes a Galera member).
func (m Member) userData() bool {
	return m.PositionKnown && !m.asGoodAsEmpty() && !m.NeedsSST && !m.HasPosition()
}

// Unreachable is an expected member we could not hear from.
type Unreachable struct {
	Addr string
	Err  string
}

// Action is what the sentinel does next.
type Action int

const (
	// Wait: do nothing yet and decide again later.
	Wait Action = iota
	// Join: start mariadbd and join the running Primary component.
	Join
	// BootstrapNew: initialise an empty data directory and start the
	// first member of a brand-new cluster.
	BootstrapNew
	// Bootstrap: start a new Primary component from this member's data
	// (it has the most recent position of all members).
	Bootstrap
	// Refuse: the members contradict each other (different cluster
	// UUIDs); nothing is started until an operator steps in.
	Refuse
)

func (a Action) String() string {
	switch a {
	case Wait:
		return "wait"
	case Join:
		return "join"
	case BootstrapNew:
		return "bootstrap-new"
	case Bootstrap:
		return "bootstrap"
	case Refuse:
		return "refuse"
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// Starts reports whether the action starts mariadbd.
func (a Action) Starts() bool {
	return a == Join || a == BootstrapNew || a == Bootstrap
}

// Decision is an action with the reason an operator reads in the log.
type Decision struct {
	Action Action
	Reason string
}

// View is everything a decision is made from.
type View struct {
	Self Member
	// Peers are the other members that answered, each once.
	Peers []Member
	// Unreachable are addresses that did not answer (or answered badly).
	Unreachable []Unreachable
	// Expected is the number of members the cluster should have,
	// this one included (a StatefulSet's replicas).
	Expected int
	// Force is the operator's override: bootstrap this member even though
	// not every expected member can be reached.
	Force bool
}

// Decide chooses between joining, bootstrapping and waiting. It is pure:
// every sentinel that sees the same members reaches the same conclusion,
// which is what keeps two of them from bootstrapping at once.
//
// The rules, in order:
//  1. A member is in a Primary component: join it. Nothing else is safe
//     while one exists, not even an override.
//  2. Without the override, every expected member must have answered; a
//     member that sees only part of the cluster (a partition, a member
//     down for good) waits and says who is missing.
//  3. Every member has read its position, or we wait for it.
//  4. Every data directory is empty: the first member (lowest ordinal,
//     then name) bootstraps a brand-new cluster; the others wait for it.
//  5. Members with data must agree on one cluster UUID, or we refuse.
//  6. Otherwise the member with the highest seqno bootstraps (ties:
//     safe_to_bootstrap, then ordinal, then name); the others wait for
//     it to be Primary and join by rule 1.
//
// After a crash of every member this deliberately does not leave the
// restart to Galera's pc.recovery (starting every member and letting the
// saved view come back). Measured with MariaDB 10.11 and Galera 26.4.23,
// members started that way came back with cluster state UUID 00000000-...
// and seqno 0, and a member killed one writeset behind reported Synced
// without it. (Those starts did not pass --wsrep-start-position, which run
// mode now always does after --wsrep-recover; pc.recovery has not been
// measured again with it.) A bootstrap from the most advanced member, the
// others joining by IST, keeps both the history and the data, and the
// end-to-end tests check both. Joiners that still have gvwstate.dat find
// a Primary component and join it.
func Decide(v View) Decision {
	all := append([]Member{v.Self}, v.Peers...)
	for _, p := range v.Peers {
		if p.Primary {
			return Decision{Join, fmt.Sprintf("%s is in a Primary component: joining it", p.Name)}
		}
	}
	if v.Force {
		return forced(v, all)
	}
	if len(all) < v.Expected || len(v.Unreachable) > 0 {
		return Decision{Wait, "waiting for every expected member: " + missing(v, all)}
	}
	for _, m := range all {
		if !m.PositionKnown {
			return Decision{Wait, fmt.Sprintf("waiting for %s to read its position", m.Name)}
		}
	}
	for _, m := range all {
		if m.Running {
			return Decision{Wait, fmt.Sprintf("%s runs mariadbd but is not in a Primary component yet; waiting for it", m.Name)}
		}
	}

	ordered := slices.Clone(all)
	slices.SortFunc(ordered, compareByOrdinal)
	if every(all, Member.asGoodAsEmpty) {
		first := ordered[0]
		if first.Name == v.Self.Name {
			return Decision{BootstrapNew, fmt.Sprintf("all %d members have empty or freshly installed data directories and this is the first: bootstrapping a new cluster", len(all))}
		}
		return Decision{Wait, fmt.Sprintf("all %d members have empty or freshly installed data directories: waiting for %s to bootstrap a new cluster", len(all), first.Name)}
	}

	var withData, own, interrupted []Member
	for _, m := range ordered {
		switch {
		case m.HasPosition():
			withData = append(withData, m)
		case m.userData():
			own = append(own, m)
		case m.NeedsSST:
			interrupted = append(interrupted, m)
		}
	}
	if len(withData) == 0 {
		return withoutPosition(v, all, own, interrupted)
	}
	if r, ok := uuidConflict(withData); ok {
		return Decision{Refuse, r}
	}
	best := bestPosition(withData)
	if best.Name == v.Self.Name {
		return Decision{Bootstrap, fmt.Sprintf("all %d members down; this member has the most recent position (%s): bootstrapping from it", len(all), best.Position)}
	}
	return Decision{Wait, fmt.Sprintf("all %d members down; waiting for %s (seqno %d, the most recent) to bootstrap", len(all), best.Name, best.Position.Seqno)}
}

// withoutPosition decides when no member has a Galera position: a single
// member with data of its own (a standalone server becoming a cluster)
// bootstraps and the fresh ones join; more than one is the operator's
// choice; an interrupted state transfer with no source left is too.
func withoutPosition(v View, all, own, interrupted []Member) Decision {
	switch {
	case len(own) == 1 && own[0].Name == v.Self.Name:
		return Decision{Bootstrap, fmt.Sprintf("this member has data and no Galera position, the other %d are empty or freshly installed: bootstrapping from it; they join by state transfer", len(all)-1)}
	case len(own) == 1:
		return Decision{Wait, fmt.Sprintf("%s has data and no Galera position, the others are empty or freshly installed: waiting for it to bootstrap", own[0].Name)}
	case len(own) > 1:
		return Decision{Refuse, fmt.Sprintf("%s hold data but no Galera position, and the sentinel cannot tell which to keep: choose one with GALERA_SENTINEL_FORCE_BOOTSTRAP=<name> (or --force-bootstrap=<name>); the others' data will be replaced", names(own))}
	}
	return Decision{Refuse, fmt.Sprintf("the state transfer of %s was interrupted, but no member has data to send it: restore a member from a backup, or force a new cluster on an empty member", names(interrupted))}
}

func names(ms []Member) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return strings.Join(out, ", ")
}

// forced is the operator's override. It still refuses to throw away data a
// reachable member has and this one lacks.
func forced(v View, all []Member) Decision {
	self := v.Self
	if !self.PositionKnown {
		return Decision{Wait, "override: waiting for this member to read its position"}
	}
	if self.NeedsSST {
		return Decision{Refuse, "override refused: this member's last state transfer was interrupted and its data directory holds nothing to bootstrap from"}
	}
	if self.asGoodAsEmpty() {
		for _, p := range v.Peers {
			if !p.asGoodAsEmpty() && !p.NeedsSST {
				return Decision{Refuse, fmt.Sprintf("override refused: this data directory is empty but %s has data; force the bootstrap on a member that has data", p.Name)}
			}
		}
		return Decision{BootstrapNew, "override: bootstrapping a new cluster from an empty data directory (" + missing(v, all) + ")"}
	}
	if !self.HasPosition() {
		return Decision{Bootstrap, "override: bootstrapping from data without a Galera position (" + missing(v, all) + ")"}
	}
	for _, p := range v.Peers {
		if p.HasPosition() && p.Position.UUID != self.Position.UUID {
			return Decision{Refuse, fmt.Sprintf("override refused: %s belongs to cluster %s, this member to %s", p.Name, p.Position.UUID, self.Position.UUID)}
		}
		if p.HasPosition() && p.Position.Seqno > self.Position.Seqno {
			return Decision{Refuse, fmt.Sprintf("override refused: %s is reachable and has seqno %d, more recent than this member's %d; force the bootstrap on %s", p.Name, p.Position.Seqno, self.Position.Seqno, p.Name)}
		}
	}
	return Decision{Bootstrap, fmt.Sprintf("override: bootstrapping from this member's data (%s); %s", self.Position, missing(v, all))}
}

func missing(v View, all []Member) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d expected members answered", len(all), v.Expected)
	if len(v.Unreachable) > 0 {
		var parts []string
		for _, u := range v.Unreachable {
			parts = append(parts, u.Addr+" ("+u.Err+")")
		}
		b.WriteString("; no answer from " + strings.Join(parts, ", "))
	}
	return b.String()
}

func uuidConflict(ms []Member) (string, bool) {
	first := ms[0].Position.UUID
	for _, m := range ms[1:] {
		if m.Position.UUID != first {
			var parts []string
			for _, m := range ms {
				parts = append(parts, m.Name+"="+m.Position.UUID)
			}
			return "refusing to choose: members belong to different clusters (" + strings.Join(parts, ", ") + ")", true
		}
	}
	return "", false
}

// bestPosition: highest seqno, then safe_to_bootstrap, then lowest
// ordinal, then name. ms is not empty.
func bestPosition(ms []Member) Member {
	return slices.MinFunc(ms, func(a, b Member) int {
		if c := cmp.Compare(b.Position.Seqno, a.Position.Seqno); c != 0 {
			return c
		}
		if a.SafeToBootstrap != b.SafeToBootstrap {
			if a.SafeToBootstrap {
				return -1
			}
			return 1
		}
		return compareByOrdinal(a, b)
	})
}

// compareByOrdinal orders members by the number their name ends with (a
// StatefulSet's pod ordinal: galera-0, galera-1), then by name; members
// without one come last.
func compareByOrdinal(a, b Member) int {
	oa, oka := Ordinal(a.Name)
	ob, okb := Ordinal(b.Name)
	switch {
	case oka && okb:
		if c := cmp.Compare(oa, ob); c != 0 {
			return c
		}
	case oka:
		return -1
	case okb:
		return 1
	}
	return cmp.Compare(a.Name, b.Name)
}

// Ordinal is the number a name ends with: 2 for "galera-2" or "node2".
func Ordinal(name string) (int, bool) {
	i := len(name)
	for i > 0 && name[i-1] >= '0' && name[i-1] <= '9' {
		i--
	}
	if i == len(name) || len(name)-i > 9 {
		return 0, false
	}
	n, err := strconv.Atoi(name[i:])
	return n, err == nil
}

func every(ms []Member, f func(Member) bool) bool {
	for _, m := range ms {
		if !f(m) {
			return false
		}
	}
	return true
}
