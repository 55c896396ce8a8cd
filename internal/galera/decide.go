package galera

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/upgrade"
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
	// LastView is the last Primary component the member was part of, as
	// its sentinel saved it (nil: none saved). The newest one among the
	// members that answer decides who must answer (see expect).
	LastView *LastView
	// Version is the MariaDB version the member runs or would start
	// (its binary's); DataVersion the newest version known to have
	// written its data directory (package upgrade). Zero: not known (a
	// sentinel of an earlier release).
	Version, DataVersion upgrade.Version
	// Protocols are the Galera protocols of the Primary component the
	// member's mariadbd last joined, from its log; Provider its Galera
	// library's version (wsrep_provider_version). Zero: not known.
	Protocols Protocols
	Provider  string
	// CannotSpeak is what Galera said when it refused this member's
	// library a component's protocol at its last try (known of this
	// member only, while its library is unchanged): it cannot join a
	// component that still speaks that version.
	CannotSpeak ProtocolRefusal
	// Running: its mariadbd has been started.
	Running bool
	// Primary: its mariadbd is in a Primary component now.
	Primary bool
	// NonPrimary: its mariadbd runs and a fresh sample says it is outside
	// a Primary component (wsrep_cluster_status non-Primary or
	// Disconnected). Running without Primary or NonPrimary means nothing
	// fresh is known of it.
	NonPrimary bool
	// Joining: its mariadbd was started to join a Primary component and
	// has not been Synced since, and no fresh sample says it is Primary:
	// it receives a state transfer, or waits for a Primary component that
	// went away while it started. Never set for a member that bootstrapped.
	Joining bool
	// Stopping: its sentinel is stopping it (a drain, then mariadbd's
	// stop): it leaves the cluster soon, whatever it is now.
	Stopping bool
}

// outside: the member's mariadbd runs and is known to be outside a
// Primary component, or is a joiner that never got into one.
func (m Member) outside() bool { return m.Running && !m.Primary && (m.NonPrimary || m.Joining) }

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
	// StepDown: this member's mariadbd runs outside a Primary component
	// while other members are stopped and wait for it: stop it cleanly,
	// read the position again and decide with the others as after a
	// crash of every member. Only a running member is told so.
	StepDown
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
	case StepDown:
		return "step-down"
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// Starts reports whether the action starts mariadbd.
func (a Action) Starts() bool {
	return a == Join || a == BootstrapNew || a == Bootstrap
}

// Decision is an action with the reason an operator reads in the log,
// and the class of the rule that made it.
type Decision struct {
	Action Action
	Class  DecisionClass
	Reason string
}

// DecisionClass names the rule that decided, without the reason's
// changing parts (names, counts, positions): the label of the decision
// metric (galera_sentinel_member_decision_info{reason}). A value once
// published is never changed.
//
// Before decisions carried a class, that label was cut from the reason's
// wording (up to its first ':', '(' or digit, spaces and commas trimmed),
// and users' dashboards match what that gave: each value below is that
// cut of its rule's reason. Where the reason names a member before the
// cut, the old label held the name (or the part of it before its first
// digit), which no constant can keep; the value is then the wording with
// "a member" (or "members") in the name's place. Four rules whose
// reasons begin "all N members" were all "all", and stay so: the action
// label beside it tells them apart but for the two waits.
type DecisionClass string

// The classes of Decide's rules.
const (
	DecidedPeerPrimary  DecisionClass = "a member is in a Primary component"   // "<name> is in ...": join it, or rejoin by itself
	DecidedTokenRefused DecisionClass = "a member refuses this member's token" // "<names> refuses this member's token but says ..."
	// DecidedPeersStopping: "<names> are in a Primary component but being
	// stopped": wait for them to stop (no older label).
	DecidedPeersStopping   DecisionClass = "members in a Primary component are being stopped"
	DecidedExpected        DecisionClass = "waiting for every expected member"
	DecidedPositionUnknown DecisionClass = "waiting for a member to read its position" // "waiting for <name> to ..."
	// DecidedAll: every member down, or every data directory empty (see
	// DecisionClass).
	DecidedAll                    DecisionClass = "all"
	DecidedUUIDConflict           DecisionClass = "refusing to choose"
	DecidedWaitStepDown           DecisionClass = "a member runs mariadbd outside a Primary component while the other members are stopped"
	DecidedWaitJoining            DecisionClass = "a member runs mariadbd but is not in a Primary component yet; waiting for it"
	DecidedWaitGalera             DecisionClass = "members run mariadbd outside a Primary component"
	DecidedSelfPrimary            DecisionClass = "this member is in a Primary component"
	DecidedSelfUnknown            DecisionClass = "this member's state is not known yet"
	DecidedOutsideExpected        DecisionClass = "outside a Primary component; waiting for every expected member"
	DecidedOutsidePositionUnknown DecisionClass = "outside a Primary component; waiting for a member to read its position"
	DecidedOutsideStateUnknown    DecisionClass = "outside a Primary component; waiting for a member's state"
	DecidedEveryoneOutside        DecisionClass = "every member"
	// DecidedStepDown and DecidedStepDownJoiner: the old label went on
	// with " and <names> are stopped and waiting for it".
	DecidedStepDown        DecisionClass = "this member runs mariadbd outside a Primary component"
	DecidedStepDownJoiner  DecisionClass = "this member started mariadbd to join a Primary component that is gone"
	DecidedOwnData         DecisionClass = "this member has data and no Galera position, the other"
	DecidedPeerOwnData     DecisionClass = "a member has data and no Galera position, the others are empty or freshly installed"
	DecidedOwnDataMany     DecisionClass = "members hold data but no Galera position, and the sentinel cannot tell which to keep"
	DecidedSSTInterrupted  DecisionClass = "the state transfer of a member was interrupted, but no member has data to send it"
	DecidedDowngrade       DecisionClass = "the data directory was written by a newer MariaDB"
	DecidedVersionGap      DecisionClass = "the Primary component runs a MariaDB version this one may not join"
	DecidedSSTAcross       DecisionClass = "a full state transfer would come from another major version"
	DecidedProtocolGap     DecisionClass = "the Primary component speaks a Galera protocol this member's library does not"
	DecidedOverride        DecisionClass = "override"
	DecidedOverrideRefused DecisionClass = "override refused"
	// DecidedCannotDecide: the peers could not be asked (package
	// recovery's wait).
	DecidedCannotDecide DecisionClass = "cannot decide"
)

// View is everything a decision is made from.
type View struct {
	Self Member
	// Peers are the other members that answered, each once.
	Peers []Member
	// Unreachable are addresses that did not answer (or answered badly).
	Unreachable []Unreachable
	// PrimaryRefusing are members (by name) whose peer API refused this
	// member's token but whose public /status says, from a fresh sample,
	// that they are in a Primary component: a token rotation is under
	// way. They are in Unreachable too (they count for nothing else), but
	// they are enough to join: joining a Primary component is safe, and
	// without it a member restarted with the new token alone would wait
	// for ever for peers that still hold only the old one.
	PrimaryRefusing []string
	// Expected is the number of members the cluster should have,
	// this one included (--expected-size). It applies only while no
	// member that answered has saved a last view (LastView).
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
// A stopped member never starts anything while another member runs
// mariadbd (after rule 3). A member whose mariadbd runs (Self.Running)
// never starts anything either: when it is outside a Primary component,
// every member answered and read its position, none is Primary and at
// least one is stopped, it steps down (StepDown: stops its mariadbd
// cleanly and decides again as a stopped member). That is the way out of
// a deadlock: two of three members killed, the survivor non-Primary, the
// killed ones waiting for it. A survivor is not forced Primary with
// pc.bootstrap: a killed member may hold commits the survivor never
// received, and only the rule for a crash of every member (rule 6) sees
// every position and keeps them.
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
	if d, ok := downgrade(v.Self); ok {
		return d
	}
	d := decide(v)
	if d.Action == Join {
		if r, ok := versionGap(v); ok {
			return r
		}
		if r, ok := sstAcross(v); ok {
			return r
		}
		if r, ok := protocolGap(v); ok {
			return r
		}
	}
	return d
}

// needsSST: a member whose join is certain to take a full state transfer
// (nothing of its own may be kept, or nothing of it fits the cluster).
func (m Member) needsSST(primary []Member) bool {
	if m.asGoodAsEmpty() || m.NeedsSST || m.userData() {
		return true
	}
	for _, p := range primary {
		if m.HasPosition() && p.HasPosition() && p.Position.UUID != m.Position.UUID {
			return true
		}
	}
	return false
}

// sstAcross refuses a join that needs a full state transfer when no
// member of the Primary component runs this member's major version: a
// rolling upgrade joins by IST, and a state transfer across major
// versions is not supported (the joiner would start on a donor's files of
// another version; mariadb-backup refuses to prepare a backup of another
// one). With a member of its own series in the component it joins (the
// donor is Galera's choice).
func sstAcross(v View) (Decision, bool) {
	var primary []Member
	for _, p := range v.Peers {
		if p.Primary && !p.Stopping {
			primary = append(primary, p)
		}
	}
	if v.Self.Version.IsZero() || len(primary) == 0 || !v.Self.needsSST(primary) {
		return Decision{}, false
	}
	var other *Member
	for i, p := range primary {
		if p.Version.IsZero() || p.Version.SameSeries(v.Self.Version) {
			return Decision{}, false
		}
		other = &primary[i]
	}
	return Decision{Refuse, DecidedSSTAcross, fmt.Sprintf("this member needs a full state transfer and every member of the Primary component runs MariaDB %s, this member %s: "+
		"a state transfer across major versions is not supported, a rolling upgrade joins by IST. Start this member on %s until it has joined, then upgrade it like the others; "+
		"or upgrade another member first, so that a donor of %s is there. This member decides again meanwhile",
		other.Version, v.Self.Version, other.Version, v.Self.Version.Series())}, true
}

// downgrade refuses to start a member whose binary is older than the
// version that last wrote its data: MariaDB does not support it, and a
// server may start on such data and damage it quietly.
func downgrade(self Member) (Decision, bool) {
	if self.Running || upgrade.From(self.DataVersion, self.Version) != upgrade.Downgrade {
		return Decision{}, false
	}
	return Decision{Refuse, DecidedDowngrade, fmt.Sprintf("this data directory was last written by MariaDB %s and this is %s: a downgrade is not supported; "+
		"start this member on %s or newer, or, if the other members run %s and hold the data, empty this member's data directory so that it joins by a full state transfer",
		self.DataVersion, self.Version, self.DataVersion, self.Version)}, true
}

// versionGap refuses to join a Primary component whose members run a
// version that this member's may not be mixed with during a rolling
// upgrade (upgrade.Mixable). The way there is a stop of every member:
// once none runs, the most advanced bootstraps on the new version and
// the others join it, which Decide does by itself.
func versionGap(v View) (Decision, bool) {
	var far []Member
	var why string
	for _, p := range v.Peers {
		if !p.Primary || p.Stopping {
			continue
		}
		if ok, w := upgrade.Mixable(v.Self.Version, p.Version); !ok {
			far, why = append(far, p), w
		}
	}
	if len(far) == 0 {
		return Decision{}, false
	}
	verb := "runs"
	if len(far) > 1 {
		verb = "run"
	}
	return Decision{Refuse, DecidedVersionGap, fmt.Sprintf("%s %s MariaDB %s in the Primary component and this member %s: not joining. %s. "+
		"Stop every member, then start them on %s: the most advanced member bootstraps on the new version and the others join it "+
		"(on Kubernetes: scale the StatefulSet to 0, then back). This member decides again meanwhile",
		names(far), verb, far[0].Version, v.Self.Version, why, v.Self.Version)}, true
}

// protocolGap refuses a join that Galera refused this member's library
// at its last try, while the Primary component still speaks the protocol
// version it lacks: each try would abort mariadbd again. It names the
// members and their libraries, and what to run instead.
func protocolGap(v View) (Decision, bool) {
	r := v.Self.CannotSpeak
	if r.IsZero() {
		return Decision{}, false
	}
	var far []Member
	for _, p := range v.Peers {
		if p.Primary && !p.Stopping && !p.Protocols.IsZero() && p.Protocols.Level(r.Level) > r.Max {
			far = append(far, p)
		}
	}
	if len(far) == 0 {
		return Decision{}, false
	}
	verb := "speaks"
	if len(far) > 1 {
		verb = "speak"
	}
	var libs []string
	for _, p := range far {
		if p.Provider != "" {
			libs = append(libs, p.Name+" runs Galera "+p.Provider)
		}
	}
	theirs := ""
	if len(libs) > 0 {
		theirs = " (" + strings.Join(libs, ", ") + ")"
	}
	mine := "this member's Galera library"
	if v.Self.Provider != "" {
		mine += " (" + v.Self.Provider + ")"
	}
	return Decision{Refuse, DecidedProtocolGap, fmt.Sprintf("%s %s %s %d in the Primary component%s and %s supports up to %d, as Galera said when it refused this member's last try: not joining. "+
		"Start it with a Galera library at least as new as theirs (a newer image, or the galera-4 package of their version); this member decides again meanwhile",
		names(far), verb, r.Level, far[0].Protocols.Level(r.Level), theirs, mine, r.Max)}, true
}

func decide(v View) Decision {
	all := append([]Member{v.Self}, v.Peers...)
	if v.Self.Running {
		return decideRunning(v, all)
	}
	var leaving []Member
	for _, p := range v.Peers {
		switch {
		case p.Primary && !p.Stopping:
			return Decision{Join, DecidedPeerPrimary, fmt.Sprintf("%s is in a Primary component: joining it", p.Name)}
		case p.Primary:
			leaving = append(leaving, p)
		}
	}
	if len(leaving) > 0 {
		// Every member of the Primary component that answered is being
		// stopped (all pods deleted at once, a whole-cluster stop): a
		// joiner would ask a donor that leaves for a state transfer and
		// wait for it in vain, unable to stop cleanly meanwhile. Once
		// they are down, the rule for every member down decides.
		verb, its := "is", "its sentinel"
		if len(leaving) > 1 {
			verb, its = "are", "their sentinels"
		}
		return Decision{Wait, DecidedPeersStopping, fmt.Sprintf("%s %s in a Primary component but being stopped by %s: waiting until stopped, then deciding again "+
			"(joining a component that is leaving would wait for a state transfer that never comes)", names(leaving), verb, its)}
	}
	if len(v.PrimaryRefusing) > 0 {
		return Decision{Join, DecidedTokenRefused, fmt.Sprintf("%s refuses this member's token but says (/status) it is in a Primary component: joining it; "+
			"give every member the same tokens (a rotation: the file holds the new and the old token, one per line)", strings.Join(v.PrimaryRefusing, ", "))}
	}
	if v.Force {
		return forced(v, all)
	}
	if !expect(v, all).complete(v, all) {
		return Decision{Wait, DecidedExpected, "waiting for every expected member: " + missing(v, all) + overrideHint(v, all)}
	}
	for _, m := range all {
		if !m.PositionKnown {
			return Decision{Wait, DecidedPositionUnknown, fmt.Sprintf("waiting for %s to read its position", m.Name)}
		}
	}
	if r := runningPeers(all); len(r) > 0 {
		return waitForRunning(all, r)
	}

	ordered := slices.Clone(all)
	slices.SortFunc(ordered, compareByOrdinal)
	if every(all, Member.asGoodAsEmpty) {
		first := ordered[0]
		if first.Name == v.Self.Name {
			return Decision{BootstrapNew, DecidedAll, fmt.Sprintf("all %d members have empty or freshly installed data directories and this is the first: bootstrapping a new cluster", len(all))}
		}
		return Decision{Wait, DecidedAll, fmt.Sprintf("all %d members have empty or freshly installed data directories: waiting for %s to bootstrap a new cluster", len(all), first.Name)}
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
		return Decision{Refuse, DecidedUUIDConflict, r}
	}
	best := bestPosition(withData)
	if best.Name == v.Self.Name {
		return Decision{Bootstrap, DecidedAll, fmt.Sprintf("all %d members down; this member has the most recent position (%s): bootstrapping from it", len(all), best.Position)}
	}
	return Decision{Wait, DecidedAll, fmt.Sprintf("all %d members down; waiting for %s (seqno %d, the most recent) to bootstrap", len(all), best.Name, best.Position.Seqno)}
}

// runningPeers are the members whose mariadbd runs (none of them is
// Primary when this is asked).
func runningPeers(all []Member) []Member {
	var r []Member
	for _, m := range all {
		if m.Running {
			r = append(r, m)
		}
	}
	return r
}

// stepDownApplies: every member answered and read its position, none is
// Primary, every running one is known to be outside a Primary component
// (or is a joiner that never got into one: it started to join a Primary
// component that went away meanwhile), and at least one is stopped (and so waits for the running ones). Then
// each running member stops its mariadbd cleanly (a node outside a Primary
// component commits nothing, so nothing is lost), and the rule for a crash
// of every member picks the most advanced one to bootstrap, whichever it
// is: a survivor that missed the last commits of the killed members is
// never made Primary. When every member runs outside a Primary component
// and none is stopped, everyoneOutside applies instead: Galera may still
// form the Primary component again by itself, so they step down only after
// EveryoneOutsideSettle.
func stepDownApplies(all []Member) bool {
	stopped := 0
	for _, m := range all {
		switch {
		case m.Primary || !m.PositionKnown && !m.Running:
			return false
		case m.Running && !m.outside():
			return false
		case !m.Running:
			stopped++
		}
	}
	return stopped > 0
}

// EveryoneOutsideSettle is how long every member must have been seen
// outside a Primary component, all of them running and answering, before
// they step down (see everyoneOutside). Galera forms the Primary component
// again by itself within seconds when the members of the last one reach
// each other (its suspect and inactive timeouts are 5 s and 15 s); one that
// has not formed after this long will not: its quorum is lost for good.
// Measured on Kubernetes: after a crash of all five members the bootstrap
// succeeded, then three of the four joiners failed their IST at once
// (Galera: "IST didn't contain all write sets") and the members left were
// a minority of the new component, every one non-Primary for ever.
const EveryoneOutsideSettle = 45 * time.Second

// EveryoneOutside reports whether every member in v (which answered; the
// decision checks that every expected member did) runs mariadbd and a
// fresh sample says it is outside a Primary component.
func EveryoneOutside(v View) bool { return everyoneOutside(append([]Member{v.Self}, v.Peers...)) }

// everyoneOutside: nobody is Primary and every member runs mariadbd
// outside a Primary component, known from a fresh sample. Then every one
// steps down and the rule for a crash of every member picks the most
// advanced to bootstrap; the others join it. No two Primary components can
// come of it: one member bootstraps, the others only join a Primary
// component (if gcomm itself is cut while the sentinels reach each other,
// the bootstrapped member serves alone and the others join once it heals).
func everyoneOutside(all []Member) bool {
	for _, m := range all {
		if !m.Running || m.Primary || !m.NonPrimary {
			return false
		}
	}
	return len(all) > 0
}

// waitForRunning is the decision of a stopped member that waits while
// others run mariadbd outside a Primary component, saying what the
// operator can do.
func waitForRunning(all, running []Member) Decision {
	who, verb := names(running), " runs"
	if len(running) > 1 {
		verb = " run"
	}
	if stepDownApplies(all) {
		return Decision{Wait, DecidedWaitStepDown, fmt.Sprintf("%s"+verb+" mariadbd outside a Primary component while the other members are stopped: waiting for its sentinel to stop it (step-down), then the most advanced member bootstraps; "+
			"if it does not stop, stop that member (kill -TERM its galera-sentinel, or delete its pod)", who)}
	}
	for _, m := range running {
		if !m.outside() {
			return Decision{Wait, DecidedWaitJoining, fmt.Sprintf("%s runs mariadbd but is not in a Primary component yet; waiting for it (if it stays so, look at its /status and mariadbd's log; "+
				"stopping that member lets the cluster restart from its most advanced member)", m.Name)}
		}
	}
	return Decision{Wait, DecidedWaitGalera, fmt.Sprintf("%s run mariadbd outside a Primary component: waiting for Galera to form one; if it does not, "+
		"SET GLOBAL wsrep_provider_options='pc.bootstrap=YES' on the one with the highest wsrep_last_committed (and only on that one), or stop them all and let the sentinels decide", who)}
}

// decideRunning is the decision of a member whose mariadbd runs: it never
// starts anything; it steps down only when stepDownApplies, and waits
// otherwise, saying why.
func decideRunning(v View, all []Member) Decision {
	self := v.Self
	if self.Primary {
		return Decision{Wait, DecidedSelfPrimary, "this member is in a Primary component"}
	}
	for _, p := range v.Peers {
		if p.Primary {
			return Decision{Wait, DecidedPeerPrimary, fmt.Sprintf("%s is in a Primary component: this node rejoins it by itself once it reaches it (restarting this member makes it join at once)", p.Name)}
		}
	}
	if len(v.PrimaryRefusing) > 0 {
		return Decision{Wait, DecidedTokenRefused, fmt.Sprintf("%s refuses this member's token but says it is in a Primary component: this node rejoins it by itself once it reaches it", strings.Join(v.PrimaryRefusing, ", "))}
	}
	if !self.outside() {
		return Decision{Wait, DecidedSelfUnknown, "this member's state is not known yet (no fresh sample of its mariadbd)"}
	}
	if !expect(v, all).complete(v, all) {
		return Decision{Wait, DecidedOutsideExpected, "outside a Primary component; waiting for every expected member: " + missing(v, all)}
	}
	for _, m := range v.Peers {
		if !m.Running && !m.PositionKnown {
			return Decision{Wait, DecidedOutsidePositionUnknown, fmt.Sprintf("outside a Primary component; waiting for %s to read its position", m.Name)}
		}
		if m.Running && !m.outside() {
			return Decision{Wait, DecidedOutsideStateUnknown, fmt.Sprintf("outside a Primary component; waiting for %s's state (it runs mariadbd, nothing fresh is known of it)", m.Name)}
		}
	}
	if !stepDownApplies(all) {
		if everyoneOutside(all) {
			return Decision{StepDown, DecidedEveryoneOutside, fmt.Sprintf("every member (%s) runs mariadbd outside a Primary component and their sentinels reach each other: "+
				"stopping mariadbd cleanly (a member outside a Primary component commits nothing) so that every position is read and the most advanced member bootstraps; "+
				"a member acts on this only after it has held for %s", names(all), EveryoneOutsideSettle)}
		}
		return waitForRunning(all, runningPeers(all))
	}
	var stopped []Member
	for _, m := range v.Peers {
		if !m.Running {
			stopped = append(stopped, m)
		}
	}
	what, class := "runs mariadbd outside a Primary component", DecidedStepDown
	if self.Joining && !self.NonPrimary {
		what, class = "started mariadbd to join a Primary component that is gone", DecidedStepDownJoiner
	}
	return Decision{StepDown, class, fmt.Sprintf("this member "+what+" and %s stopped and waiting for it: stopping mariadbd cleanly so that every member's position is read and the most advanced one bootstraps", names(stopped)+map[bool]string{true: " is", false: " are"}[len(stopped) == 1])}
}

// withoutPosition decides when no member has a Galera position: a single
// member with data of its own (a standalone server becoming a cluster)
// bootstraps and the fresh ones join; more than one is the operator's
// choice; an interrupted state transfer with no source left is too.
func withoutPosition(v View, all, own, interrupted []Member) Decision {
	switch {
	case len(own) == 1 && own[0].Name == v.Self.Name:
		return Decision{Bootstrap, DecidedOwnData, fmt.Sprintf("this member has data and no Galera position, the other %d are empty or freshly installed: bootstrapping from it; they join by state transfer", len(all)-1)}
	case len(own) == 1:
		return Decision{Wait, DecidedPeerOwnData, fmt.Sprintf("%s has data and no Galera position, the others are empty or freshly installed: waiting for it to bootstrap", own[0].Name)}
	case len(own) > 1:
		return Decision{Refuse, DecidedOwnDataMany, fmt.Sprintf("%s hold data but no Galera position, and the sentinel cannot tell which to keep: choose one with `galera-sentinel force-bootstrap NAME` (or --force-bootstrap=NAME); the others' data will be replaced", names(own))}
	}
	return Decision{Refuse, DecidedSSTInterrupted, fmt.Sprintf("the state transfer of %s was interrupted, but no member has data to send it: restore a member from a backup, or force a new cluster on an empty member", names(interrupted))}
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
		return Decision{Wait, DecidedOverride, "override: waiting for this member to read its position"}
	}
	if self.NeedsSST {
		return Decision{Refuse, DecidedOverrideRefused, "override refused: this member's last state transfer was interrupted and its data directory holds nothing to bootstrap from"}
	}
	if self.asGoodAsEmpty() {
		for _, p := range v.Peers {
			if !p.asGoodAsEmpty() && !p.NeedsSST {
				return Decision{Refuse, DecidedOverrideRefused, fmt.Sprintf("override refused: this data directory is empty but %s has data; force the bootstrap on a member that has data", p.Name)}
			}
		}
		return Decision{BootstrapNew, DecidedOverride, "override: bootstrapping a new cluster from an empty data directory (" + missing(v, all) + ")"}
	}
	if !self.HasPosition() {
		return Decision{Bootstrap, DecidedOverride, "override: bootstrapping from data without a Galera position (" + missing(v, all) + ")"}
	}
	for _, p := range v.Peers {
		if p.HasPosition() && p.Position.UUID != self.Position.UUID {
			return Decision{Refuse, DecidedOverrideRefused, fmt.Sprintf("override refused: %s belongs to cluster %s, this member to %s", p.Name, p.Position.UUID, self.Position.UUID)}
		}
		if p.HasPosition() && p.Position.Seqno > self.Position.Seqno {
			return Decision{Refuse, DecidedOverrideRefused, fmt.Sprintf("override refused: %s is reachable and has seqno %d, more recent than this member's %d; force the bootstrap on %s", p.Name, p.Position.Seqno, self.Position.Seqno, p.Name)}
		}
	}
	return Decision{Bootstrap, DecidedOverride, fmt.Sprintf("override: bootstrapping from this member's data (%s); %s", self.Position, missing(v, all))}
}

func missing(v View, all []Member) string {
	var b strings.Builder
	e := expect(v, all)
	if a := e.absent(all); len(e.names) > 0 {
		fmt.Fprintf(&b, "%d of the %d members of %s (%s) answered", len(e.names)-len(a), len(e.names), e.from, strings.Join(e.names, ", "))
		if len(a) > 0 {
			b.WriteString("; missing " + strings.Join(a, ", "))
		}
	} else {
		fmt.Fprintf(&b, "%d of %d expected members answered (%s)", len(all), e.size, e.from)
	}
	if len(v.Unreachable) > 0 {
		var parts []string
		for _, u := range v.Unreachable {
			parts = append(parts, u.Addr+" ("+u.Err+")")
		}
		b.WriteString("; no answer from " + strings.Join(parts, ", "))
	}
	return b.String()
}

// overrideHint says what to type when a missing member is gone for good:
// force the bootstrap of the most advanced member that answered. The
// override still refuses what it must (a more recent reachable member,
// another cluster), so the hint cannot lose data a reachable member has.
func overrideHint(v View, all []Member) string {
	var withData []Member
	for _, m := range all {
		if !m.PositionKnown {
			return "; if a missing member is gone for good, the override is `galera-sentinel force-bootstrap NAME` (once every member that answers has read its position, this names the one)"
		}
		if m.HasPosition() {
			withData = append(withData, m)
		}
	}
	if len(withData) == 0 {
		return "; if a missing member is gone for good: `galera-sentinel force-bootstrap NAME` (in Kubernetes: kubectl exec into any member)"
	}
	best := bestPosition(withData)
	return fmt.Sprintf("; if a missing member is gone for good (its last commits are lost with it): `galera-sentinel force-bootstrap %s` (the most advanced that answered, seqno %d; in Kubernetes: kubectl exec into any member)", best.Name, best.Position.Seqno)
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
